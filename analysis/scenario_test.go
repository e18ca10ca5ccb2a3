package analysis_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"testing"
	"time"

	"idletrace/analysis"
	"idletrace/ingest"
)

// sharedDir is ../shared relative to the repository: the scenario fleets
// live beside the repo, not in it.
func sharedDir(t testing.TB) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("..", "..", "shared", "scenarios"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("scenario fleets not found at %s (they live beside the repository in ../shared): %v", d, err)
	}
	return d
}

type truthFile struct {
	TZ                string           `json:"tz"`
	ExpectedDiagnoses []truthDiagnosis `json:"expected_diagnoses"`
	Computers         map[string]struct {
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

type truthDiagnosis struct {
	Kind           string   `json:"kind"`
	TimeoutSeconds float64  `json:"timeout_seconds"`
	Observed       float64  `json:"observed_uptime_seconds"`
	Drop           string   `json:"drop"`
	Site           string   `json:"site"`
	Start          string   `json:"start"`
	End            string   `json:"end"`
	Computers      []string `json:"computers"`
}

var formats = []string{"evtx", "xml", "csv", "ndjson"}

// scenarioEvents reads one format of a scenario with package ingest and
// returns the Outlook 25/26 events, or skip=true when ingest does not
// support the format yet.
func scenarioEvents(t *testing.T, dir, format, tz string) (evs []analysis.Event, skip string) {
	t.Helper()
	files, err := os.ReadDir(filepath.Join(dir, format))
	if err != nil {
		return nil, "no " + format + " folder"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatalf("tz %q: %v", tz, err)
	}
	for _, f := range files {
		path := filepath.Join(dir, format, f.Name())
		_, err := ingest.ReadFile(context.Background(), path, ingest.Options{Location: loc}, func(e ingest.Event) error {
			if e.IsConnectivity() {
				evs = append(evs, analysis.Event{Computer: e.Computer, EventID: e.EventID, Time: e.Time, RecordID: e.RecordID})
			}
			return nil
		})
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "not supported yet") || strings.Contains(msg, "not yet") {
				return nil, err.Error()
			}
			t.Fatalf("%s: %v", path, err)
		}
	}
	return evs, ""
}

// TestScenarios checks every shared fleet in every format ingest reads:
// exactly the expected diagnoses, timeouts within ±2 %, computers ≥ 95 %.
func TestScenarios(t *testing.T) {
	root := sharedDir(t)
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "truth.json"))
	if len(dirs) == 0 {
		t.Skipf("no scenarios under %s", root)
	}
	for _, tp := range dirs {
		dir := filepath.Dir(tp)
		name := filepath.Base(dir)
		var truth truthFile
		b, err := os.ReadFile(tp)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &truth); err != nil {
			t.Fatalf("%s: %v", tp, err)
		}
		for _, format := range formats {
			t.Run(name+"/"+format, func(t *testing.T) {
				evs, skip := scenarioEvents(t, dir, format, truth.TZ)
				if skip != "" {
					t.Skip(skip)
				}
				res := analysis.Analyze(evs, analysis.Options{})
				checkAgainstTruth(t, res, truth, format)
				// Order and duplicates must not matter.
				shuffled := slices.Clone(evs)
				r := rand.New(rand.NewPCG(1, 2))
				r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				shuffled = append(shuffled, shuffled[:len(shuffled)/3]...)
				res2 := analysis.Analyze(shuffled, analysis.Options{})
				a, _ := json.Marshal(res.Report)
				b, _ := json.Marshal(res2.Report)
				if string(a) != string(b) {
					t.Errorf("report depends on event order or duplicates:\n%s\n%s", a, b)
				}
			})
		}
	}
}

func checkAgainstTruth(t *testing.T, res *analysis.Result, truth truthFile, format string) {
	t.Helper()
	rep := res.Report
	// The analysis sees only computers that logged an Outlook 25 or 26.
	withEvents := 0
	for _, c := range truth.Computers {
		if c.Outlook25+c.Outlook26 > 0 {
			withEvents++
		}
	}
	if rep.Computers != withEvents {
		t.Errorf("computers = %d, want %d (of %d in the fleet)", rep.Computers, withEvents, truth.Totals.Computers)
	}
	if format != "csv" { // CSV has no record ids: same-second duplicates collapse
		if rep.Events.Disconnects != truth.Totals.Outlook25 || rep.Events.Reconnects != truth.Totals.Outlook26 {
			t.Errorf("events = %+v, want 25: %d, 26: %d", rep.Events, truth.Totals.Outlook25, truth.Totals.Outlook26)
		}
		if rep.Pairs != truth.Totals.ExpectedPairs {
			t.Errorf("pairs = %d, want %d", rep.Pairs, truth.Totals.ExpectedPairs)
		}
	}
	used := make([]bool, len(rep.Diagnoses))
	for _, want := range truth.ExpectedDiagnoses {
		found := -1
		for i, got := range rep.Diagnoses {
			if used[i] || got.Kind != want.Kind {
				continue
			}
			if computerOverlap(got.Computers, want.Computers, format) >= 0.5 {
				found = i
				break
			}
		}
		if found < 0 {
			t.Errorf("missing diagnosis %s %s (%v s, %s)", want.Kind, want.Site, want.TimeoutSeconds, want.Drop)
			continue
		}
		used[found] = true
		got := rep.Diagnoses[found]
		checkDiagnosis(t, got, want, format)
	}
	for i, got := range rep.Diagnoses {
		if !used[i] {
			t.Errorf("extra diagnosis %s: %s", got.ID, got.Summary)
		}
	}
	if t.Failed() {
		for _, c := range rep.Clusters {
			t.Logf("cluster %s center %.1f [%.1f, %.1f] n=%d computers=%d", c.Kind, c.CenterSeconds, c.LowSeconds, c.HighSeconds, c.Intervals, len(c.Computers))
		}
		for _, d := range rep.Diagnoses {
			t.Logf("diagnosis %s: %s", d.ID, d.Summary)
		}
	}
}

// shortName is what a CSV upload knows of a computer: its file name.
func shortName(s string) string {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	return strings.ToLower(s)
}

func nameKey(s, format string) string {
	if format == "csv" {
		return shortName(s)
	}
	return strings.ToLower(s)
}

// computerOverlap is |got ∩ want| / max(|got|, |want|).
func computerOverlap(got, want []string, format string) float64 {
	w := map[string]bool{}
	for _, c := range want {
		w[nameKey(c, format)] = true
	}
	n := 0
	for _, c := range got {
		if w[nameKey(c, format)] {
			n++
		}
	}
	d := max(len(got), len(want))
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

func checkDiagnosis(t *testing.T, got analysis.Diagnosis, want truthDiagnosis, format string) {
	t.Helper()
	if ov := computerOverlap(got.Computers, want.Computers, format); ov < 0.95 {
		t.Errorf("%s: computers %.0f %% right (got %d, want %d)", got.ID, ov*100, len(got.Computers), len(want.Computers))
	}
	if got.Confidence <= 0 || got.Confidence > 1 {
		t.Errorf("%s: confidence %v", got.ID, got.Confidence)
	}
	switch want.Kind {
	case analysis.KindIdleTimeout:
		if got.Drop != want.Drop {
			t.Errorf("%s: drop %q, want %q", got.ID, got.Drop, want.Drop)
		}
		if want.Drop == "silent" {
			if got.TimeoutSeconds != nil {
				t.Errorf("%s: timeout_seconds %v, want null for a silent drop", got.ID, *got.TimeoutSeconds)
			}
			if got.TimeoutMaxSeconds == nil || *got.TimeoutMaxSeconds != want.Observed {
				t.Errorf("%s: timeout_max_seconds %v, want %v", got.ID, got.TimeoutMaxSeconds, want.Observed)
			}
			if got.ObservedSeconds == nil || relErr(*got.ObservedSeconds, want.Observed) > 0.02 {
				t.Errorf("%s: observed_seconds %v, want ≈ %v", got.ID, deref(got.ObservedSeconds), want.Observed)
			}
		} else {
			if got.TimeoutSeconds == nil || relErr(*got.TimeoutSeconds, want.TimeoutSeconds) > 0.02 {
				t.Errorf("%s: timeout_seconds %v, want %v ± 2 %%", got.ID, deref(got.TimeoutSeconds), want.TimeoutSeconds)
			} else {
				t.Logf("%s: timeout %.1f s vs %v s: %+.2f %%", got.ID, *got.TimeoutSeconds, want.TimeoutSeconds, 100*(*got.TimeoutSeconds-want.TimeoutSeconds)/want.TimeoutSeconds)
			}
		}
	case analysis.KindSharedOutage:
		ws, _ := time.Parse(time.RFC3339Nano, want.Start)
		we, _ := time.Parse(time.RFC3339Nano, want.End)
		if got.Start == nil || got.End == nil {
			t.Fatalf("%s: no window", got.ID)
		}
		if d := got.Start.Sub(ws); d < -2*time.Minute || d > 2*time.Minute {
			t.Errorf("%s: start %v, want ≈ %v", got.ID, got.Start, ws)
		}
		if d := got.End.Sub(we); d < -3*time.Minute || d > 3*time.Minute {
			t.Errorf("%s: end %v, want ≈ %v", got.ID, got.End, we)
		}
		if got.TimeoutSeconds != nil {
			t.Errorf("%s: an outage has no timeout", got.ID)
		}
	}
}

func relErr(got, want float64) float64 { return math.Abs(got-want) / want }

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
