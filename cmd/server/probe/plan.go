package probe

import (
	"math"
	"time"
)

// minAutoResolution is the floor of the default resolution: finer than a
// few seconds says nothing more about which device it is.
const minAutoResolution = 5 * time.Second

// resolutionAt is the bracket width a probe stops at when the longest
// survivor is aliveMax seconds: fixed when the user gave one, else 1 % of
// the timeout (of the bracket's lower edge, so it only shrinks as the
// bracket narrows) but at least 5 s. 300 s ± 2.5 s tells an F5 from an
// AWS NLB at 350 s.
func resolutionAt(fixed time.Duration, aliveMax float64) float64 {
	if fixed > 0 {
		return fixed.Seconds()
	}
	return math.Max(0.01*aliveMax, minAutoResolution.Seconds())
}

// spread gives the idle times of the first round: n durations on a
// geometric scale from first to max, max last. A geometric scale spends as
// many connections between 60 s and 600 s as between 600 s and 6000 s,
// which suits device defaults spread from 60 s to 9000 s (DOMAIN §2).
func spread(first, max time.Duration, n int) []time.Duration {
	if n < 2 || first <= 0 || first >= max {
		return []time.Duration{max}
	}
	out := make([]time.Duration, n)
	ratio := math.Pow(float64(max)/float64(first), 1/float64(n-1))
	for i := range out {
		out[i] = time.Duration(float64(first) * math.Pow(ratio, float64(i)))
	}
	out[n-1] = max
	return out
}

// firstIdle is the shortest idle time of the first round: a thousandth of
// max, but not below the resolution (shorter says nothing new).
func firstIdle(max, fixedRes time.Duration, n int) time.Duration {
	floor := fixedRes
	if floor <= 0 {
		floor = minAutoResolution
	}
	d := max / 1000
	if d < floor {
		d = floor
	}
	if 2*d > max {
		d = max / time.Duration(n)
	}
	return d
}

// refine gives the idle times of a refinement round between the longest
// survivor a and the shortest death b (seconds): evenly spaced inside the
// bracket, as few as leave every gap within res, at most n. The gaps aim at
// 90 % of res: a connection is used a little after its planned time, and
// a gap of exactly res would often end up just over it.
func refine(a, b, res float64, n int) []time.Duration {
	k := int(math.Ceil((b-a)/(0.9*res))) - 1
	if k > n {
		k = n
	}
	if k < 1 {
		k = 1
	}
	out := make([]time.Duration, k)
	for i := range out {
		s := a + (b-a)*float64(i+1)/float64(k+1)
		out[i] = time.Duration(s * float64(time.Second))
	}
	return out
}

// bracket is what the connections so far say about the timeout.
type bracket struct {
	aliveMax float64 // longest idle time a connection survived, below deadMin
	deadMin  float64 // shortest idle time after which a connection was dead
	hasDead  bool
	deadEnd  string // how the connection at deadMin ended
	deadSeen string // and when that was seen: DetectedIdle or DetectedUse
	// contrary counts survivors idle longer than deadMin: the path is not
	// consistent (a shared device pool, or a death not caused by idling).
	contrary int
}

// bracketOf computes the bracket of a set of connections. A connection is
// alive at idle 0 once it answered the opening request, so aliveMax is at
// least 0.
func bracketOf(conns []Connection) bracket {
	var b bracket
	for _, c := range conns {
		if dead(c.End) && (!b.hasDead || c.IdleSeconds < b.deadMin) {
			b.deadMin, b.deadEnd, b.deadSeen, b.hasDead = c.IdleSeconds, c.End, c.Detected, true
		}
	}
	for _, c := range conns {
		if c.End != EndAlive {
			continue
		}
		if b.hasDead && c.IdleSeconds >= b.deadMin {
			b.contrary++
			continue
		}
		b.aliveMax = math.Max(b.aliveMax, c.IdleSeconds)
	}
	return b
}

// width is the bracket's width in seconds.
func (b bracket) width() float64 { return b.deadMin - b.aliveMax }

// drop is the drop kind the bracket says.
func (b bracket) drop() string {
	switch {
	case !b.hasDead:
		return DropNone
	case b.deadEnd == EndSilent:
		return DropSilent
	}
	return DropReset
}
