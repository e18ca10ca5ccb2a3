package analysis

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Cluster kinds.
const (
	ClusterUptime   = "uptime"
	ClusterDowntime = "downtime"
)

// cpoint is one interval on the log-time axis.
type cpoint struct {
	x    float64 // ln(seconds)
	sec  float64
	host int32
	pair int32
}

// cluster is a dense group of intervals.
type cluster struct {
	kind       string
	pts        []cpoint // members, sorted by value
	hosts      []int32  // computers whose own intervals support the cluster
	hostIn     []int32  // intervals per computer (indexed by host)
	center     float64  // median
	lo, hi     float64  // edges
	p02        float64  // lower envelope
	p10, p90   float64
	regularity float64 // share of the supporting computers' intervals inside
}

// relWidth is the robust relative width (p90-p10)/median.
func (c *cluster) relWidth() float64 { return (c.p90 - c.p10) / c.center }

func (c *cluster) contains(sec float64) bool { return sec >= c.lo && sec <= c.hi }

func (c *cluster) report(a *analyzer) Cluster {
	return Cluster{
		Kind:          c.kind,
		CenterSeconds: round1(c.center),
		LowSeconds:    round1(c.lo),
		HighSeconds:   round1(c.hi),
		SpreadSeconds: round1(c.p90 - c.p10),
		OnsetSeconds:  round1(c.p02),
		Intervals:     len(c.pts),
		Computers:     a.hostNames(c.hosts),
	}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// quantile of sorted values (linear interpolation).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

// Density clustering on the log-time axis.
//
// Every interval gets a density: the number of intervals within ±tol
// (relative) of it, i.e. within ±ln(1+tol) on the log axis — a sliding
// window centred on each point, so no fixed bin can split a cluster. Peaks
// are taken in order of density; each grows to both sides while the
// neighbours stay dense (at least relFloor of the peak's density and
// chained within the window) and stops at a valley when the density rises
// again towards another peak. A device's timeout makes a sharp, dense peak;
// user activity adds a sparse tail above it that the density floor leaves
// out; random disconnects spread thin over decades and form no peak.
const (
	relFloor = 0.05 // a member is at least this fraction as dense as its peak
	minPeak  = 3    // a peak needs this many neighbours
)

// findClusters finds the clusters of pts, which must be sorted by value
// (ties in a fixed order, see pointKeys).
func findClusters(pts []cpoint, kind string, o Options, reqComputers int, hostTotals []int32) []*cluster {
	if len(pts) == 0 {
		return nil
	}
	n := len(pts)
	eps := math.Log1p(o.ClusterTolerance)
	dens := make([]int32, n)
	lo, hi := 0, 0
	for i := range pts {
		for pts[lo].x < pts[i].x-eps {
			lo++
		}
		for hi < n && pts[hi].x <= pts[i].x+eps {
			hi++
		}
		dens[i] = int32(hi - lo)
	}
	// Peaks in order of density (densest first, then lowest value): one
	// sort of packed integers, not a sort with a comparison function.
	maxD := slices.Max(dens)
	order := make([]uint64, n)
	for i := range order {
		order[i] = uint64(maxD-dens[i])<<32 | uint64(i)
	}
	radixSort(order)
	assigned := make([]bool, n)
	var out []*cluster
	for _, pk := range order {
		p := int(uint32(pk))
		if assigned[p] {
			continue
		}
		peak := dens[p]
		if peak < minPeak {
			break
		}
		floor := max(int32(minPeak), int32(math.Ceil(relFloor*float64(peak))))
		l := grow(pts, dens, assigned, p, -1, eps, floor, peak)
		r := grow(pts, dens, assigned, p, +1, eps, floor, peak)
		for j := l; j <= r; j++ {
			assigned[j] = true
		}
		if r-l+1 < o.MinIntervals {
			continue
		}
		c := newCluster(kind, pts[l:r+1], o, hostTotals)
		if len(c.hosts) < reqComputers || !standsOut(pts, l, r, eps) {
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *cluster) int { return cmp.Compare(a.center, b.center) })
	return out
}

// standsOut reports whether the cluster pts[l..r] is a concentration and
// not a bump in a continuum: it must hold at least 4 times as many
// intervals as the sparser of its two flanks of the same width on the log
// axis (plus counting noise). A device timeout is a spike among sparse
// neighbours; random disconnects spread smoothly over decades and have
// dense flanks on both sides. (The sparser flank, because a neighbouring
// site's cluster may sit on the other.)
func standsOut(pts []cpoint, l, r int, eps float64) bool {
	w := max(pts[r].x-pts[l].x, 2*eps)
	lo, hi := pts[l].x-w, pts[r].x+w
	left := l - lowerBound(pts, lo)
	right := lowerBound(pts, math.Nextafter(hi, math.Inf(1))) - (r + 1)
	f := float64(min(left, right))
	return float64(r-l+1) >= 4*f+4*math.Sqrt(f+1)
}

// lowerBound is the first index with x >= v.
func lowerBound(pts []cpoint, v float64) int {
	i, _ := slices.BinarySearchFunc(pts, v, func(p cpoint, v float64) int { return cmp.Compare(p.x, v) })
	return i
}

// pointKeys collects intervals as sortable keys: microseconds in the high
// bits, the pair index in the low ones, so that one integer sort orders
// them by value and ties by pair (pairs are in a canonical order, so the
// result does not depend on input order).
type pointKeys struct {
	keys []uint64
}

const idxBits = 26 // pair index bits: 67 M pairs

// maxKeyMicros: intervals of 76 hours and more are never cluster material.
const maxKeyMicros = 1 << (64 - idxBits)

func (pk *pointKeys) add(d time.Duration, pair int) {
	us := uint64(d / time.Microsecond)
	if us == 0 || us >= maxKeyMicros || pair >= 1<<idxBits {
		return
	}
	pk.keys = append(pk.keys, us<<idxBits|uint64(pair))
}

// points sorts the keys and returns the intervals in order.
func (pk *pointKeys) points(pairHost []int32) []cpoint {
	radixSort(pk.keys)
	out := make([]cpoint, len(pk.keys))
	for k, key := range pk.keys {
		sec := float64(key>>idxBits) / 1e6
		pair := int32(key & (1<<idxBits - 1))
		out[k] = cpoint{x: math.Log(sec), sec: sec, host: pairHost[pair], pair: pair}
	}
	return out
}

// grow extends a peak in direction dir and returns the last index taken.
func grow(pts []cpoint, dens []int32, assigned []bool, p, dir int, eps float64, floor, peak int32) int {
	j := p
	minD, minJ := peak, p
	for {
		k := j + dir
		if k < 0 || k >= len(pts) || assigned[k] || dens[k] < floor {
			return j
		}
		if math.Abs(pts[k].x-pts[j].x) > eps {
			return j
		}
		d := dens[k]
		// A valley: the density fell well below the peak and is rising
		// again (beyond counting noise) towards another peak.
		if float64(minD) < 0.6*float64(peak) && float64(d) > 1.5*float64(minD)+3*math.Sqrt(float64(minD))+3 {
			return minJ
		}
		if d < minD {
			minD, minJ = d, k
		}
		j = k
	}
}

func newCluster(kind string, members []cpoint, o Options, hostTotals []int32) *cluster {
	c := &cluster{kind: kind, pts: members, hostIn: make([]int32, len(hostTotals))}
	secs := make([]float64, len(members))
	for i, m := range members {
		secs[i] = m.sec
		c.hostIn[m.host]++
	}
	// members are sorted by value already
	c.lo, c.hi = secs[0], secs[len(secs)-1]
	c.center = quantile(secs, 0.5)
	c.p02 = quantile(secs, 0.02)
	c.p10 = quantile(secs, 0.10)
	c.p90 = quantile(secs, 0.90)
	var in, total int
	for h, k32 := range c.hostIn {
		k, t := int(k32), int(hostTotals[h])
		// A computer belongs to the cluster its own intervals support:
		// at least MinHostIntervals of them, and a fifth of all it has.
		if k > 0 && k >= o.MinHostIntervals && 5*k >= t {
			c.hosts = append(c.hosts, int32(h))
			in += k
			total += t
		}
	}
	slices.Sort(c.hosts)
	if total > 0 {
		c.regularity = float64(in) / float64(total)
	}
	return c
}
