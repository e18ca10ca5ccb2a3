package analysis

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Incremental is an analysis that grows with its events: Add takes new
// events, Result re-pairs only the computers that got some and then
// recomputes the fleet-wide statistics (clusters, outages, diagnoses) from
// the pairs of every computer, cached since the computer last changed.
//
// Result(…) equals Analyze(all events added so far, opts) exactly: the
// per-computer steps (order, duplicates, spelling, pairing) are the same
// code on the same per-computer events, and the fleet-wide steps run on
// the same pairs in the same order.
//
// An Incremental holds its events delta-encoded (about 8 bytes each, see
// packedEvents) and its pairs in a compact form without pointers. It is not safe for concurrent
// use; the Results it returns are independent of it and of each other.
type Incremental struct {
	o       Options
	rawIdx  map[string]int32 // raw spelling → index in names
	names   []string
	rawHost []*incHost // per raw spelling
	byKey   map[string]*incHost
	order   []*incHost // sorted by key when !unsorted
	dirty   []*incHost
	events  int
	resort  bool
	cps     []cpair  // scratch of refresh
	sc      *scratch // the fleet-wide stage's working memory (FreeScratch)
	// noScratch: the Results run without a scratch (KeepScratch).
	noScratch bool
}

// incHost is one computer's events and its pairs as of its last change.
type incHost struct {
	key     string
	evs     packedEvents // every event added, sorted by cevOrder (duplicates kept)
	last    cev          // the last of evs (if any)
	pending []cev        // added since the last refresh, unsorted
	dirty   bool
	h       Host       // its summary (diags 0)
	pairs   *hostPairs // pairs of the deduplicated evs
}

// NewIncremental returns an empty incremental analysis.
func NewIncremental(opts Options) *Incremental {
	return &Incremental{o: opts.withDefaults(), rawIdx: map[string]int32{}, byKey: map[string]*incHost{}}
}

// Events is how many Outlook 25/26 events were added (duplicates included).
func (inc *Incremental) Events() int { return inc.events }

// Computers is how many computers the events name (case-insensitively, a
// short name and the one FQDN it is the host part of being one).
func (inc *Incremental) Computers() int {
	keys := make([]string, 0, len(inc.order))
	for _, h := range inc.order {
		if int(h.evs.n)+len(h.pending) > 0 {
			keys = append(keys, h.key)
		}
	}
	n := 0
	for i, c := range groupKeys(keys) {
		if c == int32(i) {
			n++
		}
	}
	return n
}

// Add adds events (any order, may repeat earlier ones). Events other than
// 25/26 are ignored, as Analyze does.
func (inc *Incremental) Add(events []Event) {
	last := int32(-1)
	for i := range events {
		e := &events[i]
		if e.EventID != EventDisconnected && e.EventID != EventRestored {
			continue
		}
		var ri int32
		if last >= 0 && e.Computer == inc.names[last] {
			ri = last
		} else {
			var ok bool
			if ri, ok = inc.rawIdx[e.Computer]; !ok {
				ri = int32(len(inc.names))
				name := strings.Clone(e.Computer)
				inc.rawIdx[name] = ri
				inc.names = append(inc.names, name)
				k := strings.ToLower(name)
				h := inc.byKey[k]
				if h == nil {
					h = &incHost{key: k}
					inc.byKey[k] = h
					inc.order = append(inc.order, h)
					inc.resort = true
				}
				inc.rawHost = append(inc.rawHost, h)
			}
		}
		last = ri
		h := inc.rawHost[ri]
		if !h.dirty {
			h.dirty = true
			inc.dirty = append(inc.dirty, h)
		}
		h.pending = append(h.pending, mkcev(e.Time.UnixNano(), e.RecordID, 0, e.EventID, ri))
		inc.events++
	}
}

// refresh merges the host's pending events and pairs it again.
func (inc *Incremental) refresh(h *incHost, buf []cev, spelling map[int32]int) []cev {
	inc.merge(h)
	h.dirty = false
	old := h.pairs
	evs := h.pairEvents(inc.o, inc.names, h.evs.decode(buf[:0]), spelling, inc.cps)
	inc.cps = h.pairs.cps[:0] // the scratch, grown
	h.pairs.cps = keepPairs(old, h.pairs)
	return evs
}

// keepPairs returns the pairs of nw (made in the scratch) in an array of
// their own: old's when they only add to old's pairs and its array has
// room, else a new one with room to grow. Only old's array past its
// length is written, which no Result reads (each reads the pairs of its
// time, a prefix of the array); so a computer that gets new events after
// its old ones, as an agent sends them, keeps one array, and a Result
// being served and the next share it instead of holding a copy each.
func keepPairs(old, nw *hostPairs) []cpair {
	if old != nil && old.recs.wide == nil && nw.recs.wide == nil && old.recs.base == nw.recs.base &&
		len(nw.cps) >= len(old.cps) && cap(old.cps) >= len(nw.cps) && slices.Equal(old.cps, nw.cps[:len(old.cps)]) {
		cps := old.cps[:len(nw.cps)]
		copy(cps[len(old.cps):], nw.cps[len(old.cps):])
		return cps
	}
	room := 0
	if old != nil { // paired before: it is getting events, likely more
		room = len(nw.cps)/8 + 2
	}
	return append(make([]cpair, 0, len(nw.cps)+room), nw.cps...)
}

// merge sorts the host's pending events into its events.
func (inc *Incremental) merge(h *incHost) {
	order := cevOrder(inc.names)
	slices.SortFunc(h.pending, order)
	switch {
	case len(h.pending) == 0: // pruned only
	case h.evs.n == 0:
		h.evs, h.last = packEvents(h.pending), h.pending[len(h.pending)-1]
	case order(h.last, h.pending[0]) <= 0:
		// New events after the old ones (the usual case): append.
		h.evs.appendSorted(h.pending, h.last)
		h.last = h.pending[len(h.pending)-1]
	default:
		old := h.evs.decode(nil)
		merged := make([]cev, 0, len(old)+len(h.pending))
		i, j := 0, 0
		for i < len(old) && j < len(h.pending) {
			if order(h.pending[j], old[i]) < 0 {
				merged = append(merged, h.pending[j])
				j++
			} else {
				merged = append(merged, old[i])
				i++
			}
		}
		merged = append(append(merged, old[i:]...), h.pending[j:]...)
		h.evs, h.last = packEvents(merged), merged[len(merged)-1]
	}
	h.pending = nil
}

// pairEvents pairs evs, the host's events sorted by cevOrder, in place,
// and sets its name and counts. Its pairs are in buf's array when that is
// large enough (see pairEvents). It returns the deduplicated events.
func (h *incHost) pairEvents(o Options, names []string, evs []cev, spelling map[int32]int, buf []cpair) []cev {
	evs = dedupEvents(evs)
	clear(spelling)
	for _, e := range evs {
		spelling[e.name()]++
	}
	var hs Host
	if len(evs) > 0 {
		hs.name = names[bestSpelling(spelling, names)]
	}
	h.pairs = pairEvents(o, evs, &hs, buf)
	h.h = hs
	return evs
}

// Result analyses every event added so far (and not pruned). Only the
// computers with new events since the last Result are paired again.
func (inc *Incremental) Result() *Result {
	var buf []cev
	spelling := map[int32]int{}
	for _, h := range inc.dirty {
		buf = inc.refresh(h, buf, spelling)
	}
	inc.dirty = inc.dirty[:0]
	if inc.resort {
		slices.SortFunc(inc.order, func(x, y *incHost) int { return strings.Compare(x.key, y.key) })
		inc.resort = false
	}
	if inc.sc == nil && !inc.noScratch {
		inc.sc = &scratch{}
	}
	return fleetResult(inc.o, inc.names[:len(inc.names):len(inc.names)], inc.order, buf, spelling, inc.sc)
}

// fleetResult runs the fleet-wide stage over computers in key order, each
// paired, and keeps their events (views, never written) for Window. sc is
// its working memory, or nil (see scratch).
func fleetResult(o Options, names []string, order []*incHost, buf []cev, spelling map[int32]int, sc *scratch) *Result {
	src := &eventSource{o: o, names: names, hosts: make([]srcHost, 0, len(order))}
	live := make([]*incHost, 0, len(order))
	for _, h := range order {
		if h.evs.n > 0 { // a computer whose events were all pruned is gone
			live = append(live, h)
			src.hosts = append(src.hosts, srcHost{key: h.key, evs: h.evs})
		}
	}
	hosts := groupHosts(o, names, live, buf, spelling)
	a := &analyzer{o: o, hosts: make([]Host, len(hosts)), keys: make([]string, len(hosts)), sc: sc}
	if sc != nil {
		sc.reset()
		a.secs = sc.secs
	}
	n := 0
	for _, h := range hosts {
		n += len(h.pairs.cps)
	}
	a.reservePairs(n)
	for hi, h := range hosts {
		a.hosts[hi], a.keys[hi] = h.h, h.key
		a.addPairs(hi, h.pairs)
	}
	a.diagnose()
	res := a.result()
	res.src = src
	return res
}

// eventSource is what a Result of an Incremental was made from: every
// computer's events (per lower-case spelling, as the Incremental keeps
// them), for analyses of a time window without reading the store again.
type eventSource struct {
	o     Options
	names []string
	hosts []srcHost // sorted by key
}

type srcHost struct {
	key string
	evs packedEvents // a view: read-only
}

// Window returns the analysis of this Result's events in [since, until)
// (a zero bound is open), exactly as Analyze of those events would give,
// without reading them again. ok is false when the Result keeps no events
// (it was made by Analyze, not by an Incremental).
func (r *Result) Window(since, until time.Time) (res *Result, ok bool) {
	src := r.src
	if src == nil {
		return nil, false
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !since.IsZero() {
		lo = since.UnixNano()
	}
	if !until.IsZero() {
		hi = until.UnixNano()
	}
	var buf []cev
	spelling := map[int32]int{}
	win := make([]*incHost, 0, len(src.hosts))
	var all []cev
	for _, sh := range src.hosts {
		if sh.evs.n == 0 {
			continue
		}
		all = sh.evs.decode(all[:0])
		i := sort.Search(len(all), func(k int) bool { return all[k].t >= lo })
		j := sort.Search(len(all), func(k int) bool { return all[k].t >= hi })
		if i >= j {
			continue
		}
		h := &incHost{key: sh.key}
		if i == 0 && j == len(all) {
			h.evs = sh.evs // all of them: the same bytes
		} else {
			h.evs = packEvents(all[i:j])
		}
		buf = h.pairEvents(src.o, src.names, append(buf[:0], all[i:j]...), spelling, nil)
		win = append(win, h)
	}
	return fleetResult(src.o, src.names, win, buf, spelling, nil), true
}

// FreeScratch lets go of the working memory the Results keep for the
// next update (about 45 bytes a pair; see scratch). A caller whose
// updates pause calls it; the next Result allocates it again.
func (inc *Incremental) FreeScratch() { inc.sc = nil }

// KeepScratch says whether the next Results keep their working memory for
// the one after (the default) or, near a memory limit, make their arrays
// as they need them and let each go when done with it: an update then
// holds less at its peak (about 200 instead of 300 MiB at 10 M events)
// and allocates more (450 instead of 70 MiB).
func (inc *Incremental) KeepScratch(keep bool) {
	inc.noScratch = !keep
	if !keep {
		inc.sc = nil
	}
}

// ScratchEstimate is about what the working memory of the next Result
// comes to (see ScratchBytes): about 30 bytes an event.
func (inc *Incremental) ScratchEstimate() int {
	if inc.sc != nil {
		return inc.sc.bytes()
	}
	return 30 * inc.events
}

// ScratchBytes is the size of the working memory held for the next
// update (0 after FreeScratch).
func (inc *Incremental) ScratchBytes() int {
	if inc.sc == nil {
		return 0
	}
	return inc.sc.bytes()
}

// Prune drops the events before t, as if they had never been added: the
// next Result equals Analyze of the events at or after t. The analysis of
// a window in time keeps its memory bounded by the window, not by history.
// It returns how many events it dropped.
func (inc *Incremental) Prune(t time.Time) int {
	cut := t.UnixNano()
	dropped := 0
	var evs []cev
	for _, h := range inc.order {
		if len(h.pending) > 0 { // sort them in first, then cut (the host is dirty: Result pairs it)
			inc.merge(h)
		}
		if h.evs.n == 0 || h.evs.first() >= cut {
			continue
		}
		evs = h.evs.decode(evs[:0])
		k := sort.Search(len(evs), func(i int) bool { return evs[i].t >= cut })
		if k == 0 {
			continue
		}
		dropped += k
		h.evs = packEvents(evs[k:]) // h.last stays the last (or is moot: no events)
		if !h.dirty {
			h.dirty = true
			inc.dirty = append(inc.dirty, h)
		}
	}
	inc.events -= dropped
	return dropped
}

// groupHosts returns the computers in key order, a short name merged into
// the FQDN it is the host part of (see groupKeys) as Analyze does: such a
// computer's events are merged and paired afresh; every other computer is
// the cached incHost.
func groupHosts(o Options, names []string, order []*incHost, buf []cev, spelling map[int32]int) []*incHost {
	keys := make([]string, len(order))
	for i, h := range order {
		keys[i] = h.key
	}
	canon := groupKeys(keys)
	var members map[int32][]*incHost
	for i, c := range canon {
		if c != int32(i) {
			if members == nil {
				members = map[int32][]*incHost{}
			}
			members[c] = append(members[c], order[i])
		}
	}
	if members == nil {
		return order
	}
	out := make([]*incHost, 0, len(order))
	byTime := cevOrder(names)
	for i, h := range order {
		switch {
		case canon[i] != int32(i):
			continue
		case members[int32(i)] == nil:
			out = append(out, h)
			continue
		}
		evs := h.evs.decode(buf[:0])
		for _, m := range members[int32(i)] {
			evs = m.evs.decode(evs)
		}
		slices.SortFunc(evs, byTime)
		evs = dedupEvents(evs)
		clear(spelling)
		for _, e := range evs {
			spelling[e.name()]++
		}
		g := &incHost{key: h.key}
		hs := Host{name: names[bestSpelling(spelling, names)]}
		g.pairs = pairEvents(o, evs, &hs, nil)
		g.h = hs
		out = append(out, g)
		buf = evs
	}
	return out
}
