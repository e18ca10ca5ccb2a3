package analysis

import "unsafe"

// scratch is the fleet-sized working memory of the fleet-wide stage: the
// arrays an update needs while it runs and its Result does not keep. An
// Incremental hands the same scratch to each of its Results, so an update
// allocates about what its Result holds, not five times that: at 10 M
// events the arrays are some 500 MiB an update, which the collector had
// to find and free again (and, near the memory limit, hand back to the
// system and fault in again) while the requests waited.
//
// Nothing in a Result points into a scratch; none of it holds pointers,
// so the collector does not scan it. A nil *scratch allocates afresh
// (Analyze and Window, which may run beside an update).
type scratch struct {
	pts    []cpoint      // the intervals of one kind (see analyzer.points); the outage candidates reuse it
	pairAt []pairRef     // see analyzer.pairAt
	secs   []float64     // one diagnosis' intervals (see timeoutDiagnosis)
	wins   []outageWin   // see findOutages
	member []memberPoint // the clusters' intervals, one cluster after another (see takeMembers)
	used   int           // of member, by the clusters still read
	need   int           // what those would use had member room for all
	peak   int           // the most need reached in this update: the next one's size
	keys   []majKey      // the session majority's keys (see majority)
	most   []int32       // per session: see majority
	here   []int32
}

// roomFor is the capacity a scratch array of capacity had grows to for n
// elements: an eighth more, so that a fleet growing by an agent's batches
// does not make each update allocate it again; just n the first time (a
// scratch let go after each update never grows).
func roomFor(had, n int) int {
	if had == 0 {
		return n
	}
	return n + n/8 + 1024
}

// reset readies the scratch for the next update: what the clusters of the
// last one took is free again, and the cluster space grows to the most
// they held at once.
func (s *scratch) reset() {
	if s.peak > cap(s.member) {
		s.member = make([]memberPoint, roomFor(cap(s.member), s.peak))
	}
	s.used, s.need, s.peak = 0, 0, 0
}

// takeMembers returns an empty slice with room for n member intervals:
// from the scratch when it has the room (the slice's capacity ends there,
// so an append past n cannot overwrite the next cluster's), else newly
// allocated.
func (s *scratch) takeMembers(n int) []memberPoint {
	if s == nil {
		return make([]memberPoint, 0, n)
	}
	s.need += n
	s.peak = max(s.peak, s.need)
	if s.used+n > len(s.member) {
		return make([]memberPoint, 0, n)
	}
	out := s.member[s.used : s.used : s.used+n]
	s.used += n
	return out
}

// membersMark is how much of the cluster space is taken (see release).
type membersMark struct{ used, need int }

// mark returns how much of the cluster space is taken now.
func (s *scratch) mark() membersMark {
	if s == nil {
		return membersMark{}
	}
	return membersMark{s.used, s.need}
}

// release gives back the cluster space taken since m: the clusters it
// went to are not read again.
func (s *scratch) release(m membersMark) {
	if s != nil && m.need <= s.need {
		s.used, s.need = m.used, m.need
	}
}

// counts returns two zeroed slices of n counts (see majority), from the
// scratch when it has the room.
func (s *scratch) counts(n int) (most, here []int32) {
	if s == nil {
		return make([]int32, n), make([]int32, n)
	}
	if cap(s.most) < n {
		m := roomFor(cap(s.most), n)
		s.most, s.here = make([]int32, m), make([]int32, m)
	}
	most, here = s.most[:n], s.here[:n]
	clear(most)
	clear(here)
	return most, here
}

// majKeys returns n majority keys to fill, from the scratch when it has
// the room (one buildClusters at a time uses them).
func (s *scratch) majKeys(n int) []majKey {
	if s == nil {
		return make([]majKey, n)
	}
	if cap(s.keys) < n {
		s.keys = make([]majKey, roomFor(cap(s.keys), n))
	}
	return s.keys[:n]
}

// bytes is the size of the scratch's arrays.
func (s *scratch) bytes() int {
	return cap(s.pts)*int(unsafe.Sizeof(cpoint{})) + cap(s.pairAt)*int(unsafe.Sizeof(pairRef{})) +
		cap(s.secs)*8 + cap(s.wins)*int(unsafe.Sizeof(outageWin{})) + cap(s.member)*int(unsafe.Sizeof(memberPoint{})) +
		(cap(s.most)+cap(s.here))*4 + cap(s.keys)*int(unsafe.Sizeof(majKey{}))
}
