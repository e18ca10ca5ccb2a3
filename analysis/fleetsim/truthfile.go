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
	Computers map[string]struct {
		Outlook25 int `json:"outlook_25"`
		Outlook26 int `json:"outlook_26"`
	} `json:"computers"`
	Totals struct {
		Computers     int `json:"computers"`
		Outlook25     int `json:"outlook_25"`
		Outlook26     int `json:"outlook_26"`
		ExpectedPairs int `json:"expected_pairs"`
	} `json:"totals"`
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
// is wrong, as Fleet.Check does (exactly the expected diagnoses, timeouts
// ±2 %, silent drops as a bound at the keep-alive, outage windows ±3 min,
// computers ≥ 95 % right, 0.9 for an outage), computers the truth calls
// gray counting neither way. shortNames compares names by
// their host part (Event Viewer CSV knows computers by file name only).
func CheckTruthFile(rep analysis.Report, tf *TruthFile, shortNames bool) []string {
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
	var expected []Expected
	for _, d := range tf.ExpectedDiagnoses {
		e := Expected{Kind: d.Kind, Site: d.Site, TimeoutSeconds: d.TimeoutSeconds, ObservedSeconds: d.Observed, Drop: d.Drop, Computers: d.Computers}
		e.Start, _ = time.Parse(time.RFC3339Nano, d.Start)
		e.End, _ = time.Parse(time.RFC3339Nano, d.End)
		expected = append(expected, e)
	}
	return checkExpected(rep, expected, overlap)
}
