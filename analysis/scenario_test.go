package analysis_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"testing"
	"time"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
	"idletrace/ingest"
	"idletrace/ingest/exporttest"
)

// sharedDir is ../shared/scenarios beside the repository: the scenario
// fleets live beside the repo, not in it.
func sharedDir(t testing.TB) string {
	t.Helper()
	return exporttest.Shared(t, "scenarios")
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
		b, err := os.ReadFile(tp)
		if err != nil {
			t.Fatal(err)
		}
		truth, err := fleetsim.ParseTruthFile(b)
		if err != nil {
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

func checkAgainstTruth(t *testing.T, res *analysis.Result, truth *fleetsim.TruthFile, format string) {
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
	for _, p := range fleetsim.CheckTruthFile(rep, truth, format == "csv") {
		t.Error(p)
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
