package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
	"idletrace/ingest"
	"idletrace/ingest/evtxtest"
	"idletrace/ingest/exporttest"
	"idletrace/store"
)

// nxlogNoTimes is an NXLog file of which no item can be read.
const nxlogNoTimes = `{"SourceName":"Outlook","Hostname":"PC1","EventID":26,"Channel":"Application"}
{"SourceName":"Outlook","Hostname":"PC1","EventID":25,"Channel":"Application"}
`

// TestAnalyzeNothingReadable: every item rejected is exit 1 with the
// first reasons; one readable input beside it is enough for exit 0.
func TestAnalyzeNothingReadable(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "nxlog.json")
	os.WriteFile(bad, []byte(nxlogNoTimes), 0o644)
	code, _, stderr := runCmd(t, "analyze", "--json", bad)
	last := lastLine(stderr)
	if code != 1 || !strings.Contains(last, "no record could be read from any input") || !strings.Contains(last, "no EventTime") {
		t.Fatalf("exit %d, last line %q", code, last)
	}
	good := filepath.Join(dir, "PC2.json")
	os.WriteFile(good, []byte(`{"computer":"PC2","channel":"Application","provider":"Outlook","event_id":26,"time":"2024-05-02T07:41:12Z"}`+"\n"), 0o644)
	if code, _, stderr := runCmd(t, "analyze", "--json", bad, good); code != 0 || !strings.Contains(stderr, "nxlog.json: json (nxlog): no record could be read") {
		t.Fatalf("with a readable file: exit %d, %q", code, stderr)
	}
}

// TestIngestNothingReadable: exit 1 with the reasons, and the upload row
// is failed with them, not done.
func TestIngestNothingReadable(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "nxlog.json")
	os.WriteFile(bad, []byte(nxlogNoTimes), 0o644)
	dbPath := filepath.Join(dir, "x.db")
	code, _, stderr := runCmd(t, "ingest", "-db", dbPath, bad)
	if code != 1 || !strings.Contains(lastLine(stderr), "no EventTime") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ups, err := db.FindUploads(context.Background(), 0, 10)
	if err != nil || len(ups) != 1 {
		t.Fatalf("uploads %v, err %v", ups, err)
	}
	if u := ups[0]; u.Status != store.UploadFailed || !strings.Contains(u.Error, "no record could be read") || !strings.Contains(u.Error, "no EventTime") {
		t.Errorf("upload row: status %q, error %q", u.Status, u.Error)
	}
}

// TestAnalyzeSystemLogSaysWhatItIs: a System log uploaded by mistake is
// read (exit 0, no computers) and the CLI says what it is.
func TestAnalyzeSystemLogSaysWhatItIs(t *testing.T) {
	t0 := time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC)
	var recs []evtxtest.Record
	for i := range 500 {
		r := evtxtest.Classic("Service Control Manager", "HQ-PC01.corp.example", t0.Add(time.Duration(i)*time.Minute), 7036, "x")
		r.Channel = "System"
		recs = append(recs, r)
	}
	path := filepath.Join(t.TempDir(), "System.evtx")
	if err := evtxtest.WriteFile(path, recs); err != nil {
		t.Fatal(err)
	}
	const hint = "this is the System log; Outlook events are in the Application log"
	code, out, stderr := runCmd(t, "analyze", "--json", path)
	if code != 0 || !strings.Contains(stderr, hint) || !strings.Contains(out, `"computers": 0`) {
		t.Fatalf("analyze: exit %d, stderr %q, out %s", code, stderr, out)
	}
	code, out, stderr = runCmd(t, "ingest", "-db", filepath.Join(t.TempDir(), "x.db"), path)
	if code != 0 || !strings.Contains(out, hint) {
		t.Fatalf("ingest: exit %d, out %q, stderr %q", code, out, stderr)
	}
}

// TestAnalyzeLocalTimesZone: NXLog's zoneless EventTime is read in --tz,
// and without it as UTC with one warning that says so.
func TestAnalyzeLocalTimesZone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nxlog.json")
	os.WriteFile(path, []byte(`{"EventTime":"2024-05-02 09:41:12","Hostname":"PC1","SourceName":"Outlook","EventID":26,"Channel":"Application","RecordNumber":7}`+"\n"), 0o644)
	if code, _, stderr := runCmd(t, "analyze", "--tz", "Europe/Berlin", path); code != 0 || strings.Contains(stderr, "warning") {
		t.Fatalf("with --tz: exit %d, %q", code, stderr)
	}
	code, _, stderr := runCmd(t, "analyze", path)
	if code != 0 || strings.Count(stderr, "warning:") != 1 || !strings.Contains(stderr, "EventTime has local times without a time zone") || !strings.Contains(stderr, "read as UTC") {
		t.Fatalf("without --tz: exit %d, %q", code, stderr)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// toolShapeScenarios are the scenarios TestAnalyzeEveryScenarioEveryToolShape
// turns into every shape: a reset and a silent device, an outage, one
// user; the others take minutes more on a small machine (and
// TestAnalyzeEveryScenarioEveryFormat covers them in the four shared
// shapes).
var toolShapeScenarios = []string{"lb-900", "silent-240", "server-outage", "one-user"}

// TestAnalyzeEveryScenarioEveryToolShape extends the cross-shape test to
// the other tools' exports: scenarios' .evtx files are turned into every
// shape of exporttest (python-evtx on scenarios under 2 MiB only: it reads
// about 0.2 MB/s) and `analyze --json --tz` gives the diagnoses of the
// .evtx. Rendered shapes carry the Outlook records and every 20th other
// one, which keeps them small.
func TestAnalyzeEveryScenarioEveryToolShape(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: renders scenarios in every shape")
	}
	root := sharedDir(t, "scenarios")
	for _, name := range toolShapeScenarios {
		dir := filepath.Join(root, name)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			tz := scenarioTZ(t, dir)
			loc, err := time.LoadLocation(tz)
			if err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "evtx", "*.evtx"))
			var size int64
			recs := map[string][]ingest.Event{}
			for _, f := range files {
				st, _ := os.Stat(f)
				size += st.Size()
				n := 0
				_, err := ingest.ReadFile(context.Background(), f, ingest.Options{AllRecords: true}, func(e ingest.Event) error {
					if e.IsOutlook() || n%20 == 0 {
						recs[f] = append(recs[f], e)
					}
					n++
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			ref := analyzeJSON(t, filepath.Join(dir, "evtx"), tz)
			for _, s := range exporttest.Shapes() {
				if s.Tool == "evtx_dump.py" && size > 2<<20 {
					continue
				}
				out := t.TempDir()
				for _, f := range files {
					exporttest.Make(t, s, f, recs[f], loc, filepath.Join(out, strings.TrimSuffix(filepath.Base(f), ".evtx")+".txt"))
				}
				rep := analyzeJSON(t, out, tz)
				for _, d := range fleetsim.SameDiagnoses(rep, ref, 0.02) {
					t.Errorf("%s vs evtx: %s", s.Name, d)
				}
			}
		})
	}
}

func analyzeJSON(t *testing.T, path, tz string) analysis.Report {
	t.Helper()
	code, out, stderr := runCmd(t, "analyze", "--json", "--tz", tz, path)
	if code != 0 {
		t.Fatalf("%s: exit %d: %s", path, code, stderr)
	}
	var rep analysis.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rep
}
