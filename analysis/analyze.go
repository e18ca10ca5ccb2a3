package analysis

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// Options tunes Analyze. The zero value gives the defaults documented on
// each field; a negative or zero field means "use the default".
type Options struct {
	// MinComputers is how many computers an uptime cluster needs before it
	// becomes an idle-timeout diagnosis (default 3; a fleet with fewer
	// computers needs all of them). One computer with a regular interval
	// is a lead, not a shared device.
	MinComputers int
	// MinIntervals is how many intervals a cluster needs (default 6: two
	// weeks of one desktop behind a device hold 10–25 clear repeats).
	MinIntervals int
	// MinHostIntervals is how many of a computer's own intervals must fall
	// in a cluster for the computer to belong to it (default 2).
	MinHostIntervals int
	// ClusterTolerance is the relative half-width of the neighbourhood the
	// density clustering counts on the log-time axis (default 0.01 = ±1 %).
	ClusterTolerance float64
	// MatchTolerance is how far (relative) a timeout estimate may be from a
	// device's default to be called consistent with it (default 0.03 = ±3 %).
	MatchTolerance float64
	// OutageWindow is the window in which many computers must disconnect to
	// count as a shared outage (default 2 min).
	OutageWindow time.Duration
	// MinOutageComputers is the least number of computers of a shared
	// outage (default 5). The background disconnect rate may raise it.
	MinOutageComputers int
	// MaxUptime: a 26 → 25 gap longer than this spans a night or a
	// power-off (the computer logs nothing while off), so it is not an
	// uptime (default 10 h; the longest device default is 9000 s).
	MaxUptime time.Duration
	// RepeatGap: a 25 arriving while disconnected more than this after the
	// disconnect's last 25 starts a new disconnect and leaves the previous
	// one open (default 1 h).
	RepeatGap time.Duration
	// DuplicateWindow: a 26 this close after another 26 (while connected)
	// is a duplicate, not an orphan (default 2 s).
	DuplicateWindow time.Duration
	// KeepAlives are Outlook's own traffic periods in seconds, where a
	// silently dropping device shows (default 720, 900: RPC/HTTP pings).
	KeepAlives []float64
	// SessionGap: a computer that logs nothing for longer than this was
	// off, asleep or away; its next events start a new session (a working
	// day, possibly on another network path; default 5 h).
	SessionGap time.Duration
	// QuickOrphan: a 26 that closes nothing this soon after the previous
	// event is another Outlook session's reconnect (RDS/Citrix), not a
	// laptop's resume, which follows a sleep (default 10 min).
	QuickOrphan time.Duration
}

func (o Options) withDefaults() Options {
	if o.MinComputers <= 0 {
		o.MinComputers = 3
	}
	if o.MinIntervals <= 0 {
		o.MinIntervals = 6
	}
	if o.MinHostIntervals <= 0 {
		o.MinHostIntervals = 2
	}
	if o.ClusterTolerance <= 0 {
		o.ClusterTolerance = 0.01
	}
	if o.MatchTolerance <= 0 {
		o.MatchTolerance = 0.03
	}
	if o.OutageWindow <= 0 {
		o.OutageWindow = 2 * time.Minute
	}
	if o.MinOutageComputers <= 0 {
		o.MinOutageComputers = 5
	}
	if o.MaxUptime <= 0 {
		o.MaxUptime = 10 * time.Hour
	}
	if o.RepeatGap <= 0 {
		o.RepeatGap = time.Hour
	}
	if o.DuplicateWindow <= 0 {
		o.DuplicateWindow = 2 * time.Second
	}
	if len(o.KeepAlives) == 0 {
		o.KeepAlives = []float64{720, 900}
	}
	if o.SessionGap <= 0 {
		o.SessionGap = 5 * time.Hour
	}
	if o.QuickOrphan <= 0 {
		o.QuickOrphan = 10 * time.Minute
	}
	return o
}

// Result is the report and the evidence it rests on.
type Result struct {
	Report Report // the Report JSON contract (SPEC §5)
	Hosts  []Host // per-computer summary, sorted by name (case-insensitive)
	// pairs: every pair, sorted by computer (Hosts order) then time; see
	// Pairs, HostPairs, AllPairs.
	pairs pairTab
	keys  []string     // per host: its lower-case name, ascending
	src   *eventSource // the events, for Window; nil from Analyze
	dx    [][]string   // the Hosts' lists of diagnosis IDs (Host.diags)
}

// HostIndex returns the index in Hosts of the computer called name (any
// case), and whether there is one. A short name merged into its fully
// qualified one is found by the latter.
func (r *Result) HostIndex(name string) (int, bool) {
	k := strings.ToLower(name)
	i, ok := slices.BinarySearch(r.keys, k)
	return i, ok
}

// Pair is one disconnect: the first 25, the 26 that ended it, and the
// uptime of the connection it ended.
type Pair struct {
	Computer         string        // as in the events
	Disconnect       time.Time     // first 25 of the disconnect
	Reconnect        time.Time     // the 26 that closed it; zero if open (censored)
	DisconnectRecord int64         // record id of the first 25
	ReconnectRecord  int64         // record id of the 26, 0 if open
	Repeats          int           // extra 25s while disconnected
	Downtime         time.Duration // Reconnect-Disconnect, 0 if open
	UpSince          time.Time     // the 26 that started the connection this 25 ended; zero if unknown
	Uptime           time.Duration // Disconnect-UpSince, 0 if unknown
	// Excluded says why the pair is kept out of the statistics: "" (it
	// counts), "outage" (part of a shared outage: neither its uptime nor
	// its downtime counts), "interleaved" (the computer runs several
	// Outlook sessions), "overnight" (the 26 → 25 gap spans a night or a
	// power-off: the uptime is unknown; the downtime still counts).
	Excluded string
	// DiagnosisID is the id of the diagnosis this pair is evidence for:
	// the idle-timeout whose cluster holds its uptime, or the shared outage
	// it is part of; "" if none.
	DiagnosisID string
}

// Open reports whether the disconnect has no 26 (censored).
func (p *Pair) Open() bool { return p.Reconnect.IsZero() }

// Exclusion reasons of Pair.Excluded.
const (
	ExcludedOutage      = "outage"
	ExcludedInterleaved = "interleaved"
	ExcludedOvernight   = "overnight"
)

// Host summarizes one computer, in 64 bytes (a fleet may have a million
// computers, and every Result holds one Host each): read it through its
// methods, and its diagnoses through Result.DiagnosisIDs.
type Host struct {
	name                                                   string
	disconnects, reconnects, pairs, open, repeats, orphans int32
	first, last                                            int64 // unix ns, when timed
	diags                                                  int32 // its list of diagnosis IDs (see dxLists)
	interleaved, timed                                     bool
}

// Name is the computer's name as in the events (the most frequent
// spelling).
func (h Host) Name() string { return h.name }

// Disconnects counts its distinct 25 records.
func (h Host) Disconnects() int { return int(h.disconnects) }

// Reconnects counts its distinct 26 records.
func (h Host) Reconnects() int { return int(h.reconnects) }

// Pairs counts its closed disconnects (25 … 26).
func (h Host) Pairs() int { return int(h.pairs) }

// Open counts its disconnects without a 26.
func (h Host) Open() int { return int(h.open) }

// Repeats counts its extra 25s while disconnected.
func (h Host) Repeats() int { return int(h.repeats) }

// Orphans counts its 26s with no disconnect before them.
func (h Host) Orphans() int { return int(h.orphans) }

// Interleaved reports whether the 25/26 of several Outlook sessions
// interleave on it (RDS/Citrix): its pairs are kept out of the statistics.
func (h Host) Interleaved() bool { return h.interleaved }

// First is the time of its first Outlook 25/26 (zero if none).
func (h Host) First() time.Time {
	if !h.timed {
		return time.Time{}
	}
	return time.Unix(0, h.first).UTC()
}

// Last is the time of its last Outlook 25/26 (zero if none).
func (h Host) Last() time.Time {
	if !h.timed {
		return time.Time{}
	}
	return time.Unix(0, h.last).UTC()
}

// setSpan sets First and Last.
func (h *Host) setSpan(first, last int64) { h.first, h.last, h.timed = first, last, true }

// dxLists interns the lists of diagnosis IDs computers are part of: a
// Host keeps the index of its list, as a fleet of a million computers
// shares a few dozen lists. Index 0 is the empty list.
type dxLists struct {
	lists [][]string
	next  map[dxStep]int32
}

type dxStep struct {
	from int32
	id   string
}

// add returns the index of list from with id appended.
func (d *dxLists) add(from int32, id string) int32 {
	if d.lists == nil {
		d.lists = [][]string{{}}
	}
	k := dxStep{from, id}
	if to, ok := d.next[k]; ok {
		return to
	}
	if d.next == nil {
		d.next = map[dxStep]int32{}
	}
	to := int32(len(d.lists))
	d.lists = append(d.lists, append(slices.Clip(d.lists[from]), id))
	d.next[k] = to
	return to
}

// DiagnosisIDs returns the diagnoses h (one of r.Hosts) is part of, in
// the order of the diagnoses; never nil. Callers must not modify it.
func (r *Result) DiagnosisIDs(h *Host) []string {
	if int(h.diags) >= len(r.dx) || h.diags <= 0 {
		return []string{}
	}
	return slices.Clip(r.dx[h.diags])
}

// compact event used internally (24 bytes: the incremental analysis keeps
// one per event): sorting 1 M of these is cheap.
type cev struct {
	t    int64 // unix nanoseconds
	rec  int64
	host int32
	nid  int32 // index of the raw spelling << 1 | 1 for a 26
}

func mkcev(t, rec int64, host int32, id int, name int32) cev {
	e := cev{t: t, rec: rec, host: host, nid: name << 1}
	if id == EventRestored {
		e.nid |= 1
	}
	return e
}

// id is the event id: EventDisconnected or EventRestored.
func (e cev) id() int {
	if e.nid&1 != 0 {
		return EventRestored
	}
	return EventDisconnected
}

// name is the index of the event's raw spelling.
func (e cev) name() int32 { return e.nid >> 1 }

// Analyze analyzes Outlook 25/26 events (any order, may contain duplicates)
// and returns the report and its evidence. It is pure and deterministic:
// the same events in any order give the same result.
func Analyze(events []Event, opts Options) *Result {
	o := opts.withDefaults()
	a := &analyzer{o: o}
	a.group(events)
	a.pairUp()
	a.diagnose()
	return a.result()
}

// marks returns a flag per computer, all false; mark and unmark set and
// clear some (a fleet-sized slice, cleared through the computers set
// rather than allocated for each cluster).
func (a *analyzer) marks() []bool {
	if len(a.mark0) != len(a.hosts) {
		a.mark0 = make([]bool, len(a.hosts))
	}
	return a.mark0
}

// mark sets the flags of hosts (see marks) and returns them.
func (a *analyzer) mark(hosts []int32) []bool {
	m := a.marks()
	for _, h := range hosts {
		m[h] = true
	}
	return m
}

// unmark clears the flags of hosts (see marks).
func (a *analyzer) unmark(hosts []int32) {
	for _, h := range hosts {
		a.mark0[h] = false
	}
}

type analyzer struct {
	o     Options
	secs  []float64 // a diagnosis' intervals, reused from one to the next
	hosts []Host    // sorted by key: the Result's Hosts
	keys  []string  // per host: its lower-case name
	names []string  // raw spellings
	evs   []cev     // sorted by host, time
	tab   pairTab   // every pair, by host then time

	// per pair: its host and its fleet-wide session and weekday (pairRef)
	pairAt    []pairRef
	sessBase  []int32 // per host: the fleet-wide number of its first session (see session)
	nSessions int32

	sc *scratch // fleet-sized working memory kept across updates; nil: allocate (see scratch)

	mark0        []bool // see marks
	upClusters   []*cluster
	downClusters []*cluster
	outages      []*outage
	diags        []Diagnosis
	dx           dxLists // the hosts' lists of diagnosis IDs
}

// group assigns events to computers (case-insensitively), sorts them and
// removes exact duplicates.
func (a *analyzer) group(events []Event) {
	rawIdx := make(map[string]int32)
	var rawHost []int32
	keyIdx := make(map[string]int32)
	var keys []string
	evs := make([]cev, 0, len(events))
	lastRaw := int32(-1)
	for i := range events {
		e := &events[i]
		if e.EventID != EventDisconnected && e.EventID != EventRestored {
			continue
		}
		// Events mostly come grouped by computer (one file per computer):
		// skip the map while the name repeats.
		var ri int32
		var ok bool
		if lastRaw >= 0 && e.Computer == a.names[lastRaw] {
			ri, ok = lastRaw, true
		} else {
			ri, ok = rawIdx[e.Computer]
		}
		if !ok {
			ri = int32(len(a.names))
			rawIdx[e.Computer] = ri
			a.names = append(a.names, e.Computer)
			k := strings.ToLower(e.Computer)
			ki, ok := keyIdx[k]
			if !ok {
				ki = int32(len(keys))
				keyIdx[k] = ki
				keys = append(keys, k)
			}
			rawHost = append(rawHost, ki)
		}
		lastRaw = ri
		evs = append(evs, mkcev(e.Time.UnixNano(), e.RecordID, rawHost[ri], e.EventID, ri))
	}
	// A short name and the one FQDN it is the host part of are one
	// computer. Order hosts by key so that output order does not depend on
	// input order.
	canon := groupKeys(keys)
	var order []int32
	for i, c := range canon {
		if c == int32(i) {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(x, y int32) int { return strings.Compare(keys[x], keys[y]) })
	rank := make([]int32, len(keys))
	a.hosts = make([]Host, len(order))
	a.keys = make([]string, len(order))
	for r, k := range order {
		rank[k] = int32(r)
		a.keys[r] = keys[k]
	}
	for i, c := range canon {
		rank[i] = rank[c]
	}
	// Counting sort by host, then sort each host's events by time.
	counts := make([]int, len(a.hosts)+1)
	for i := range evs {
		evs[i].host = rank[evs[i].host]
		counts[evs[i].host+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	sorted := make([]cev, len(evs))
	pos := slices.Clone(counts)
	for _, e := range evs {
		sorted[pos[e.host]] = e
		pos[e.host]++
	}
	names := a.names
	for h := range a.hosts {
		s := sorted[counts[h]:counts[h+1]]
		slices.SortFunc(s, cevOrder(names))
	}
	a.evs = dedupEvents(sorted)
	spelling := map[int32]int{}
	for i := 0; i < len(a.evs); {
		h := a.evs[i].host
		clear(spelling)
		for ; i < len(a.evs) && a.evs[i].host == h; i++ {
			spelling[a.evs[i].name()]++
		}
		a.hosts[h].name = names[bestSpelling(spelling, names)]
	}
}

// cevOrder orders one computer's events: by time, record id, event id,
// then spelling of the name, so that duplicates are adjacent and the
// order does not depend on the input's.
func cevOrder(names []string) func(x, y cev) int {
	return func(x, y cev) int {
		if c := cmp.Compare(x.t, y.t); c != 0 {
			return c
		}
		if c := cmp.Compare(x.rec, y.rec); c != 0 {
			return c
		}
		if c := cmp.Compare(x.id(), y.id()); c != 0 {
			return c
		}
		return strings.Compare(names[x.name()], names[y.name()])
	}
}

// dedupEvents drops exact duplicates from events sorted by host then
// cevOrder, in place: same event id and record id (or a missing record
// id) within the same second.
func dedupEvents(sorted []cev) []cev {
	out := sorted[:0]
	for _, e := range sorted {
		if len(out) > 0 {
			p := out[len(out)-1]
			if p.host == e.host && p.id() == e.id() && p.t/1e9 == e.t/1e9 && (p.rec == e.rec || p.rec == 0 || e.rec == 0) {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// pairUp walks each computer's events in time order (SPEC §5).
func (a *analyzer) pairUp() {
	a.reservePairs(len(a.evs)/2 + 1)
	i := 0
	for hi := range a.hosts {
		j := i
		for j < len(a.evs) && a.evs[j].host == int32(hi) {
			j++
		}
		a.addPairs(hi, pairEvents(a.o, a.evs[i:j], &a.hosts[hi], nil))
		i = j
	}
}

// reservePairs sizes the per-pair slices for about n pairs, and the
// per-host ones for a.hosts.
func (a *analyzer) reservePairs(n int) {
	a.tab.hosts = make([]*hostPairs, 0, len(a.hosts))
	a.tab.names = make([]string, 0, len(a.hosts))
	a.tab.off = make([]int32, 1, len(a.hosts)+1)
	a.tab.excl = make([]uint8, 0, n)
	a.tab.diag = make([]int32, 0, n)
	switch {
	case a.sc == nil:
		a.pairAt = make([]pairRef, 0, n)
	case cap(a.sc.pairAt) >= n:
		a.pairAt = a.sc.pairAt[:0]
	default:
		a.pairAt = make([]pairRef, 0, roomFor(cap(a.sc.pairAt), n))
	}
	a.sessBase = make([]int32, 0, len(a.hosts))
}

// addPairs appends the pairs of host hi (the next host), which are then
// read, never written.
func (a *analyzer) addPairs(hi int, hp *hostPairs) {
	hs := &a.hosts[hi]
	a.tab.add(hs.name, hp, hs.interleaved)
	top := int32(-1)
	for _, c := range hp.cps {
		a.pairAt = append(a.pairAt, pairRef{int32(hi), uint32(a.nSessions+int32(c.session))<<3 | uint32(c.weekday)})
		top = max(top, int32(c.session))
	}
	a.sessBase = append(a.sessBase, a.nSessions)
	a.nSessions += top + 1
}

// cpair is a pair before the fleet-wide statistics, in a compact form
// without pointers (the incremental analysis keeps one per disconnect: 40
// bytes, 10 M events make 5 M).
type cpair struct {
	disc, reco, upSince int64  // unix ns; reco valid if flags&cpClosed; upSince 0 = unknown
	drec, rrec          int32  // record ids as offsets (see recIDs)
	repeats             uint16 // saturates (Host.Repeats counts them all)
	session             uint16 // the computer's session (see Options.SessionGap) of the disconnect; saturates
	weekday             int8   // the computer's weekday of the disconnect (its days start at its quietest hour)
	flags               uint8
}

// hostPairs is one computer's pairs and what turns their record offsets
// back into record ids; never written once made (Results share it).
type hostPairs struct {
	cps  []cpair
	recs recIDs
}

// recIDs turns a computer's pairs' record offsets into record ids. One
// computer's record ids mostly lie within 2³¹ of each other, so a pair
// holds them as int32 offsets from base (noRecord for a missing id, 0); a
// computer whose ids do not fit keeps them all in wide instead, two a
// pair (the 25's, then the 26's).
type recIDs struct {
	base int64
	wide *[]int64 // a pointer: one word, as most computers have none (hostPairs is 40 bytes)
}

// noRecord is the offset of a missing record id (0).
const noRecord = -1

// newRecIDs returns the recIDs for pairs of evs' events, and whether
// their record ids fit offsets (else the caller fills wide).
func newRecIDs(evs []cev) (recIDs, bool) {
	var lo, hi int64
	have := false
	for _, e := range evs {
		if e.rec == 0 {
			continue
		}
		if !have {
			lo, hi, have = e.rec, e.rec, true
		}
		lo, hi = min(lo, e.rec), max(hi, e.rec)
	}
	return recIDs{base: lo}, uint64(hi)-uint64(lo) < math.MaxInt32
}

// offset is rec as an offset from r.base (rec fits: see newRecIDs).
func (r *recIDs) offset(rec int64) int32 {
	if rec == 0 {
		return noRecord
	}
	return int32(rec - r.base)
}

// record is the record id of offset off.
func (r *recIDs) record(off int32) int64 {
	if off == noRecord {
		return 0
	}
	return r.base + int64(off)
}

// ids returns the record ids of the 25 and the 26 of pair j, c.
func (r *recIDs) ids(c *cpair, j int) (drec, rrec int64) {
	if r.wide != nil {
		w := *r.wide
		return w[2*j], w[2*j+1]
	}
	return r.record(c.drec), r.record(c.rrec)
}

const (
	cpClosed    = 1 << iota // a 26 closed the disconnect
	cpOvernight             // the 26 → 25 gap exceeded MaxUptime
)

// pairEvents pairs one computer's events (sorted by time, duplicates
// removed) and fills h's counts, First, Last and Interleaved. The pairs
// are in buf's array when it is large enough (the caller then copies them
// out), else in an array of their own, exactly sized.
func pairEvents(o Options, evs []cev, h *Host, buf []cpair) *hostPairs {
	open := -1           // index of the open disconnect
	var lastRepeat int64 // time of the open disconnect's last 25
	var upSince int64    // last 26 (0 = unknown)
	var last26 int64
	var prev int64 // time of the previous event
	var session int32
	quick := 0 // orphans soon after the previous event: another session's reconnect
	n := 0     // a pair per 25 at most
	for i := range evs {
		if evs[i].id() == EventDisconnected {
			n++
		}
	}
	cps := buf[:0]
	if cap(cps) < n {
		cps = make([]cpair, 0, n)
	}
	recs, narrow := newRecIDs(evs)
	var wide []int64 // the record ids when !narrow
	if len(evs) > 0 {
		h.setSpan(evs[0].t, evs[len(evs)-1].t)
	}
	dayStart := quietHour(evs)
	var day int64
	for _, e := range evs {
		d := floorDiv(e.t-dayStart, int64(24*time.Hour))
		if prev != 0 && (e.t-prev > int64(o.SessionGap) || d != day) {
			session++
		}
		day = d
		since := e.t - prev
		prev = e.t
		switch e.id() {
		case EventDisconnected:
			h.disconnects++
			if open >= 0 {
				if e.t-lastRepeat <= int64(o.RepeatGap) {
					if cps[open].repeats < math.MaxUint16 {
						cps[open].repeats++
					}
					h.repeats++
					lastRepeat = e.t
					continue
				}
				// Censored: the computer went away while disconnected.
				open = -1
			}
			p := cpair{disc: e.t, drec: noRecord, rrec: noRecord, session: uint16(min(session, math.MaxUint16)), weekday: int8((d%7 + 7 + 4) % 7)}
			if narrow {
				p.drec = recs.offset(e.rec)
			} else {
				wide = append(wide, e.rec, 0)
			}
			if upSince != 0 {
				if time.Duration(e.t-upSince) > o.MaxUptime {
					p.flags |= cpOvernight
				} else {
					p.upSince = upSince
				}
			}
			upSince = 0
			open = len(cps)
			lastRepeat = e.t
			cps = append(cps, p)
		case EventRestored:
			h.reconnects++
			if open >= 0 {
				p := &cps[open]
				p.reco = e.t
				if narrow {
					p.rrec = recs.offset(e.rec)
				} else {
					wide[2*open+1] = e.rec
				}
				p.flags |= cpClosed
				open = -1
				upSince, last26 = e.t, e.t
				continue
			}
			if last26 != 0 && e.t-last26 <= int64(o.DuplicateWindow) {
				continue // Outlook logged the same reconnect twice
			}
			h.orphans++
			if since <= int64(o.QuickOrphan) {
				quick++
			}
			upSince, last26 = e.t, e.t
		}
	}
	for _, p := range cps {
		if p.flags&cpClosed != 0 {
			h.pairs++
		} else {
			h.open++
		}
	}
	// Several Outlook sessions on one computer (RDS/Citrix) interleave
	// their 25/26: a reconnect that closes nothing minutes after another
	// one is the tell. A laptop's lone 26 on resume follows a sleep, in
	// which nothing is logged, so it does not count.
	if quick >= 3 && quick*20 >= int(h.pairs+h.orphans) {
		h.interleaved = true
	}
	if !narrow {
		recs.wide = &wide
	}
	return &hostPairs{cps: cps, recs: recs}
}

// quietHour returns the offset (ns after midnight UTC) of the hour of the
// day in which a computer logs least: its night, where one working day
// ends and the next begins, whatever its time zone. A computer that runs
// day and night still has a quietest hour.
func quietHour(evs []cev) int64 {
	var hours [24]int
	for _, e := range evs {
		hours[floorDiv(e.t, int64(time.Hour))%24]++
	}
	best, bestN := 0, -1
	for h := range 24 {
		// The hour and its neighbours, so that one lucky empty hour in a
		// busy afternoon does not win over the night.
		n := 2*hours[h] + hours[(h+23)%24] + hours[(h+1)%24]
		if bestN < 0 || n < bestN {
			best, bestN = h, n
		}
	}
	return int64(best) * int64(time.Hour)
}

// floorDiv is a/b rounded towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// pairRef is what the fleet-wide stage looks up of a pair by its index:
// its computer, and its fleet-wide session (analyzer.sessBase) << 3 | its
// weekday — in one place, so that the intervals, sorted by value, carry
// both from one random read (see sessPacked).
type pairRef struct {
	host int32
	sess uint32
}

// sessPacked reports whether pairRef.sess holds every session (fewer than
// sessPackLimit of them; else the session majority reads the pairs).
func (a *analyzer) sessPacked() bool { return a.nSessions < sessPackLimit }

// sessPackLimit: 2²⁹ sessions fit pairRef.sess (a test lowers it to try
// the other way).
var sessPackLimit int32 = 1 << 29

// cp returns the compact pair i.
func (a *analyzer) cp(i int) *cpair {
	h := a.pairAt[i].host
	return &a.tab.hosts[h].cps[i-int(a.tab.off[h])]
}

func (a *analyzer) result() *Result {
	r := &Result{pairs: a.tab, keys: a.keys}
	r.pairs.idIndex = nil // only needed while the diagnoses are made
	rep := &r.Report
	rep.Computers = len(a.hosts)
	for i := range a.hosts {
		hs := &a.hosts[i]
		rep.Events.Disconnects += int(hs.disconnects)
		rep.Events.Reconnects += int(hs.reconnects)
		rep.Pairs += int(hs.pairs)
	}
	r.Hosts = a.hosts
	r.dx = a.dx.lists
	rep.Clusters = []Cluster{}
	for _, c := range a.upClusters {
		rep.Clusters = append(rep.Clusters, c.report(a))
	}
	for _, c := range a.downClusters {
		rep.Clusters = append(rep.Clusters, c.report(a))
	}
	rep.Outages = []Outage{}
	for _, ot := range a.outages {
		rep.Outages = append(rep.Outages, Outage{Start: ot.start, End: ot.end, Computers: a.hostNames(ot.hosts)})
	}
	rep.Diagnoses = a.diags
	if rep.Diagnoses == nil {
		rep.Diagnoses = []Diagnosis{}
	}
	if r.Hosts == nil {
		r.Hosts = []Host{}
	}
	return r
}

// hostNames returns the display names of host indexes, in host order.
func (a *analyzer) hostNames(hosts []int32) []string {
	hs := slices.Clone(hosts)
	slices.Sort(hs)
	hs = slices.Compact(hs)
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, a.hosts[h].name)
	}
	return out
}
