package ingest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shared scenarios hold the same fleets as .evtx, wevtutil XML, Event
// Viewer CSV and Winlogbeat NDJSON, with a truth.json. They live outside
// the repository.
const scenariosDir = "../../shared/scenarios"

type truthFile struct {
	TZ        string                   `json:"tz"`
	Computers map[string]truthComputer `json:"computers"`
}

type truthComputer struct {
	File      string `json:"file"`
	Outlook25 int    `json:"outlook_25"`
	Outlook26 int    `json:"outlook_26"`
	Pairs     []struct {
		R25 int64     `json:"r25"`
		R26 int64     `json:"r26"`
		T25 time.Time `json:"t25"`
		T26 time.Time `json:"t26"`
	} `json:"pairs"`
	Anomalies []struct {
		Type     string    `json:"type"`
		EventID  int       `json:"event_id"`
		Provider string    `json:"provider"`
		RecordID int64     `json:"record_id"`
		Time     time.Time `json:"time"`
	} `json:"anomalies"`
}

// scenarios returns the scenario folders, skipping the test when the shared
// data is not there.
func scenarios(t *testing.T) []string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(scenariosDir, "*", "truth.json"))
	if len(dirs) == 0 {
		skipWithoutShared(t, "no scenarios in "+scenariosDir+" (shared test data is outside the repository)")
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

func loadTruth(t *testing.T, dir string) truthFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr truthFile
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	return tr
}

// readShape reads every file of one shape folder and returns all events by
// computer name as given by key.
func readShape(t *testing.T, dir, shape string, opts Options, key func(string) string) (map[string][]Event, int64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, shape, "*"))
	if len(files) == 0 {
		t.Fatalf("no files in %s/%s", dir, shape)
	}
	out := map[string][]Event{}
	var bytes int64
	for _, f := range files {
		res, err := ReadFile(context.Background(), f, opts, func(ev Event) error {
			k := key(ev.Computer)
			out[k] = append(out[k], ev)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(res.Warnings) > 0 {
			t.Errorf("%s: warnings %v", f, res.Warnings)
		}
		bytes += res.Bytes
	}
	return out, bytes
}

func shortName(c string) string {
	s, _, _ := strings.Cut(c, ".")
	return strings.ToUpper(s)
}

// checkScenario compares the Outlook 25/26 events read from one shape with
// truth.json: counts per computer; every paired and anomalous event by
// record id (or, without record ids, by id and time) with its time
// truncated to prec.
func checkScenario(t *testing.T, dir, shape string, prec time.Duration, withRecordIDs bool) {
	tr := loadTruth(t, dir)
	loc, err := time.LoadLocation(tr.TZ)
	if err != nil {
		t.Fatal(err)
	}
	key := func(c string) string { return strings.ToLower(c) }
	if !withRecordIDs {
		key = shortName
	}
	start := time.Now()
	got, size := readShape(t, dir, shape, Options{Location: loc}, key)
	el := time.Since(start)
	t.Logf("%s/%s: %d bytes in %v (%.1f MB/s)", filepath.Base(dir), shape, size, el, float64(size)/1e6/el.Seconds())
	if len(got) != len(tr.Computers) {
		t.Errorf("%d computers, want %d", len(got), len(tr.Computers))
	}
	type idTime struct {
		id int
		t  time.Time
	}
	for name, want := range tr.Computers {
		evs := got[key(name)]
		n25, n26 := 0, 0
		byRecord := map[int64]Event{}
		byTime := map[idTime]int{}
		for _, ev := range evs {
			if !ev.IsConnectivity() {
				continue
			}
			if ev.EventID == 25 {
				n25++
			} else {
				n26++
			}
			byRecord[ev.RecordID] = ev
			byTime[idTime{ev.EventID, ev.Time.Truncate(prec)}]++
		}
		if n25 != want.Outlook25 || n26 != want.Outlook26 {
			t.Errorf("%s: %d Outlook 25 and %d Outlook 26, want %d and %d", name, n25, n26, want.Outlook25, want.Outlook26)
		}
		check := func(id int, rid int64, at time.Time, outlook bool) {
			t.Helper()
			if !withRecordIDs {
				if outlook && byTime[idTime{id, at.Truncate(prec)}] == 0 {
					t.Errorf("%s: no Outlook %d at %v", name, id, at.Truncate(prec))
				}
				return
			}
			ev, ok := byRecord[rid]
			switch {
			case !outlook:
				if ok {
					t.Errorf("%s: record %d (not Outlook) counted as Outlook %d", name, rid, ev.EventID)
				}
			case !ok:
				t.Errorf("%s: no Outlook %d with record id %d", name, id, rid)
			case ev.EventID != id || !ev.Time.Equal(at.Truncate(prec)):
				t.Errorf("%s: record %d is %d at %v, want %d at %v", name, rid, ev.EventID, ev.Time, id, at.Truncate(prec))
			}
		}
		for _, p := range want.Pairs {
			check(25, p.R25, p.T25, true)
			check(26, p.R26, p.T26, true)
		}
		for _, a := range want.Anomalies {
			if a.RecordID != 0 {
				check(a.EventID, a.RecordID, a.Time, a.Provider == ProviderOutlook)
			}
		}
	}
}

func TestScenarioXML(t *testing.T) {
	for _, dir := range scenarios(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkScenario(t, dir, "xml", 100*time.Nanosecond, true) })
	}
}

func TestScenarioJSON(t *testing.T) {
	for _, dir := range scenarios(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkScenario(t, dir, "ndjson", time.Millisecond, true) })
	}
}

func TestScenarioCSV(t *testing.T) {
	for _, dir := range scenarios(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) { checkScenario(t, dir, "csv", time.Second, false) })
	}
}

// benchShape reads every file of one shape of the mixed scenario.
func benchShape(b *testing.B, shape string) {
	files, _ := filepath.Glob(filepath.Join(scenariosDir, "mixed", shape, "*"))
	if len(files) == 0 {
		skipWithoutShared(b, "no scenario files in "+scenariosDir+" (shared test data is outside the repository)")
	}
	var size int64
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	b.SetBytes(size)
	for b.Loop() {
		for _, f := range files {
			if _, err := ReadFile(context.Background(), f, Options{}, func(Event) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkScenarioXML(b *testing.B)    { benchShape(b, "xml") }
func BenchmarkScenarioNDJSON(b *testing.B) { benchShape(b, "ndjson") }
func BenchmarkScenarioCSV(b *testing.B)    { benchShape(b, "csv") }
