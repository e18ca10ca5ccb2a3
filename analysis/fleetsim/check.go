package fleetsim

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"idletrace/analysis"
)

// Tolerances of Check.
const (
	// TimeoutTolerance is how far (relative) a reported timeout may be from
	// the device's.
	TimeoutTolerance = 0.02
	// ComputersRight is the least share of a diagnosis' computers that must
	// be right (|got ∩ want| / max(|got|, |want|)).
	ComputersRight = 0.95
	// OutageComputersRight is the same for a shared outage: issue 11's bar
	// of 0.9 (a computer that lost its connection just before the outage
	// and came back with it belongs to it or not by a hair).
	OutageComputersRight = 0.9
	// WindowTolerance is how far an outage's start and end may be off.
	WindowTolerance = 3 * time.Minute
)

// Check compares a report with the fleet's truth and returns what is wrong
// (nothing when the analysis is right): exactly the expected diagnoses,
// timeouts within ±2 %, silent drops reported as a bound at the ping,
// computers ≥ 95 % right, outage windows within minutes. A realistic
// fleet is judged by CheckRealistic instead.
func (f *Fleet) Check(rep analysis.Report) []string {
	if f.Realistic {
		return Strings(f.CheckRealistic(rep))
	}
	var probs []string
	if rep.Pairs != f.Truth.Pairs {
		probs = append(probs, fmt.Sprintf("pairs = %d, want %d", rep.Pairs, f.Truth.Pairs))
	}
	return append(probs, checkExpected(rep, f.Truth.Diagnoses, Overlap)...)
}

// checkExpected compares a report's diagnoses with the expected ones,
// computers compared by overlap.
func checkExpected(rep analysis.Report, expected []Expected, overlap func(got, want []string) float64) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	used := make([]bool, len(rep.Diagnoses))
	for _, want := range expected {
		found := -1
		for i, got := range rep.Diagnoses {
			if !used[i] && got.Kind == want.Kind && overlap(got.Computers, want.Computers) >= 0.5 {
				found = i
				break
			}
		}
		if found < 0 {
			bad("missing %s %s %s %gs (%d computers)", want.Kind, want.Site, want.Drop, want.TimeoutSeconds, len(want.Computers))
			continue
		}
		used[found] = true
		got := rep.Diagnoses[found]
		need := ComputersRight
		if want.Kind == analysis.KindSharedOutage {
			need = OutageComputersRight
		}
		if ov := overlap(got.Computers, want.Computers); ov < need {
			bad("%s: computers %.0f %% right (got %d, want %d)", got.ID, 100*ov, len(got.Computers), len(want.Computers))
		}
		if got.Confidence <= 0 || got.Confidence > 1 {
			bad("%s: confidence %v", got.ID, got.Confidence)
		}
		switch want.Kind {
		case analysis.KindIdleTimeout:
			if got.Drop != want.Drop {
				bad("%s: drop %q, want %q", got.ID, got.Drop, want.Drop)
			}
			if want.Drop == "silent" {
				if got.TimeoutSeconds != nil {
					bad("%s: timeout_seconds %v, want null", got.ID, *got.TimeoutSeconds)
				}
				if got.TimeoutMaxSeconds == nil || *got.TimeoutMaxSeconds != want.ObservedSeconds {
					bad("%s: timeout_max_seconds %v, want %v", got.ID, val(got.TimeoutMaxSeconds), want.ObservedSeconds)
				}
				if got.ObservedSeconds == nil || rel(*got.ObservedSeconds, want.ObservedSeconds) > TimeoutTolerance {
					bad("%s: observed_seconds %v, want ≈ %v", got.ID, val(got.ObservedSeconds), want.ObservedSeconds)
				}
			} else if got.TimeoutSeconds == nil || rel(*got.TimeoutSeconds, want.TimeoutSeconds) > TimeoutTolerance {
				bad("%s: timeout_seconds %v, want %v ± 2 %%", got.ID, val(got.TimeoutSeconds), want.TimeoutSeconds)
			}
		case analysis.KindSharedOutage:
			if got.Start == nil || got.End == nil {
				bad("%s: no window", got.ID)
				continue
			}
			if d := got.Start.Sub(want.Start); d.Abs() > WindowTolerance {
				bad("%s: start %v, want ≈ %v", got.ID, got.Start, want.Start)
			}
			if d := got.End.Sub(want.End); d.Abs() > WindowTolerance {
				bad("%s: end %v, want ≈ %v", got.ID, got.End, want.End)
			}
			if got.TimeoutSeconds != nil {
				bad("%s: an outage has no timeout", got.ID)
			}
		}
	}
	for i, got := range rep.Diagnoses {
		if !used[i] {
			bad("extra diagnosis %s: %s", got.ID, got.Summary)
		}
	}
	return probs
}

// Overlap is |got ∩ want| / max(|got|, |want|), names compared
// case-insensitively.
func Overlap(got, want []string) float64 {
	w := map[string]bool{}
	for _, c := range want {
		w[strings.ToLower(c)] = true
	}
	n := 0
	for _, c := range got {
		if w[strings.ToLower(c)] {
			n++
		}
	}
	d := max(len(got), len(want))
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

func rel(got, want float64) float64 { return math.Abs(got-want) / want }

func val(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

// ShortName is a computer name without its domain, lower-cased: Event
// Viewer CSV exports carry only the short name (from the file name).
func ShortName(name string) string {
	if i := strings.IndexByte(name, '.'); i > 0 {
		name = name[:i]
	}
	return strings.ToLower(name)
}

// SameDiagnoses compares the diagnoses of two reports of the same fleet
// read from different shapes of its logs: the same kinds and count, each
// timeout (or bound) within tol of the other, outage windows within a
// minute, and the same computers by short name. It returns what differs.
func SameDiagnoses(got, want analysis.Report, tol float64) []string {
	key := func(d analysis.Diagnosis) string {
		v := 0.0
		switch {
		case d.TimeoutSeconds != nil:
			v = *d.TimeoutSeconds
		case d.TimeoutMaxSeconds != nil:
			v = *d.TimeoutMaxSeconds
		case d.Start != nil:
			v = float64(d.Start.Unix())
		}
		return fmt.Sprintf("%s %020.1f", d.Kind, v)
	}
	sorted := func(ds []analysis.Diagnosis) []analysis.Diagnosis {
		out := slices.Clone(ds)
		slices.SortFunc(out, func(a, b analysis.Diagnosis) int { return strings.Compare(key(a), key(b)) })
		return out
	}
	g, w := sorted(got.Diagnoses), sorted(want.Diagnoses)
	if len(g) != len(w) {
		return []string{fmt.Sprintf("%d diagnoses, want %d", len(g), len(w))}
	}
	var diffs []string
	for i := range g {
		a, b := g[i], w[i]
		if a.Kind != b.Kind || a.Drop != b.Drop {
			diffs = append(diffs, fmt.Sprintf("diagnosis %d: %s/%s, want %s/%s", i, a.Kind, a.Drop, b.Kind, b.Drop))
			continue
		}
		for _, pair := range [][2]*float64{{a.TimeoutSeconds, b.TimeoutSeconds}, {a.TimeoutMaxSeconds, b.TimeoutMaxSeconds}} {
			if (pair[0] == nil) != (pair[1] == nil) || pair[0] != nil && rel(*pair[0], *pair[1]) > tol {
				diffs = append(diffs, fmt.Sprintf("%s: timeout %v, want %v", a.ID, val(pair[0]), val(pair[1])))
			}
		}
		if a.Start != nil && b.Start != nil && (a.Start.Sub(*b.Start).Abs() > time.Minute || a.End.Sub(*b.End).Abs() > time.Minute) {
			diffs = append(diffs, fmt.Sprintf("%s: window %v–%v, want %v–%v", a.ID, a.Start, a.End, b.Start, b.End))
		}
		short := func(names []string) []string {
			out := make([]string, len(names))
			for j, n := range names {
				out[j] = ShortName(n)
			}
			slices.Sort(out)
			return out
		}
		if ga, wa := short(a.Computers), short(b.Computers); !slices.Equal(ga, wa) {
			diffs = append(diffs, fmt.Sprintf("%s: %d computers, want %d (overlap %.0f%%)", a.ID, len(ga), len(wa), 100*Overlap(ga, wa)))
		}
	}
	return diffs
}
