package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
)

// scenarioTZ reads the zone a scenario's CSV exports use.
func scenarioTZ(t *testing.T, dir string) string {
	t.Helper()
	var truth struct {
		TZ string `json:"tz"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &truth)
	return truth.TZ
}

// TestAnalyzeEveryScenarioEveryFormat runs `analyze --json` on each
// scenario's evtx/, xml/, csv/ and ndjson/ folders: each shape of the same
// logs gives the same diagnoses (CSV: computers by short name).
func TestAnalyzeEveryScenarioEveryFormat(t *testing.T) {
	root := sharedDir(t, "scenarios")
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "truth.json"))
	if len(dirs) == 0 {
		t.Fatal("no scenarios")
	}
	for _, truth := range dirs {
		dir := filepath.Dir(truth)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tz := scenarioTZ(t, dir)
			reports := map[string]analysis.Report{}
			for _, shape := range []string{"evtx", "xml", "csv", "ndjson"} {
				code, out, stderr := runCmd(t, "analyze", "--json", "--tz", tz, filepath.Join(dir, shape))
				if code != 0 {
					t.Fatalf("%s: exit %d: %s", shape, code, stderr)
				}
				var rep analysis.Report
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("%s: %v", shape, err)
				}
				reports[shape] = rep
				// The report is the truth's, exactly.
				b, err := os.ReadFile(truth)
				if err != nil {
					t.Fatal(err)
				}
				tf, err := fleetsim.ParseTruthFile(b)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range fleetsim.CheckTruthFile(rep, tf, shape == "csv") {
					t.Errorf("%s: %s", shape, p)
				}
			}
			for _, shape := range []string{"xml", "csv", "ndjson"} {
				for _, d := range fleetsim.SameDiagnoses(reports[shape], reports["evtx"], 0.02) {
					t.Errorf("%s vs evtx: %s", shape, d)
				}
			}
		})
	}
}
