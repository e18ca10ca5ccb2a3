package ingest

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"idletrace/ingest/evtxtest"
)

type zipEntry struct {
	name  string
	data  []byte
	store bool // no compression
}

func makeZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		method := zip.Deflate
		if e.store {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method, Modified: time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testdataFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// evtxBytes writes a small .evtx with an Outlook 25/26 pair.
func evtxBytes(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "PC20.evtx")
	t0 := time.Date(2024, 5, 2, 7, 38, 2, 0, time.UTC)
	err := evtxtest.WriteFile(path, []evtxtest.Record{
		evtxtest.Classic("Outlook", "PC20.corp.example", t0, 25, "The connection to Microsoft Exchange is unavailable."),
		evtxtest.Classic("Outlook", "PC20.corp.example", t0.Add(190*time.Second), 26, "Connection to Microsoft Exchange has been restored."),
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// byComputer counts Outlook 25/26 events per computer.
func byComputer(evs []Event) map[string]int {
	m := map[string]int{}
	for _, ev := range evs {
		if ev.IsConnectivity() {
			m[ev.Computer]++
		}
	}
	return m
}

func TestZipOfEverything(t *testing.T) {
	inner := makeZip(t, zipEntry{name: "fluentbit.json", data: testdataFile(t, "json-fluentbit/fluentbit.json")})
	z := makeZip(t,
		zipEntry{name: "logs/", data: nil},
		zipEntry{name: "logs/HQ-PC01.xml", data: testdataFile(t, "xml-wevtutil/HQ-PC01.xml")},
		zipEntry{name: `..\..\Windows\LON-PC02.csv`, data: testdataFile(t, "csv-engb/LON-PC02.csv")},
		zipEntry{name: "logs/winlogbeat.ndjson", data: testdataFile(t, "json-winlogbeat6/winlogbeat6.ndjson")},
		zipEntry{name: "nested/more.zip", data: inner, store: true},
		zipEntry{name: "PC20.evtx", data: evtxBytes(t)},
		zipEntry{name: "README.txt", data: []byte("Collected by the help desk on 2 May.\r\n")},
	)
	evs, res, err := readBytes(t, z, Options{Name: "ticket-4711.zip", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"HQ-PC01.corp.example": 2, "LON-PC02": 3, "PC04.contoso.com": 2, "HQ-PC09.corp.example": 2, "PC20.corp.example": 2,
	}
	if got := byComputer(evs); !mapsEqual(got, want) {
		t.Errorf("Outlook 25/26 per computer %v, want %v", got, want)
	}
	if len(res.Warnings) != 1 {
		t.Errorf("warnings %v", res.Warnings)
	}
	wantWarning(t, res, "ticket-4711.zip/README.txt", "unrecognized entry", "Collected by")
	for _, f := range []string{"xml", "csv (D/M/Y)", "json (winlogbeat 6)", "zip (json (fluentbit))", "evtx"} {
		if !strings.Contains(res.Format, f) {
			t.Errorf("format %q lacks %q", res.Format, f)
		}
	}
	if res.Records != len(evs) {
		t.Errorf("Records %d, emitted %d", res.Records, len(evs))
	}
	// The spooled temporary files are gone.
	if left, _ := filepath.Glob(filepath.Join(os.TempDir(), "idletrace-*")); len(left) > 0 {
		t.Logf("temporary files present (maybe other tests'): %v", left)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestZipBomb(t *testing.T) {
	good := testdataFile(t, "xml-wevtutil/HQ-PC01.xml")
	t.Run("ratio", func(t *testing.T) {
		// 64 MiB of spaces deflate to about 64 KiB: a ratio near 1000:1.
		bomb := bytes.Repeat([]byte(" "), 64<<20)
		z := makeZip(t, zipEntry{name: "a.xml", data: good}, zipEntry{name: "bomb.xml", data: bomb}, zipEntry{name: "c.xml", data: good})
		evs, res, err := readBytes(t, z, Options{Name: "x.zip"})
		if err != nil || len(evs) != 10 {
			t.Fatalf("err %v, %d events", err, len(evs))
		}
		wantWarning(t, res, "x.zip/bomb.xml", "ratio above the limit of 200:1 (a zip bomb?); skipped")
	})
	t.Run("total", func(t *testing.T) {
		var big bytes.Buffer
		for big.Len() < 3<<20 {
			big.Write(good)
		}
		z := makeZip(t, zipEntry{name: "a.xml", data: good}, zipEntry{name: "big.xml", data: big.Bytes(), store: true}, zipEntry{name: "c.xml", data: good})
		evs, res, err := readBytes(t, z, Options{Name: "x.zip", Limits: Limits{MaxZipTotal: 2 << 20}})
		if err != nil {
			t.Fatal(err)
		}
		wantWarning(t, res, "x.zip/big.xml", "more than the")
		if got := byComputer(evs)["HQ-PC01.corp.example"]; got != 4 {
			t.Errorf("%d Outlook events kept, want those of a.xml and c.xml", got)
		}
	})
	t.Run("size lie", func(t *testing.T) {
		var big bytes.Buffer
		for big.Len() < 3<<20 {
			big.Write(good)
		}
		z := makeZip(t, zipEntry{name: "a.xml", data: good}, zipEntry{name: "big.xml", data: big.Bytes()})
		evs, res, err := readBytes(t, lieAboutSize(t, z, "big.xml"), Options{Name: "x.zip", Limits: Limits{MaxZipTotal: 2 << 20}})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) <= 5 {
			t.Errorf("%d events: the part of big.xml before the limit was not kept", len(evs))
		}
		wantWarning(t, res, "x.zip/big.xml", "inflates beyond its declared size")
	})
	t.Run("running count", func(t *testing.T) {
		budget := &zipBudget{left: 100}
		r := &zipLimitReader{r: bytes.NewReader(make([]byte, 50)), left: 20, budget: budget, ratio: 7, total: 100}
		n, err := io.ReadFull(r, make([]byte, 50))
		var le *errZipLimit
		if n != 20 || !errors.As(err, &le) || !strings.Contains(err.Error(), "beyond 7:1") || budget.left != 80 {
			t.Errorf("read %d, err %v, budget %d", n, err, budget.left)
		}
		r = &zipLimitReader{r: bytes.NewReader(make([]byte, 20)), left: 20, budget: budget, ratio: 7, total: 100}
		if b, err := io.ReadAll(r); len(b) != 20 || err != nil {
			t.Errorf("exact allowance: read %d, err %v", len(b), err)
		}
	})
	t.Run("entries", func(t *testing.T) {
		z := makeZip(t, zipEntry{name: "a.xml", data: good}, zipEntry{name: "b.xml", data: good}, zipEntry{name: "c.xml", data: good})
		evs, res, err := readBytes(t, z, Options{Name: "x.zip", Limits: Limits{MaxZipEntries: 2}})
		if err != nil || len(evs) != 10 {
			t.Fatalf("err %v, %d events", err, len(evs))
		}
		wantWarning(t, res, "x.zip", "3 entries, more than the limit of 2")
	})
	t.Run("nested twice", func(t *testing.T) {
		z1 := makeZip(t, zipEntry{name: "a.xml", data: good})
		z2 := makeZip(t, zipEntry{name: "z1.zip", data: z1}, zipEntry{name: "b.xml", data: good})
		z3 := makeZip(t, zipEntry{name: "z2.zip", data: z2}, zipEntry{name: "c.xml", data: good})
		evs, res, err := readBytes(t, z3, Options{Name: "x.zip"})
		if err != nil || len(evs) != 10 {
			t.Fatalf("err %v, %d events", err, len(evs))
		}
		wantWarning(t, res, "x.zip/z2.zip/z1.zip", "only one level of nesting")
	})
}

// lieAboutSize rewrites an entry's declared sizes in the central directory
// to look like a small, modest entry.
func lieAboutSize(t *testing.T, z []byte, name string) []byte {
	t.Helper()
	out := slices.Clone(z)
	sig := []byte("PK\x01\x02")
	for i := 0; ; {
		j := bytes.Index(out[i:], sig)
		if j < 0 {
			t.Fatalf("no central directory entry %s", name)
		}
		h := out[i+j:]
		nameLen := int(h[28]) | int(h[29])<<8
		if string(h[46:46+nameLen]) == name {
			// Uncompressed size (offset 24) := 1 MiB, so the declared ratio
			// and total pass; the reader then finds more.
			h[24], h[25], h[26], h[27] = 0, 0, 0x10, 0
			return out
		}
		i += j + 4
	}
}

func TestZipDamaged(t *testing.T) {
	good := testdataFile(t, "xml-wevtutil/HQ-PC01.xml")
	z := makeZip(t, zipEntry{name: "a.xml", data: good}, zipEntry{name: "b.xml", data: good})
	t.Run("not a zip", func(t *testing.T) {
		_, _, err := readBytes(t, []byte("PK\x03\x04 this is not really a zip file at all"), Options{})
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "not a readable zip archive") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("corrupt entry", func(t *testing.T) {
		bad := slices.Clone(z)
		// Flip bytes inside b.xml's compressed data.
		i := bytes.LastIndex(bad, []byte("PK\x03\x04"))
		for k := i + 60; k < i+80; k++ {
			bad[k] ^= 0x55
		}
		evs, res, err := readBytes(t, bad, Options{Name: "x.zip"})
		if err != nil || len(evs) < 5 {
			t.Fatalf("err %v, %d events (a.xml must be kept)", err, len(evs))
		}
		wantWarning(t, res, "x.zip/b.xml")
	})
}

func TestZipTruncated(t *testing.T) {
	var nd bytes.Buffer
	for i := 0; nd.Len() < 200<<10; i++ {
		fmt.Fprintf(&nd, `{"computer":"PC9","channel":"Application","provider":"Outlook","event_id":%d,"record_id":%d,"time":"2024-05-02T07:%02d:%02dZ","message":"x%d"}`+"\n", 25+i%2, i+1, i/60%60, i%60, i*7919%100000)
	}
	z := makeZip(t,
		zipEntry{name: "a.xml", data: testdataFile(t, "xml-wevtutil/HQ-PC01.xml")},
		zipEntry{name: "HQ-PC01.csv", data: testdataFile(t, "csv-enus/HQ-PC01.csv"), store: true},
		zipEntry{name: "c.ndjson", data: nd.Bytes()},
	)
	cdir := bytes.Index(z, []byte("PK\x01\x02"))
	c := bytes.LastIndex(z[:cdir], []byte("PK\x03\x04"))
	cut := z[:c+(cdir-c)*2/3]
	evs, res, err := readBytes(t, cut, Options{Name: "upload.zip"})
	if err != nil {
		t.Fatal(err)
	}
	got := byComputer(evs)
	if got["HQ-PC01.corp.example"] != 2 || got["HQ-PC01"] != 2 || got["PC9"] < 100 || got["PC9"] >= strings.Count(nd.String(), "\n") {
		t.Errorf("Outlook 25/26 per computer %v: want a.xml and the CSV whole, part of c.ndjson", got)
	}
	wantWarning(t, res, "upload.zip", "no readable central directory", "3 entries recovered")
	wantWarning(t, res, "upload.zip/c.ndjson", "cut short")
}

func FuzzReadZip(f *testing.F) {
	good := testdataFile(f, "xml-wevtutil/HQ-PC01.xml")
	f.Add(makeZip(f, zipEntry{name: "a.xml", data: good}))
	f.Add(makeZip(f, zipEntry{name: "a.csv", data: testdataFile(f, "csv-enus/HQ-PC01.csv")}, zipEntry{name: "b.json", data: testdataFile(f, "json-nxlog/nxlog.ndjson")}))
	f.Add(makeZip(f, zipEntry{name: "in.zip", data: makeZip(f, zipEntry{name: "a.xml", data: good, store: true})}))
	f.Add(makeZip(f, zipEntry{name: "PC20.evtx", data: evtxBytes(f)}))
	two := makeZip(f, zipEntry{name: "a.xml", data: good}, zipEntry{name: "b.json", data: testdataFile(f, "json-winlogbeat/winlogbeat.ndjson")})
	f.Add(two[:len(two)*3/4])
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, b)
	})
}

// overlapZip makes an archive whose central directory lists the one
// entry of z n times: every entry's data is the same bytes (a David
// Fifield-style overlapping bomb: each entry passes the ratio check, the
// archive inflates n times).
func overlapZip(t *testing.T, z []byte, n int) []byte {
	t.Helper()
	cd := bytes.Index(z, []byte("PK\x01\x02"))
	eocd := bytes.LastIndex(z, []byte("PK\x05\x06"))
	if cd < 0 || eocd < 0 {
		t.Fatal("not a zip")
	}
	rec := z[cd:eocd]
	out := slices.Clone(z[:cd])
	for i := range n {
		r := slices.Clone(rec)
		r[46] = byte('a' + i%26) // another name, same data
		out = append(out, r...)
	}
	end := slices.Clone(z[eocd:])
	binary.LittleEndian.PutUint16(end[8:], uint16(n))
	binary.LittleEndian.PutUint16(end[10:], uint16(n))
	binary.LittleEndian.PutUint32(end[12:], uint32(n*len(rec)))
	binary.LittleEndian.PutUint32(end[16:], uint32(cd))
	return append(out, end...)
}

// TestZipAmplification (issue 17 row 5b): overlapping entries and many
// tiny well-compressed entries passed the per-entry ratio check; what the
// archive may inflate to (and so write to temp files) is now bounded by
// the archive's own size too, and an entry sharing another's bytes is
// skipped.
func TestZipAmplification(t *testing.T) {
	t.Run("overlapping entries", func(t *testing.T) {
		good := testdataFile(t, "xml-wevtutil/HQ-PC01.xml")
		z := overlapZip(t, makeZip(t, zipEntry{name: "a.xml", data: good}), 50)
		evs, res, err := readBytes(t, z, Options{Name: "x.zip"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 5 || res.Records > 10 {
			t.Errorf("%d events, %d records from one entry listed 50 times", len(evs), res.Records)
		}
		wantWarning(t, res, "x.zip", "overlaps")
	})
	t.Run("archive budget", func(t *testing.T) {
		// 40 entries of 1 MiB that deflate about 1000:1: each is under the
		// 1 MiB any entry may inflate to, the archive is ~40 KiB.
		line := []byte(`{"computer":"PC1.corp.example","channel":"Application","provider":"Other","event_id":1,"record_id":1,"time":"2024-05-02T07:41:12Z","message":"x"}` + "\n")
		entry := bytes.Repeat(line, (1<<20)/len(line))
		var entries []zipEntry
		for i := range 40 {
			entries = append(entries, zipEntry{name: fmt.Sprintf("e%02d.ndjson", i), data: entry})
		}
		z := makeZip(t, entries...)
		_, res, err := readBytes(t, z, Options{Name: "x.zip"})
		if err != nil {
			t.Fatal(err)
		}
		inflated := res.Records * len(line)
		if limit := max(len(z)*200, 16<<20); inflated > limit+(1<<20) {
			t.Errorf("a %d-byte archive inflated to %d bytes (limit %d)", len(z), inflated, limit)
		}
		wantWarning(t, res, "the archive may", fmt.Sprintf("limit %d in all", len(z)*200))
	})
}
