package fleetsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The realistic engine (DOMAIN.md §7). Each computer gets a timeline of
// segments — Outlook closed, user present, user away at work, Outlook
// left running at night, laptop asleep — and its connection is simulated
// against it:
//
//   - while the user is present the client sends traffic as a Poisson
//     process (the user's mean gap is log-normal around
//     Activity.ActiveGapSeconds); away at work and at night at the much
//     lower background rates; asleep or closed not at all;
//   - a resetting device kills the connection at the first idle gap ≥ T +
//     late (late = U(0, jitter) + T·U(0, jitter %)), and Outlook logs the
//     25 0.5–5 s later;
//   - a silently dropping device (T < keep-alive) drops the flow at the
//     first idle gap ≥ T; Outlook notices at the next traffic or at its
//     keep-alive (last traffic + ping), whichever is first, plus 10–40 s
//     of retransmissions;
//   - Outlook reconnects after 5–60 s (70 %) or 60–240 s (30 %) and syncs
//     0.5–8 s after the 26 (traffic);
//   - a laptop sleeps when its lid is closed for an away period, when left
//     idle for SleepAfterMinutes, and most nights; on resume Outlook logs
//     25 + 26 within seconds (65 %), a bare 26 (20 %), or the 25 was
//     logged at sleep and the 26 comes on resume (15 %);
//   - a roaming laptop is on its site's office path on office days and on
//     the home VPN path (its own device) on its home weekdays;
//   - in a shared outage awake, connected clients on an affected path log
//     25 within 0–60 s of its start and 26 within 0–90 s after its end; an
//     outage with Sites hits those sites' office paths only (home VPN users
//     are hit only by an outage of all sites);
//   - random disconnects (Wi-Fi, …) at RandomPerDay per 9 h awake.
//
// Logged times are true times + the computer's clock offset; rolled-over
// logs lose events older than their last event − retention.

// Activity describes the users of a realistic fleet. A zero field takes
// the default given in its comment; rates default to 0 (none).
type Activity struct {
	// ActiveGapSeconds is the median over users of the mean gap between a
	// present user's traffic (default 240; plausible 60–600).
	ActiveGapSeconds float64
	// UserSigma is the log-normal spread of the users' mean gaps (default 0.6).
	UserSigma float64
	// AwayTrafficPerHour is background traffic (new mail, sync) while the
	// user is away at work (0–2 per hour).
	AwayTrafficPerHour float64
	// NightTrafficPerHour is background traffic of Outlook left running
	// outside working hours (0–0.3 per hour).
	NightTrafficPerHour float64
	// LunchShare is the share of days with a lunch away from the desk
	// (default 0.85; negative: never).
	LunchShare float64
	// LunchMinutes is the range of lunch lengths (default 25–60).
	LunchMinutes [2]float64
	// MeetingsPerDay is the mean number of meetings a day (default 1.5;
	// negative: none).
	MeetingsPerDay float64
	// MeetingMinutes is the range of meeting lengths (default 30–90).
	MeetingMinutes [2]float64
	// BreaksPerDay is the mean number of short breaks a day (default 2;
	// negative: none).
	BreaksPerDay float64
	// BreakMinutes is the range of break lengths (default 5–20).
	BreakMinutes [2]float64
	// SyncSeconds is the range of the delay from a 26 to Outlook's
	// reconnect sync (default 0.5–8).
	SyncSeconds [2]float64
	// LidClose is the share of away periods a laptop's lid is closed at
	// once (default 0.3; negative: never).
	LidClose float64
	// SleepAfterMinutes is how long a laptop left open and idle stays awake
	// (default 20).
	SleepAfterMinutes float64
	// NightSleep is the share of nights a laptop sleeps rather than shuts
	// down (default 0.85; negative: never).
	NightSleep float64
}

func (a Activity) withDefaults() Activity {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
		if *v < 0 {
			*v = 0
		}
	}
	defR := func(v *[2]float64, lo, hi float64) {
		if v[0] == 0 && v[1] == 0 {
			*v = [2]float64{lo, hi}
		}
	}
	def(&a.ActiveGapSeconds, 240)
	def(&a.UserSigma, 0.6)
	def(&a.LunchShare, 0.85)
	defR(&a.LunchMinutes, 25, 60)
	def(&a.MeetingsPerDay, 1.5)
	defR(&a.MeetingMinutes, 30, 90)
	def(&a.BreaksPerDay, 2)
	defR(&a.BreakMinutes, 5, 20)
	defR(&a.SyncSeconds, 0.5, 8)
	def(&a.LidClose, 0.3)
	def(&a.SleepAfterMinutes, 20)
	def(&a.NightSleep, 0.85)
	a.AwayTrafficPerHour = max(a.AwayTrafficPerHour, 0)
	a.NightTrafficPerHour = max(a.NightTrafficPerHour, 0)
	return a
}

// Realistic reports whether the spec asks for the realistic engine: an
// Activity or any realism field of a site.
func (s Spec) Realistic() bool {
	if s.Activity != nil {
		return true
	}
	for _, st := range s.Sites {
		if st.realistic() {
			return true
		}
	}
	return false
}

func (s Site) realistic() bool {
	return s.JitterSeconds != 0 || s.JitterPercent != 0 || s.LaptopShare != 0 || s.LeftRunningShare != 0 ||
		s.Roaming != nil || s.ClockSkewSeconds != 0 || s.ClockSkewShare != 0 || s.RetentionShare != 0 ||
		s.RetentionHours != [2]float64{} || s.ShortNameShare != 0 || s.ShortNameEvents != 0
}

// OfficeDevice is the site's own device.
func (s Site) OfficeDevice() Device {
	return Device{TimeoutSeconds: s.TimeoutSeconds, Drop: s.Drop, ClientPingSeconds: s.ClientPingSeconds,
		JitterSeconds: s.JitterSeconds, JitterPercent: s.JitterPercent}.withDefaults()
}

func (d Device) withDefaults() Device {
	if d.Drop == "" {
		d.Drop = "reset"
	}
	if d.ClientPingSeconds <= 0 {
		d.ClientPingSeconds = 720
	}
	return d
}

// Effective reports whether the device kills idle connections (a silent
// one only below the keep-alive).
func (d Device) Effective() bool {
	d = d.withDefaults()
	if d.TimeoutSeconds <= 0 {
		return false
	}
	return d.Drop != "silent" || d.TimeoutSeconds < d.ClientPingSeconds
}

// Observed is where the device shows in the uptimes: T for a reset, the
// keep-alive for a silent drop.
func (d Device) Observed() float64 {
	d = d.withDefaults()
	if d.Drop == "silent" {
		return d.ClientPingSeconds
	}
	return d.TimeoutSeconds
}

// SharpWindow is the range of uptimes a sharp uptime lies in: [T, T +
// sync + jitter + 5 s] for a reset, [ping, ping + sync + 40 s] for a
// silent drop.
func (d Device) SharpWindow(syncMax float64) [2]float64 {
	d = d.withDefaults()
	if d.Drop == "silent" {
		return [2]float64{d.ClientPingSeconds, d.ClientPingSeconds + syncMax + 40}
	}
	return [2]float64{d.TimeoutSeconds, d.TimeoutSeconds + syncMax + d.JitterSeconds + d.TimeoutSeconds*d.JitterPercent/100 + 5}
}

// Paths of a computer.
const (
	pathOffice = 0
	pathVPN    = 1
)

type segKind uint8

const (
	segOff     segKind = iota // Outlook closed
	segPresent                // user at the computer
	segAway                   // user away at work, computer awake
	segIdle                   // Outlook left running outside working hours
	segAsleep                 // laptop asleep
)

type seg struct {
	start, end float64 // seconds since the fleet's t0
	kind       segKind
	path       uint8
}

// Causes of a 25.
const (
	causeNone uint8 = iota
	causeIdle
	causeRand
	causeSleep
	causeOut
	causeAnomaly
)

var causeNames = [...]string{"", "timeout", "random", "sleep", "outage", "anomaly"}

// rev is an event of a realistic client before it is logged.
type rev struct {
	t      float64 // true seconds since t0
	ev     Event   // provider, id, qualifiers, level, message
	cause  uint8   // of a 25
	sharp  bool    // a sharp idle-timeout 25
	conn   int32   // connection a 26 starts or a 25 ends (-1: none)
	path   uint8   // path of that connection
	outage int16   // outage a 25 is for (-1: none)
}

func (e *rev) outlook() bool {
	return e.ev.Provider == "Outlook" && (e.ev.EventID == 25 || e.ev.EventID == 26)
}

type outWin struct {
	start, end float64
	idx        int
	sites      []string
}

// rclient is one simulated computer of a realistic fleet.
type rclient struct {
	host    HostTruth
	site    *Site
	siteIx  int
	rng     *rand.Rand
	act     *Activity
	dev     [2]Device
	gap     float64 // mean traffic gap while present
	segs    []seg
	sleeps  []int // indexes of asleep segments
	evs     []rev
	conn    int32
	short   []string // short spellings
	shortP  float64
	keepH   float64
	offset  float64
	outs    []outWin
	spells  []string // spelling per event, filled at the end
	uptimes []Uptime
}

func (c *rclient) uniform(lo, hi float64) float64 { return lo + c.rng.Float64()*(hi-lo) }

func (c *rclient) retry() float64 {
	if c.rng.Float64() < 0.7 {
		return c.uniform(5, 60)
	}
	return c.uniform(60, 240)
}

func (c *rclient) sync() float64 { return c.uniform(c.act.SyncSeconds[0], c.act.SyncSeconds[1]) }

func (c *rclient) logO(id int, t float64, cause uint8, conn int32, path uint8) *rev {
	msg := Message25
	if id == 26 {
		msg = Message26
	}
	c.evs = append(c.evs, rev{t: t, ev: Event{Provider: "Outlook", EventID: id, Qualifiers: 16384, Level: 4, Message: msg},
		cause: cause, conn: conn, path: path, outage: -1})
	return &c.evs[len(c.evs)-1]
}

// segment builder
type segBuilder struct {
	segs []seg
	cur  float64
}

func (b *segBuilder) add(k segKind, until float64, path uint8) {
	if until <= b.cur {
		return
	}
	if n := len(b.segs); n > 0 && b.segs[n-1].kind == k && b.segs[n-1].path == path {
		b.segs[n-1].end = until
	} else {
		b.segs = append(b.segs, seg{b.cur, until, k, path})
	}
	b.cur = until
}

type workday struct {
	login, logoff float64
	aways         [][2]float64
	path          uint8
}

// plan draws the client's working days.
func (c *rclient) plan(spec Spec, t0 time.Time) []workday {
	a := c.act
	var out []workday
	for d := range spec.Days {
		local := time.Date(t0.Year(), t0.Month(), t0.Day()+d, 0, 0, 0, 0, spec.TZ)
		wd := local.Weekday()
		if wd == time.Saturday || wd == time.Sunday {
			continue
		}
		base := local.Sub(t0).Seconds()
		w := workday{login: base + c.uniform(7.25, 9.25)*3600, logoff: base + c.uniform(16.5, 18.5)*3600}
		if c.host.home[wd] {
			w.path = pathVPN
		}
		var aw [][2]float64
		addAway := func(at, minutes float64) {
			s := max(at, w.login+600)
			e := min(at+minutes*60, w.logoff-600)
			if e > s {
				aw = append(aw, [2]float64{s, e})
			}
		}
		if c.rng.Float64() < a.LunchShare {
			addAway(base+c.uniform(11.5, 13.5)*3600, c.uniform(a.LunchMinutes[0], a.LunchMinutes[1]))
		}
		count := func(mean float64) int {
			n := int(mean)
			if c.rng.Float64() < mean-float64(n) {
				n++
			}
			return n
		}
		for range count(a.MeetingsPerDay) {
			addAway(c.uniform(w.login+1800, w.logoff-5400), c.uniform(a.MeetingMinutes[0], a.MeetingMinutes[1]))
		}
		for range count(a.BreaksPerDay) {
			addAway(c.uniform(w.login+1800, w.logoff-1800), c.uniform(a.BreakMinutes[0], a.BreakMinutes[1]))
		}
		slices.SortFunc(aw, func(x, y [2]float64) int { return cmpF(x[0], y[0]) })
		for _, p := range aw {
			if n := len(w.aways); n > 0 && p[0] <= w.aways[n-1][1] {
				w.aways[n-1][1] = max(w.aways[n-1][1], p[1])
				continue
			}
			w.aways = append(w.aways, p)
		}
		out = append(out, w)
	}
	return out
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// timeline builds the client's segments over [0, end).
func (c *rclient) timeline(days []workday, end float64) {
	b := &segBuilder{}
	laptop, running := c.host.Laptop, c.host.LeftRunning
	asleep := false // laptop asleep overnight (else shut down)
	started := false
	var path uint8
	for _, w := range days {
		// Until this morning.
		switch {
		case laptop && asleep:
			b.add(segAsleep, w.login, path) // resume at login
		case running && started:
			b.add(segIdle, w.login, path)
		default:
			b.add(segOff, w.login+c.uniform(30, 300), path) // Outlook starts after login
		}
		started = true
		path = w.path
		for _, a := range w.aways {
			b.add(segPresent, a[0], path)
			if laptop {
				switch {
				case c.rng.Float64() < c.act.LidClose:
					b.add(segAway, a[0]+c.uniform(0, 120), path)
					b.add(segAsleep, a[1], path)
				case a[1]-a[0] > c.act.SleepAfterMinutes*60:
					b.add(segAway, a[0]+c.act.SleepAfterMinutes*60, path)
					b.add(segAsleep, a[1], path)
				default:
					b.add(segAway, a[1], path)
				}
				continue
			}
			b.add(segAway, a[1], path)
		}
		b.add(segPresent, w.logoff, path)
		if laptop {
			asleep = c.rng.Float64() < c.act.NightSleep
			if asleep {
				b.add(segAway, w.logoff+c.uniform(0, 300), path)
			}
		}
	}
	switch {
	case laptop && asleep:
		b.add(segAsleep, end, path)
	case running && started:
		b.add(segIdle, end, path)
	default:
		b.add(segOff, end, path)
	}
	c.segs = b.segs
	for i, s := range c.segs {
		if s.kind == segAsleep {
			c.sleeps = append(c.sleeps, i)
		}
	}
}

// segAt returns the index of the segment holding t.
func (c *rclient) segAt(t float64) int {
	i, _ := slices.BinarySearchFunc(c.segs, t, func(s seg, t float64) int {
		switch {
		case s.end <= t:
			return -1
		case s.start > t:
			return 1
		}
		return 0
	})
	return min(i, len(c.segs)-1)
}

func (c *rclient) pathAt(t float64) uint8 { return c.segs[c.segAt(t)].path }

func (c *rclient) rate(k segKind) float64 {
	switch k {
	case segPresent:
		return 1 / c.gap
	case segAway:
		return c.act.AwayTrafficPerHour / 3600
	case segIdle:
		return c.act.NightTrafficPerHour / 3600
	}
	return 0
}

// nextTraffic draws the client's next traffic after t (Poisson at the
// rate of each segment; none asleep). +Inf when Outlook closes first.
func (c *rclient) nextTraffic(t float64) float64 {
	for i := c.segAt(t); i < len(c.segs); i++ {
		s := c.segs[i]
		if s.kind == segOff {
			return math.Inf(1)
		}
		from := max(t, s.start)
		if r := c.rate(s.kind); r > 0 {
			if n := from + c.rng.ExpFloat64()/r; n < s.end {
				return n
			}
		}
	}
	return math.Inf(1)
}

// nextSleep returns the first sleep starting at or after t: its start and
// end (+Inf, +Inf if none).
func (c *rclient) nextSleep(t float64) (float64, float64) {
	i, _ := slices.BinarySearchFunc(c.sleeps, t, func(ix int, t float64) int { return cmpF(c.segs[ix].start, t) })
	if i < len(c.sleeps) {
		s := c.segs[c.sleeps[i]]
		return s.start, s.end
	}
	return math.Inf(1), math.Inf(1)
}

func (c *rclient) hits(o outWin, path uint8) bool {
	if len(o.sites) == 0 {
		return true
	}
	return path == pathOffice && slices.Contains(o.sites, c.site.Prefix)
}

// nextOutage returns the first outage hitting path that starts at or after t.
func (c *rclient) nextOutage(t float64, path uint8) (float64, int) {
	for i, o := range c.outs {
		if o.start >= t && c.hits(o, path) {
			return o.start, i
		}
	}
	return math.Inf(1), -1
}

// pastOutage moves a reconnect at t out of any outage hitting path.
func (c *rclient) pastOutage(t float64, path uint8) float64 {
	for _, o := range c.outs {
		if t >= o.start && t < o.end && c.hits(o, path) {
			t = o.end + c.uniform(0, 90)
		}
	}
	return t
}

func (c *rclient) nextRandom(t float64) float64 {
	if c.site.RandomPerDay <= 0 {
		return math.Inf(1)
	}
	return t + c.rng.ExpFloat64()/c.site.RandomPerDay*9*3600
}

func (c *rclient) late(d Device) float64 {
	return c.uniform(0, d.JitterSeconds) + d.TimeoutSeconds*c.uniform(0, d.JitterPercent)/100
}

// simulate runs the client's connection over its timeline.
func (c *rclient) simulate() {
	for i := 0; i < len(c.segs); {
		if c.segs[i].kind == segOff {
			i++
			continue
		}
		j := i
		for j < len(c.segs) && c.segs[j].kind != segOff {
			j++
		}
		c.run(c.segs[i].start, c.segs[j-1].end)
		i = j
	}
}

// run simulates one run of Outlook from rs to re.
func (c *rclient) run(rs, re float64) {
	inf := math.Inf(1)
	path := c.pathAt(rs)
	conn := c.conn
	c.conn++
	last := rs + c.sync() // traffic: Outlook's first sync
	sharp := false        // the first connection has no 26: never measurable
	rt := c.nextRandom(rs)
	// reconnect logs the 26 that ends a disconnect begun at t25, due at
	// back (a sleep or an outage defers it), and starts a new connection;
	// false when Outlook closes first.
	reconnect := func(t25, back float64) bool {
		if sl, se := c.nextSleep(t25); sl < back {
			back = se + c.uniform(3, 30) // the retry comes at resume
		}
		p := c.pathAt(min(back, re-1e-9))
		back = c.pastOutage(back, p)
		if back >= re {
			return false
		}
		path = p
		conn = c.conn
		c.conn++
		c.logO(26, back, causeNone, conn, path)
		last = back + c.sync()
		sharp = true
		rt = c.nextRandom(back)
		return true
	}
	for {
		dev := c.dev[path]
		nt := c.nextTraffic(last)
		sl, se := c.nextSleep(last)
		ot, oi := c.nextOutage(last, path)
		d25, dSharp := inf, false
		if dev.Effective() {
			if dev.Drop == "silent" {
				if nt >= last+dev.TimeoutSeconds {
					ka := last + dev.ClientPingSeconds
					d25 = min(nt, ka) + c.uniform(10, 40)
					dSharp = sharp && ka < nt
					nt = inf // the next traffic finds the flow dead
				}
			} else if kill := last + dev.TimeoutSeconds + c.late(dev); nt > kill {
				d25 = kill + c.uniform(0.5, 5)
				dSharp = sharp
				nt = inf
			}
		}
		first := min(nt, sl, rt, ot, d25, re)
		switch first {
		case re:
			return
		case nt:
			last, sharp = nt, false
			continue
		case ot:
			o := c.outs[oi]
			at := min(o.start+c.uniform(0, 60), d25)
			if sl < at {
				at = sl // asleep before it noticed: the outage logs nothing
				c.resume(sl, se, &path, &conn, re, &last, &sharp, &rt)
				if math.IsInf(last, 1) {
					return
				}
				continue
			}
			e := c.logO(25, at, causeOut, conn, path)
			e.outage = int16(o.idx)
			if !reconnect(at, o.end+c.uniform(0, 90)) {
				return
			}
		case d25:
			e := c.logO(25, d25, causeIdle, conn, path)
			e.sharp = dSharp
			if !reconnect(d25, d25+c.retry()) {
				return
			}
		case rt:
			c.logO(25, rt, causeRand, conn, path)
			if !reconnect(rt, rt+c.retry()) {
				return
			}
		case sl:
			c.resume(sl, se, &path, &conn, re, &last, &sharp, &rt)
			if math.IsInf(last, 1) {
				return
			}
		}
	}
}

// resume logs what Outlook logs for a sleep from sl to se on a connected
// laptop and starts the new connection (last = +Inf when Outlook is
// closed by then or the window ends).
func (c *rclient) resume(sl, se float64, path *uint8, conn *int32, re float64, last *float64, sharp *bool, rt *float64) {
	p := c.rng.Float64()
	np := c.pathAt(min(se, re-1e-9))
	var t25, t26 float64
	switch {
	case p < 0.65:
		t25 = se + c.uniform(1, 10)
		t26 = t25 + c.uniform(2, 20)
	case p < 0.85:
		t25, t26 = math.NaN(), se+c.uniform(3, 30)
	default:
		t25, t26 = sl+c.uniform(0, 5), se+c.uniform(3, 30)
	}
	if !math.IsNaN(t25) && t25 < re {
		c.logO(25, t25, causeSleep, *conn, *path)
	}
	t26 = c.pastOutage(t26, np)
	if t26 >= re {
		*last = math.Inf(1)
		return
	}
	*path = np
	*conn = c.conn
	c.conn++
	c.logO(26, t26, causeNone, *conn, *path)
	*last = t26 + c.sync()
	*sharp = true
	*rt = c.nextRandom(t26)
}

// generateRealistic builds a fleet with the realistic engine.
func generateRealistic(spec Spec) *Fleet {
	act := Activity{}
	if spec.Activity != nil {
		act = *spec.Activity
	}
	act = act.withDefaults()
	spec.Activity = &act
	f := &Fleet{Spec: spec, Realistic: true}
	s0 := spec.Start.UTC()
	t0 := time.Date(s0.Year(), s0.Month(), s0.Day(), 0, 0, 0, 0, spec.TZ)
	end := time.Date(s0.Year(), s0.Month(), s0.Day()+spec.Days, 0, 0, 0, 0, spec.TZ).Sub(t0).Seconds()
	var outs []outWin
	for oi, o := range spec.Outages {
		st := o.At.Sub(t0).Seconds()
		outs = append(outs, outWin{st, st + o.Minutes*60, oi, o.Sites})
	}
	frng := rand.New(rand.NewPCG(spec.Seed, 0xf1ee7))
	var clients []*rclient
	for si := range spec.Sites {
		s := &spec.Sites[si]
		for i := range s.Clients {
			c := &rclient{site: s, siteIx: si, act: &act, outs: outs, conn: 0,
				rng: rand.New(rand.NewPCG(spec.Seed^0x9e3779b97f4a7c15, uint64(si)<<32|uint64(i)))}
			short := fmt.Sprintf("%s%02d", s.Prefix, i+1)
			c.host = HostTruth{Name: short + "." + spec.Domain, Site: s.Prefix}
			c.draw(s, short)
			clients = append(clients, c)
		}
	}
	// Spec.Overnight: more desktops left running.
	if spec.Overnight > 0 {
		var desk []*rclient
		for _, c := range clients {
			if !c.host.Laptop && !c.host.LeftRunning {
				desk = append(desk, c)
			}
		}
		for k, ix := range frng.Perm(len(desk)) {
			if k >= spec.Overnight {
				break
			}
			desk[ix].host.LeftRunning = true
		}
	}
	for _, c := range clients {
		c.timeline(c.plan(spec, t0), end)
		c.simulate()
	}
	pick := func(n int) []*rclient { return pickN(frng, clients, n) }
	for _, c := range pick(spec.UnpairedDisconnects) {
		c.addUnpaired()
	}
	for _, c := range pick(spec.OrphanReconnects) {
		c.addOrphan()
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
		at := c.evs[frng.IntN(len(c.evs))].t + float64(frng.IntN(600)+1)
		c.evs = append(c.evs, rev{t: at, ev: Event{Provider: "MSExchange RPC Client Access", EventID: 26, Level: 4,
			Message: fmt.Sprintf("RPC Client Access connection restored (%d).", i)}, conn: -1, outage: -1})
	}
	total := 0
	for _, c := range clients {
		c.noise(spec)
		c.retain()
		c.measure(t0)
		total += len(c.evs)
	}
	f.Events = make([]Event, 0, total)
	for _, c := range clients {
		base := frng.Int64N(60000) + 1000
		for i, e := range c.evs {
			ev := e.ev
			ev.Computer = c.spelling()
			ev.Channel = "Application"
			ev.RecordID = base + int64(i)
			ev.Time = t0.Add(secs(e.t + c.offset)).UTC()
			f.Events = append(f.Events, ev)
		}
		f.Truth.Computers = append(f.Truth.Computers, c.host.Name)
	}
	slices.Sort(f.Truth.Computers)
	f.Truth.Pairs = countPairs(clients)
	realisticTruth(f, clients, t0)
	return f
}

// draw draws the client's kind, paths, clock, log and names.
func (c *rclient) draw(s *Site, short string) {
	c.host.Laptop = c.rng.Float64() < s.LaptopShare
	if !c.host.Laptop {
		c.host.LeftRunning = c.rng.Float64() < s.LeftRunningShare
	}
	c.dev[pathOffice] = s.OfficeDevice()
	if s.Roaming != nil {
		c.dev[pathVPN] = s.Roaming.VPN.withDefaults()
		if c.host.Laptop && c.rng.Float64() < s.Roaming.Share {
			c.host.Roaming = true
			n := s.Roaming.HomeDays
			if n <= 0 {
				n = 2
			}
			for _, k := range c.rng.Perm(5)[:min(n, 5)] {
				wd := time.Weekday(k + 1)
				c.host.home[wd] = true
				c.host.HomeWeekdays = append(c.host.HomeWeekdays, wd)
			}
			slices.Sort(c.host.HomeWeekdays)
		}
	}
	c.gap = c.act.ActiveGapSeconds * math.Exp(c.act.UserSigma*c.rng.NormFloat64())
	if s.ClockSkewSeconds > 0 {
		share := s.ClockSkewShare
		if share <= 0 {
			share = 1
		}
		if c.rng.Float64() < share {
			c.offset = c.uniform(-s.ClockSkewSeconds, s.ClockSkewSeconds)
		} else {
			c.offset = c.uniform(-1, 1)
		}
	}
	c.host.ClockOffset = secs(c.offset)
	if c.rng.Float64() < s.RetentionShare {
		lo, hi := s.RetentionHours[0], s.RetentionHours[1]
		if lo == 0 && hi == 0 {
			lo, hi = 12, 40
		}
		c.keepH = c.uniform(lo, hi)
		c.host.RetainedHours = c.keepH
	}
	if c.rng.Float64() < s.ShortNameShare {
		c.shortP = s.ShortNameEvents
		if c.shortP <= 0 {
			c.shortP = 0.2
		}
		switch c.rng.IntN(3) {
		case 0:
			c.short = []string{short}
		case 1:
			c.short = []string{strings.ToLower(short)}
		default:
			c.short = []string{short, strings.ToUpper(short[:1]) + strings.ToLower(short[1:])}
		}
		c.host.ShortNames = c.short
	}
}

func (c *rclient) spelling() string {
	if c.shortP > 0 && c.rng.Float64() < c.shortP {
		return c.short[c.rng.IntN(len(c.short))]
	}
	return c.host.Name
}

func (c *rclient) lastT() float64 {
	t := math.Inf(-1)
	for _, e := range c.evs {
		t = max(t, e.t)
	}
	return t
}

func (c *rclient) addUnpaired() {
	if len(c.evs) == 0 {
		return
	}
	c.logO(25, c.lastT()+c.uniform(120, 900), causeAnomaly, -1, 0)
}

func (c *rclient) addOrphan() {
	var ix []int
	for i, e := range c.evs {
		if e.ev.Provider == "Outlook" && e.ev.EventID == 26 {
			ix = append(ix, i)
		}
	}
	if len(ix) == 0 {
		return
	}
	e := c.evs[ix[c.rng.IntN(len(ix))]]
	c.logO(26, e.t+c.uniform(20, 40), causeAnomaly, -1, e.path)
}

func (c *rclient) addDuplicate() {
	var ix []int
	for i, e := range c.evs {
		if e.ev.Provider == "Outlook" && e.ev.EventID == 25 {
			ix = append(ix, i)
		}
	}
	if len(ix) == 0 {
		return
	}
	e := c.evs[ix[c.rng.IntN(len(ix))]]
	e.cause, e.sharp, e.outage = causeAnomaly, false, -1
	c.evs = append(c.evs, e)
}

// noise adds other sources' events while the user is at work.
func (c *rclient) noise(spec Spec) {
	if spec.NoisePerHour <= 0 {
		return
	}
	for _, s := range c.segs {
		if s.kind != segPresent && s.kind != segAway {
			continue
		}
		for t := s.start + c.rng.ExpFloat64()/spec.NoisePerHour*3600; t < s.end; t += c.rng.ExpFloat64() / spec.NoisePerHour * 3600 {
			k := noiseKinds[c.rng.IntN(len(noiseKinds))]
			c.evs = append(c.evs, rev{t: t, ev: Event{Provider: k.provider, EventID: k.id, Qualifiers: k.q, Level: k.lvl, Message: k.msg}, conn: -1, outage: -1})
		}
	}
}

// retain sorts the events and drops those a rolled-over log lost.
func (c *rclient) retain() {
	// Stable by time (a duplicate follows its original); sorting the
	// large records themselves with a stable sort is slow.
	ix := make([]int32, len(c.evs))
	for i := range ix {
		ix[i] = int32(i)
	}
	slices.SortFunc(ix, func(a, b int32) int {
		if c := cmpF(c.evs[a].t, c.evs[b].t); c != 0 {
			return c
		}
		return int(a - b)
	})
	sorted := make([]rev, len(c.evs))
	for i, j := range ix {
		sorted[i] = c.evs[j]
	}
	c.evs = sorted
	if c.keepH <= 0 || len(c.evs) == 0 {
		return
	}
	cut := c.evs[len(c.evs)-1].t - c.keepH*3600
	i, _ := slices.BinarySearchFunc(c.evs, cut, func(e rev, t float64) int { return cmpF(e.t, t) })
	c.host.Dropped = i
	c.evs = slices.Clone(c.evs[i:])
}

// countPairs counts 25 … 26 pairs as the analysis pairs them (a 25 while
// disconnected within an hour is a repeat; an exact duplicate is no pair).
func countPairs(clients []*rclient) int {
	n := 0
	for _, c := range clients {
		open, lastRep := false, 0.0
		for _, e := range c.evs {
			if !e.outlook() {
				continue
			}
			if e.ev.EventID == 25 {
				if open && e.t-lastRep <= 3600 {
					lastRep = e.t
					continue
				}
				open, lastRep = true, e.t
				continue
			}
			if open {
				n++
				open = false
			}
		}
	}
	return n
}
