package fleetsim

import (
	"fmt"
	"slices"
	"strings"

	"idletrace/analysis"
)

// Bar of CheckRealistic (issue 11).
const (
	// RecallRight is the least computer recall of an idle-timeout diagnosis.
	RecallRight = 0.95
	// PrecisionRight is its least computer precision.
	PrecisionRight = 0.95
	// OutageRecallRight is the least computer recall of a shared outage.
	OutageRecallRight = 0.9
)

// Problem kinds of CheckRealistic.
const (
	ProblemMissing       = "missing"        // an expected idle-timeout diagnosis is not there
	ProblemExtra         = "extra"          // an idle-timeout diagnosis nothing explains
	ProblemTimeout       = "timeout"        // reset: timeout_seconds off by > 2 %
	ProblemSilent        = "silent-bound"   // silent: drop, null timeout or bound wrong
	ProblemRecall        = "recall"         // computers recall < 0.95
	ProblemPrecision     = "precision"      // computers precision < 0.95
	ProblemOutageMissing = "outage-missing" // an expected outage is not there
	ProblemOutageStart   = "outage-start"   // its start is off by > 3 min
	ProblemOutageRecall  = "outage-recall"  // its computer recall < 0.9
	ProblemOutageExtra   = "outage-extra"   // a shared outage nothing explains
)

// Problem is one way a report misses a realistic fleet's truth.
type Problem struct {
	Kind string // one of the Problem… constants
	Text string
}

func (p Problem) String() string { return p.Kind + ": " + p.Text }

// Strings formats problems.
func Strings(probs []Problem) []string {
	out := make([]string, len(probs))
	for i, p := range probs {
		out[i] = p.String()
	}
	return out
}

type nameSet map[string]bool

func setOf(names ...[]string) nameSet {
	s := nameSet{}
	for _, l := range names {
		for _, n := range l {
			s[strings.ToLower(n)] = true
		}
	}
	return s
}

func (s nameSet) count(names []string) int {
	n := 0
	for _, c := range names {
		if s[strings.ToLower(c)] {
			n++
		}
	}
	return n
}

// CheckRealistic judges a report against a realistic fleet's truth by the
// bar of issue 11: per expected idle-timeout diagnosis exactly one
// matching diagnosis — reset: timeout_seconds within ±2 %; silent: drop
// "silent", timeout_seconds null, timeout_max_seconds the keep-alive —
// naming the expected computers with recall and precision ≥ 0.95 (gray
// and one-sharp computers count neither way; fields other than computers,
// such as an "also seen" list, are ignored); per expected outage a
// shared-outage diagnosis starting within ±3 min with computer recall ≥
// 0.9; and no other diagnosis, except ones matching a tolerated (real but
// thin) problem. Names compare case-insensitively.
func (f *Fleet) CheckRealistic(rep analysis.Report) []Problem {
	var probs []Problem
	bad := func(kind, format string, args ...any) {
		probs = append(probs, Problem{kind, fmt.Sprintf(format, args...)})
	}
	used := make([]bool, len(rep.Diagnoses))
	var idle, outs []Expected
	for _, e := range f.Truth.Diagnoses {
		if e.Kind == analysis.KindIdleTimeout {
			idle = append(idle, e)
		} else {
			outs = append(outs, e)
		}
	}
	// Idle timeouts: assign greedily, best (value right, most computers
	// in common) first.
	type cand struct {
		e, g    int
		value   bool
		overlap int
	}
	var cands []cand
	for ei, e := range idle {
		want := setOf(e.Computers)
		for gi, g := range rep.Diagnoses {
			if g.Kind != analysis.KindIdleTimeout {
				continue
			}
			c := cand{ei, gi, valueRight(g, e), want.count(g.Computers)}
			if c.value || c.overlap > 0 {
				cands = append(cands, c)
			}
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if a.value != b.value {
			if a.value {
				return -1
			}
			return 1
		}
		return b.overlap - a.overlap
	})
	match := make([]int, len(idle))
	for i := range match {
		match[i] = -1
	}
	for _, c := range cands {
		if match[c.e] < 0 && !used[c.g] {
			match[c.e], used[c.g] = c.g, true
		}
	}
	for ei, e := range idle {
		gi := match[ei]
		if gi < 0 {
			bad(ProblemMissing, "%s %s %s (%d computers, %d sharp uptimes)", e.Device, e.Drop, describeT(e), len(e.Computers), e.SharpUptimes)
			continue
		}
		g := rep.Diagnoses[gi]
		if e.Drop == "silent" {
			if g.Drop != "silent" || g.TimeoutSeconds != nil || g.TimeoutMaxSeconds == nil || *g.TimeoutMaxSeconds != e.ObservedSeconds {
				bad(ProblemSilent, "%s: %s: drop %q timeout %v bound %v, want silent, null, %g", e.Device, g.ID, g.Drop, val(g.TimeoutSeconds), val(g.TimeoutMaxSeconds), e.ObservedSeconds)
			}
		} else if g.TimeoutSeconds == nil || rel(*g.TimeoutSeconds, e.TimeoutSeconds) > TimeoutTolerance {
			bad(ProblemTimeout, "%s: %s: timeout %v, want %g ± 2 %%", e.Device, g.ID, val(g.TimeoutSeconds), e.TimeoutSeconds)
		}
		want, neutral := setOf(e.Computers), setOf(e.Gray, e.OneSharp)
		hit, named := want.count(g.Computers), 0
		var falsePos []string
		for _, c := range g.Computers {
			switch {
			case want[strings.ToLower(c)]:
				named++
			case !neutral[strings.ToLower(c)]:
				named++
				falsePos = append(falsePos, c)
			}
		}
		if r := ratio(hit, len(e.Computers)); r < RecallRight {
			bad(ProblemRecall, "%s: %s: recall %.2f (%d of %d expected computers; missing %s)", e.Device, g.ID, r, hit, len(e.Computers), few(missingOf(e.Computers, g.Computers)))
		}
		if p := ratio(hit, named); p < PrecisionRight {
			bad(ProblemPrecision, "%s: %s: precision %.2f (%d of %d named; not expected: %s)", e.Device, g.ID, p, hit, named, few(falsePos))
		}
	}
	// Outages: the nearest start among those sharing computers.
	for _, e := range outs {
		want := setOf(e.Computers)
		best, bestD := -1, 0.0
		for gi, g := range rep.Diagnoses {
			if used[gi] || g.Kind != analysis.KindSharedOutage || g.Start == nil || want.count(g.Computers) == 0 {
				continue
			}
			if d := g.Start.Sub(e.Start).Abs().Seconds(); best < 0 || d < bestD {
				best, bestD = gi, d
			}
		}
		if best < 0 {
			bad(ProblemOutageMissing, "outage %s–%s (%d computers)", e.Start.Format("01-02T15:04:05"), e.End.Format("15:04:05"), len(e.Computers))
			continue
		}
		used[best] = true
		g := rep.Diagnoses[best]
		if bestD > WindowTolerance.Seconds() {
			bad(ProblemOutageStart, "%s: start %s, want %s ± 3 min", g.ID, g.Start.UTC().Format("01-02T15:04:05"), e.Start.Format("01-02T15:04:05"))
		}
		if r := ratio(want.count(g.Computers), len(e.Computers)); r < OutageRecallRight {
			bad(ProblemOutageRecall, "%s: recall %.2f (%d of %d computers)", g.ID, r, want.count(g.Computers), len(e.Computers))
		}
	}
	// Tolerated problems absorb matching diagnoses.
	for _, e := range f.Truth.Tolerated {
		for gi, g := range rep.Diagnoses {
			if used[gi] || g.Kind != e.Kind {
				continue
			}
			switch e.Kind {
			case analysis.KindIdleTimeout:
				if valueRight(g, e) && setOf(e.Computers, e.OneSharp).count(g.Computers) > 0 {
					used[gi] = true
				}
			case analysis.KindSharedOutage:
				if g.Start != nil && g.Start.Sub(e.Start).Abs() <= WindowTolerance {
					used[gi] = true
				}
			}
		}
	}
	for gi, g := range rep.Diagnoses {
		if used[gi] {
			continue
		}
		kind := ProblemExtra
		if g.Kind == analysis.KindSharedOutage {
			kind = ProblemOutageExtra
		}
		bad(kind, "%s (%d computers): %s", g.ID, len(g.Computers), g.Summary)
	}
	return probs
}

// valueRight: the diagnosis shows the expected device's value.
func valueRight(g analysis.Diagnosis, e Expected) bool {
	if e.Drop == "silent" {
		return g.Drop == "silent" && g.TimeoutMaxSeconds != nil && *g.TimeoutMaxSeconds == e.ObservedSeconds
	}
	return g.TimeoutSeconds != nil && rel(*g.TimeoutSeconds, e.TimeoutSeconds) <= TimeoutTolerance
}

func describeT(e Expected) string {
	if e.Drop == "silent" {
		return fmt.Sprintf("%gs (seen at %gs)", e.TimeoutSeconds, e.ObservedSeconds)
	}
	return fmt.Sprintf("%gs", e.TimeoutSeconds)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func missingOf(want, got []string) []string {
	g := setOf(got)
	var out []string
	for _, w := range want {
		if !g[strings.ToLower(w)] {
			out = append(out, w)
		}
	}
	return out
}

func few(names []string) string {
	if len(names) > 4 {
		return strings.Join(names[:4], ", ") + fmt.Sprintf(", … (%d)", len(names))
	}
	return strings.Join(names, ", ")
}
