package ingest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"idletrace/ingest"
)

// sharedDir returns ../shared relative to the repo root, or skips.
func sharedDir(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("skipping: %s not found (the shared corpus sits beside the repo, outside it)", dir)
	}
	return dir
}

type manifestRow struct {
	file                      string
	libevtx, python, golangEv int
}

func readManifest(t *testing.T, dir string) []manifestRow {
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []manifestRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for first := true; sc.Scan(); first = false {
		if first {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 6 {
			continue
		}
		a, _ := strconv.Atoi(c[3])
		b, _ := strconv.Atoi(c[4])
		g, _ := strconv.Atoi(c[5])
		rows = append(rows, manifestRow{file: c[0], libevtx: a, python: b, golangEv: g})
	}
	return rows
}

// TestEVTXCorpus reads every sample, healthy and damaged: no panic, no hang,
// and at least as many records as golang-evtx's own tool found.
func TestEVTXCorpus(t *testing.T) {
	dir := sharedDir(t, "evtx-samples")
	for _, row := range readManifest(t, dir) {
		t.Run(row.file, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			n := 0
			res, err := ingest.ReadFile(ctx, filepath.Join(dir, row.file), ingest.Options{AllRecords: true}, func(e ingest.Event) error {
				n++
				return nil
			})
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if res.Format != ingest.FormatEVTX || res.Records != n {
				t.Fatalf("format %q, records %d, emitted %d", res.Format, res.Records, n)
			}
			want := row.golangEv
			if want > n {
				t.Errorf("records = %d, golang-evtx evtxdump found %d", n, want)
			}
			t.Logf("records %d (libevtx %d, python-evtx %d, evtxdump %d), warnings %d", n, row.libevtx, row.python, row.golangEv, len(res.Warnings))
		})
	}
}

// TestEVTXScenarioOutlookEvents checks that each scenario's .evtx files give
// exactly the Outlook 25/26 records truth.json counts, per computer.
func TestEVTXScenarioOutlookEvents(t *testing.T) {
	dir := sharedDir(t, "scenarios")
	for _, sc := range []string{"lb-900", "mixed", "three-sites"} {
		t.Run(sc, func(t *testing.T) {
			truth := readTruth(t, filepath.Join(dir, sc, "truth.json"))
			files, _ := filepath.Glob(filepath.Join(dir, sc, "evtx", "*.evtx"))
			if len(files) == 0 {
				t.Fatal("no evtx files")
			}
			got := map[string][2]int{}
			for _, f := range files {
				_, err := ingest.ReadFile(context.Background(), f, ingest.Options{}, func(e ingest.Event) error {
					if e.IsConnectivity() {
						c := got[e.Computer]
						c[e.EventID-25]++
						got[e.Computer] = c
					}
					return nil
				})
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
			for name, c := range truth.Computers {
				if g := got[name]; g != [2]int{c.Outlook25, c.Outlook26} {
					t.Errorf("%s: got 25/26 = %v, truth %d/%d", name, g, c.Outlook25, c.Outlook26)
				}
			}
			if len(got) != len(truth.Computers) {
				t.Errorf("computers: got %d, truth %d", len(got), len(truth.Computers))
			}
		})
	}
}

type truthFile struct {
	Computers map[string]struct {
		Outlook25 int `json:"outlook_25"`
		Outlook26 int `json:"outlook_26"`
	} `json:"computers"`
}

func readTruth(t *testing.T, path string) truthFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tf truthFile
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	return tf
}
