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
// Only disconnects that no idle-timeout cluster explains take part: the
// computers of a timeout site tend to disconnect together right after an
// outage (they reconnected together, so their idle timers run in step), and
// those disconnects are the device's, not a second outage. A window is an
// outage when it holds at least MinOutageComputers computers and more than
// the local background rate (measured over ±1 h and ±10 min around the
// window, the higher of the two) makes plausible: P(Poisson(μ) ≥ k) < 1e-9.
func (a *analyzer) findOutages() {
	type cand struct {
		t    int64
		host int32
		pair int32
	}
	// Host membership of the uptime clusters, for explained().
	// Only clusters regular enough for a diagnosis explain anything: a wide
	// one (busy users' tail, laptops' resume pattern) must not hide outages.
	members := make([][]bool, len(a.upClusters))
	for k, c := range a.upClusters {
		if c.relWidth() > maxRelWidth {
			continue
		}
		members[k] = make([]bool, len(a.hosts))
		for _, h := range c.hosts {
			members[k][h] = true
		}
	}
	cs := make([]cand, 0, len(a.pairs)/8)
	for i := range a.pairs {
		p := &a.pairs[i]
		if p.Excluded == ExcludedInterleaved || a.explained(i, members) {
			continue
		}
		cs = append(cs, cand{p.Disconnect.UnixNano(), a.pairHost[i], int32(i)})
	}
	slices.SortFunc(cs, func(x, y cand) int {
		if c := cmp.Compare(x.t, y.t); c != 0 {
			return c
		}
		return cmp.Compare(x.host, y.host)
	})
	ts := make([]int64, len(cs))
	for i := range cs {
		ts[i] = cs[i].t
	}
	w := int64(a.o.OutageWindow)
	type win struct {
		i, j     int // cs[i:j]
		distinct int
		need     int
		mu       float64
	}
	// Sweep the windows [t_i, t_i + w] in time order; keep those busier
	// than the background allows. Background: the rate of disconnects
	// around the window, outside it, over ±1 h and over ±10 min (which
	// follows the morning ramp of a large fleet); the higher rate counts.
	spans := [2]int64{int64(time.Hour), int64(10 * time.Minute)}
	var lo, hi [2]int
	var wins []win
	seen := make([]int32, len(a.hosts))
	distinct := 0
	j := 0
	for i := range cs {
		for j < len(cs) && cs[j].t-cs[i].t <= w {
			if seen[cs[j].host] == 0 {
				distinct++
			}
			seen[cs[j].host]++
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
				wins = append(wins, win{i, j, distinct, need, mu})
			}
		}
		if seen[cs[i].host]--; seen[cs[i].host] == 0 {
			distinct--
		}
	}
	slices.SortStableFunc(wins, func(x, y win) int { return cmp.Compare(y.distinct, x.distinct) })
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
		mu, need := wn.mu, wn.need
		ot := &outage{background: mu}
		got := map[int32]bool{}
		var downs []int64
		// Trim stragglers: a member separated from the rest of the burst by
		// a gap much longer than the burst's median gap (and over 20 s) is
		// background.
		i0, j0 := wn.i, wn.j
		for j0-i0 > need {
			gaps := make([]int64, 0, j0-i0-1)
			for k := i0 + 1; k < j0; k++ {
				gaps = append(gaps, cs[k].t-cs[k-1].t)
			}
			slices.Sort(gaps)
			typical := gaps[len(gaps)/2]
			limit := max(int64(20*time.Second), 8*typical)
			switch {
			case cs[i0+1].t-cs[i0].t > limit:
				i0++
				continue
			case cs[j0-1].t-cs[j0-2].t > limit:
				j0--
				continue
			}
			break
		}
		i0, j0 = growOutage(ts, i0, j0, mu/float64(w))
		for _, c := range cs[i0:j0] {
			if got[c.host] {
				continue
			}
			got[c.host] = true
			ot.hosts = append(ot.hosts, c.host)
			ot.pairs = append(ot.pairs, c.pair)
			if p := &a.pairs[c.pair]; !p.Open() {
				downs = append(downs, p.Reconnect.UnixNano())
			}
		}
		slices.Sort(ot.hosts)
		slices.Sort(ot.pairs)
		// The start: the 5th percentile of the first disconnects, so that
		// one computer whose clock is off does not move it.
		firsts := make([]int64, 0, len(ot.pairs))
		for _, pi := range ot.pairs {
			firsts = append(firsts, a.pairs[pi].Disconnect.UnixNano())
		}
		slices.Sort(firsts)
		ot.start = time.Unix(0, firsts[len(firsts)/20]).UTC()
		// The end is when the computers came back: the first quarter of
		// their reconnects (Outlook retries after seconds to minutes).
		if len(downs) > 0 {
			slices.Sort(downs)
			ot.end = time.Unix(0, downs[len(downs)/4]).UTC()
		} else {
			ot.end = time.Unix(0, cs[j0-1].t).UTC()
		}
		taken = append(taken, [2]int64{min(t0, cs[i0].t), max(t1, cs[j0-1].t)})
		a.outages = append(a.outages, ot)
	}
	slices.SortFunc(a.outages, func(x, y *outage) int { return x.start.Compare(y.start) })
	for _, ot := range a.outages {
		for _, pi := range ot.pairs {
			a.pairs[pi].Excluded = ExcludedOutage
		}
	}
}

// Clocks of workgroup and shop-floor PCs drift by a minute or two (DOMAIN
// §7), so one outage's disconnects spread over a few minutes. A burst
// grows in steps of outageStep on both sides, up to outageSkew, while the
// steps hold clearly more disconnects than the background rate (at least
// 2 and 3 times the rate); one quiet step may lie between two busy ones.
const (
	outageStep = 15 * time.Second
	outageSkew = 3 * time.Minute
)

// growOutage extends the burst ts[i:j] (times, sorted) over the steps
// that stand out of the background rate (disconnects per nanosecond).
func growOutage(ts []int64, i, j int, rate float64) (int, int) {
	step := int64(outageStep)
	need := max(2, 3*rate*float64(step))
	steps := int(outageSkew / outageStep)
	// Left.
	edge, best, quiet := ts[i], i, 0
	k := i
	for s := 1; s <= steps && quiet < 2; s++ {
		lo := edge - int64(s)*step
		n := 0
		for k > 0 && ts[k-1] >= lo {
			k--
			n++
		}
		if float64(n) >= need {
			best, quiet = k, 0
		} else {
			quiet++
		}
	}
	i = best
	// Right.
	edge, best, quiet = ts[j-1], j, 0
	k = j
	for s := 1; s <= steps && quiet < 2; s++ {
		hi := edge + int64(s)*step
		n := 0
		for k < len(ts) && ts[k] <= hi {
			k++
			n++
		}
		if float64(n) >= need {
			best, quiet = k, 0
		} else {
			quiet++
		}
	}
	return i, best
}

// explained reports whether pair i's uptime falls in an uptime cluster its
// computer belongs to (members[k][host] for cluster k).
func (a *analyzer) explained(i int, members [][]bool) bool {
	p := &a.pairs[i]
	if p.Uptime <= 0 {
		return false
	}
	s := p.Uptime.Seconds()
	h := a.pairHost[i]
	for k, c := range a.upClusters {
		if members[k] != nil && members[k][h] && c.contains(s) {
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
