// Package fleetsim generates deterministic fleets of Outlook clients behind
// idle-timeout devices, with the Windows Application-log events they would
// write and the diagnoses a correct analysis must find.
//
// The behaviour follows the model of the shared scenario fleets
// (truth.json "model"): sessions on weekdays from a login at 07:15–09:15 to
// a logoff at 16:30–18:30 local time; behind a device that resets idle
// connections at T the uptime (26 → 25) is T + 0.5–5 s; behind one that
// drops them silently Outlook notices at its keep-alive ping (720 s) plus
// 10–40 s of retransmissions, and only when T < ping; in 10 % of cases user
// activity delays the idle period by 60–1800 s; Outlook reconnects after
// 5–60 s (70 %) or 60–240 s (30 %); in a shared outage connected clients log
// 25 within 0–60 s of its start and 26 within 0–90 s after its end.
package fleetsim

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"idletrace/analysis"
)

// Site is a group of clients behind one device.
type Site struct {
	Prefix  string // computer-name prefix, e.g. "HQ-PC" → HQ-PC01.corp.example
	Clients int
	// TimeoutSeconds is the device's idle timeout, 0 for none.
	TimeoutSeconds float64
	// Drop is what the device does at the timeout: "reset" (default) or "silent".
	Drop string
	// ClientPingSeconds is Outlook's keep-alive period (default 720).
	ClientPingSeconds float64
	// RandomPerDay is the rate of random disconnects per client and day
	// (Wi-Fi, sleep, …): the only disconnects of a healthy site.
	RandomPerDay float64

	// Realism (DOMAIN.md §7). The zero values keep the idealized clients
	// above; any non-zero field here, or a Spec.Activity, switches the whole
	// fleet to the realistic engine (see realistic.go).

	// JitterSeconds: a resetting device's timer fires late by U(0,
	// JitterSeconds) (table sweeps; plausible 0–30 s), never early.
	JitterSeconds float64
	// JitterPercent: and late by up to this percentage of T (0–2 %).
	JitterPercent float64
	// LaptopShare is the share of the site's computers that are laptops
	// (sleep on lid close, when left idle and at night).
	LaptopShare float64
	// LeftRunningShare is the share of desktops whose Outlook runs day and
	// night for the whole window.
	LeftRunningShare float64
	// Roaming, when set, sends some laptops home on fixed weekdays, behind
	// a VPN concentrator with its own idle timeout (device "<prefix>@vpn").
	Roaming *Roaming
	// ClockSkewSeconds is the largest clock offset (±) of a computer of the
	// site (workgroup PCs: up to 120 s); logged times are true + offset.
	ClockSkewSeconds float64
	// ClockSkewShare is the share of computers with such an offset (0 = all
	// when ClockSkewSeconds > 0); the others are within ±1 s.
	ClockSkewShare float64
	// RetentionShare is the share of computers whose Application log has
	// rolled over: only their last RetentionHours of events remain.
	RetentionShare float64
	// RetentionHours is the range of hours such a log keeps (default 12–40).
	RetentionHours [2]float64
	// ShortNameShare is the share of computers that log part of their
	// events under the short name ("PC07", "pc07") instead of the FQDN.
	ShortNameShare float64
	// ShortNameEvents is the share of such a computer's events logged under
	// the short name (default 0.2; keep below 0.5: the FQDN stays the
	// display name).
	ShortNameEvents float64
}

// Roaming describes laptops that work from home on fixed weekdays.
type Roaming struct {
	// Share is the share of the site's laptops that roam.
	Share float64
	// HomeDays is how many fixed weekdays (Mon–Fri) each roaming laptop
	// works from home (default 2).
	HomeDays int
	// VPN is the home path's device (a zero Device: no idle timeout).
	VPN Device
}

// Device is an idle-timeout device on a network path.
type Device struct {
	TimeoutSeconds    float64 // 0: none
	Drop              string  // "reset" (default) or "silent"
	ClientPingSeconds float64 // Outlook's keep-alive (default 720)
	JitterSeconds     float64 // see Site.JitterSeconds
	JitterPercent     float64 // see Site.JitterPercent
}

// Outage is a shared outage: clients of the given sites (all when empty)
// lose Exchange from At for Minutes.
type Outage struct {
	At      time.Time
	Minutes float64
	Sites   []string // site prefixes
}

// Spec describes a fleet. Generate is deterministic in it.
type Spec struct {
	Seed   uint64
	Start  time.Time      // first day (default Monday 2024-03-04); only weekdays have sessions
	Days   int            // calendar days (default 5)
	Domain string         // default "corp.example"
	TZ     *time.Location // sessions are in local time (default UTC)
	Sites  []Site
	// Outages are shared outages.
	Outages []Outage
	// NoisePerHour is the rate of other events (other providers, other
	// Outlook ids) per client and session hour.
	NoisePerHour float64
	// RPCClientAccess26 is how many "MSExchange RPC Client Access" 26
	// events to scatter over the fleet (noise the analysis must ignore).
	RPCClientAccess26 int
	// Duplicates is how many Outlook 25s are logged twice (new record id,
	// same time).
	Duplicates int
	// UnpairedDisconnects is how many clients log a last 25 before logoff
	// that no 26 follows.
	UnpairedDisconnects int
	// OrphanReconnects is how many clients log a 26 with no 25 before it.
	OrphanReconnects int
	// Overnight is how many clients stay logged on from one day to the next
	// (in a realistic fleet: how many more desktops leave Outlook running).
	Overnight int
	// Activity, when set, describes the users of a realistic fleet
	// (DOMAIN.md §7); nil with no site realism keeps the idealized clients.
	Activity *Activity
}

// Event is one Application-log record.
type Event struct {
	Computer   string
	Channel    string
	Provider   string
	EventID    int
	Qualifiers int
	Level      int
	RecordID   int64
	Time       time.Time
	Message    string
}

// Expected is a diagnosis a correct analysis reports.
type Expected struct {
	Kind string // analysis.KindIdleTimeout or analysis.KindSharedOutage
	Site string // site prefix (idle-timeout)
	// TimeoutSeconds is the device's timeout; ObservedSeconds what the logs
	// show (T for a reset, the client ping for a silent drop).
	TimeoutSeconds  float64
	ObservedSeconds float64
	Drop            string // "reset" or "silent"
	Start, End      time.Time
	Computers       []string

	// Realistic fleets only.

	// Device names the device: the site prefix, or "<prefix>@vpn" for the
	// home path of roaming laptops (idle-timeout).
	Device string
	// Gray are computers with ≥ 2 sharp uptimes at the device that are
	// outnumbered by their other uptimes in the sharp window: a diagnosis
	// may or may not name them.
	Gray []string
	// OneSharp are computers behind the device with exactly one sharp
	// uptime: not required, and naming them is not wrong either.
	OneSharp []string
	// SharpUptimes is how many sharp uptimes the expected computers hold.
	SharpUptimes int
}

// Truth is what the fleet should be diagnosed with.
type Truth struct {
	Diagnoses []Expected
	Computers []string // every computer, sorted
	// Pairs is the number of 25 … 26 pairs (duplicates and unpaired 25s
	// are not pairs).
	Pairs int

	// Realistic fleets only (nil otherwise).

	// Tolerated are real problems too thin to be required: devices that
	// kill idle connections but whose evidence misses the bar, and outages
	// that hit fewer than MinOutageComputers computers. A diagnosis that
	// matches one is neither required nor extra.
	Tolerated []Expected
	// Devices is per device (site and, for roaming laptops, site@vpn) what
	// the simulation produced.
	Devices []DeviceTruth
	// Hosts is per computer how it was simulated, sorted by name.
	Hosts []HostTruth
}

// Fleet is a generated fleet.
type Fleet struct {
	Spec   Spec
	Events []Event // per computer in record-id order; computers in site order
	Truth  Truth
	// Realistic is whether the realistic engine generated the fleet (and
	// Check judges by the realistic bar).
	Realistic bool
}

// Message texts (en-US) of the Outlook events.
const (
	Message25 = "Could not perform the desired operation. The selected command is not valid for this recipient. The connection to Microsoft Exchange is unavailable. Outlook must be online or connected to complete this action.."
	Message26 = "Connection to Microsoft Exchange has been restored."
)

// AnalysisEvents returns the Outlook 25/26 events of the Application log,
// as package ingest would hand them to the analysis.
func (f *Fleet) AnalysisEvents() []analysis.Event {
	return AnalysisEvents(f.Events)
}

// AnalysisEvents filters Outlook 25/26 Application events.
func AnalysisEvents(evs []Event) []analysis.Event {
	out := make([]analysis.Event, 0, len(evs)/2)
	for _, e := range evs {
		if e.Channel == "Application" && e.Provider == "Outlook" && (e.EventID == 25 || e.EventID == 26) {
			out = append(out, analysis.Event{Computer: e.Computer, EventID: e.EventID, Time: e.Time, RecordID: e.RecordID})
		}
	}
	return out
}

func (s Spec) withDefaults() Spec {
	if s.Start.IsZero() {
		s.Start = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)
	}
	if s.Days <= 0 {
		s.Days = 5
	}
	if s.Domain == "" {
		s.Domain = "corp.example"
	}
	if s.TZ == nil {
		s.TZ = time.UTC
	}
	s.Sites = slices.Clone(s.Sites)
	for i := range s.Sites {
		if s.Sites[i].Drop == "" {
			s.Sites[i].Drop = "reset"
		}
		if s.Sites[i].ClientPingSeconds <= 0 {
			s.Sites[i].ClientPingSeconds = 720
		}
	}
	return s
}

// Effective reports whether the site's device kills idle connections:
// a resetting device always, a silent one only below the client's ping
// (the ping keeps the flow alive otherwise).
func (s Site) Effective() bool {
	if s.TimeoutSeconds <= 0 {
		return false
	}
	if s.Drop == "silent" {
		return s.TimeoutSeconds < s.ClientPingSeconds
	}
	return true
}

// client is the state of one simulated computer.
type client struct {
	name   string
	site   *Site
	siteIx int
	rng    *rand.Rand
	evs    []Event
	// per outage: whether the client was taken down by it
	outage []bool
	// anomalies
	overnight bool
	pairs     int
}

type cause int

const (
	causeTimeout cause = iota
	causeRandom
	causeOutage
)

// Generate builds the fleet of spec.
func Generate(spec Spec) *Fleet {
	spec = spec.withDefaults()
	if spec.Realistic() {
		return generateRealistic(spec)
	}
	f := &Fleet{Spec: spec}
	var clients []*client
	for si := range spec.Sites {
		s := &spec.Sites[si]
		for i := range s.Clients {
			c := &client{
				name:   fmt.Sprintf("%s%02d.%s", s.Prefix, i+1, spec.Domain),
				site:   s,
				siteIx: si,
				rng:    rand.New(rand.NewPCG(spec.Seed, uint64(si)<<32|uint64(i))),
				outage: make([]bool, len(spec.Outages)),
			}
			clients = append(clients, c)
		}
	}
	// Fleet-wide anomalies are assigned with a fleet RNG.
	frng := rand.New(rand.NewPCG(spec.Seed, math.MaxUint64))
	pick := func(n int) []*client { return pickN(frng, clients, n) }
	for _, c := range pick(spec.Overnight) {
		c.overnight = true
	}
	for _, c := range clients {
		c.simulate(spec)
	}
	for _, c := range pick(spec.UnpairedDisconnects) {
		c.addUnpaired()
	}
	for _, c := range pick(spec.OrphanReconnects) {
		c.addOrphan(spec)
	}
	for _, c := range pick(spec.Duplicates) {
		c.addDuplicate()
	}
	for i := range spec.RPCClientAccess26 {
		if len(clients) == 0 {
			break
		}
		c := clients[frng.IntN(len(clients))]
		if len(c.evs) == 0 {
			continue
		}
		at := c.evs[frng.IntN(len(c.evs))].Time.Add(time.Duration(frng.IntN(600)+1) * time.Second)
		c.evs = append(c.evs, Event{Provider: "MSExchange RPC Client Access", EventID: 26, Qualifiers: 0, Level: 4, Time: at,
			Message: fmt.Sprintf("RPC Client Access connection restored (%d).", i)})
	}
	for _, c := range clients {
		c.noise(spec)
		c.finish(frng.Int64N(60000) + 1000)
		f.Events = append(f.Events, c.evs...)
		f.Truth.Computers = append(f.Truth.Computers, c.name)
		f.Truth.Pairs += c.pairs
	}
	slices.Sort(f.Truth.Computers)
	f.Truth.Diagnoses = truth(spec, clients)
	return f
}

// truth lists the expected diagnoses: one idle-timeout per effective
// site, one shared outage per outage that took down clients.
func truth(spec Spec, clients []*client) []Expected {
	var out []Expected
	for si := range spec.Sites {
		s := spec.Sites[si]
		if !s.Effective() || s.Clients == 0 {
			continue
		}
		e := Expected{Kind: analysis.KindIdleTimeout, Site: s.Prefix, TimeoutSeconds: s.TimeoutSeconds, Drop: s.Drop, ObservedSeconds: s.TimeoutSeconds}
		if s.Drop == "silent" {
			e.ObservedSeconds = s.ClientPingSeconds
		}
		for _, c := range clients {
			if c.siteIx == si {
				e.Computers = append(e.Computers, c.name)
			}
		}
		slices.Sort(e.Computers)
		out = append(out, e)
	}
	for oi, o := range spec.Outages {
		e := Expected{Kind: analysis.KindSharedOutage, Start: o.At.UTC(), End: o.At.Add(time.Duration(o.Minutes * float64(time.Minute))).UTC()}
		for _, c := range clients {
			if c.outage[oi] {
				e.Computers = append(e.Computers, c.name)
			}
		}
		if len(e.Computers) == 0 {
			continue
		}
		slices.Sort(e.Computers)
		out = append(out, e)
	}
	return out
}

func (c *client) uniform(lo, hi float64) float64 { return lo + c.rng.Float64()*(hi-lo) }

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// retry is how long Outlook takes to reconnect.
func (c *client) retry() float64 {
	if c.rng.Float64() < 0.7 {
		return c.uniform(5, 60)
	}
	return c.uniform(60, 240)
}

// uptime draws how long a connection lives behind the site's device.
func (c *client) uptime() float64 {
	s := c.site
	var u float64
	if s.Drop == "silent" {
		u = s.ClientPingSeconds + c.uniform(10, 40)
	} else {
		u = s.TimeoutSeconds + c.uniform(0.5, 5)
	}
	if c.rng.Float64() < 0.1 {
		u += c.uniform(60, 1800)
	}
	return u
}

func (c *client) log(id int, t time.Time) {
	msg := Message25
	if id == 26 {
		msg = Message26
	}
	c.evs = append(c.evs, Event{Provider: "Outlook", EventID: id, Qualifiers: 16384, Level: 4, Time: t.UTC(), Message: msg})
}

// sessions returns the client's logged-on periods.
func (c *client) sessions(spec Spec) [][2]time.Time {
	var out [][2]time.Time
	for d := range spec.Days {
		day := spec.Start.AddDate(0, 0, d)
		local := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, spec.TZ)
		if wd := local.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		in := local.Add(secs(c.uniform(7.25, 9.25) * 3600))
		off := local.Add(secs(c.uniform(16.5, 18.5) * 3600))
		if c.overnight && len(out) > 0 && d > 0 {
			// Left on: the previous session runs on until today's logoff.
			out[len(out)-1][1] = off
			continue
		}
		out = append(out, [2]time.Time{in, off})
	}
	return out
}

// simulate writes the client's Outlook 25/26 events.
func (c *client) simulate(spec Spec) {
	s := c.site
	type win struct {
		start, end time.Time
		idx        int
	}
	var outs []win
	for oi, o := range spec.Outages {
		if len(o.Sites) > 0 && !slices.Contains(o.Sites, s.Prefix) {
			continue
		}
		outs = append(outs, win{o.At.UTC(), o.At.Add(secs(o.Minutes * 60)).UTC(), oi})
	}
	for _, ses := range c.sessions(spec) {
		t := ses[0].Add(secs(c.uniform(30, 300))) // Outlook starts after login
		end := ses[1]
		for {
			// Connected since t: when does the connection die?
			next := time.Time{}
			why := causeTimeout
			if s.Effective() {
				next = t.Add(secs(c.uptime()))
			}
			if s.RandomPerDay > 0 {
				r := t.Add(secs(c.rng.ExpFloat64() / s.RandomPerDay * 9 * 3600))
				if next.IsZero() || r.Before(next) {
					next, why = r, causeRandom
				}
			}
			hit := -1
			for _, o := range outs {
				if !o.start.Before(t) && (next.IsZero() || o.start.Before(next)) && o.start.Before(end) {
					at := o.start.Add(secs(c.uniform(0, 60)))
					switch {
					case next.IsZero() || at.Before(next):
						next, why, hit = at, causeOutage, o.idx
					case !next.Before(o.start):
						// The connection died in the outage's first minute
						// anyway: the disconnect is the outage's.
						why, hit = causeOutage, o.idx
					}
				}
			}
			if hit >= 0 {
				c.outage[hit] = !c.indistinct(t, next)
			}
			if next.IsZero() || !next.Before(end) {
				break
			}
			c.log(25, next)
			back := next.Add(secs(c.retry()))
			for _, o := range outs {
				if !back.Before(o.start) && back.Before(o.end) || why == causeOutage && next.Before(o.end) && !next.Before(o.start) {
					back = o.end.Add(secs(c.uniform(0, 90)))
				}
			}
			c.log(26, back)
			c.pairs++
			t = back
		}
	}
}

// indistinct reports whether an outage disconnect at `at` on a connection
// up since `up` looks exactly like the device's timeout, so that no
// analysis could tell it from one.
func (c *client) indistinct(up, at time.Time) bool {
	s := c.site
	if !s.Effective() {
		return false
	}
	u := at.Sub(up).Seconds()
	if s.Drop == "silent" {
		return u >= s.ClientPingSeconds+5 && u <= s.ClientPingSeconds+45
	}
	// A resetting device kills no connection before T.
	return u >= s.TimeoutSeconds && u <= s.TimeoutSeconds+6
}

func (c *client) outlook(id int) []int {
	var out []int
	for i, e := range c.evs {
		if e.Provider == "Outlook" && e.EventID == id {
			out = append(out, i)
		}
	}
	return out
}

// addUnpaired logs a 25 a few minutes before the last logoff… after the
// client's last event, so no 26 follows.
func (c *client) addUnpaired() {
	if len(c.evs) == 0 {
		return
	}
	last := c.evs[0].Time
	for _, e := range c.evs {
		if e.Time.After(last) {
			last = e.Time
		}
	}
	c.log(25, last.Add(secs(c.uniform(120, 900))))
}

// addOrphan logs a 26 with no 25 before it, a while after a 26.
func (c *client) addOrphan(spec Spec) {
	ix := c.outlook(26)
	if len(ix) == 0 {
		return
	}
	e := c.evs[ix[c.rng.IntN(len(ix))]]
	// Before the next 25: place it a few seconds after the 26, well
	// outside the duplicate window.
	c.log(26, e.Time.Add(secs(c.uniform(20, 40))))
}

// addDuplicate logs an Outlook 25 twice.
func (c *client) addDuplicate() {
	ix := c.outlook(25)
	if len(ix) == 0 {
		return
	}
	e := c.evs[ix[c.rng.IntN(len(ix))]]
	c.evs = append(c.evs, e)
}

var noiseKinds = []struct {
	provider   string
	id, q, lvl int
	msg        string
}{
	{"Microsoft-Windows-Security-SPP", 16384, 16384, 4, "Successfully scheduled Software Protection service for re-start."},
	{"SecurityCenter", 15, 0, 4, "Updated Windows Defender status successfully to SECURITY_PRODUCT_STATE_ON."},
	{"Microsoft-Windows-Winlogon", 6000, 0, 4, "The winlogon notification subscriber <SessionEnv> was unavailable to handle a notification event."},
	{"MsiInstaller", 1033, 0, 4, "Windows Installer installed the product."},
	{"ESENT", 916, 0, 4, "The beta feature EseDiskFlushConsistency is enabled in ESENT due to the beta site mode settings."},
	{"Application Error", 1000, 0, 2, "Faulting application name: SearchProtocolHost.exe"},
	{"Outlook", 63, 16384, 4, "The Exchange web service request GetAppManifests succeeded."},
	{"Outlook", 45, 16384, 4, "Outlook loaded the following add-in(s)."},
	{"Outlook", 32, 16384, 4, "The store has detected a catalog checkpoint."},
}

// noise adds events of other sources during the client's active time.
func (c *client) noise(spec Spec) {
	if spec.NoisePerHour <= 0 || len(c.evs) == 0 {
		return
	}
	first, last := c.evs[0].Time, c.evs[0].Time
	for _, e := range c.evs {
		if e.Time.Before(first) {
			first = e.Time
		}
		if e.Time.After(last) {
			last = e.Time
		}
	}
	t := first.Add(-secs(c.uniform(60, 1800)))
	for {
		t = t.Add(secs(c.rng.ExpFloat64() / spec.NoisePerHour * 3600))
		if t.After(last) {
			return
		}
		if h := t.In(spec.TZ).Hour(); h < 7 || h >= 19 {
			continue
		}
		k := noiseKinds[c.rng.IntN(len(noiseKinds))]
		c.evs = append(c.evs, Event{Provider: k.provider, EventID: k.id, Qualifiers: k.q, Level: k.lvl, Time: t.UTC(), Message: k.msg})
	}
}

// finish orders the events, numbers them and stamps computer and channel.
func (c *client) finish(base int64) {
	slices.SortStableFunc(c.evs, func(a, b Event) int { return a.Time.Compare(b.Time) })
	for i := range c.evs {
		c.evs[i].Computer = c.name
		c.evs[i].Channel = "Application"
		c.evs[i].RecordID = base + int64(i)
	}
}

// Candidates are the device default timeouts of DOMAIN.md §2 (seconds).
var Candidates = []float64{60, 180, 240, 300, 350, 360, 600, 660, 900, 3600, 9000}

// Random draws a random fleet spec: 2–3 sites with timeouts from
// Candidates, reset or silent drops, sometimes a healthy site, an outage,
// noise and anomalies. The same seed gives the same spec.
func Random(seed uint64) Spec {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	spec := Spec{Seed: seed, Days: 5, NoisePerHour: 2, TZ: time.UTC}
	prefixes := []string{"HQ-PC", "BR-LT", "OPS-WS", "FIN-PC", "DC2-VM"}
	r.Shuffle(len(prefixes), func(i, j int) { prefixes[i], prefixes[j] = prefixes[j], prefixes[i] })
	n := 2 + r.IntN(2)
	usedReset := map[float64]bool{}
	for i := range n {
		s := Site{Prefix: prefixes[i], Clients: 4 + r.IntN(14)}
		if i == n-1 && r.IntN(3) == 0 {
			s.RandomPerDay = 0.3 // a healthy site
		} else if r.IntN(3) == 0 {
			s.Drop = "silent"
			s.TimeoutSeconds = Candidates[r.IntN(len(Candidates))]
		} else {
			s.Drop = "reset"
			for {
				s.TimeoutSeconds = Candidates[r.IntN(len(Candidates))]
				if !usedReset[s.TimeoutSeconds] {
					break
				}
			}
			usedReset[s.TimeoutSeconds] = true
		}
		spec.Sites = append(spec.Sites, s)
	}
	if r.IntN(2) == 0 {
		day := 1 + r.IntN(3)
		at := spec.withDefaults().Start.AddDate(0, 0, day).Add(time.Duration(10*3600+r.IntN(5*3600)) * time.Second).Truncate(time.Minute)
		o := Outage{At: at, Minutes: float64(5 + r.IntN(25))}
		spec.Outages = append(spec.Outages, o)
	}
	spec.Duplicates = r.IntN(4)
	spec.UnpairedDisconnects = r.IntN(3)
	spec.OrphanReconnects = r.IntN(3)
	spec.Overnight = r.IntN(2)
	spec.RPCClientAccess26 = r.IntN(6)
	return spec
}

// String describes a spec in one line (for test logs).
func (s Spec) String() string {
	var parts []string
	for _, st := range s.Sites {
		switch {
		case st.TimeoutSeconds > 0:
			parts = append(parts, fmt.Sprintf("%s×%d %s %gs", st.Prefix, st.Clients, cmp.Or(st.Drop, "reset"), st.TimeoutSeconds))
		default:
			parts = append(parts, fmt.Sprintf("%s×%d healthy", st.Prefix, st.Clients))
		}
	}
	if s.Realistic() {
		for i, st := range s.Sites {
			parts[i] += st.realismString()
		}
	}
	for _, o := range s.Outages {
		var sites string
		if len(o.Sites) > 0 {
			sites = " of " + strings.Join(o.Sites, "+")
		}
		parts = append(parts, fmt.Sprintf("outage %s %gmin%s", o.At.UTC().Format("01-02T15:04"), o.Minutes, sites))
	}
	if !s.Realistic() {
		return fmt.Sprintf("seed %d: %s", s.Seed, strings.Join(parts, ", "))
	}
	var extra []string
	if s.Days > 0 {
		extra = append(extra, fmt.Sprintf("%d days", s.Days))
	}
	if !s.Start.IsZero() {
		extra = append(extra, "from "+s.Start.Format("2006-01-02"))
	}
	if s.TZ != nil {
		extra = append(extra, "tz "+s.TZ.String())
	}
	extra = append(extra, fmt.Sprintf("noise %g/h dup %d unpaired %d orphan %d rpc26 %d overnight %d",
		s.NoisePerHour, s.Duplicates, s.UnpairedDisconnects, s.OrphanReconnects, s.RPCClientAccess26, s.Overnight))
	if s.Activity != nil {
		extra = append(extra, s.Activity.String())
	}
	return fmt.Sprintf("seed %d: %s; %s", s.Seed, strings.Join(parts, ", "), strings.Join(extra, ", "))
}

// pickN returns n of xs (all when there are fewer) in an order drawn from rng.
func pickN[T any](rng *rand.Rand, xs []T, n int) []T {
	if len(xs) == 0 || n <= 0 {
		return nil
	}
	var out []T
	for _, i := range rng.Perm(len(xs))[:min(n, len(xs))] {
		out = append(out, xs[i])
	}
	return out
}
