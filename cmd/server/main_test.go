package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"idletrace/ingest/exporttest"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"idletrace/analysis"
	"idletrace/ingest/evtxtest"
)

func sharedDir(t testing.TB, sub string) string {
	t.Helper()
	dir := exporttest.Shared(t, sub)
	return dir
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestAnalyzeJSONScenarioLB900(t *testing.T) {
	dir := sharedDir(t, "scenarios/lb-900")
	code, out, stderr := runCmd(t, "analyze", "--json", filepath.Join(dir, "evtx"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep analysis.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var truth struct {
		Expected []struct {
			TimeoutSeconds float64  `json:"timeout_seconds"`
			Computers      []string `json:"computers"`
		} `json:"expected_diagnoses"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "truth.json"))
	json.Unmarshal(b, &truth)
	if len(rep.Diagnoses) != 1 || rep.Diagnoses[0].Kind != "idle-timeout" || rep.Diagnoses[0].TimeoutSeconds == nil {
		t.Fatalf("diagnoses: %+v", rep.Diagnoses)
	}
	d, want := rep.Diagnoses[0], truth.Expected[0]
	if math.Abs(*d.TimeoutSeconds-want.TimeoutSeconds)/want.TimeoutSeconds > 0.02 {
		t.Fatalf("timeout %v, truth %v", *d.TimeoutSeconds, want.TimeoutSeconds)
	}
	sort.Strings(d.Computers)
	sort.Strings(want.Computers)
	if strings.Join(d.Computers, ",") != strings.Join(want.Computers, ",") {
		t.Fatalf("computers %v, truth %v", d.Computers, want.Computers)
	}
	// The contract's field names are all there.
	var raw map[string]any
	json.Unmarshal([]byte(out), &raw)
	for _, k := range []string{"computers", "events", "pairs", "clusters", "outages", "diagnoses"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
}

func TestAnalyzeTextOwnFixtures(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)
	for c := 0; c < 6; c++ {
		name := "BR-PC0" + string(rune('1'+c)) + ".corp.example"
		var recs []evtxtest.Record
		at := start.Add(time.Duration(c) * time.Minute)
		recs = append(recs, evtxtest.Record{Provider: "Outlook", EventID: 26, Qualifiers: 16384, Level: 4, Time: at, Computer: name, Data: []string{"restored"}})
		for i := 0; i < 15; i++ {
			at = at.Add(3600*time.Second + time.Duration(1+i%4)*time.Second)
			recs = append(recs, evtxtest.Record{Provider: "Outlook", EventID: 25, Qualifiers: 16384, Level: 4, Time: at, Computer: name, Data: []string{"unavailable"}})
			at = at.Add(time.Duration(10+i) * time.Second)
			recs = append(recs, evtxtest.Record{Provider: "Outlook", EventID: 26, Qualifiers: 16384, Level: 4, Time: at, Computer: name, Data: []string{"restored"}})
		}
		if err := evtxtest.WriteFile(filepath.Join(dir, name+".evtx"), recs); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a log"), 0o644)
	code, out, stderr := runCmd(t, "analyze", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "DIAGNOSIS idle-timeout") || !strings.Contains(out, "6 computers") {
		t.Fatalf("output:\n%s", out)
	}
	if !strings.Contains(stderr, "notes.txt") {
		t.Fatalf("the unreadable file is not reported: %s", stderr)
	}
}

func TestAnalyzeNoInput(t *testing.T) {
	for _, args := range [][]string{{"analyze"}, {"analyze", "/nonexistent/file.evtx"}} {
		code, _, stderr := runCmd(t, args...)
		if code != 1 || !strings.Contains(stderr, "analyze:") {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	f := filepath.Join(t.TempDir(), "x.bin")
	os.WriteFile(f, []byte{0, 1, 2, 3}, 0o644)
	if code, _, stderr := runCmd(t, "analyze", "--json", f); code != 1 || !strings.Contains(stderr, "no record could be read") {
		t.Fatalf("unreadable input: exit %d, %q", code, stderr)
	}
}

func TestServeRefusesNonLoopbackWithoutAuth(t *testing.T) {
	code, _, stderr := runCmd(t, "-addr", "0.0.0.0:0", "-db", filepath.Join(t.TempDir(), "x.db"))
	if code != 2 || !strings.Contains(stderr, "refusing to listen") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
}

// TestServeStartsAndShutsDown runs the real serve path on a random port,
// checks it answers, then cancels it like SIGTERM would.
func TestServeStartsAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	dbPath := filepath.Join(t.TempDir(), "serve.db")
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-db", dbPath, "-log-level", "error"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no startup line: %v", err)
	}
	go io.Copy(io.Discard, pr)
	url := regexp.MustCompile(`http://[0-9.:]+`).FindString(line)
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	resp.Body.Close()
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := os.Stat(dbPath); err != nil {
		t.Fatalf("database not created: %v", err)
	}
}
