package analysis

import (
	"iter"
	"slices"
	"sort"
	"time"
	"unsafe"
)

// pairTab holds every computer's pairs without copying them: the slices of
// compact pairs the pairing made per computer (shared, read-only, with the
// incremental analysis's cache and with earlier Results), and per pair the
// two things the fleet-wide stage adds: why it is excluded and which
// diagnosis it is evidence for. A Pair is made from it only when asked
// for, so a Result costs about 5 bytes a pair beyond the pairing itself
// instead of a Pair's 160.
type pairTab struct {
	hosts []*hostPairs // per host index (Result.Hosts order); never written
	off   []int32      // off[h]: index of host h's first pair; off[len(hosts)] = the count
	excl  []uint8      // per pair: an excl* code
	diag  []int32      // per pair: 1 + index into ids; 0 = none
	ids   []string     // diagnosis ids the pairs name
	names []string     // per host: display name

	idIndex map[string]int32 // ids → diag value, while the diagnoses are made
}

// Exclusion codes of pairTab.excl (Pair.Excluded in words).
const (
	exclNone uint8 = iota
	exclOutage
	exclInterleaved
	exclOvernight
)

var exclWords = [...]string{exclNone: "", exclOutage: ExcludedOutage, exclInterleaved: ExcludedInterleaved, exclOvernight: ExcludedOvernight}

// add appends host h's pairs (h = the next host index).
func (t *pairTab) add(name string, hp *hostPairs, interleaved bool) {
	if len(t.off) == 0 {
		t.off = append(t.off, 0)
	}
	cps := hp.cps
	t.hosts = append(t.hosts, hp)
	t.names = append(t.names, name)
	t.off = append(t.off, t.off[len(t.off)-1]+int32(len(cps)))
	for i := range cps {
		x := exclNone
		switch {
		case interleaved:
			x = exclInterleaved
		case cps[i].flags&cpOvernight != 0:
			x = exclOvernight
		}
		t.excl = append(t.excl, x)
		t.diag = append(t.diag, 0)
	}
}

// len is the number of pairs.
func (t *pairTab) len() int { return len(t.excl) }

// host returns the host index of pair i.
func (t *pairTab) host(i int) int {
	// off is ascending; the last host whose first pair is ≤ i.
	return sort.Search(len(t.hosts), func(h int) bool { return int(t.off[h+1]) > i })
}

// diagIndex is the diag value of the pairs that are evidence for id, 0 if
// none are.
func (t *pairTab) diagIndex(id string) int32 {
	for k, x := range t.ids {
		if x == id {
			return int32(k + 1)
		}
	}
	return 0
}

// setDiagnosis records that pair i is evidence for diagnosis id.
func (t *pairTab) setDiagnosis(i int, id string) {
	k, ok := t.idIndex[id]
	if !ok {
		if t.idIndex == nil {
			t.idIndex = map[string]int32{}
		}
		t.ids = append(t.ids, id)
		k = int32(len(t.ids))
		t.idIndex[id] = k
	}
	t.diag[i] = k
}

// pair makes the Pair of host h's local pair j, pair i of the table.
func (t *pairTab) pair(h, j, i int) Pair {
	c := &t.hosts[h].cps[j]
	drec, rrec := t.hosts[h].recs.ids(c, j)
	p := Pair{Computer: t.names[h], Disconnect: time.Unix(0, c.disc).UTC(), DisconnectRecord: drec, Repeats: int(c.repeats)}
	if c.flags&cpClosed != 0 {
		p.Reconnect = time.Unix(0, c.reco).UTC()
		p.ReconnectRecord = rrec
		p.Downtime = time.Duration(c.reco - c.disc)
	}
	if c.upSince != 0 {
		p.UpSince = time.Unix(0, c.upSince).UTC()
		p.Uptime = time.Duration(c.disc - c.upSince)
	}
	p.Excluded = exclWords[t.excl[i]]
	if d := t.diag[i]; d > 0 {
		p.DiagnosisID = t.ids[d-1]
	}
	return p
}

// NumPairs is the number of pairs (disconnects) of the analysis.
func (r *Result) NumPairs() int { return r.pairs.len() }

// Pair returns pair i (0 ≤ i < NumPairs) in the order of Pairs.
func (r *Result) Pair(i int) Pair {
	h := r.pairs.host(i)
	return r.pairs.pair(h, i-int(r.pairs.off[h]), i)
}

// AllPairs yields every pair with its index, sorted by computer
// (Result.Hosts order) then time, making one Pair at a time.
func (r *Result) AllPairs() iter.Seq2[int, Pair] {
	return func(yield func(int, Pair) bool) {
		i := 0
		for h, hp := range r.pairs.hosts {
			for j := range hp.cps {
				if !yield(i, r.pairs.pair(h, j, i)) {
					return
				}
				i++
			}
		}
	}
}

// Pairs returns every pair, sorted by computer (Result.Hosts order) then
// time. It makes them all: a large fleet's pages use HostPairs or
// AllPairs instead.
func (r *Result) Pairs() []Pair {
	out := make([]Pair, 0, r.NumPairs())
	for _, p := range r.AllPairs() {
		out = append(out, p)
	}
	return out
}

// HostPairs returns the pairs of Hosts[h], in time order.
func (r *Result) HostPairs(h int) []Pair {
	if h < 0 || h >= len(r.pairs.hosts) {
		return nil
	}
	cps := r.pairs.hosts[h].cps
	out := make([]Pair, len(cps))
	base := int(r.pairs.off[h])
	for j := range cps {
		out[j] = r.pairs.pair(h, j, base+j)
	}
	return out
}

// PairBytes is about how many bytes the pairs of this Result hold: the
// compact pairs (which a Result of an Incremental shares with it and with
// its other Results) and the per-pair annotations.
func (r *Result) PairBytes() int64 {
	return int64(len(r.pairs.excl))*int64(unsafe.Sizeof(cpair{})+5) + int64(len(r.pairs.hosts))*int64(8+unsafe.Sizeof(hostPairs{})+32)
}

// uptime is a compact pair's uptime, 0 if unknown.
func (c *cpair) uptime() time.Duration {
	if c.upSince == 0 {
		return 0
	}
	return time.Duration(c.disc - c.upSince)
}

// downtime is a compact pair's downtime, 0 if open.
func (c *cpair) downtime() time.Duration {
	if c.flags&cpClosed == 0 {
		return 0
	}
	return time.Duration(c.reco - c.disc)
}

// open reports whether no 26 closed the disconnect.
func (c *cpair) open() bool { return c.flags&cpClosed == 0 }

// CountedUptimes returns the uptimes, in seconds and pair order, of the
// pairs that count in the statistics (not excluded, uptime known) — of
// every computer when diagnosisID is "", else of the pairs that are
// evidence for that diagnosis. It makes no Pair.
func (r *Result) CountedUptimes(diagnosisID string) []float64 {
	want := int32(-1)
	if diagnosisID != "" {
		if want = r.pairs.diagIndex(diagnosisID); want == 0 {
			return nil
		}
	}
	var out []float64
	i := 0
	for _, hp := range r.pairs.hosts {
		cps := hp.cps
		for j := range cps {
			if up := cps[j].uptime(); up > 0 && r.pairs.excl[i] == exclNone && (want < 0 || r.pairs.diag[i] == want) {
				out = append(out, up.Seconds())
			}
			i++
		}
	}
	return out
}

// MedianUptime is the median uptime in seconds of Hosts[h]'s pairs that
// count in the statistics, 0 if none.
func (r *Result) MedianUptime(h int) float64 {
	if h < 0 || h >= len(r.pairs.hosts) {
		return 0
	}
	var ups []float64
	base := int(r.pairs.off[h])
	for j, c := range r.pairs.hosts[h].cps {
		if up := c.uptime(); up > 0 && r.pairs.excl[base+j] == exclNone {
			ups = append(ups, up.Seconds())
		}
	}
	if len(ups) == 0 {
		return 0
	}
	slices.Sort(ups)
	return ups[len(ups)/2]
}

// DiagnosisPairs returns the pairs that are evidence for diagnosis id, in
// pair order.
func (r *Result) DiagnosisPairs(id string) []Pair {
	want := r.pairs.diagIndex(id)
	if want == 0 {
		return nil
	}
	var out []Pair
	i := 0
	for h, hp := range r.pairs.hosts {
		for j := range hp.cps {
			if r.pairs.diag[i] == want {
				out = append(out, r.pairs.pair(h, j, i))
			}
			i++
		}
	}
	return out
}
