package analysis

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"
)

// Cluster kinds.
const (
	ClusterUptime   = "uptime"
	ClusterDowntime = "downtime"
)

// cpoint is one interval on the log-time axis: its logarithm, its key
// (see pointKeys), which holds its value and its pair, and its computer
// (24 bytes: a fleet's intervals are sorted anew at every update).
type cpoint struct {
	x    float64 // ln(seconds)
	key  uint64
	host int32
	sess uint32 // the pair's pairRef.sess
}

// sec is the interval in seconds.
func (p cpoint) sec() float64 { return float64(p.key>>idxBits) / 1e6 }

// pair is the index of the interval's pair.
func (p cpoint) pair() int32 { return int32(p.key & (1<<idxBits - 1)) }

// memberPoint is an interval of a cluster's member: what the diagnoses
// read of it (16 bytes; a cluster may hold millions).
type memberPoint struct {
	sec  float64
	host int32
	pair int32
}

// cluster is a concentration of intervals near one value and the
// computers whose own intervals repeat there.
type cluster struct {
	kind       string
	win        peakWindow
	pts        []memberPoint // the members' intervals in the window, sorted by value (uptimes only: see buildClusters)
	n          int           // how many intervals the members have in the window
	hosts      []int32       // member computers, sorted
	alsoSeen   []int32       // computers with intervals in the window but too few to name
	center     float64       // median
	lo, hi     float64       // edges
	p02        float64       // lower envelope
	p10, p90   float64
	background float64 // intervals the local background puts in the window
}

// relWidth is the robust relative width (p90-p10)/median.
func (c *cluster) relWidth() float64 { return (c.p90 - c.p10) / c.center }

// regular reports whether the cluster is sharp enough to be a device's
// timeout (see maxSpread).
func (c *cluster) regular() bool {
	return c.p90-c.p10 <= maxSpread || c.relWidth() <= maxRelWidth
}

func (c *cluster) contains(sec float64) bool { return sec >= c.lo && sec <= c.hi }

func (c *cluster) report(a *analyzer) Cluster {
	return Cluster{
		Kind:          c.kind,
		CenterSeconds: round1(c.center),
		LowSeconds:    round1(c.lo),
		HighSeconds:   round1(c.hi),
		SpreadSeconds: round1(c.p90 - c.p10),
		OnsetSeconds:  round1(c.p02),
		Intervals:     c.n,
		Computers:     a.hostNames(c.hosts),
	}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// quantile of sorted values (linear interpolation).
func quantile(sorted []float64, q float64) float64 {
	return quantileAt(len(sorted), func(i int) float64 { return sorted[i] }, q)
}

// quantileAt is quantile of the n sorted values at(0) … at(n-1).
func quantileAt(n int, at func(int) float64, q float64) float64 {
	if n == 0 {
		return 0
	}
	pos := q * float64(n-1)
	i := int(pos)
	if i >= n-1 {
		return at(n - 1)
	}
	f := pos - float64(i)
	return at(i)*(1-f) + at(i+1)*f
}

// Peak detection on the log-time axis.
//
// A device's timeout is a narrow excess of intervals over a local
// background, and that background can be dense: busy users' connections
// die at the first idle gap of at least T, so most lifetimes spread above
// T; a silent drop noticed at the user's next click spreads disconnects
// below the keep-alive; laptops' sleeps spread everywhere. A computer with
// 20 uptimes at T among 150 is still behind the device (DOMAIN §7).
//
// So every interval starts windows [x, x+s] of each width s of peakScales
// (0.5 % to 16 %, for sharp resets, late sweep timers and keep-alive
// retransmissions alike), and each window is held against its two flanks,
// each flankWidths windows wide. The background is the denser flank's rate:
// a peak stands out on both sides, while the lower edge of a broad spread
// (a step, e.g. where user-noticed silent drops begin) has a dense side.
// A window is a candidate when it holds at least MinIntervals intervals,
// peakRatio times its background, and more than a Poisson background makes
// plausible at peakAlpha (never taking less than bgFloor intervals as the
// background, so that six clear repeats are enough where nothing else
// lies). Of overlapping candidates of one width the strongest (likelihood
// ratio) is kept; across widths the strongest are taken first and those
// overlapping a window already taken are dropped.
var peakScales = [...]float64{0.005, 0.01, 0.02, 0.04, 0.08, 0.16}

const (
	flankWidths = 2.0
	peakRatio   = 1.5
	peakAlpha   = 1e-5
	bgFloor     = 0.5
	// minWindowSeconds is the least width of a window: sources with 1 s
	// precision put intervals on whole seconds.
	minWindowSeconds = 3.5
	// A computer's intervals count as in a window when they lie within
	// memberMargin of its width (at least memberMarginMin seconds) of it:
	// the strongest window may cut a peak's edge.
	memberMargin    = 0.1
	memberMarginMin = 1.0
	// hostFlank: a computer's own background is counted over flanks of
	// this many window widths on each side (at least hostFlankMin on the
	// log axis), wider than the fleet's because one computer has few.
	hostFlank = 2.0
	// memberFDR is the share of a cluster's computers that may be there by
	// chance (see buildClusters).
	memberFDR    = 0.25
	hostFlankMin = 0.005
)

// peakWindow is a window of intervals that stands out from its flanks.
type peakWindow struct {
	lo, hi float64 // seconds, the first and last interval in it
	n      int
	mu     float64 // background intervals expected in the window
	llr    float64 // likelihood ratio of n against mu
	l, r   int     // indexes of the first and last interval (of findPeaks' input)
	w      float64 // width on the log axis the window was found at
}

// coreOf returns the strongest candidate strictly inside c that holds at
// least coreShare of c's excess over its background.
func coreOf(c peakWindow, cands []peakWindow) (peakWindow, bool) {
	for _, o := range cands { // strongest first
		if o.l < c.l || o.r > c.r || (o.l == c.l && o.r == c.r) || o.w >= c.w {
			continue
		}
		if float64(o.n)-o.mu >= coreShare*(float64(c.n)-c.mu) {
			return o, true
		}
	}
	return peakWindow{}, false
}

// coreShare: see coreOf.
const coreShare = 0.7

// valleySplit returns the strongest disjoint candidates inside c when
// there are two or more and, between each neighbouring two, the intervals
// are sparser than a third of the sparser of the two: c then spans several
// peaks. Otherwise (one peak, or fluctuations in a broad one) it returns
// nil.
func valleySplit(pts []cpoint, c peakWindow, cands []peakWindow) []peakWindow {
	var inner []peakWindow
	for _, o := range cands { // strongest first
		if o.l < c.l || o.r > c.r || (o.l == c.l && o.r == c.r) {
			continue
		}
		overlap := false
		for _, in := range inner {
			if o.l <= in.r && o.r >= in.l {
				overlap = true
				break
			}
		}
		if !overlap {
			inner = append(inner, o)
		}
	}
	if len(inner) < 2 {
		return nil
	}
	byPos := slices.Clone(inner)
	slices.SortFunc(byPos, func(a, b peakWindow) int { return cmp.Compare(a.l, b.l) })
	density := func(l, r int) float64 { // intervals per unit of log time in pts[l..r]
		return float64(r-l+1) / max(pts[r].x-pts[l].x, 1e-3)
	}
	for i := 1; i < len(byPos); i++ {
		a, b := byPos[i-1], byPos[i]
		gap := float64(b.l-a.r-1) / max(pts[b.l].x-pts[a.r].x, 1e-3)
		if gap >= min(density(a.l, a.r), density(b.l, b.r))/3 {
			return nil
		}
	}
	return inner
}

// extendPeak widens a window over the soft edges of its peak: the
// strongest window is the peak's core, and intervals measured to the whole
// second (or a computer's late timer) blur the edges. Up to two steps of
// half its width on each side are taken while they hold at least twice
// what the background puts there (and two intervals), without reaching
// into a window already taken.
func extendPeak(pts []cpoint, c peakWindow, taken []peakWindow) peakWindow {
	step := c.w / 2
	need := max(2, 2*c.mu*step/c.w)
	free := func(i int) bool {
		for _, t := range taken {
			if i >= t.l && i <= t.r {
				return false
			}
		}
		return true
	}
	for range 2 {
		l := lowerBound(pts, pts[c.l].x-step)
		if float64(c.l-l) < need || !free(l) {
			break
		}
		c.l = l
	}
	for range 2 {
		r := upperBound(pts, pts[c.r].x+step) - 1
		if float64(r-c.r) < need || !free(r) {
			break
		}
		c.r = r
	}
	c.lo, c.hi = pts[c.l].sec(), pts[c.r].sec()
	return c
}

// scanPeaks returns the candidate windows of width s (see findPeaks).
func scanPeaks(pts []cpoint, s float64, minIntervals int) []peakWindow {
	n := len(pts)
	// Poisson thresholds by 4·mu rounded up (a slice: this is the inner
	// loop); past 200 the normal approximation is direct.
	var thresholds []int32
	threshold := func(mu float64) int {
		if mu > 200 {
			return poissonThreshold(mu, peakAlpha)
		}
		key := int(math.Ceil(mu * 4))
		for len(thresholds) <= key {
			thresholds = append(thresholds, -1)
		}
		if thresholds[key] < 0 {
			thresholds[key] = int32(poissonThreshold(float64(key)/4, peakAlpha))
		}
		return int(thresholds[key])
	}
	// The least window width at an interval of sec seconds is
	// log1p(minWindowSeconds/sec); it exceeds s only below about
	// minWindowSeconds/expm1(s) seconds (with a margin for rounding: the
	// logarithm decides near the edge).
	narrow := minWindowSeconds / math.Expm1(s) * (1 + 1e-9)
	var cands []peakWindow
	j, lf, rf := 0, 0, 0
	var best peakWindow
	have, runEnd := false, -1
	// In a dense region neighbouring windows differ by a point or
	// two: stride over anchors by a sixteenth of the last window's
	// count (extendPeak restores the edges).
	stride := 1
	for i := 0; i < n; i += stride {
		x := pts[i].x
		// Never narrower than the coarsest source precision (1 s), or
		// the whole seconds of Event Viewer CSV would be peaks.
		w := s
		if sec := pts[i].sec(); sec < narrow {
			w = max(s, math.Log1p(minWindowSeconds/sec))
		}
		j = max(j, i)
		// Half-open: [x, x+w) and flanks [x-2w, x), [x+w, x+3w).
		for j+1 < n && pts[j+1].x < x+w {
			j++
		}
		for pts[lf].x < x-flankWidths*w {
			lf++
		}
		// The flank's end, ln(sec) + 3w, falls as sec grows while w
		// is held at minWindowSeconds: the pointer may step back.
		rf = max(rf, j+1)
		for rf < n && pts[rf].x < x+w+flankWidths*w {
			rf++
		}
		for rf > j+1 && pts[rf-1].x >= x+w+flankWidths*w {
			rf--
		}
		if i > runEnd && have {
			cands = append(cands, best)
			have = false
		}
		k := j - i + 1
		stride = max(1, k/16)
		if k < minIntervals {
			continue
		}
		// The floor grows with the width: a wide window must hold
		// more than a narrow one to stand out of nothing.
		mu := max(float64(max(i-lf, rf-j-1))/flankWidths, bgFloor*w/peakScales[0])
		fk := float64(k)
		if fk < peakRatio*mu || k < threshold(mu) {
			continue
		}
		llr := fk*math.Log(fk/mu) - (fk - mu)
		if !have || llr > best.llr {
			best = peakWindow{lo: pts[i].sec(), hi: pts[j].sec(), n: k, mu: mu, llr: llr, l: i, r: j, w: w}
			have = true
		}
		runEnd = max(runEnd, j)
	}
	if have {
		cands = append(cands, best)
	}
	return cands
}

// findPeaks returns the windows of pts (sorted by value, ties in a fixed
// order, see pointKeys) that stand out, sorted by value.
func findPeaks(pts []cpoint, minIntervals int) []peakWindow {
	n := len(pts)
	if n < minIntervals {
		return nil
	}
	// The widths are scanned at once, each on its own (one per core when
	// cores are free; an update's fleet-wide stage waits for them), and
	// their candidates are taken in the order of the widths.
	perScale := make([][]peakWindow, len(peakScales))
	var wg sync.WaitGroup
	for k, s := range peakScales {
		if n < 1<<14 { // small: not worth a goroutine
			perScale[k] = scanPeaks(pts, s, minIntervals)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			perScale[k] = scanPeaks(pts, s, minIntervals)
		}()
	}
	wg.Wait()
	var cands []peakWindow
	for _, c := range perScale {
		cands = append(cands, c...)
	}
	slices.SortStableFunc(cands, func(a, b peakWindow) int {
		if c := cmp.Compare(b.llr, a.llr); c != 0 {
			return c
		}
		if c := cmp.Compare(a.l, b.l); c != 0 {
			return c
		}
		return cmp.Compare(a.r, b.r)
	})
	var out []peakWindow
	var take func(c peakWindow)
	take = func(c peakWindow) {
		for _, o := range out {
			if c.l <= o.r && c.r >= o.l {
				return
			}
		}
		// A wide window over two peaks with a valley between them (two
		// devices' timeouts a few per cent apart) gives way to the peaks.
		if inner := valleySplit(pts, c, cands); inner != nil {
			for _, in := range inner {
				take(in)
			}
			return
		}
		// A wide window over a peak and the dense spread beside it (a
		// silent drop's keep-alive peak and the users' noticing before
		// it, a reset peak and the busy users' tail) gives way to the
		// narrower window inside it that holds most of its excess.
		if in, ok := coreOf(c, cands); ok {
			take(in)
			return
		}
		out = append(out, extendPeak(pts, c, out))
	}
	for _, c := range cands {
		take(c)
	}
	slices.SortFunc(out, func(a, b peakWindow) int { return cmp.Compare(a.lo, b.lo) })
	return out
}

// lowerBound is the first index with x >= v.
func lowerBound(pts []cpoint, v float64) int {
	i, _ := slices.BinarySearchFunc(pts, v, func(p cpoint, v float64) int { return cmp.Compare(p.x, v) })
	return i
}

// upperBound is the first index with x > v.
func upperBound(pts []cpoint, v float64) int {
	return lowerBound(pts, math.Nextafter(v, math.Inf(1)))
}

// pointKeys collects intervals as sortable keys: microseconds in the high
// bits, the pair index in the low ones, so that one integer sort orders
// them by value and ties by pair (pairs are in a canonical order, so the
// result does not depend on input order). Keys are added in pair order,
// so sorting by the microseconds alone (stable) orders the ties.
type pointKeys struct {
	keys []uint64
}

const idxBits = 26 // pair index bits: 67 M pairs

// maxKeyMicros: intervals of 76 hours and more are never cluster material.
const maxKeyMicros = 1 << (64 - idxBits)

// add adds the interval d of pair, and reports whether it is one a key
// holds (see counts).
func (pk *pointKeys) add(d time.Duration, pair int) bool {
	if !pk.counts(d, pair) {
		return false
	}
	pk.keys = append(pk.keys, uint64(d/time.Microsecond)<<idxBits|uint64(pair))
	return true
}

// counts reports whether a key can hold the interval d of pair: at least
// a microsecond, under maxKeyMicros, and the pair within idxBits.
func (pk *pointKeys) counts(d time.Duration, pair int) bool {
	us := uint64(d / time.Microsecond)
	return us != 0 && us < maxKeyMicros && pair < 1<<idxBits
}

// buildClusters turns peak windows into clusters over pts (the intervals
// that count, sorted): which computers repeat at each window, and which
// were only seen there.
//
// One computer can sit behind two devices (a laptop in the office on some
// days, at home over a VPN on others, on fixed weekdays: DOMAIN §7), but
// within one session (a working day: see Options.SessionGap) it is on one
// path, so one device's timeout shows. A computer's intervals in a window
// count only from the sessions, and the weekdays, in which no other window
// holds more of its intervals; the others are coincidences of its
// background.
//
// A computer belongs to a cluster when at least MinHostIntervals of its
// intervals fall in the window and they stand out from its own background
// there (its intervals on the window's flanks, scaled to the window): k ≥
// 2·μ + 1, i.e. its repeats outnumber what its background would put in the
// window. A cluster needs reqComputers such computers and MinIntervals of
// their intervals.
func (a *analyzer) buildClusters(kind string, pts []cpoint, wins []peakWindow, reqComputers int) []*cluster {
	if len(wins) == 0 {
		return nil
	}
	wins = slices.Clone(wins)
	ranges := make([][2]int, len(wins))
	for w := range wins {
		win := &wins[w]
		m := max(memberMarginMin, memberMargin*(win.hi-win.lo))
		win.lo, win.hi = max(win.lo-m, 0), win.hi+m
		ranges[w] = [2]int{lowerBound(pts, math.Log(win.lo)), upperBound(pts, math.Log(win.hi))}
	}
	// Session majority: a computer with intervals in more than one window
	// counts, in each, only the intervals of its sessions (and weekdays)
	// that no other window holds more of. Per session and per (computer,
	// weekday): the most intervals any window holds (most), and while a
	// window is looked at, its own (here).
	var maj *majority
	if len(wins) > 1 {
		inWin := make([]int32, len(a.hosts)) // last window seen + 1, or -1: several
		for w, rg := range ranges {
			for _, p := range pts[rg[0]:rg[1]] {
				switch inWin[p.host] {
				case 0:
					inWin[p.host] = int32(w) + 1
				case int32(w) + 1, -1:
				default:
					inWin[p.host] = -1
				}
			}
		}
		maj = a.newMajority(inWin, pts, ranges)
		for w := range ranges {
			maj.count(w, 1)
			maj.keepMost(w)
			maj.count(w, 0)
		}
	}
	// Per-computer counts in the window and on its flanks, in slices
	// indexed by computer and cleared through the list of those touched.
	counts := make([]int32, len(a.hosts))
	flank := make([]int32, len(a.hosts))
	var touched []int32
	touch := func(h int32) {
		if counts[h] == 0 && flank[h] == 0 {
			touched = append(touched, h)
		}
	}
	var out []*cluster
	for w, rg := range ranges {
		win := wins[w]
		for _, h := range touched {
			counts[h], flank[h] = 0, 0
		}
		touched = touched[:0]
		// The window's intervals that count: not held more by another
		// window (the majority's counts of w stay set until w is done).
		counted := func(k int) bool { return maj == nil || !maj.elsewhere(w, k) }
		if maj != nil {
			maj.count(w, 1)
		}
		done := func() {
			if maj != nil {
				maj.count(w, 0)
			}
		}
		for k, p := range pts[rg[0]:rg[1]] {
			if !counted(k) {
				continue
			}
			touch(p.host)
			counts[p.host]++
		}
		lx, hx := math.Log(win.lo), math.Log(win.hi)
		fw := hostFlank * max(hx-lx, hostFlankMin)
		for _, p := range pts[lowerBound(pts, lx-fw):rg[0]] {
			touch(p.host)
			flank[p.host]++
		}
		for _, p := range pts[rg[1]:upperBound(pts, hx+fw)] {
			touch(p.host)
			flank[p.host]++
		}
		c := &cluster{kind: kind, win: win, background: win.mu}
		// Each computer's own background in the window: its intervals on
		// the flanks scaled to the window's width, at least half the
		// average computer's (one computer has few).
		ftot := 0
		var hosts []int32 // with intervals in the window
		for _, h := range touched {
			ftot += int(flank[h])
			if counts[h] > 0 {
				hosts = append(hosts, h)
			}
		}
		slices.Sort(hosts)
		nh := len(touched)
		scale := max(hx-lx, hostFlankMin) / (2 * fw)
		floor := max(0.02, 0.5*float64(ftot)*scale/float64(nh))
		// A computer with a couple of background intervals in the window
		// looks like one that repeats there, and a large fleet has many.
		// So each computer's repeats are tested against its background
		// (P(Poisson(μ) ≥ k)), and the computers are taken by the
		// Benjamini–Hochberg rule: at most memberFDR of them by chance.
		type test struct {
			h int32
			p float64
		}
		tests := make([]test, 0, len(hosts))
		for _, h := range hosts {
			mu := max(float64(flank[h])*scale, floor)
			tests = append(tests, test{h, poissonTail(mu, int(counts[h]))})
		}
		slices.SortStableFunc(tests, func(x, y test) int { return cmp.Compare(x.p, y.p) })
		cut := 0
		for i, t := range tests {
			if t.p <= memberFDR*float64(i+1)/float64(len(tests)) {
				cut = i + 1
			}
		}
		member := a.marks() // cleared below
		for i, t := range tests {
			// Past the test, a computer whose repeats clearly outnumber its
			// background (a busy user behind a silent drop has plenty of
			// both) is a member too.
			k, mu := float64(counts[t.h]), max(float64(flank[t.h])*scale, floor)
			clear := k >= 2*mu+1 && k >= mu+3 && k >= 4
			if (i < cut || clear) && int(counts[t.h]) >= a.o.MinHostIntervals {
				member[t.h] = true
				c.hosts = append(c.hosts, t.h)
			} else {
				c.alsoSeen = append(c.alsoSeen, t.h)
			}
		}
		slices.Sort(c.hosts)
		slices.Sort(c.alsoSeen)
		nm := 0
		for k, p := range pts[rg[0]:rg[1]] {
			if member[p.host] && counted(k) {
				nm++
			}
		}
		if len(c.hosts) < reqComputers || nm < a.o.MinIntervals {
			a.unmark(c.hosts)
			done()
			continue
		}
		taken := a.sc.mark()
		c.pts = a.sc.takeMembers(nm) // members' intervals only
		for k, p := range pts[rg[0]:rg[1]] {
			if member[p.host] && counted(k) {
				c.pts = append(c.pts, memberPoint{sec: p.sec(), host: p.host, pair: p.pair()})
			}
		}
		a.unmark(c.hosts)
		done()
		sec := func(i int) float64 { return c.pts[i].sec }
		c.lo, c.hi = c.pts[0].sec, c.pts[len(c.pts)-1].sec
		c.center = quantileAt(len(c.pts), sec, 0.5)
		c.p02 = quantileAt(len(c.pts), sec, 0.02)
		c.p10 = quantileAt(len(c.pts), sec, 0.10)
		c.p90 = quantileAt(len(c.pts), sec, 0.90)
		c.n = len(c.pts)
		if kind == ClusterDowntime { // the diagnoses read only the uptime clusters' intervals
			c.pts = nil
			a.sc.release(taken)
		}
		out = append(out, c)
	}
	return out
}

// majority holds, for the computers with intervals in several windows
// (multi), per session and per (computer, weekday): the most intervals one
// window holds, and the current window's — in flat slices, not maps (a
// large fleet has hundreds of thousands of sessions). The keys of each
// window's intervals are looked up once (the windows are walked several
// times, and the lookups are random reads of fleet-sized slices), into
// the scratch when there is one.
type majority struct {
	keys     [][]majKey // per window, per interval in its range
	sessMost []int32    // per session (analyzer.session)
	sessHere []int32
	wdayMost []int32 // per computer in several windows·7 + weekday
	wdayHere []int32
}

// majKey is an interval's session and (computer, weekday) slot; sess < 0
// for a computer in one window only (it needs no majority).
type majKey struct{ sess, wday int32 }

// newMajority numbers the computers multi marks -1 (in several windows) in
// place, the others -1, and looks up the keys of the windows' intervals.
func (a *analyzer) newMajority(multi []int32, pts []cpoint, ranges [][2]int) *majority {
	// The computers in several windows, numbered: the weekday slots are
	// theirs only (a large fleet has a million computers, few of them in
	// several windows).
	n := int32(0)
	for h, w := range multi {
		if w == -1 {
			multi[h] = n
			n++
		} else {
			multi[h] = -1
		}
	}
	m := &majority{keys: make([][]majKey, len(ranges)),
		wdayMost: make([]int32, 7*n), wdayHere: make([]int32, 7*n)}
	m.sessMost, m.sessHere = a.sc.counts(int(a.nSessions))
	total := 0
	for _, rg := range ranges {
		total += rg[1] - rg[0]
	}
	all := a.sc.majKeys(total)
	packed := a.sessPacked()
	for w, rg := range ranges {
		ks := all[: rg[1]-rg[0] : rg[1]-rg[0]]
		all = all[len(ks):]
		for k, p := range pts[rg[0]:rg[1]] {
			mi := multi[p.host]
			switch {
			case mi >= 0 && packed:
				ks[k] = majKey{int32(p.sess >> 3), 7*mi + int32(p.sess&7)}
			case mi >= 0:
				pair := p.pair()
				c := &a.tab.hosts[p.host].cps[pair-a.tab.off[p.host]]
				ks[k] = majKey{a.sessBase[p.host] + int32(c.session), 7*mi + int32(c.weekday)}
			default:
				ks[k] = majKey{-1, -1}
			}
		}
		m.keys[w] = ks
	}
	return m
}

// count adds window w's intervals (set 1) to the current window's counts,
// or clears them (set 0).
func (m *majority) count(w int, set int32) {
	for _, k := range m.keys[w] {
		if k.sess < 0 {
			continue
		}
		if set == 0 {
			m.sessHere[k.sess], m.wdayHere[k.wday] = 0, 0
		} else {
			m.sessHere[k.sess]++
			m.wdayHere[k.wday]++
		}
	}
}

// keepMost raises the most-counts to the current window's (w's).
func (m *majority) keepMost(w int) {
	for _, k := range m.keys[w] {
		if k.sess < 0 {
			continue
		}
		m.sessMost[k.sess] = max(m.sessMost[k.sess], m.sessHere[k.sess])
		m.wdayMost[k.wday] = max(m.wdayMost[k.wday], m.wdayHere[k.wday])
	}
}

// elsewhere reports whether another window holds more of the session's,
// or of the computer's weekday's, intervals of interval i of window w
// than w does.
func (m *majority) elsewhere(w, i int) bool {
	k := m.keys[w][i]
	return k.sess >= 0 && (m.sessMost[k.sess] > m.sessHere[k.sess] || m.wdayMost[k.wday] > m.wdayHere[k.wday])
}

// poissonTail is P(X ≥ k) for X ~ Poisson(mu).
func poissonTail(mu float64, k int) float64 {
	if k <= 0 {
		return 1
	}
	if mu <= 0 {
		return 0
	}
	p := math.Exp(-mu)
	cdf := 0.0
	for i := 0; i < k; i++ {
		cdf += p
		p *= mu / float64(i+1)
	}
	return math.Max(0, 1-cdf)
}
