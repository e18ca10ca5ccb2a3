package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"idletrace/bench/applog"
	"idletrace/ingest/evtxtest"
)

// evtxTestFiles lists the shared samples and scenario logs, or skips.
func evtxTestFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	a, _ := filepath.Glob("../../shared/evtx-samples/*.evtx")
	b, _ := filepath.Glob("../../shared/scenarios/*/evtx/*.evtx")
	files = append(append(files, a...), b...)
	if len(files) == 0 {
		skipWithoutShared(t, "../../shared/evtx-samples and ../../shared/scenarios not found (the shared corpus sits beside the repo, outside it)")
	}
	return files
}

type readFunc func(ctx context.Context, r *bytes.Reader, size int64, opts Options, res *Result, emit EmitFunc) error

func fastRead(ctx context.Context, r *bytes.Reader, size int64, opts Options, res *Result, emit EmitFunc) error {
	return readEVTX(ctx, r, size, opts, res, emit)
}

func refRead(ctx context.Context, r *bytes.Reader, size int64, opts Options, res *Result, emit EmitFunc) error {
	return readEVTXGolang(ctx, r, size, opts, res, emit)
}

// readEvents reads data with f and returns the events kept by keep.
func readEvents(t testing.TB, f readFunc, data []byte, opts Options, keep func(*Event) bool) ([]Event, Result) {
	t.Helper()
	var res Result
	var out []Event
	err := f(context.Background(), bytes.NewReader(data), int64(len(data)), opts, &res, func(e Event) error {
		if keep(&e) {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return out, res
}

func sameEvent(a, b Event) bool {
	return a.Computer == b.Computer && a.Channel == b.Channel && a.Provider == b.Provider &&
		a.EventID == b.EventID && a.Qualifiers == b.Qualifiers && a.Level == b.Level &&
		a.RecordID == b.RecordID && a.Time.Equal(b.Time) && a.Time.Location() == b.Time.Location() &&
		a.Precision == b.Precision && a.Message == b.Message
}

// compareEvents requires got == want; with superset, every event of want
// must be in got (the fast path salvages more than golang-evtx from
// damaged files) and got may hold more.
func compareEvents(t *testing.T, name string, got, want []Event, superset bool) {
	t.Helper()
	if !superset && len(got) != len(want) {
		t.Errorf("%s: %d events, golang-evtx finds %d", name, len(got), len(want))
	}
	type key struct {
		id int64
		t  int64
	}
	idx := map[key][]Event{}
	for _, e := range got {
		k := key{e.RecordID, e.Time.UnixNano()}
		idx[k] = append(idx[k], e)
	}
	bad := 0
	for _, w := range want {
		k := key{w.RecordID, w.Time.UnixNano()}
		found := false
		for _, g := range idx[k] {
			if sameEvent(g, w) {
				found = true
				break
			}
		}
		if !found {
			if bad < 3 {
				t.Errorf("%s: golang-evtx's %+v not found; fast path has %+v", name, w, idx[k])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d events differ", name, bad, len(want))
	}
}

func isConn(e *Event) bool { return e.IsConnectivity() }

func connectivity(evs []Event) []Event {
	var out []Event
	for i := range evs {
		if evs[i].IsConnectivity() {
			out = append(out, evs[i])
		}
	}
	return out
}
func anyEvent(*Event) bool { return true }

// TestEVTXFastPathMatchesGolangEVTX proves the fast path finds exactly the
// Outlook 25/26 events (all fields) that golang-evtx's full parse finds, on
// every shared sample and scenario log; and that with AllRecords it decodes
// every record as golang-evtx does.
func TestEVTXFastPathMatchesGolangEVTX(t *testing.T) {
	total := 0
	for _, path := range evtxTestFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(filepath.Dir(filepath.Dir(path))) + "/" + filepath.Base(path)
		wantAll, wres := readEvents(t, refRead, data, Options{}, anyEvent)
		want := connectivity(wantAll)
		got, gres := readEvents(t, fastRead, data, Options{}, isConn)
		damaged := len(wres.Warnings) > 0
		compareEvents(t, name, got, want, damaged)
		total += len(want)
		if !damaged && gres.Records != wres.Records {
			t.Errorf("%s: fast path scanned %d records, golang-evtx read %d", name, gres.Records, wres.Records)
		}
		gotAll, _ := readEvents(t, fastRead, data, Options{AllRecords: true}, anyEvent)
		compareEvents(t, name+" (all records)", gotAll, wantAll, damaged)
	}
	t.Logf("%d Outlook 25/26 events compared", total)
}

// TestEVTXFastPathGenerated compares the two readers on generated logs:
// the realistic benchmark log (small) and a fixture with every look-alike
// and shape the fast path decides on.
func TestEVTXFastPathGenerated(t *testing.T) {
	var buf seekBuffer
	st, err := applog.Write(&buf, applog.Options{Seed: 7, TargetBytes: 6 << 20})
	if err != nil {
		t.Fatal(err)
	}
	want, wres := readEvents(t, refRead, buf.b, Options{}, isConn)
	got, gres := readEvents(t, fastRead, buf.b, Options{}, isConn)
	compareEvents(t, "applog", got, want, false)
	if len(got) != st.Outlook25+st.Outlook26 || gres.Records != st.Records || wres.Records != st.Records {
		t.Errorf("applog: %d events (want %d), %d records scanned, golang-evtx %d (want %d)", len(got), st.Outlook25+st.Outlook26, gres.Records, wres.Records, st.Records)
	}
	wantAll, _ := readEvents(t, refRead, buf.b, Options{}, anyEvent)
	gotAll, _ := readEvents(t, fastRead, buf.b, Options{AllRecords: true}, anyEvent)
	compareEvents(t, "applog (all records)", gotAll, wantAll, false)

	data := lookalikeFixture(t)
	want, _ = readEvents(t, refRead, data, Options{}, isConn)
	got, _ = readEvents(t, fastRead, data, Options{}, isConn)
	compareEvents(t, "lookalikes", got, want, false)
	if len(want) != 7 {
		t.Errorf("lookalikes: golang-evtx finds %d Outlook 25/26, the fixture has 7", len(want))
	}
	wantAll, _ = readEvents(t, refRead, data, Options{}, anyEvent)
	gotAll, _ = readEvents(t, fastRead, data, Options{AllRecords: true}, anyEvent)
	compareEvents(t, "lookalikes (all records)", gotAll, wantAll, false)
}

// lookalikeFixture writes Outlook 25/26 in every shape the writer can make
// next to records that must not match.
func lookalikeFixture(t testing.TB) []byte {
	var buf seekBuffer
	w, err := evtxtest.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 5, 6, 8, 0, 0, 123456700, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 37 * time.Second) }
	recs := []evtxtest.Record{
		evtxtest.Classic("Outlook", "PC1.corp.example", at(0), 25, "lost"),
		evtxtest.Classic("Outlook", "PC1.corp.example", at(1), 26, "restored", "", "x"),
		evtxtest.Classic("outlook", "pc1", at(2), 25),                       // case, no data
		evtxtest.Classic("Outlook", "PC1.corp.example", at(3), 27, "other"), // other id
		evtxtest.Classic("MSExchange RPC Client Access", "PC1", at(4), 26, "noise"),
		evtxtest.Classic("Outlook2", "PC1", at(5), 25, "near miss"),
		evtxtest.Classic("Outloo", "PC1", at(6), 26, "near miss"),
		evtxtest.Classic("Outlook", "PC1", at(7), 26, "", ""), // only empty strings
	}
	r := evtxtest.Classic("Outlook", "PC1", at(8), 25, "wrong channel")
	r.Channel = "System"
	recs = append(recs, r)
	r = evtxtest.Classic("Outlook", "PC1", at(9), 26, "manifest-style provider")
	r.ProviderGUID = "2B1D4E3A-0000-4000-8000-000000000001"
	recs = append(recs, r)
	r = evtxtest.Classic("Outlook", "PC1", at(10), 25, "with source name")
	r.EventSourceName = "Outlook"
	recs = append(recs, r)
	r = evtxtest.Classic("Outlook", "PC1", at(11), 25, "Ünïcødé – 日本語 😀", "second")
	r.Qualifiers = 0
	r.Level = 2
	r.UserSID = "S-1-5-21-1-2-3-1001"
	r.Binary = []byte{1, 2, 3}
	recs = append(recs, r)
	r = evtxtest.Classic("Application Error", "PC1", at(12), 25, "x")
	recs = append(recs, r)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.b
}

// seekBuffer is an in-memory io.WriteSeeker.
type seekBuffer struct {
	b   []byte
	pos int
}

func (s *seekBuffer) Write(p []byte) (int, error) {
	if need := s.pos + len(p); need > len(s.b) {
		s.b = append(s.b, make([]byte, need-len(s.b))...)
	}
	copy(s.b[s.pos:], p)
	s.pos += len(p)
	return len(p), nil
}

func (s *seekBuffer) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case 0:
		s.pos = int(off)
	case 1:
		s.pos += int(off)
	case 2:
		s.pos = len(s.b) + int(off)
	}
	if s.pos < 0 {
		return 0, fmt.Errorf("negative position")
	}
	return int64(s.pos), nil
}

// skipWithoutShared skips a test that needs ../shared when it is absent,
// and fails it under CI=true, where CI lays it out beside the clone. (The
// package's external tests use exporttest.Shared; these internal ones
// cannot import it.)
func skipWithoutShared(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " under CI")
	}
	t.Skip("skipping: " + msg)
}
