package analysis

import (
	"cmp"
	"math"
	"slices"
	"time"
)

type outage struct {
	start, end time.Time
	hosts      []int32 // one per computer, sorted
	pairs      []int32
	background float64 // expected disconnects in the window without an outage
}

// outageAlpha is the chance, under the local background rate, of seeing a
// window as busy as an outage by coincidence that we accept.
const outageAlpha = 1e-9

// findOutages looks for many computers disconnecting within one window.
//
// Only disconnects that no idle-timeout cluster explains seed an outage:
// the computers of a timeout site tend to disconnect together right after
// an outage (they reconnected together, so their idle timers run in step),
// and those disconnects are the device's, not a second outage. A window
// (OutageWindow wide) seeds an outage when it holds at least
// MinOutageComputers computers and more than the local background rate
// (measured over ±1 h and ±10 min around the window, the higher of the
// two) makes plausible: P(Poisson(μ) ≥ k) < 1e-9.
//
// A busy fleet's background can hide a small outage by count alone, but
// an outage also ends together: its computers reconnect within minutes of
// each other, long after they disconnected, which background disconnects
// (back within seconds to minutes) rarely do. So a window that fails the
// count test is tested again on its disconnects whose reconnects gather
// in one window (see jointOutage), against the background rate times the
// chance of a downtime that long.
//
// Clocks of workgroup PCs drift by a minute or two (DOMAIN §7): an outage
// whose computers came back together grows over its neighbourhood
// (±outageSkew) to every computer whose disconnect and reconnect both
// match it (a disconnect a cluster explains stays the device's).
func (a *analyzer) findOutages(space []ocand) {
	members := a.hostClusters()
	cs := a.outageCandidates(members, space)
	w := int64(a.o.OutageWindow)
	// A busy fleet has a window per disconnect of a large outage: small
	// ones (the return window of the rare joint outage aside). The joint
	// tests need the background's downtimes: they are counted in one pass
	// over the pairs after the sweep (see jointChances), their windows
	// kept in place meanwhile.
	var backs [][2]int64
	var joints []jointTest
	// Sweep the windows [t_i, t_i + w] in time order; keep those busier
	// than the background allows. Background: the rate of disconnects
	// around the window, outside it, over ±1 h and over ±10 min (which
	// follows the morning ramp of a large fleet); the higher rate counts.
	spans := [2]int64{int64(time.Hour), int64(10 * time.Minute)}
	var lo, hi [2]int
	var wins []outageWin
	if a.sc != nil {
		wins = a.sc.wins[:0]
		defer func() { a.sc.wins = wins[:0] }()
	}
	seen := make([]int32, len(a.hosts))
	distinct, longs := 0, 0 // computers in the window; disconnects with a long downtime
	long := func(c ocand) bool { return c.back != 0 && c.back-c.t >= int64(outageMinDown) }
	// The joint test is for what the count misses: not inside a window the
	// count already found.
	lastCount := int64(math.MinInt64)
	j := 0
	for i := range cs {
		for j < len(cs) && cs[j].t-cs[i].t <= w {
			if seen[cs[j].host] == 0 {
				distinct++
			}
			seen[cs[j].host]++
			if long(cs[j]) {
				longs++
			}
			j++
		}
		if distinct >= a.o.MinOutageComputers {
			t0, t1 := cs[i].t, cs[i].t+w
			mu := 0.0
			for k, span := range spans {
				for lo[k] < len(cs) && cs[lo[k]].t < t0-span {
					lo[k]++
				}
				for hi[k] < len(cs) && cs[hi[k]].t <= t1+span {
					hi[k]++
				}
				around := (hi[k] - lo[k]) - (j - i)
				mu = max(mu, float64(around)*float64(w)/float64(2*span))
			}
			need := max(a.o.MinOutageComputers, poissonThreshold(mu, outageAlpha))
			if distinct >= need {
				wins = append(wins, outageWin{int32(i), int32(j), int32(distinct), int32(need), mu, 0})
				lastCount = cs[j-1].t
			} else if longs >= a.o.MinOutageComputers && cs[i].t > lastCount {
				if back, k := returnWindow(cs[i:j]); k >= a.o.MinOutageComputers {
					joints = append(joints, jointTest{back: back, lo: back[0] - cs[j-1].t, hi: back[1] - cs[i].t, mu: mu, k: k})
					wins = append(wins, outageWin{int32(i), int32(j), int32(k), int32(a.o.MinOutageComputers), mu, -int32(len(joints))})
				}
			}
		}
		if seen[cs[i].host]--; seen[cs[i].host] == 0 {
			distinct--
		}
		if long(cs[i]) {
			longs--
		}
	}
	if len(joints) > 0 {
		passed := a.jointChances(joints)
		kept := wins[:0]
		for _, wn := range wins {
			if wn.joint < 0 {
				q := -wn.joint - 1
				if !passed[q] {
					continue
				}
				backs = append(backs, joints[q].back)
				wn.joint = int32(len(backs))
			}
			kept = append(kept, wn)
		}
		wins = kept
	}
	slices.SortStableFunc(wins, func(x, y outageWin) int { return cmp.Compare(y.distinct, x.distinct) })
	var taken [][2]int64
	for _, wn := range wins {
		t0, t1 := cs[wn.i].t, cs[wn.i].t+w
		overlap := false
		for _, tk := range taken {
			if t0 <= tk[1] && t1 >= tk[0] {
				overlap = true
				break
			}
		}
		if overlap {
			continue
		}
		ot := &outage{background: wn.mu}
		burst := trimStragglers(cs[wn.i:wn.j], int(wn.need))
		var back [2]int64
		if wn.joint > 0 {
			back = backs[wn.joint-1]
		} else {
			back = outageReturn(burst)
		}
		if back[1] != 0 {
			// Members: disconnects near the burst whose reconnect lies in
			// the outage's return window; for a burst found by count, its
			// own members too (a laptop that went to sleep during the
			// outage comes back later).
			mid := burst[len(burst)/2].t
			matched := matchOutage(cs, mid-int64(outageSkew), mid+int64(outageSkew)+int64(time.Minute), back)
			if wn.joint == 0 {
				matched = append(matched, burst...)
				slices.SortFunc(matched, ocandOrder)
			}
			burst = matched
		}
		got := map[int32]bool{}
		var ends []int64
		for _, c := range burst {
			if got[c.host] {
				continue
			}
			got[c.host] = true
			ot.hosts = append(ot.hosts, c.host)
			ot.pairs = append(ot.pairs, c.pair)
			if c.back != 0 {
				ends = append(ends, c.back)
			}
		}
		if len(ot.hosts) < a.o.MinOutageComputers {
			continue
		}
		slices.Sort(ot.hosts)
		slices.Sort(ot.pairs)
		// The start: the 5th percentile of the first disconnects, so that
		// one computer whose clock is off does not move it.
		firsts := make([]int64, 0, len(ot.pairs))
		for _, pi := range ot.pairs {
			firsts = append(firsts, a.cp(int(pi)).disc)
		}
		slices.Sort(firsts)
		ot.start = time.Unix(0, firsts[len(firsts)/20]).UTC()
		// The end is when the computers came back: the first quarter of
		// their reconnects (Outlook retries after seconds to minutes).
		if len(ends) > 0 {
			slices.Sort(ends)
			ot.end = time.Unix(0, ends[len(ends)/4]).UTC()
		} else {
			ot.end = time.Unix(0, firsts[len(firsts)-1]).UTC()
		}
		taken = append(taken, [2]int64{min(t0, firsts[0]), max(t1, firsts[len(firsts)-1])})
		a.outages = append(a.outages, ot)
	}
	slices.SortFunc(a.outages, func(x, y *outage) int { return x.start.Compare(y.start) })
	for _, ot := range a.outages {
		for _, pi := range ot.pairs {
			a.tab.excl[pi] = exclOutage
		}
	}
}

// outageWin is a window of disconnects findOutages keeps: busier than
// the background allows.
type outageWin struct {
	i, j     int32 // cs[i:j]
	distinct int32
	need     int32
	mu       float64
	joint    int32 // 1 + index into backs of a joint outage's return window, else 0 (during the sweep: -1 - its jointTest)
}

// outageCandidates returns the disconnects no uptime cluster explains
// (see explained), sorted by time, then computer (see ocandOrder): one
// radix sort of packed keys (milliseconds since the
// first, then the pair) and a comparison sort only of the rare runs of
// equal milliseconds.
func (a *analyzer) outageCandidates(members clusterMembers, space []ocand) []ocand {
	n := a.tab.len()
	cs := space[:0] // most pairs are candidates: growing would copy them several times
	if cap(cs) < n {
		cs = make([]ocand, 0, n)
	}
	// The candidates' pairs, in pair order, in cs's array (see sortSpace).
	keys, buf := sortSpace(cs)
	t0 := int64(math.MaxInt64)
	for i := range n {
		if a.tab.excl[i] == exclInterleaved || a.explained(i, members) {
			continue
		}
		keys = append(keys, uint64(i))
		t0 = min(t0, a.cp(i).disc)
	}
	cand := func(i int) ocand {
		p := a.cp(i)
		c := ocand{p.disc, a.pairAt[i].host, int32(i), 0}
		if !p.open() {
			c.back = p.reco
		}
		return c
	}
	const idx = 26
	ms := func(t int64) uint64 { return uint64(t-t0) / uint64(time.Millisecond) }
	bySort := func(pairs []uint64) []ocand { // over a century of logs, or 67 M disconnects
		for _, i := range pairs {
			cs = append(cs, cand(int(i)))
		}
		slices.SortFunc(cs, ocandOrder)
		return cs
	}
	if n >= 1<<idx {
		return bySort(slices.Clone(keys))
	}
	for k, i := range keys {
		m := ms(a.cp(int(i)).disc)
		if m >= 1<<(64-idx) {
			pairs := slices.Clone(keys)
			for j := range k { // packed already
				pairs[j] &= 1<<idx - 1
			}
			return bySort(pairs)
		}
		keys[k] = m<<idx | i
	}
	radixSortHigh(keys, idx, buf) // the pairs in order within a millisecond
	for _, k := range keys {
		cs = append(cs, cand(int(k&(1<<idx-1))))
	}
	// Within one millisecond: by time, then computer.
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && ms(cs[j].t) == ms(cs[i].t) {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(cs[i:j], ocandOrder)
		}
		i = j
	}
	return cs
}

// ocandOrder orders disconnects by time, then computer.
func ocandOrder(x, y ocand) int {
	if c := cmp.Compare(x.t, y.t); c != 0 {
		return c
	}
	return cmp.Compare(x.host, y.host)
}

// trimStragglers drops a burst's edge members separated from the rest by
// a gap much longer than the burst's median gap (and over 20 s): they are
// background. It keeps at least need members.
func trimStragglers(cs []ocand, need int) []ocand {
	for len(cs) > max(need, 2) {
		gaps := make([]int64, 0, len(cs)-1)
		for k := 1; k < len(cs); k++ {
			gaps = append(gaps, cs[k].t-cs[k-1].t)
		}
		slices.Sort(gaps)
		limit := max(int64(20*time.Second), 8*gaps[len(gaps)/2])
		switch {
		case cs[1].t-cs[0].t > limit:
			cs = cs[1:]
			continue
		case cs[len(cs)-1].t-cs[len(cs)-2].t > limit:
			cs = cs[:len(cs)-1]
			continue
		}
		break
	}
	return cs
}

// ocand is a disconnect that may be part of an outage.
type ocand struct {
	t    int64 // the disconnect (unix ns)
	host int32
	pair int32
	back int64 // the reconnect, 0 if open
}

// An outage's computers come back within outageBack of each other (Outlook
// retries for up to 90 s after the end, plus clock skew); only a downtime
// of outageMinDown or more tells an outage's reconnect from an ordinary
// retry; clocks drift by up to outageSkew.
const (
	outageBack    = 5 * time.Minute
	outageMinDown = 4 * time.Minute
	outageSkew    = 3 * time.Minute
)

// returnWindow finds the window of width outageBack holding the most
// distinct computers' reconnects among cs whose downtime is at least
// outageMinDown. It returns the window and the count.
func returnWindow(cs []ocand) ([2]int64, int) {
	var backs []ocand
	for _, c := range cs {
		if c.back != 0 && c.back-c.t >= int64(outageMinDown) {
			backs = append(backs, c)
		}
	}
	slices.SortFunc(backs, func(x, y ocand) int {
		if c := cmp.Compare(x.back, y.back); c != 0 {
			return c
		}
		return cmp.Compare(x.host, y.host)
	})
	seen := make(map[int32]int, len(backs))
	best, bestK := [2]int64{}, 0
	j, distinct := 0, 0
	for i := range backs {
		for j < len(backs) && backs[j].back-backs[i].back <= int64(outageBack) {
			if seen[backs[j].host] == 0 {
				distinct++
			}
			seen[backs[j].host]++
			j++
		}
		if distinct > bestK {
			bestK = distinct
			best = [2]int64{backs[i].back, backs[i].back + int64(outageBack)}
		}
		if seen[backs[i].host]--; seen[backs[i].host] == 0 {
			distinct--
		}
	}
	return best, bestK
}

// outageReturn is the return window of a burst found by count when most
// of its computers came back together after a long downtime; else zero.
func outageReturn(burst []ocand) [2]int64 {
	back, k := returnWindow(burst)
	hosts := map[int32]bool{}
	for _, c := range burst {
		hosts[c.host] = true
	}
	if 2*k < len(hosts) {
		return [2]int64{}
	}
	return back
}

// jointAlpha is outageAlpha's counterpart for the joint test: the chance
// of k computers disconnecting together and coming back together, each
// after a long downtime, by coincidence (the search over where they came
// back costs a factor of about a hundred).
const jointAlpha = 1e-7

// jointTest is a window's joint test (see jointChances): k computers
// came back within back, each after at least outageMinDown; a background
// disconnect lands there when its downtime lies in [lo, hi].
type jointTest struct {
	back   [2]int64
	lo, hi int64 // ns
	mu     float64
	k      int
}

// jointChances runs the joint tests of findOutages' windows: each
// window's k computers coming back together, against μ background
// disconnects in the window times the chance that a background downtime
// (of the closed pairs, but for interleaving computers') lands them in
// the return window. It reports, per test, whether it passes at
// jointAlpha. The downtimes are counted into the tests' bounds in one
// pass, without sorting them.
func (a *analyzer) jointChances(tests []jointTest) []bool {
	// bounds: every lo and every hi+1; at[b] counts the downtimes d with
	// bounds[b-1] <= d < bounds[b].
	bounds := make([]int64, 0, 2*len(tests))
	for _, t := range tests {
		bounds = append(bounds, t.lo, t.hi+1)
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)
	at := make([]int, len(bounds)+1)
	total := 0
	for h, hp := range a.tab.hosts {
		base := int(a.tab.off[h])
		for j := range hp.cps {
			p := &hp.cps[j]
			if p.open() || a.tab.excl[base+j] == exclInterleaved {
				continue
			}
			d := int64(p.downtime())
			b, found := slices.BinarySearch(bounds, d)
			if found {
				b++
			}
			at[b]++
			total++
		}
	}
	below := make([]int, len(bounds)) // downtimes under bounds[b]
	n := 0
	for b := range bounds {
		n += at[b]
		below[b] = n
	}
	under := func(v int64) int {
		b, _ := slices.BinarySearch(bounds, v)
		return below[b]
	}
	passed := make([]bool, len(tests))
	for q, t := range tests {
		if total == 0 {
			continue
		}
		chance := float64(under(t.hi+1)-under(t.lo)) / float64(total)
		passed[q] = t.k >= poissonThreshold(t.mu*chance, jointAlpha)
	}
	return passed
}

// matchOutage returns the disconnects of cs (sorted by time) within
// [from, to] whose reconnect lies in back, widened by the clock skew, after
// a downtime of at least half outageMinDown.
func matchOutage(cs []ocand, from, to int64, back [2]int64) []ocand {
	i, _ := slices.BinarySearchFunc(cs, from, func(c ocand, t int64) int { return cmp.Compare(c.t, t) })
	var out []ocand
	for _, c := range cs[i:] {
		if c.t > to {
			break
		}
		if c.back != 0 && c.back >= back[0]-int64(outageSkew) && c.back <= back[1]+int64(outageSkew) && c.back-c.t >= int64(outageMinDown)/2 {
			out = append(out, c)
		}
	}
	return out
}

// clusterMembers lists, per computer, the uptime clusters it belongs to
// that are regular enough for a diagnosis (only those explain anything: a
// wide one — busy users' tail, laptops' resume pattern — must not hide
// outages): the clusters of host h are at[off[h]:off[h+1]].
type clusterMembers struct {
	off []int32
	at  []int32
}

// hostClusters returns the uptime clusters' membership by computer, for
// explained (a computer belongs to a few of a fleet's hundreds of clusters).
func (a *analyzer) hostClusters() clusterMembers {
	m := clusterMembers{off: make([]int32, len(a.hosts)+1)}
	for _, c := range a.upClusters {
		if c.regular() {
			for _, h := range c.hosts {
				m.off[h+1]++
			}
		}
	}
	for h := range a.hosts {
		m.off[h+1] += m.off[h]
	}
	m.at = make([]int32, m.off[len(a.hosts)])
	next := slices.Clone(m.off[:len(a.hosts)])
	for k, c := range a.upClusters {
		if c.regular() {
			for _, h := range c.hosts { // sorted, one each
				m.at[next[h]] = int32(k)
				next[h]++
			}
		}
	}
	return m
}

// explained reports whether pair i's uptime falls in a regular uptime
// cluster its computer belongs to (see hostClusters).
func (a *analyzer) explained(i int, members clusterMembers) bool {
	h := a.pairAt[i].host
	ks := members.at[members.off[h]:members.off[h+1]]
	if len(ks) == 0 {
		return false
	}
	up := a.cp(i).uptime()
	if up <= 0 {
		return false
	}
	s := up.Seconds()
	for _, k := range ks {
		if a.upClusters[k].contains(s) {
			return true
		}
	}
	return false
}

// poissonThreshold returns the smallest k with P(X ≥ k) < alpha for
// X ~ Poisson(mu).
func poissonThreshold(mu, alpha float64) int {
	if mu <= 0 {
		return 1
	}
	if mu > 200 { // normal approximation; exp(-mu) would underflow
		return int(math.Ceil(mu + 6.1*math.Sqrt(mu) + 1))
	}
	// P(X ≥ k) = 1 - Σ_{i<k} p_i
	p := math.Exp(-mu)
	cdf := 0.0
	for k := 0; k < 100000; k++ {
		if 1-cdf < alpha {
			return k
		}
		cdf += p
		p *= mu / float64(k+1)
		if p == 0 && k > int(mu) {
			return k + 1
		}
	}
	return 100000
}
