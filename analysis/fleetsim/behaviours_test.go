package fleetsim_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"idletrace/analysis/fleetsim"
)

// Focused fleets, one per behaviour of DOMAIN.md §7. Each test's "sim"
// part asserts the simulator itself; its "analysis" part runs the
// analysis against the truth (CheckRealistic) and may fail while the
// analysis is being reworked (issue 11):
//
//	go test ./analysis/fleetsim -run 'TestBehaviour.*/sim'

var monday = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

func busyActivity() *fleetsim.Activity {
	return &fleetsim.Activity{ActiveGapSeconds: 200, AwayTrafficPerHour: 1, NightTrafficPerHour: 0.1}
}

func TestBehaviourBusyOffice(t *testing.T) {
	f := fleetsim.Generate(fleetsim.Spec{Seed: 101, Start: monday, Days: 10, Activity: busyActivity(), NoisePerHour: 2,
		Sites: []fleetsim.Site{
			{Prefix: "HQ-PC", Clients: 34, TimeoutSeconds: 1800, JitterSeconds: 10, LaptopShare: 0.4, LeftRunningShare: 0.03, RandomPerDay: 0.2},
			{Prefix: "LAB-", Clients: 8, RandomPerDay: 0.3},
		},
		Outages:    []fleetsim.Outage{{At: monday.AddDate(0, 0, 3).Add(14*time.Hour + 5*time.Minute), Minutes: 20}},
		Duplicates: 3, UnpairedDisconnects: 2, OrphanReconnects: 2, RPCClientAccess26: 3})
	t.Run("sim", func(t *testing.T) {
		hq := f.Truth.Device("HQ-PC")
		t.Logf("HQ: %d idle-timeout uptimes, %d sharp (%.2f), %d computers expected", hq.TimeoutUptimes, hq.Sharp, hq.SharpShare(), len(hq.Expected))
		if share := hq.SharpShare(); share < 0.3 || share > 0.6 {
			t.Errorf("sharp share of the busy site %.2f, want 30–60 %%", share)
		}
		spread := 0
		for _, h := range f.Truth.Hosts {
			for _, u := range h.Uptimes {
				if u.Device == "HQ-PC" && u.Cause == "timeout" && u.Seconds > hq.Window[1]+300 {
					spread++
				}
			}
		}
		if spread*4 < hq.TimeoutUptimes {
			t.Errorf("only %d of %d idle-timeout lifetimes spread beyond T", spread, hq.TimeoutUptimes)
		}
		if !hq.Diagnosed || len(hq.Expected) < 10 {
			t.Errorf("HQ: diagnosed=%v with %d computers", hq.Diagnosed, len(hq.Expected))
		}
		if lab := f.Truth.Device("LAB-"); lab.Effective || lab.Sharp != 0 {
			t.Errorf("the healthy lab has sharp uptimes: %+v", lab)
		}
		if n := len(want(f, "shared-outage")); n != 1 {
			t.Errorf("%d outages expected, want 1", n)
		}
	})
	t.Run("analysis", func(t *testing.T) { analyzeAndCheck(t, f) })
}

func TestBehaviourRoamingLaptops(t *testing.T) {
	f := fleetsim.Generate(fleetsim.Spec{Seed: 102, Start: monday, Days: 14, Activity: busyActivity(),
		Sites: []fleetsim.Site{
			{Prefix: "BR-LT", Clients: 22, TimeoutSeconds: 240, Drop: "silent", LaptopShare: 1, RandomPerDay: 0.2,
				Roaming: &fleetsim.Roaming{Share: 0.8, HomeDays: 2, VPN: fleetsim.Device{TimeoutSeconds: 1200, JitterSeconds: 5}}},
			{Prefix: "WH-PC", Clients: 10, TimeoutSeconds: 3600, LeftRunningShare: 0.5},
		}})
	t.Run("sim", func(t *testing.T) {
		both, lone26 := 0, 0
		for _, h := range f.Truth.Hosts {
			if !strings.HasPrefix(h.Name, "BR-LT") {
				continue
			}
			at := map[string]int{}
			for _, u := range h.Uptimes {
				if u.Sharp {
					at[u.Device]++
				}
				if u.Device == "BR-LT@vpn" && !slices.Contains(h.HomeWeekdays, u.At.Weekday()) && u.At.Weekday() != time.Saturday && u.At.Weekday() != time.Sunday {
					// A connection from a home day's resume may end the
					// next morning only via sleep, never by the VPN's timer.
					if u.Cause == "timeout" {
						t.Errorf("%s: VPN timeout on %v, home days %v", h.Name, u.At.Weekday(), h.HomeWeekdays)
					}
				}
			}
			if at["BR-LT"] > 0 && at["BR-LT@vpn"] > 0 {
				both++
			}
			if !h.Roaming && at["BR-LT@vpn"] > 0 {
				t.Errorf("%s does not roam, yet has VPN uptimes", h.Name)
			}
		}
		for _, e := range outlookEvents(f) {
			for _, p := range e {
				_ = p
			}
			lone26 += lone26s(e)
		}
		if both < 5 {
			t.Errorf("only %d laptops have sharp uptimes at both devices", both)
		}
		if lone26 < 10 {
			t.Errorf("only %d lone 26s (bare resumes) on laptops", lone26)
		}
		for _, name := range []string{"BR-LT", "BR-LT@vpn", "WH-PC"} {
			if d := f.Truth.Device(name); !d.Diagnosed {
				t.Errorf("device %s not expected to be diagnosed: %+v", name, d)
			}
		}
	})
	t.Run("analysis", func(t *testing.T) { analyzeAndCheck(t, f) })
}

func TestBehaviourSkewedClocks(t *testing.T) {
	out1 := monday.AddDate(0, 0, 1).Add(10*time.Hour + 17*time.Minute)
	out2 := monday.AddDate(0, 0, 3).Add(14*time.Hour + 41*time.Minute)
	f := fleetsim.Generate(fleetsim.Spec{Seed: 103, Start: monday, Days: 5, Activity: busyActivity(),
		Sites: []fleetsim.Site{
			{Prefix: "SHOP-", Clients: 30, ClockSkewSeconds: 90, RandomPerDay: 0.3},
			{Prefix: "OFF-PC", Clients: 15, TimeoutSeconds: 350, JitterPercent: 2, ClockSkewSeconds: 120, ClockSkewShare: 0.3},
		},
		Outages: []fleetsim.Outage{{At: out1, Minutes: 12}, {At: out2, Minutes: 25}}})
	t.Run("sim", func(t *testing.T) {
		skewed := 0
		evs := outlookEvents(f)
		for _, h := range f.Truth.Hosts {
			if h.ClockOffset.Abs() > 130*time.Second {
				t.Errorf("%s: offset %v", h.Name, h.ClockOffset)
			}
			if h.ClockOffset.Abs() > 30*time.Second {
				skewed++
			}
			// The 25 logged for an outage is its true time + the offset.
			for _, oi := range h.Outages {
				at := f.Spec.Outages[oi].At
				ok := false
				for _, e := range evs[h.Name] {
					tr := e.Time.Add(-h.ClockOffset)
					if e.EventID == 25 && !tr.Before(at) && tr.Sub(at) <= 61*time.Second {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s: no 25 at outage %d's start + offset %v", h.Name, oi, h.ClockOffset)
				}
			}
		}
		if skewed < 15 {
			t.Errorf("only %d computers off by more than 30 s", skewed)
		}
		for _, o := range want(f, "shared-outage") {
			if len(o.Computers) < 25 {
				t.Errorf("outage %v: %d computers", o.Start, len(o.Computers))
			}
		}
		if len(want(f, "shared-outage")) != 2 {
			t.Errorf("want 2 outages: %+v", want(f, "shared-outage"))
		}
	})
	t.Run("analysis", func(t *testing.T) { analyzeAndCheck(t, f) })
}

func TestBehaviourOneUser(t *testing.T) {
	f := fleetsim.Generate(fleetsim.Spec{Seed: 104, Start: monday, Days: 14, Activity: busyActivity(),
		Sites:      []fleetsim.Site{{Prefix: "ACCT-PC", Clients: 1, TimeoutSeconds: 900, JitterSeconds: 5, RandomPerDay: 0.2}},
		Duplicates: 1})
	t.Run("sim", func(t *testing.T) {
		d := f.Truth.Device("ACCT-PC")
		if d.ExpectedSharp < 6 || d.ExpectedSharp > 60 || !d.Diagnosed {
			t.Errorf("one desktop's two weeks: %d sharp uptimes, diagnosed=%v", d.ExpectedSharp, d.Diagnosed)
		}
		w := want(f, "idle-timeout")
		if len(w) != 1 || !reflect.DeepEqual(w[0].Computers, []string{"ACCT-PC01.corp.example"}) {
			t.Errorf("want %+v", w)
		}
	})
	t.Run("analysis", func(t *testing.T) { analyzeAndCheck(t, f) })
}

func TestBehaviourShortNames(t *testing.T) {
	f := fleetsim.Generate(fleetsim.Spec{Seed: 105, Start: monday, Days: 5, Activity: busyActivity(),
		Sites: []fleetsim.Site{{Prefix: "PC", Clients: 20, TimeoutSeconds: 600, ShortNameShare: 0.5, ShortNameEvents: 0.3}}})
	t.Run("sim", func(t *testing.T) {
		mixed := 0
		for _, h := range f.Truth.Hosts {
			n := map[string]int{}
			for _, e := range f.Events {
				if strings.EqualFold(fleetsim.ShortName(e.Computer), fleetsim.ShortName(h.Name)) {
					n[e.Computer]++
				}
			}
			short := 0
			for name, k := range n {
				if name != h.Name {
					short += k
					if !slices.Contains(h.ShortNames, name) || strings.Contains(name, ".") {
						t.Errorf("%s logged as %q", h.Name, name)
					}
				}
			}
			if len(h.ShortNames) == 0 && short > 0 || len(h.ShortNames) > 0 && short == 0 {
				t.Errorf("%s: short names %v, %d short events", h.Name, h.ShortNames, short)
			}
			if short > 0 {
				mixed++
				if short >= n[h.Name] {
					t.Errorf("%s: %d short events vs %d FQDN", h.Name, short, n[h.Name])
				}
			}
		}
		if mixed < 5 {
			t.Errorf("only %d computers mix short name and FQDN", mixed)
		}
		for _, c := range want(f, "idle-timeout")[0].Computers {
			if !strings.HasSuffix(c, ".corp.example") {
				t.Errorf("truth names %q, want the FQDN", c)
			}
		}
	})
	t.Run("analysis", func(t *testing.T) { analyzeAndCheck(t, f) })
}

func TestBehaviourRolledOverLogs(t *testing.T) {
	f := fleetsim.Generate(fleetsim.Spec{Seed: 106, Start: monday, Days: 10, Activity: busyActivity(), NoisePerHour: 3,
		Sites: []fleetsim.Site{{Prefix: "HQ-PC", Clients: 25, TimeoutSeconds: 300, JitterSeconds: 20, RetentionShare: 0.6}}})
	t.Run("sim", func(t *testing.T) {
		evs := map[string][]fleetsim.Event{}
		for _, e := range f.Events {
			k := strings.ToLower(e.Computer)
			evs[k] = append(evs[k], e)
		}
		rolled := 0
		for _, h := range f.Truth.Hosts {
			e := evs[strings.ToLower(h.Name)]
			span := e[len(e)-1].Time.Sub(e[0].Time).Hours()
			if h.RetainedHours == 0 {
				if span < 5*24 {
					t.Errorf("%s keeps everything, yet spans %.0f h", h.Name, span)
				}
				continue
			}
			rolled++
			if h.RetainedHours < 12 || h.RetainedHours > 40 || span > h.RetainedHours || h.Dropped == 0 {
				t.Errorf("%s: keeps %.1f h, spans %.1f h, dropped %d", h.Name, h.RetainedHours, span, h.Dropped)
			}
		}
		if rolled < 8 {
			t.Errorf("only %d rolled-over logs", rolled)
		}
	})
	t.Run("analysis", func(t *testing.T) { analyzeAndCheck(t, f) })
}

func TestBehaviourBigFleetWithBranch(t *testing.T) {
	if testing.Short() {
		t.Skip("600 computers")
	}
	f := fleetsim.Generate(fleetsim.Spec{Seed: 107, Start: monday, Days: 5, Activity: busyActivity(), NoisePerHour: 1,
		Sites: []fleetsim.Site{
			{Prefix: "HQ-PC", Clients: 570, TimeoutSeconds: 900, JitterSeconds: 15, LaptopShare: 0.3, LeftRunningShare: 0.05, RandomPerDay: 0.3},
			{Prefix: "BR-PC", Clients: 30, TimeoutSeconds: 240, Drop: "silent", RandomPerDay: 0.3},
		},
		Outages:    []fleetsim.Outage{{At: monday.AddDate(0, 0, 2).Add(11 * time.Hour), Minutes: 15}},
		Duplicates: 4, UnpairedDisconnects: 3, OrphanReconnects: 3})
	t.Run("sim", func(t *testing.T) {
		if n := len(f.Truth.Computers); n != 600 {
			t.Errorf("%d computers", n)
		}
		for _, name := range []string{"HQ-PC", "BR-PC"} {
			if d := f.Truth.Device(name); !d.Diagnosed || len(d.Expected) < len(d.Members)/3 {
				t.Errorf("%s: diagnosed=%v, %d of %d computers expected", name, d.Diagnosed, len(d.Expected), len(d.Members))
			}
		}
	})
	t.Run("analysis", func(t *testing.T) { analyzeAndCheck(t, f) })
}

// TestBehaviourLaptopsSleep: laptops log bare 26s and long 25 → 26 gaps
// (the 25 logged at sleep), and those asleep during an outage log nothing
// for it.
func TestBehaviourLaptopsSleep(t *testing.T) {
	f := fleetsim.Generate(fleetsim.Spec{Seed: 108, Start: monday, Days: 5,
		Activity: &fleetsim.Activity{LunchShare: 1, LidClose: 1, MeetingsPerDay: -1, BreaksPerDay: -1},
		Sites:    []fleetsim.Site{{Prefix: "LT", Clients: 40, LaptopShare: 1}},
		Outages:  []fleetsim.Outage{{At: monday.AddDate(0, 0, 1).Add(12*time.Hour + 30*time.Minute), Minutes: 10}}})
	t.Run("sim", func(t *testing.T) {
		lone, long, pairs := 0, 0, 0
		for _, evs := range outlookEvents(f) {
			lone += lone26s(evs)
			for i := 1; i < len(evs); i++ {
				if evs[i-1].EventID == 25 && evs[i].EventID == 26 {
					pairs++
					if evs[i].Time.Sub(evs[i-1].Time) > 20*time.Minute {
						long++
					}
				}
			}
		}
		// Resumes: ≈ 20 % bare 26, ≈ 15 % 25 at sleep.
		resumes := lone + pairs
		if r := float64(lone) / float64(resumes); r < 0.12 || r > 0.3 {
			t.Errorf("bare 26s %.2f of resumes", r)
		}
		if r := float64(long) / float64(resumes); r < 0.08 || r > 0.25 {
			t.Errorf("25 at sleep %.2f of resumes", r)
		}
		o := want(f, "shared-outage")
		if len(o) != 1 || len(o[0].Computers) >= 40 || len(o[0].Computers) < 5 {
			t.Errorf("outage at lunch: %d laptops awake of 40", len(o[0].Computers))
		}
		if d := f.Truth.Device("LT"); d.Effective || d.Sharp > 0 {
			t.Errorf("no device, yet %+v", d)
		}
	})
	t.Run("analysis", func(t *testing.T) { analyzeAndCheck(t, f) })
}

// TestRealisticTimersLateNeverEarly: over random realistic fleets every
// sharp uptime lies in its device's window: a reset's at T + 0.5 s or
// later, a silent drop's at the keep-alive + 10 s or later.
func TestRealisticTimersLateNeverEarly(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		f := fleetsim.Generate(fleetsim.RandomRealistic(seed))
		for _, h := range f.Truth.Hosts {
			for _, u := range h.Uptimes {
				if !u.Sharp {
					continue
				}
				d := f.Truth.Device(u.Device)
				lo := d.Device.TimeoutSeconds + 0.5
				if d.Device.Drop == "silent" {
					lo = d.Device.ClientPingSeconds + 10
				}
				if u.Seconds < lo || u.Seconds > d.Window[1] {
					t.Errorf("seed %d %s: sharp uptime %.1f s outside [%.1f, %.1f]", seed, h.Name, u.Seconds, lo, d.Window[1])
				}
			}
		}
	}
}

// TestRealisticDeterministic: a seed gives the same fleet; realism off
// keeps the idealized engine.
func TestRealisticDeterministic(t *testing.T) {
	for _, seed := range []uint64{3, 44, 94} {
		a, b := fleetsim.Generate(fleetsim.RandomRealistic(seed)), fleetsim.Generate(fleetsim.RandomRealistic(seed))
		if !reflect.DeepEqual(a.Events, b.Events) || !reflect.DeepEqual(a.Truth, b.Truth) {
			t.Errorf("seed %d: two runs differ", seed)
		}
		if !a.Realistic || !a.Spec.Realistic() {
			t.Errorf("seed %d: not realistic", seed)
		}
	}
	if fleetsim.Random(1).Realistic() || fleetsim.Generate(fleetsim.Random(1)).Realistic {
		t.Error("Random specs must keep the idealized engine")
	}
	kinds := map[string]int{}
	for seed := uint64(1); seed <= 200; seed++ {
		kinds[fleetsim.RandomRealistic(seed).Kind()]++
	}
	if h := kinds[fleetsim.FleetHealthy] + kinds[fleetsim.FleetOutageOnly]; h < 15 || h > 50 {
		t.Errorf("healthy or outage-only fleets: %d of 200", h)
	}
}

// want returns the expected diagnoses of a kind.
func want(f *fleetsim.Fleet, kind string) []fleetsim.Expected {
	var out []fleetsim.Expected
	for _, e := range f.Truth.Diagnoses {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// outlookEvents groups the Outlook 25/26 of each computer (by FQDN, short
// names folded in), in time order.
func outlookEvents(f *fleetsim.Fleet) map[string][]fleetsim.Event {
	byShort := map[string]string{}
	for _, h := range f.Truth.Hosts {
		byShort[fleetsim.ShortName(h.Name)] = h.Name
	}
	out := map[string][]fleetsim.Event{}
	for _, e := range f.Events {
		if e.Provider == "Outlook" && (e.EventID == 25 || e.EventID == 26) {
			n := byShort[fleetsim.ShortName(e.Computer)]
			out[n] = append(out[n], e)
		}
	}
	for _, evs := range out {
		slices.SortStableFunc(evs, func(a, b fleetsim.Event) int { return a.Time.Compare(b.Time) })
	}
	return out
}

// lone26s counts 26s that follow a 26 (no 25 between) more than 2 s later.
func lone26s(evs []fleetsim.Event) int {
	n := 0
	for i := 1; i < len(evs); i++ {
		if evs[i].EventID == 26 && evs[i-1].EventID == 26 && evs[i].Time.Sub(evs[i-1].Time) > 2*time.Second {
			n++
		}
	}
	return n
}
