package fleetsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// RealisticTimeouts are the idle timeouts RandomRealistic draws from
// (DOMAIN.md §2 defaults and common custom settings; 60 s is left out: a
// 60 s device behind Outlook's 720 s keep-alive is not a plausible office
// path), besides custom values.
var RealisticTimeouts = []float64{180, 240, 300, 350, 360, 600, 660, 900, 1200, 1500, 1800, 2700, 3600}

// Fleet kinds of RandomRealistic.
const (
	FleetProblem    = "problem"     // at least one device kills idle connections
	FleetHealthy    = "healthy"     // no device, no outage: nothing to diagnose
	FleetOutageOnly = "outage-only" // no device, one or two shared outages
)

// RandomRealistic draws a realistic fleet across the plausible range of
// DOMAIN.md §7: 1–80 computers mostly (≈ 10 % one desktop's log of 10–14
// days, ≈ 2 % 600 computers with a 5 % branch), 1–3 sites, timeouts from
// RealisticTimeouts or custom, reset or silent, busy users, late timers,
// laptops that sleep and roam, Outlook left running, skewed clocks,
// rolled-over logs, short names, outages and the anomalies of Random;
// ≈ 15 % healthy or outage-only fleets. 3–14 days. The same seed gives
// the same spec.
func RandomRealistic(seed uint64) Spec {
	r := rand.New(rand.NewPCG(seed, 0x7ea115))
	u := func(lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }
	chance := func(p float64) bool { return r.Float64() < p }
	round := func(v float64, q float64) float64 { // v to a multiple of q, printed short
		if q < 1 {
			return math.Round(v/q) / math.Round(1/q)
		}
		return math.Round(v/q) * q
	}
	zones := []*time.Location{time.UTC, time.FixedZone("UTC+1", 3600), time.FixedZone("UTC+2", 7200),
		time.FixedZone("UTC-5", -5*3600), time.FixedZone("UTC-8", -8*3600), time.FixedZone("UTC+5:30", 5*3600+1800),
		time.FixedZone("UTC+9", 9*3600)}
	spec := Spec{
		Seed:   seed,
		Start:  time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(700)),
		Days:   3 + r.IntN(12),
		TZ:     zones[r.IntN(len(zones))],
		Domain: []string{"corp.example", "contoso.example", "ad.example.org"}[r.IntN(3)],
	}
	spec.NoisePerHour = round(u(0, 3), 0.1)
	gapSigma := u(0.3, 0.8)
	spec.Activity = &Activity{
		ActiveGapSeconds:    round(math.Exp(u(math.Log(90), math.Log(600))), 1),
		UserSigma:           round(gapSigma, 0.01),
		LunchShare:          round(u(0.6, 0.95), 0.01),
		LunchMinutes:        [2]float64{25, 60},
		MeetingsPerDay:      round(u(1, 2), 0.1),
		MeetingMinutes:      [2]float64{30, 90},
		BreaksPerDay:        round(u(1, 3), 0.1),
		BreakMinutes:        [2]float64{5, 20},
		SyncSeconds:         [2]float64{0.5, round(u(2, 8), 0.5)},
		LidClose:            round(u(0.2, 0.5), 0.01),
		SleepAfterMinutes:   round(u(10, 60), 1),
		NightSleep:          round(u(0.6, 0.95), 0.01),
		NightTrafficPerHour: round(u(0, 0.3), 0.01),
	}
	if chance(0.7) {
		spec.Activity.AwayTrafficPerHour = round(u(0, 2), 0.1)
	}
	kind := FleetProblem
	switch x := r.Float64(); {
	case x < 0.075:
		kind = FleetHealthy
	case x < 0.15:
		kind = FleetOutageOnly
	}
	var sizes []int
	one := false
	switch x := r.Float64(); {
	case x < 0.02:
		sizes = []int{570, 30} // HQ and a 5 % branch
		spec.Days = 3 + r.IntN(3)
	case x < 0.12:
		sizes, one = []int{1}, true
		spec.Days = 10 + r.IntN(5)
	default:
		n := int(math.Round(math.Exp(u(math.Log(3), math.Log(80)))))
		ns := 1
		switch {
		case n >= 12:
			ns = 1 + r.IntN(3)
		case n >= 5:
			ns = 1 + r.IntN(2)
		}
		for i := range ns {
			left := n - sum(sizes)
			if i == ns-1 {
				sizes = append(sizes, left)
				break
			}
			sizes = append(sizes, max(2, int(float64(left)*u(0.3, 0.7))))
		}
	}
	prefixes := []string{"HQ-PC", "BR-LT", "OPS-WS", "FIN-PC", "DC2-VM", "SHOP-", "LAB-"}
	r.Shuffle(len(prefixes), func(i, j int) { prefixes[i], prefixes[j] = prefixes[j], prefixes[i] })
	device := func() Device {
		if chance(0.3) {
			d := Device{Drop: "silent", TimeoutSeconds: []float64{180, 240, 300, 350, 360, 600, 660}[r.IntN(7)]}
			if chance(0.2) {
				d.TimeoutSeconds = round(u(120, 700), 10)
			}
			return d
		}
		d := Device{Drop: "reset", TimeoutSeconds: RealisticTimeouts[r.IntN(len(RealisticTimeouts))]}
		if chance(0.2) {
			d.TimeoutSeconds = round(u(150, 3600), 5)
		}
		switch x := r.Float64(); {
		case x < 0.5:
			d.JitterSeconds = round(u(0, 30), 1)
		case x < 0.8:
			d.JitterPercent = round(u(0, 2), 0.1)
		default:
			d.JitterSeconds = round(u(0, 2), 0.5)
		}
		return d
	}
	for i, n := range sizes {
		s := Site{Prefix: prefixes[i], Clients: n, RandomPerDay: round(u(0, 1), 0.05)}
		if kind == FleetProblem && (i == 0 || chance(0.6)) {
			d := device()
			s.TimeoutSeconds, s.Drop, s.JitterSeconds, s.JitterPercent = d.TimeoutSeconds, d.Drop, d.JitterSeconds, d.JitterPercent
		}
		if !one {
			if chance(0.5) {
				s.LaptopShare = round(u(0.1, 0.7), 0.05)
				if chance(0.35) {
					ro := &Roaming{Share: round(u(0.3, 1), 0.05), HomeDays: 1 + r.IntN(2)}
					if kind == FleetProblem && chance(0.75) {
						ro.VPN = device()
					}
					s.Roaming = ro
				}
			}
			if chance(0.4) {
				s.LeftRunningShare = round(u(0.02, 0.2), 0.01)
			}
			if chance(0.25) {
				s.RetentionShare = round(u(0.1, 0.5), 0.05)
				s.RetentionHours = [2]float64{12, 40}
			}
		} else if chance(0.3) {
			s.LeftRunningShare = 1
		}
		if chance(0.3) {
			s.ClockSkewSeconds = round(u(10, 120), 1)
			s.ClockSkewShare = round(u(0.3, 1), 0.05)
		}
		if chance(0.25) {
			s.ShortNameShare = round(u(0.05, 0.4), 0.05)
			if one {
				s.ShortNameShare = 1
			}
			s.ShortNameEvents = round(u(0.05, 0.45), 0.05)
		}
		spec.Sites = append(spec.Sites, s)
	}
	nOut := 0
	switch {
	case kind == FleetOutageOnly:
		nOut = 1 + r.IntN(2)
	case kind == FleetProblem && chance(0.35):
		nOut = 1
	}
	t0 := spec.withDefaults().Start
	for range nOut {
		var day time.Time
		for {
			day = time.Date(t0.Year(), t0.Month(), t0.Day()+r.IntN(spec.Days), 0, 0, 0, 0, spec.TZ)
			if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
				break
			}
		}
		o := Outage{At: day.Add(time.Duration(u(9.5, 16)*3600) * time.Second).Truncate(time.Minute).UTC(), Minutes: float64(5 + r.IntN(36))}
		if len(spec.Sites) > 1 && chance(0.4) {
			for _, s := range spec.Sites {
				if chance(0.5) {
					o.Sites = append(o.Sites, s.Prefix)
				}
			}
			if len(o.Sites) == 0 {
				o.Sites = []string{spec.Sites[0].Prefix}
			}
		}
		spec.Outages = append(spec.Outages, o)
	}
	spec.Duplicates = r.IntN(4)
	spec.UnpairedDisconnects = r.IntN(3)
	spec.OrphanReconnects = r.IntN(3)
	spec.RPCClientAccess26 = r.IntN(6)
	if one {
		spec.Duplicates, spec.UnpairedDisconnects, spec.OrphanReconnects = r.IntN(2), r.IntN(2), 0
	}
	return spec
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// Kind is the spec's fleet kind: FleetProblem when a device kills idle
// connections, else FleetOutageOnly or FleetHealthy.
func (s Spec) Kind() string {
	for _, st := range s.Sites {
		if st.OfficeDevice().Effective() && st.Clients > 0 || st.Roaming != nil && st.Roaming.VPN.Effective() {
			return FleetProblem
		}
	}
	if len(s.Outages) > 0 {
		return FleetOutageOnly
	}
	return FleetHealthy
}

// Behaviours tags the behaviours and parameter ranges of a spec, for
// breaking test results down (e.g. "laptops", "silent", "T≥1800").
func (s Spec) Behaviours() []string {
	tags := map[string]bool{s.Kind(): true}
	n := 0
	for _, st := range s.Sites {
		n += st.Clients
	}
	switch {
	case n == 1:
		tags["one-computer"] = true
	case n >= 300:
		tags["600-computers"] = true
	case n < 10:
		tags["2-9 computers"] = true
	}
	if len(s.Sites) > 1 {
		tags["multi-site"] = true
	}
	if s.Days <= 4 {
		tags["≤4 days"] = true
	}
	if a := s.Activity; a != nil {
		if a.ActiveGapSeconds < 180 {
			tags["busy users (gap<180s)"] = true
		}
		if a.ActiveGapSeconds > 400 {
			tags["quiet users (gap>400s)"] = true
		}
		if a.AwayTrafficPerHour >= 1 {
			tags["away traffic ≥1/h"] = true
		}
	}
	dev := func(d Device, where string) {
		d = d.withDefaults()
		if !d.Effective() {
			return
		}
		tags[d.Drop] = true
		if !slices.Contains(RealisticTimeouts, d.TimeoutSeconds) {
			tags["custom timeout"] = true
		}
		if d.Drop == "reset" {
			switch {
			case d.TimeoutSeconds <= 300:
				tags["T≤300"] = true
			case d.TimeoutSeconds >= 1800:
				tags["T≥1800"] = true
			}
		}
		if d.JitterSeconds >= 10 || d.JitterPercent >= 1 {
			tags["late timers"] = true
		}
		if where != "" {
			tags[where] = true
		}
	}
	for _, st := range s.Sites {
		dev(st.OfficeDevice(), "")
		if st.LaptopShare > 0 {
			tags["laptops"] = true
		}
		if st.Roaming != nil {
			tags["roaming"] = true
			dev(st.Roaming.VPN, "vpn device")
		}
		if st.LeftRunningShare > 0 {
			tags["left running"] = true
		}
		if st.ClockSkewSeconds > 0 {
			tags["clock skew"] = true
		}
		if st.RetentionShare > 0 {
			tags["rolled-over logs"] = true
		}
		if st.ShortNameShare > 0 {
			tags["short names"] = true
		}
		if !st.OfficeDevice().Effective() && len(s.Sites) > 1 {
			tags["healthy site"] = true
		}
	}
	if len(s.Outages) > 0 {
		tags["outage"] = true
		for _, o := range s.Outages {
			if len(o.Sites) > 0 {
				tags["outage of some sites"] = true
			}
		}
	}
	out := make([]string, 0, len(tags))
	for t := range tags {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// realismString describes a site's realism (for Spec.String).
func (st Site) realismString() string {
	var p []string
	if st.JitterSeconds > 0 {
		p = append(p, fmt.Sprintf("late≤%gs", st.JitterSeconds))
	}
	if st.JitterPercent > 0 {
		p = append(p, fmt.Sprintf("late≤%g%%", st.JitterPercent))
	}
	if st.LaptopShare > 0 {
		p = append(p, fmt.Sprintf("laptops %g", st.LaptopShare))
	}
	if ro := st.Roaming; ro != nil {
		v := "healthy"
		if ro.VPN.TimeoutSeconds > 0 {
			v = fmt.Sprintf("%s %gs", ro.VPN.withDefaults().Drop, ro.VPN.TimeoutSeconds)
			if ro.VPN.JitterSeconds > 0 {
				v += fmt.Sprintf(" late≤%gs", ro.VPN.JitterSeconds)
			}
			if ro.VPN.JitterPercent > 0 {
				v += fmt.Sprintf(" late≤%g%%", ro.VPN.JitterPercent)
			}
		}
		p = append(p, fmt.Sprintf("roam %g×%dd vpn %s", ro.Share, max(ro.HomeDays, 1), v))
	}
	if st.LeftRunningShare > 0 {
		p = append(p, fmt.Sprintf("left-running %g", st.LeftRunningShare))
	}
	if st.ClockSkewSeconds > 0 {
		p = append(p, fmt.Sprintf("skew±%gs×%g", st.ClockSkewSeconds, st.ClockSkewShare))
	}
	if st.RetentionShare > 0 {
		p = append(p, fmt.Sprintf("rolled %g", st.RetentionShare))
	}
	if st.ShortNameShare > 0 {
		p = append(p, fmt.Sprintf("short-names %g×%g", st.ShortNameShare, st.ShortNameEvents))
	}
	if st.RandomPerDay > 0 {
		p = append(p, fmt.Sprintf("random %g/d", st.RandomPerDay))
	}
	if len(p) == 0 {
		return ""
	}
	return " [" + strings.Join(p, " ") + "]"
}

func (a *Activity) String() string {
	if a == nil {
		return ""
	}
	return fmt.Sprintf("users gap %gs σ%g away %g/h night %g/h lunch %g meetings %g breaks %g sync≤%gs lid %g sleep-after %gmin night-sleep %g",
		a.ActiveGapSeconds, a.UserSigma, a.AwayTrafficPerHour, a.NightTrafficPerHour, a.LunchShare, a.MeetingsPerDay,
		a.BreaksPerDay, a.SyncSeconds[1], a.LidClose, a.SleepAfterMinutes, a.NightSleep)
}
