package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"idletrace/ingest/evtxtest"
	"idletrace/web"
)

// hostileCase is one malformed input and what it must at least yield.
type hostileCase struct {
	name string
	data []byte
	// mustWarn: the input lost data (e.g. a cut in the middle of a
	// record), so a 201 must carry a warning; otherwise an error.
	mustWarn bool
}

// healthyEVTX writes a multi-chunk Application log: Outlook 25/26 among
// noise from other providers, over several computers.
func healthyEVTX(t testing.TB) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "healthy.evtx")
	var recs []evtxtest.Record
	t0 := time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 3000; i++ {
		at := t0.Add(time.Duration(i) * 7 * time.Second)
		pc := fmt.Sprintf("HOST-%02d.corp.example", i%20)
		switch i % 3 {
		case 0:
			recs = append(recs, evtxtest.Classic("Outlook", pc, at, uint16(25+i%2), "The connection to Microsoft Exchange is unavailable."))
		case 1:
			recs = append(recs, evtxtest.Classic("MsiInstaller", pc, at, 1040, "Beginning a Windows Installer transaction", "", "x"))
		default:
			recs = append(recs, evtxtest.Record{Provider: "Microsoft-Windows-Security-SPP", ProviderGUID: "{E23B33B0-C8C9-472C-A5F9-F2BDFEA0F156}",
				EventID: 16384, Level: 4, Time: at, Computer: pc, Data: []string{"2065-06-24T14:23:56Z", "TaskScheduler"}})
		}
	}
	if err := evtxtest.WriteFile(p, recs); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// evtxMutations makes n damaged copies of a healthy EVTX file: cuts, and
// byte flips aimed at the file header, chunk headers, string tables,
// template/record areas and anywhere.
func evtxMutations(rng *rand.Rand, healthy []byte, n, first int) []hostileCase {
	const hdr, chunk = 4096, 65536
	chunks := (len(healthy) - hdr) / chunk
	region := func(kind string) (lo, hi int) {
		c := hdr + rng.IntN(chunks)*chunk
		switch kind {
		case "file-header":
			return 0, 128
		case "chunk-header":
			return c, c + 128
		case "string-table":
			return c + 128, c + 384
		case "template-table":
			return c + 384, c + 512
		case "records":
			return c + 512, c + chunk
		}
		return hdr, len(healthy)
	}
	kinds := []string{"truncate", "file-header", "chunk-header", "string-table", "template-table", "records", "anywhere"}
	var out []hostileCase
	for i := first; len(out) < n; i++ {
		kind := kinds[i%len(kinds)]
		if kind == "truncate" {
			cut := rng.IntN(len(healthy))
			out = append(out, hostileCase{fmt.Sprintf("evtx-%03d-truncate-%d", i, cut), healthy[:cut:cut], cut > hdr})
			continue
		}
		b := bytes.Clone(healthy)
		lo, hi := region(kind)
		edits := 1 + rng.IntN(40)
		for e := 0; e < edits; e++ {
			b[lo+rng.IntN(hi-lo)] ^= byte(1 + rng.IntN(255))
		}
		out = append(out, hostileCase{fmt.Sprintf("evtx-%03d-%s-%d", i, kind, edits), b, false})
	}
	return out
}

// textMutations makes malformed XML, CSV, JSON, NDJSON and zip inputs.
func textMutations(rng *rand.Rand, healthyEVTX []byte) []hostileCase {
	t0 := time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)
	var xmlb, ndjson, csvb strings.Builder
	csvb.WriteString("Level,Date and Time,Source,Event ID,Task Category\n")
	for i := 0; i < 200; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		fmt.Fprintf(&xmlb, "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Outlook'/><EventID Qualifiers='16384'>%d</EventID><Level>4</Level><TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Channel>Application</Channel><Computer>XPC.corp</Computer></System><EventData><Data>m</Data></EventData></Event>\n",
			25+i%2, at.Format(time.RFC3339Nano), i+1)
		fmt.Fprintf(&ndjson, `{"computer":"JPC.corp","channel":"Application","provider":"Outlook","event_id":%d,"record_id":%d,"time":%q,"message":"m"}`+"\n", 25+i%2, i+1, at.Format(time.RFC3339))
		fmt.Fprintf(&csvb, "Information,%s,Outlook,%d,None,\"Connection to Microsoft Exchange has been restored.\"\n", at.Format("1/2/2006 3:04:05 PM"), 25+i%2)
	}
	samples := map[string]string{"xml": xmlb.String(), "ndjson": ndjson.String(), "csv": csvb.String(),
		"json": "[" + strings.Join(strings.Split(strings.TrimSpace(ndjson.String()), "\n"), ",\n") + "]"}
	var out []hostileCase
	for _, kind := range []string{"xml", "ndjson", "csv", "json"} {
		s := samples[kind]
		for i := 0; i < 6; i++ {
			// A cut inside a line (never right at a line end) loses a record.
			cut := 1 + rng.IntN(len(s)-2)
			for s[cut] == '\n' || s[cut-1] == '\n' {
				cut--
			}
			out = append(out, hostileCase{fmt.Sprintf("%s-cut-%d", kind, cut), []byte(s[:cut]), cut > 80})
			lines := strings.SplitAfter(s, "\n")
			at := 1 + rng.IntN(len(lines)-2)
			garbage := []string{"\x00\xff\xfe garbage \x01\n", strings.Repeat("{", 5000) + "\n", "<Event><System>broken\n", "\"unterminated,quote\n"}[i%4]
			spliced := strings.Join(lines[:at], "") + garbage + strings.Join(lines[at:], "")
			out = append(out, hostileCase{fmt.Sprintf("%s-garbage-line-%d", kind, i), []byte(spliced), false})
			b := []byte(s)
			for e := 0; e < 1+rng.IntN(30); e++ {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
			out = append(out, hostileCase{fmt.Sprintf("%s-flips-%d", kind, i), b, false})
		}
	}
	out = append(out,
		hostileCase{"json-deep-nesting", []byte(strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)), false},
		hostileCase{"json-huge-string", []byte(`{"computer":"` + strings.Repeat("A", 8<<20) + `"}`), false},
		hostileCase{"xml-entity-bomb", []byte(`<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Events><Event>&b;</Event></Events>`), false},
		hostileCase{"invalid-utf8", []byte("<Event>\xff\xfe\xfd</Event>"), false},
	)
	// Zips: healthy entries, a truncated archive, a corrupted entry, a
	// bomb (a tiny entry inflating to a huge one).
	mkzip := func(entries map[string][]byte) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, data := range entries {
			w, _ := zw.Create(name)
			w.Write(data)
		}
		zw.Close()
		return buf.Bytes()
	}
	good := mkzip(map[string][]byte{"a.evtx": healthyEVTX, "b.xml": []byte(samples["xml"])})
	out = append(out,
		hostileCase{"zip-truncated", good[: len(good)/2 : len(good)/2], true},
		hostileCase{"zip-bomb", zipBomb(512 << 20), false},
		hostileCase{"zip-nested-deep", mkzip(map[string][]byte{"1.zip": mkzip(map[string][]byte{"2.zip": mkzip(map[string][]byte{"3.xml": []byte(samples["xml"])})})}), false},
	)
	corrupt := bytes.Clone(good)
	for e := 0; e < 50; e++ {
		corrupt[30+rng.IntN(len(corrupt)/2)] ^= 0x55
	}
	out = append(out, hostileCase{"zip-corrupt-entry", corrupt, false})
	return out
}

// zipBomb is a zip whose one small entry inflates to size bytes of spaces,
// written in pieces so that the test itself stays small.
func zipBomb(size int) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bomb.xml")
	piece := bytes.Repeat([]byte(" "), 1<<20)
	for n := 0; n < size; n += len(piece) {
		w.Write(piece)
	}
	zw.Close()
	return buf.Bytes()
}

// TestHostileUploads sends hundreds of damaged and malformed files through
// the real upload path: no 5xx, no panic, no hang (each within a
// deadline), heap bounded, and a file that lost data says so.
func TestHostileUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: hostile-input campaign")
	}
	ts := newTestServer(t, web.Config{MaxUpload: 64 << 20})
	rng := rand.New(rand.NewPCG(8, 2026))
	healthy := healthyEVTX(t)
	// Cases are made in small groups as the campaign goes, so that the
	// heap measured below is the server's, not the test's own inputs.
	const evtxCases = 320
	next := func(i int) []hostileCase {
		switch {
		case i < evtxCases:
			return evtxMutations(rng, healthy, 1, i)
		case i == evtxCases:
			return textMutations(rng, healthy)
		}
		return nil
	}

	var peakHeap atomic.Uint64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peakHeap.Load() {
					peakHeap.Store(m.HeapInuse)
				}
			}
		}
	}()
	defer close(stop)

	cp := &campaign{t: t, ts: ts, client: &http.Client{}, peak: &peakHeap}
	for i := 0; i <= evtxCases; i++ {
		for _, c := range next(i) {
			cp.send(c)
		}
	}
	t.Logf("%d hostile inputs (%d evtx): %d ingested (%d with warnings), %d refused with an error; peak heap above baseline %d MiB (%s)",
		cp.total, evtxCases, cp.ingested, cp.warned, cp.refused, cp.worst>>20, cp.worstName)
	if cp.worst > 256<<20 {
		t.Errorf("peak heap %d MiB above baseline on %s: memory is not bounded", cp.worst>>20, cp.worstName)
	}
	if code, _ := getPage(t, ts.URL+"/healthz"); code != 200 {
		t.Fatal("server unhealthy after the campaign")
	}
}

// campaign sends hostile cases and keeps the tally.
type campaign struct {
	t                                *testing.T
	ts                               *testServer
	client                           *http.Client
	peak                             *atomic.Uint64 // heap in use, sampled
	total, ingested, warned, refused int
	worst                            uint64 // largest heap growth over a case's baseline
	worstName                        string
}

// send uploads one case and checks the answer: no 5xx, an error with a
// code and message, or a 201 that warns when data was lost.
func (cp *campaign) send(c hostileCase) {
	t := cp.t
	t.Helper()
	cp.total++
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	cp.peak.Store(0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", cp.ts.URL+"/api/v1/uploads?name="+c.name, bytes.NewReader(c.data))
	req.Header.Set("Content-Type", "application/octet-stream")
	start := time.Now()
	resp, err := cp.client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v (after %v)", c.name, err, time.Since(start))
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if p := cp.peak.Load(); p > base.HeapInuse && p-base.HeapInuse > cp.worst {
		cp.worst, cp.worstName = p-base.HeapInuse, c.name
	}
	var out struct {
		Items []uploadItem
		Error *struct{ Code, Message string }
	}
	json.Unmarshal(raw, &out)
	switch {
	case resp.StatusCode >= 500:
		t.Errorf("%s: status %d: %.300s", c.name, resp.StatusCode, raw)
	case resp.StatusCode == http.StatusCreated:
		cp.ingested++
		u := out.Items[0].Upload
		if len(u.Warnings) > 0 {
			cp.warned++
		} else if c.mustWarn {
			t.Errorf("%s: data was lost but the upload has no warning (records %d)", c.name, u.Records)
		}
	default:
		cp.refused++
		if out.Error == nil || out.Error.Message == "" || out.Error.Code == "" {
			t.Errorf("%s: status %d without a clear error: %.300s", c.name, resp.StatusCode, raw)
		}
	}
}

// TestSmallLeaks (issue 17 row 12): CEF exports escape every line
// terminator (U+2028, U+2029, U+0085 too), and /static/ lists no directory.
func TestSmallLeaks(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	c := newClient(t, ts.URL, "")
	msg := "line1\u2028forged=1\u2029two\u0085three\u009bfour"
	line := fmt.Sprintf(`{"computer":"PC1\u2028x.corp.example","channel":"Application","provider":"Outlook","event_id":25,"record_id":1,"time":"2024-05-02T07:41:12Z","message":%q}`, msg) + "\n"
	if resp, b := c.do("POST", "/api/v1/events", strings.NewReader(line), map[string]string{"Content-Type": "application/x-ndjson"}); resp.StatusCode != 200 {
		t.Fatalf("post: %d %s", resp.StatusCode, b)
	}
	resp, b := c.get("/api/v1/export?kind=events&format=cef")
	if resp.StatusCode != 200 || !strings.Contains(string(b), "line1") {
		t.Fatalf("export: %d %s", resp.StatusCode, b)
	}
	for _, r := range []rune{'\u2028', '\u2029', '\u0085', '\u009b'} {
		if strings.ContainsRune(string(b), r) {
			t.Errorf("CEF export holds %U unescaped: %q", r, b)
		}
	}
	for _, p := range []string{"/static/", "/static"} {
		resp, b := c.get(p)
		if resp.StatusCode == 200 || strings.Contains(string(b), `<a href="style.css"`) {
			t.Errorf("GET %s lists the directory: %d %s", p, resp.StatusCode, b)
		}
	}
	if resp, _ := c.get("/static/style.css"); resp.StatusCode != 200 {
		t.Errorf("a static file: %d", resp.StatusCode)
	}
}

// TestStaleSpoolsRemovedAtStart (issue 17 row 9): a server killed during
// uploads leaves its spooled files behind; the next one removes them at
// start, but not a file another live server is still spooling.
func TestStaleSpoolsRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "idletrace-upload-123456")
	if err := os.WriteFile(stale, bytes.Repeat([]byte("x"), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "unrelated-file")
	if err := os.WriteFile(other, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A live server spooling an upload into the same directory.
	db := newTestServer(t, web.Config{RateLimit: -1}).db
	srvA, err := web.NewServer(web.Config{TempDir: dir, RateLimit: -1}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	tsA := newHTTPTest(t, srvA)
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Post(tsA.URL+"/api/v1/uploads?name=slow.ndjson", "application/x-ndjson", pr)
		if err == nil {
			resp.Body.Close()
		}
	}()
	pw.Write([]byte(`{"computer":"PC1","provider":"Outlook","event_id":25,"record_id":1,"time":"2024-05-02T07:41:12Z"}` + "\n"))
	var inflight string
	for deadline := time.Now().Add(10 * time.Second); inflight == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		m, _ := filepath.Glob(filepath.Join(dir, "idletrace-upload-*"))
		for _, p := range m {
			if p != stale {
				inflight = p
			}
		}
	}
	if inflight == "" {
		t.Fatal("the slow upload was not spooled")
	}

	if _, err := web.NewServer(web.Config{TempDir: dir}, db, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale spooled upload still there: %v", err)
	}
	if _, err := os.Stat(inflight); err != nil {
		t.Errorf("a live server's spooled upload was removed: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("an unrelated file was removed: %v", err)
	}
	pw.Close()
	<-done
}

// TestTempDiskFull (issue 17 row 10): a full temp-file disk answers 507
// storage_full, like a full database disk, not 500.
func TestTempDiskFull(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	defer web.SetSpoolCopyForTest(func(io.Writer, io.Reader) (int64, error) {
		return 0, &os.PathError{Op: "write", Path: "/tmp/idletrace-upload-1", Err: syscall.ENOSPC}
	})()
	c := newClient(t, ts.URL, "")
	resp, b := c.do("POST", "/api/v1/uploads?name=a.ndjson", strings.NewReader("{}\n"), map[string]string{"Content-Type": "application/x-ndjson"})
	if resp.StatusCode != http.StatusInsufficientStorage || errorCode(t, b) != "storage_full" {
		t.Fatalf("temp disk full: %d %s", resp.StatusCode, b)
	}
}

// TestSlowBodiesAndConnectionCap (issue 17 row 3): a body trickled a byte
// at a time holds its connection only for the body timeout, and the
// connections served at once are capped, so a flood of slow clients
// cannot exhaust the server's file descriptors.
func TestSlowBodiesAndConnectionCap(t *testing.T) {
	db := newTestServer(t, web.Config{}).db
	srv, err := web.NewServer(web.Config{Addr: "127.0.0.1:0", TempDir: t.TempDir(), RateLimit: -1,
		BodyTimeout: 500 * time.Millisecond, MaxConns: 4}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	addr := strings.TrimPrefix(srv.URL(), "http://")

	slow := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nt", addr)
		return c
	}
	// A trickled body is cut off after the body timeout.
	c := slow()
	defer c.Close()
	start := time.Now()
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c)
		close(closed)
	}()
trickle:
	for time.Since(start) < 10*time.Second {
		select {
		case <-closed:
			break trickle
		case <-time.After(100 * time.Millisecond):
			c.Write([]byte("x"))
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a trickled body held its connection for %v", took)
	}

	// Past the connection cap, new connections wait; probes answer again
	// once the slow ones are gone.
	var held []net.Conn
	for range 4 {
		c, err := net.Dial("tcp", addr) // connected, saying nothing (headers time out after 10 s)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond)
	hc := &http.Client{Timeout: 200 * time.Millisecond}
	if resp, err := hc.Get(srv.URL() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("a fifth connection was served past the cap of 4: %d", resp.StatusCode)
	}
	for _, c := range held {
		c.Close()
	}
	hc.Timeout = 5 * time.Second
	resp, err := hc.Get(srv.URL() + "/healthz")
	if err != nil {
		t.Fatalf("healthz after the slow clients left: %v", err)
	}
	resp.Body.Close()
}

// TestManyTinyParts (issue 17 row 5a): a multipart body of thousands of
// tiny files is refused past the per-request cap, before it costs an
// upload row, a temp file and (async) a goroutine each.
func TestManyTinyParts(t *testing.T) {
	for _, async := range []bool{false, true} {
		ts := newTestServer(t, web.Config{RateLimit: -1})
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for i := range 2000 {
			w, _ := mw.CreateFormFile("file", fmt.Sprintf("f%d.ndjson", i))
			fmt.Fprintf(w, `{"computer":"PC%d","provider":"Outlook","event_id":25,"record_id":1,"time":"2024-05-02T07:41:12Z"}`+"\n", i)
		}
		mw.Close()
		path := "/api/v1/uploads"
		if async {
			path += "?async=1"
		}
		before := runtime.NumGoroutine()
		c := newClient(t, ts.URL, "")
		resp, b := c.do("POST", path, &buf, map[string]string{"Content-Type": mw.FormDataContentType()})
		if resp.StatusCode != 413 || errorCode(t, b) != "too_many_files" {
			t.Errorf("async=%v: 2000 parts: %d %.200s", async, resp.StatusCode, b)
		}
		if n, _ := ts.db.UploadCount(context.Background()); n > web.DefaultMaxUploadFiles {
			t.Errorf("async=%v: %d upload rows from one request", async, n)
		}
		if g := runtime.NumGoroutine(); g > before+web.DefaultMaxUploadFiles+20 {
			t.Errorf("async=%v: %d goroutines after the request (%d before)", async, g, before)
		}
	}
}

// TestLongNames (issue 17 row 5c): a computer name of 200 KiB inside an
// event is rejected (no DNS or NetBIOS name is longer than 255 bytes), in
// agent batches and in uploaded files alike, so the dashboard does not
// grow by megabytes for each.
func TestLongNames(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	c := newClient(t, ts.URL, "")
	long := strings.Repeat("A", 200<<10)
	item := func(name string, rec int) string {
		return fmt.Sprintf(`{"computer":%q,"channel":"Application","provider":"Outlook","event_id":25,"record_id":%d,"time":"2024-05-02T07:41:12Z","message":"x"}`, name, rec) + "\n"
	}
	body := item(long, 1) + item("PC1.corp.example", 2)
	resp, b := c.do("POST", "/api/v1/events", strings.NewReader(body), map[string]string{"Content-Type": "application/x-ndjson"})
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"rejected_count":1`) || !strings.Contains(string(b), "computer name") {
		t.Fatalf("agent batch with a 200 KiB name: %d %.300s", resp.StatusCode, b)
	}
	resp, b = c.do("POST", "/api/v1/uploads?name=long.ndjson", strings.NewReader(item(long, 3)+item("PC2.corp.example", 4)), map[string]string{"Content-Type": "application/x-ndjson"})
	if resp.StatusCode != 201 || !strings.Contains(string(b), "computer name") {
		t.Fatalf("upload with a 200 KiB name: %d %.300s", resp.StatusCode, b)
	}
	_, page := getPage(t, ts.URL+"/computers")
	if strings.Contains(page, long[:1000]) || len(page) > 1<<20 {
		t.Errorf("the computers page holds the long name (%d bytes)", len(page))
	}
}

// TestWindowedAnalysisCache (issue 17 row 5d): the windowed analyses are
// cached a few at a time (bounded in entries and bytes, web/live), so
// clients switching between windows do not re-run a full analysis for each
// request; a window asked for again is served from the cache.
func TestWindowedAnalysisCache(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	seedFleet(t, ts.db)
	c := newClient(t, ts.URL, "")
	analyses := func() int {
		_, b := c.get("/metrics")
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "idletrace_analysis_duration_seconds_count") {
				var n int
				fmt.Sscan(strings.Fields(l)[1], &n)
				return n
			}
		}
		return 0
	}
	windows := []string{"since=2024-05-02T00:00:00Z", "since=2024-05-02T09:00:00Z", "until=2024-05-03T00:00:00Z"}
	for _, w := range windows { // first time: one analysis each
		if resp, b := c.get("/api/v1/report?" + w); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", w, resp.StatusCode, b)
		}
	}
	before := analyses()
	for range 3 {
		for _, w := range windows {
			c.get("/api/v1/report?" + w)
			c.get("/api/v1/computers?" + w)
		}
	}
	if n := analyses() - before; n != 0 {
		t.Errorf("switching between %d windows ran %d more analyses, want 0", len(windows), n)
	}
	// Many distinct windows: each is analysed once, the cache stays bounded.
	for i := range 20 {
		c.get(fmt.Sprintf("/api/v1/report?since=2024-05-02T%02d:00:00Z", i))
	}
}

// TestAmplificationMemory (issue 17 rows 5a–c): the heap of the server
// (in this process) stays within 256 MiB of its idle level while clients
// with a token send thousands of tiny parts, a zip whose entries overlap
// and events with huge names, all at once.
func TestAmplificationMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory under load")
	}
	ts := newTestServer(t, web.Config{RateLimit: -1})
	c := newClient(t, ts.URL, "")
	var parts bytes.Buffer
	mw := multipart.NewWriter(&parts)
	for i := range 5000 {
		w, _ := mw.CreateFormFile("file", fmt.Sprintf("f%d.ndjson", i))
		fmt.Fprintf(w, `{"computer":"PC%d","channel":"Application","provider":"Outlook","event_id":25,"record_id":1,"time":"2024-05-02T07:41:12Z"}`+"\n", i)
	}
	mw.Close()
	// One 1 MiB entry of events listed 2000 times in the central directory.
	line := `{"computer":"PC1.corp.example","channel":"Application","provider":"Outlook","event_id":25,"record_id":1,"time":"2024-05-02T07:41:12Z","message":"x"}` + "\n"
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("a.ndjson")
	w.Write(bytes.Repeat([]byte(line), (1<<20)/len(line)))
	zw.Close()
	z := zb.Bytes()
	cd, eocd := bytes.Index(z, []byte("PK\x01\x02")), bytes.LastIndex(z, []byte("PK\x05\x06"))
	over := append([]byte{}, z[:cd]...)
	for range 2000 {
		over = append(over, z[cd:eocd]...)
	}
	end := append([]byte{}, z[eocd:]...)
	binary.LittleEndian.PutUint16(end[8:], 2000)
	binary.LittleEndian.PutUint16(end[10:], 2000)
	binary.LittleEndian.PutUint32(end[12:], uint32(2000*(eocd-cd)))
	binary.LittleEndian.PutUint32(end[16:], uint32(cd))
	over = append(over, end...)
	var names strings.Builder
	for i := range 200 {
		fmt.Fprintf(&names, `{"computer":"%s%d","channel":"Application","provider":"Outlook","event_id":25,"record_id":1,"time":"2024-05-02T07:41:12Z"}`+"\n", strings.Repeat("N", 200<<10), i)
	}
	partsBody, partsType, zipBody, namesBody := parts.Bytes(), mw.FormDataContentType(), over, names.String()

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	idle := ms.HeapAlloc
	var peak atomic.Uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	done := make(chan struct{})
	for range 4 {
		go func() {
			c.do("POST", "/api/v1/uploads?async=1", bytes.NewReader(partsBody), map[string]string{"Content-Type": partsType})
			c.do("POST", "/api/v1/uploads?name=over.zip", bytes.NewReader(zipBody), map[string]string{"Content-Type": "application/zip"})
			c.do("POST", "/api/v1/uploads?name=names.ndjson", strings.NewReader(namesBody), map[string]string{"Content-Type": "application/x-ndjson"})
			c.get("/")
			c.get("/computers")
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	close(stop)
	<-sampled
	grew := int64(peak.Load()) - int64(idle)
	t.Logf("heap: idle %d MiB, peak %d MiB (+%d MiB) under 4 clients × (5000 parts, a 2000-entry overlapping zip, 200 names of 200 KiB)", idle>>20, peak.Load()>>20, grew>>20)
	if grew > 256<<20 {
		t.Errorf("the heap grew by %d MiB, want at most 256", grew>>20)
	}
}
