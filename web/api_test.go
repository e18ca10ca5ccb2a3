package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idletrace/ingest/evtxtest"
	"idletrace/store"
	"idletrace/web"
)

// TestAPIFilterInjection: every filter of every list endpoint answers bad
// input with a 400 JSON error, never a 500; SQL metacharacters in a name
// are just a name that matches nothing.
func TestAPIFilterInjection(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	seedFleet(t, ts.db)
	c := newClient(t, ts.URL, "")
	endpoints := []string{"/api/v1/events", "/api/v1/computers", "/api/v1/pairs", "/api/v1/diagnoses",
		"/api/v1/report", "/api/v1/export?kind=events&format=csv", "/api/v1/computers/HQ-PC01.corp.example", "/api/v1/diagnoses/x"}
	huge := strings.Repeat("9", 5000)
	bad := map[string][]string{
		"since":    {"yesterday", "2024-13-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "' OR 1=1 --", huge, "2024-05-02"},
		"until":    {"now", "2024-05-02T25:00:00Z", "-1", huge},
		"computer": {"", huge, "a\x00b", "bad\nname"},
		"kind":     {"'; DROP TABLE events; --", "all", huge},
		"after":    {"", "not-a-cursor", "%%%", huge, "ZTotMQ", "cDp4", "' OR 1=1 --"},
		"limit":    {"0", "-1", "1001", "ten", huge, "1e3", "1; DROP TABLE events"},
		"bogus":    {"1"},
	}
	n := 0
	for _, ep := range endpoints {
		for param, values := range bad {
			for _, v := range values {
				sep := "?"
				if strings.Contains(ep, "?") {
					sep = "&"
				}
				path := ep + sep + param + "=" + url.QueryEscape(v)
				resp, b := c.get(path)
				n++
				if resp.StatusCode >= 500 || resp.StatusCode == 200 {
					t.Errorf("%s: %d %.200s", path, resp.StatusCode, b)
					continue
				}
				if resp.StatusCode != 400 && resp.StatusCode != 404 {
					t.Errorf("%s: %d", path, resp.StatusCode)
				}
				errorCode(t, b)
			}
		}
		// Repeated parameters are refused too.
		sep := "?"
		if strings.Contains(ep, "?") {
			sep = "&"
		}
		if resp, b := c.get(ep + sep + "since=2024-01-01T00:00:00Z&since=2024-02-01T00:00:00Z"); resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("%s repeated since: %d %s", ep, resp.StatusCode, b)
		}
	}
	// since after until.
	if resp, _ := c.get("/api/v1/events?since=2024-06-01T00:00:00Z&until=2024-05-01T00:00:00Z"); resp.StatusCode != 400 {
		t.Errorf("since after until: %d", resp.StatusCode)
	}
	// A cursor of one list is refused by another.
	var ev struct{ Next string }
	c.getJSON("/api/v1/events?limit=1", &ev)
	if resp, b := c.get("/api/v1/pairs?after=" + url.QueryEscape(ev.Next)); resp.StatusCode != 400 || errorCode(t, b) != "bad_cursor" {
		t.Errorf("events cursor on pairs: %d %s", resp.StatusCode, b)
	}
	// Metacharacters as values are plain values: no match, no error.
	for _, v := range []string{"' OR '1'='1", `"; DROP TABLE events; --`, "%", "_", "*", `\`} {
		var p struct{ Items []any }
		c.getJSON("/api/v1/events?computer="+url.QueryEscape(v), &p)
		if len(p.Items) != 0 {
			t.Errorf("computer=%q matched %d events", v, len(p.Items))
		}
		n++
	}
	var all struct{ Items []any }
	c.getJSON("/api/v1/events?limit=1000", &all)
	if len(all.Items) == 0 {
		t.Fatal("the events table lost its rows")
	}
	t.Logf("%d hostile requests, all answered 4xx JSON", n)
}

// TestAPIListsAndFilters: filters select what they say, timestamps are RFC
// 3339 UTC, and cursors walk each list once.
func TestAPIListsAndFilters(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	total := seedFleet(t, ts.db)
	c := newClient(t, ts.URL, "")

	type item = map[string]any
	walk := func(path string) []item {
		var out []item
		next := ""
		for i := 0; ; i++ {
			p := path
			if next != "" {
				p += "&after=" + url.QueryEscape(next)
			}
			var pg struct {
				Items []item
				Next  string
			}
			c.getJSON(p, &pg)
			out = append(out, pg.Items...)
			if pg.Next == "" {
				return out
			}
			next = pg.Next
			if i > 10000 {
				t.Fatal("endless paging")
			}
		}
	}
	evs := walk("/api/v1/events?limit=17")
	if len(evs) != total {
		t.Fatalf("events: %d, stored %d", len(evs), total)
	}
	for _, e := range evs {
		ts, _ := e["time"].(string)
		if pt, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") || pt.Location() != time.UTC {
			t.Fatalf("time %q is not RFC 3339 UTC", ts)
		}
	}
	if n := len(walk("/api/v1/events?limit=1000&kind=disconnect")); n != 12*15 {
		t.Errorf("disconnects: %d", n)
	}
	if n := len(walk("/api/v1/events?limit=1000&computer=hq-pc03.CORP.example")); n != 31 {
		t.Errorf("one computer (any case): %d", n)
	}
	if n := len(walk("/api/v1/events?limit=1000&since=2024-05-02T10:00:00Z&until=2024-05-02T11:00:00Z")); n == 0 || n >= total {
		t.Errorf("window: %d of %d", n, total)
	}
	comps := walk("/api/v1/computers?limit=5")
	if len(comps) != 12 {
		t.Errorf("computers: %d", len(comps))
	}
	pairs := walk("/api/v1/pairs?limit=7")
	if len(pairs) != 12*15 {
		t.Errorf("pairs: %d", len(pairs))
	}
	seen := map[string]bool{}
	for _, p := range pairs {
		k := fmt.Sprint(p["computer"], p["disconnect"])
		if seen[k] {
			t.Errorf("pair %s twice", k)
		}
		seen[k] = true
	}
	if n := len(walk("/api/v1/pairs?limit=1000&computer=HQ-PC05.corp.example&kind=closed")); n != 15 {
		t.Errorf("pairs of one computer: %d", n)
	}
	ds := walk("/api/v1/diagnoses?limit=1")
	if len(ds) == 0 || ds[0]["kind"] != "idle-timeout" {
		t.Fatalf("diagnoses: %v", ds)
	}
	var d map[string]any
	c.getJSON("/api/v1/diagnoses/"+url.PathEscape(ds[0]["id"].(string)), &d)
	if d["id"] != ds[0]["id"] {
		t.Errorf("diagnosis by id: %v", d["id"])
	}
	if resp, _ := c.get("/api/v1/diagnoses/no-such-thing"); resp.StatusCode != 404 {
		t.Errorf("unknown diagnosis: %d", resp.StatusCode)
	}
	var comp map[string]any
	c.getJSON("/api/v1/computers/hq-pc02.corp.example", &comp)
	if comp["name"] != "HQ-PC02.corp.example" || comp["pairs"].(float64) != 15 {
		t.Errorf("computer: %v", comp)
	}
	if n := len(walk("/api/v1/diagnoses?limit=10&kind=shared-outage")); n != 0 {
		t.Errorf("shared outages: %d", n)
	}
	if n := len(walk("/api/v1/diagnoses?limit=10&computer=nobody")); n != 0 {
		t.Errorf("diagnoses of nobody: %d", n)
	}
}

// evtxUpload builds a multipart body holding one generated EVTX file.
func evtxUpload(t testing.TB, dir string, name string, recs []evtxtest.Record) (*bytes.Buffer, string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := evtxtest.WriteFile(path, recs); err != nil {
		t.Fatal(err)
	}
	return multipartFile(t, path)
}

func multipartFile(t testing.TB, path string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", filepath.Base(path))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(b)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// TestEventPollerExactlyOnce: while uploads keep arriving concurrently, a
// client that pages /events by cursor (and polls on from its checkpoint)
// ends with every stored event exactly once.
func TestEventPollerExactlyOnce(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	ingestTok := mustToken(t, ts.db, "agent", "ingest")
	reader := newClient(t, ts.URL, mustToken(t, ts.db, "siem", "read"))
	dir := t.TempDir()

	const writers, filesEach, perFile = 3, 6, 120
	var wg sync.WaitGroup
	var done atomic.Bool
	errs := make(chan error, writers*filesEach)
	t0 := time.Date(2024, 5, 2, 8, 0, 0, 0, time.UTC)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			up := newClient(t, ts.URL, ingestTok)
			for f := 0; f < filesEach; f++ {
				var recs []evtxtest.Record
				for i := 0; i < perFile; i++ {
					id := uint16(25 + i%2)
					at := t0.Add(time.Duration(f*perFile+i) * time.Minute)
					recs = append(recs, evtxtest.Classic("Outlook", fmt.Sprintf("PC%d-%d.corp", w, f%2), at, id, "msg"))
				}
				body, ct := evtxUpload(t, dir, fmt.Sprintf("w%d-f%d.evtx", w, f), recs)
				req, _ := http.NewRequest("POST", ts.URL+"/api/v1/uploads", body)
				req.Header.Set("Content-Type", ct)
				req.Header.Set("Authorization", "Bearer "+ingestTok)
				resp, err := up.hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 {
					errs <- fmt.Errorf("upload: %d %s", resp.StatusCode, b)
				}
			}
		}(w)
	}
	go func() { wg.Wait(); done.Store(true) }()

	seen := map[int64]int{}
	var lastSeq int64
	checkpoint := ""
	pages, during, emptyAfterDone := 0, 0, 0
	for emptyAfterDone < 2 {
		finished := done.Load() // read before the page: a page after this saw everything
		p := "/api/v1/events?limit=50"
		if checkpoint != "" {
			p += "&after=" + url.QueryEscape(checkpoint)
		}
		var pg struct {
			Items []struct {
				Seq      int64
				Computer string
			}
			Next, Checkpoint string
		}
		reader.getJSON(p, &pg)
		pages++
		if !finished {
			during++
		}
		for _, it := range pg.Items {
			seen[it.Seq]++
			if it.Seq <= lastSeq {
				t.Fatalf("seq %d after %d", it.Seq, lastSeq)
			}
			lastSeq = it.Seq
		}
		if pg.Checkpoint == "" {
			t.Fatal("no checkpoint")
		}
		checkpoint = pg.Checkpoint
		if len(pg.Items) == 0 {
			if finished {
				emptyAfterDone++
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	stored, err := ts.db.FindEvents(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := writers * filesEach * perFile; len(stored) != want {
		t.Errorf("stored %d events, generated %d", len(stored), want)
	}
	for _, e := range stored {
		if seen[e.Seq] != 1 {
			t.Errorf("event seq %d seen %d times", e.Seq, seen[e.Seq])
		}
	}
	if len(seen) != len(stored) {
		t.Errorf("poller saw %d events, stored %d", len(seen), len(stored))
	}
	if during < 2 {
		t.Errorf("only %d pages were read while uploads ran: the test did not interleave", during)
	}
	t.Logf("%d events polled exactly once in %d pages (%d while %d uploads ran concurrently)", len(seen), pages, during, writers*filesEach)
}

// TestExports: NDJSON lines are JSON, CSV has its header and neutralised
// formulas, and CEF passes a strict parser with the hostile message intact.
func TestExports(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	total := seedFleet(t, ts.db)
	c := newClient(t, ts.URL, "")
	for _, kind := range []string{"events", "pairs", "diagnoses"} {
		for _, format := range []string{"ndjson", "csv", "cef"} {
			resp, b := c.get("/api/v1/export?kind=" + kind + "&format=" + format)
			if resp.StatusCode != 200 {
				t.Fatalf("%s %s: %d %s", kind, format, resp.StatusCode, b)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			switch format {
			case "ndjson":
				for _, l := range lines {
					if !json.Valid([]byte(l)) {
						t.Fatalf("%s ndjson line: %s", kind, l)
					}
				}
				if kind == "events" && len(lines) != total {
					t.Errorf("ndjson events: %d lines, %d stored", len(lines), total)
				}
			case "csv":
				recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
				if err != nil {
					t.Fatalf("%s csv: %v", kind, err)
				}
				if kind == "events" {
					if len(recs) != total+1 {
						t.Errorf("csv events: %d rows", len(recs))
					}
					found := false
					for _, r := range recs {
						if strings.HasPrefix(r[len(r)-1], "pipe |") {
							found = true
						}
						for _, cell := range r {
							if len(cell) > 0 && strings.ContainsRune("=+@", rune(cell[0])) {
								t.Errorf("formula cell %q", cell)
							}
						}
					}
					if !found {
						t.Error("csv lost the hostile message")
					}
				}
			case "cef":
				msgs := 0
				for i, l := range lines {
					rec, err := parseCEF(l)
					if err != nil {
						t.Fatalf("%s cef line %d: %v\n%s", kind, i, err, l)
					}
					if rec.Header[0] != "idletrace" || rec.Header[1] != "idletrace" {
						t.Fatalf("cef header %v", rec.Header)
					}
					if rec.Ext["msg"] == hostileMessage {
						msgs++
					}
				}
				if kind == "events" {
					if len(lines) != total {
						t.Errorf("cef events: %d lines", len(lines))
					}
					if msgs != 1 {
						t.Errorf("the hostile message survived %d times, want 1", msgs)
					}
				}
			}
		}
	}
	// Incremental event export from a cursor.
	var pg struct{ Checkpoint string }
	c.getJSON("/api/v1/events?limit=100", &pg)
	_, b := c.get("/api/v1/export?kind=events&format=ndjson&after=" + url.QueryEscape(pg.Checkpoint))
	if n := strings.Count(string(b), "\n"); n != total-100 {
		t.Errorf("export after the first 100: %d lines, want %d", n, total-100)
	}
	for _, p := range []string{"?kind=events", "?format=csv", "?kind=x&format=csv", "?kind=events&format=xml", "?kind=pairs&format=csv&after=x"} {
		if resp, _ := c.get("/api/v1/export" + p); resp.StatusCode != 400 {
			t.Errorf("export%s: %d", p, resp.StatusCode)
		}
	}
}

// TestCEFEscaping checks the escaping rules on crafted records through the
// parser, including the header.
func TestCEFParserRejects(t *testing.T) {
	for _, bad := range []string{
		"CEF:0|a|b|1|x|name|3|msg=a=b",         // unescaped = in a value
		"CEF:0|a|b|1|x|na|me|3|msg=a",          // unescaped | in the header
		"CEF:0|a|b|1|x|name|3|msg=a\\qb",       // unknown escape
		"CEF:0|a|b|1|x|name|3|msg=line\nbreak", // raw newline
		"CEF:0|a|b|1|x|name|3|m sg=a",          // bad key
		"CEF:0|a|b|1|x|name|3|msg=a\\",         // dangling backslash
		"CEF:1|a|b|1|x|name|3|msg=a",           // version
		"CEF:0|a|b|1|x|na\\=me|3|msg=a",        // \= is no header escape
		"CEF:0|a|b|1|x|name|11|msg=a",          // severity
	} {
		if _, err := parseCEF(bad); err == nil {
			t.Errorf("parser accepted %q", bad)
		}
	}
	rec, err := parseCEF(`CEF:0|v\|x|p\\q|1|id|n|3|msg=a\=b\\c\nd cs1=x y`)
	if err != nil || rec.Header[0] != "v|x" || rec.Header[1] != `p\q` || rec.Ext["msg"] != "a=b\\c\nd" || rec.Ext["cs1"] != "x y" {
		t.Fatalf("%+v %v", rec, err)
	}
}

// TestMetrics: /metrics has the ingest, analysis, HTTP and database series.
func TestMetrics(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	c := newClient(t, ts.URL, "")
	body, ct := evtxUpload(t, t.TempDir(), "m.evtx", []evtxtest.Record{
		evtxtest.Classic("Outlook", "PC1.corp", time.Date(2024, 5, 2, 9, 0, 0, 0, time.UTC), 25, "msg"),
		evtxtest.Classic("Outlook", "PC1.corp", time.Date(2024, 5, 2, 9, 1, 0, 0, time.UTC), 26, "msg"),
	})
	if resp, b := c.do("POST", "/api/v1/uploads", body, map[string]string{"Content-Type": ct}); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	c.get("/api/v1/report")
	c.get("/api/v1/computers/PC1.corp")
	resp, b := c.get("/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`idletrace_ingest_events_total{result="new"} 2`,
		`idletrace_ingest_bytes_total `,
		`idletrace_ingest_errors_total 0`,
		`idletrace_ingest_duration_seconds_count 1`,
		`idletrace_analysis_duration_seconds_count`,
		`idletrace_http_request_duration_seconds_count{method="GET",route="/api/v1/computers/{name}",status="200"} 1`,
		`idletrace_database_size_bytes `,
		`go_goroutines`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestPush: new diagnoses reach a Splunk HEC (after a failure, by retry)
// and a webhook, once each, also across a restart.
func TestPush(t *testing.T) {
	var mu sync.Mutex
	var hec, hook []map[string]any
	hecCalls := 0
	hecSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hecCalls++
		if r.Header.Get("Authorization") != "Splunk hec-secret" {
			w.WriteHeader(401)
			return
		}
		if hecCalls == 1 {
			w.WriteHeader(503) // the first try fails
			return
		}
		var env map[string]any
		json.NewDecoder(r.Body).Decode(&env)
		hec = append(hec, env)
		w.Write([]byte(`{"text":"Success","code":0}`))
	}))
	defer hecSrv.Close()
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var b map[string]any
		json.NewDecoder(r.Body).Decode(&b)
		hook = append(hook, b)
	}))
	defer hookSrv.Close()

	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "push.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seedFleet(t, db)
	push := web.PushConfig{HECURL: hecSrv.URL + "/services/collector/event", HECToken: "hec-secret", WebhookURL: hookSrv.URL,
		Interval: 20 * time.Millisecond, RetryBase: 5 * time.Millisecond}
	run := func() {
		srv, err := web.NewServer(web.Config{Addr: "127.0.0.1:0", TempDir: t.TempDir(), Push: push}, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Open(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(hec) + len(hook)
			mu.Unlock()
			if n >= 2 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // a few more checks: nothing is sent twice
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	run()
	run() // a restart sends nothing again
	mu.Lock()
	defer mu.Unlock()
	ids := map[string]int{}
	for _, e := range hec {
		ev, _ := e["event"].(map[string]any)
		ids[fmt.Sprint(ev["id"])]++
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("diagnosis %s pushed %d times", id, n)
		}
	}
	if len(hec) == 0 || len(hec) != len(hook) || hecCalls != len(hec)+1 {
		t.Fatalf("hec got %d, webhook %d, hec calls %d", len(hec), len(hook), hecCalls)
	}
	ev, _ := hec[0]["event"].(map[string]any)
	if hec[0]["sourcetype"] != "idletrace:diagnosis" || ev["kind"] != "idle-timeout" || hec[0]["time"] == nil {
		t.Errorf("HEC envelope: %v", hec[0])
	}
	if d, _ := hook[0]["diagnosis"].(map[string]any); d["id"] != ev["id"] || hook[0]["type"] != "idletrace.diagnosis" {
		t.Errorf("webhook body: %v", hook[0])
	}
}
