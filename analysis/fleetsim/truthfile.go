package fleetsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"idletrace/analysis"
)

// TruthFile is the part of a shared scenario's truth.json a check needs
// (../shared/scenarios: expected_diagnoses, and per device the computers a
// diagnosis may name or not).
type TruthFile struct {
	TZ                string `json:"tz"`
	ExpectedDiagnoses []struct {
		Kind           string   `json:"kind"`
		TimeoutSeconds float64  `json:"timeout_seconds"`
		Observed       float64  `json:"observed_uptime_seconds"`
		Drop           string   `json:"drop"`
		Site           string   `json:"site"`
		Start          string   `json:"start"`
		End            string   `json:"end"`
		Computers      []string `json:"computers"`
	} `json:"expected_diagnoses"`
	Devices map[string]struct {
		Gray map[string]json.RawMessage `json:"computers_gray"`
	} `json:"devices"`
}

// ParseTruthFile reads a truth.json.
func ParseTruthFile(b []byte) (*TruthFile, error) {
	var tf TruthFile
	if err := json.Unmarshal(b, &tf); err != nil {
		return nil, fmt.Errorf("truth.json: %w", err)
	}
	return &tf, nil
}

// CheckTruthFile compares a report with a scenario's truth and returns what
// is wrong: exactly the expected diagnoses (kind, drop, timeout ±2 %, a
// silent drop as a bound at the keep-alive, outage start and end ±3 min),
// each naming its computers ≥ 95 % right (0.9 for an outage), computers
// the truth calls gray counting neither way. shortNames compares names by
// their host part (Event Viewer CSV knows computers by file name only).
func CheckTruthFile(rep analysis.Report, tf *TruthFile, shortNames bool) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	key := func(s string) string {
		s = strings.ToLower(s)
		if shortNames {
			s, _, _ = strings.Cut(s, ".")
		}
		return s
	}
	gray := map[string]bool{}
	for _, d := range tf.Devices {
		for c := range d.Gray {
			gray[key(c)] = true
		}
	}
	overlap := func(got, want []string) float64 {
		w := map[string]bool{}
		for _, c := range want {
			w[key(c)] = true
		}
		n, g := 0, 0
		for _, c := range got {
			switch {
			case w[key(c)]:
				n++
				g++
			case !gray[key(c)]:
				g++
			}
		}
		if d := max(g, len(want)); d > 0 {
			return float64(n) / float64(d)
		}
		return 1
	}
	used := make([]bool, len(rep.Diagnoses))
	for _, want := range tf.ExpectedDiagnoses {
		found := -1
		for i, got := range rep.Diagnoses {
			if !used[i] && got.Kind == want.Kind && overlap(got.Computers, want.Computers) >= 0.5 {
				found = i
				break
			}
		}
		if found < 0 {
			bad("missing %s %s (%v s, %s)", want.Kind, want.Site, want.TimeoutSeconds, want.Drop)
			continue
		}
		used[found] = true
		got := rep.Diagnoses[found]
		need := ComputersRight
		if want.Kind == analysis.KindSharedOutage {
			need = OutageComputersRight
		}
		if ov := overlap(got.Computers, want.Computers); ov < need {
			bad("%s: computers %.0f %% right (got %d, want %d)", got.ID, ov*100, len(got.Computers), len(want.Computers))
		}
		switch want.Kind {
		case analysis.KindIdleTimeout:
			switch {
			case got.Drop != want.Drop:
				bad("%s: drop %q, want %q", got.ID, got.Drop, want.Drop)
			case want.Drop == "silent" && (got.TimeoutSeconds != nil || got.TimeoutMaxSeconds == nil || *got.TimeoutMaxSeconds != want.Observed):
				bad("%s: silent drop as timeout %v, bound %v; want null, %v", got.ID, val(got.TimeoutSeconds), val(got.TimeoutMaxSeconds), want.Observed)
			case want.Drop != "silent" && (got.TimeoutSeconds == nil || rel(*got.TimeoutSeconds, want.TimeoutSeconds) > TimeoutTolerance):
				bad("%s: timeout %v, want %v ± 2 %%", got.ID, val(got.TimeoutSeconds), want.TimeoutSeconds)
			}
		case analysis.KindSharedOutage:
			ws, _ := time.Parse(time.RFC3339Nano, want.Start)
			we, _ := time.Parse(time.RFC3339Nano, want.End)
			if got.Start == nil || got.End == nil || got.Start.Sub(ws).Abs() > WindowTolerance || got.End.Sub(we).Abs() > WindowTolerance {
				bad("%s: window %v–%v, want ≈ %v–%v", got.ID, got.Start, got.End, ws, we)
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
