package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idletrace/analysis"
	"idletrace/ingest"
	"idletrace/store"
	"idletrace/web"
)

// agentBatch is NDJSON of n disconnect/reconnect pairs of one computer.
func agentBatch(computer string, start time.Time, rec0, n int) []byte {
	var b bytes.Buffer
	for i := range n {
		t := start.Add(time.Duration(i) * 20 * time.Minute)
		fmt.Fprintf(&b, `{"computer":%q,"channel":"Application","provider":"Outlook","event_id":25,"record_id":%d,"time":%q}`+"\n",
			computer, rec0+2*i, t.Format(time.RFC3339))
		fmt.Fprintf(&b, `{"computer":%q,"channel":"Application","provider":"Outlook","event_id":26,"record_id":%d,"time":%q}`+"\n",
			computer, rec0+2*i+1, t.Add(30*time.Second).Format(time.RFC3339))
	}
	return b.Bytes()
}

func doReq(t *testing.T, method, url, token, ct string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

func reportOf(t *testing.T, b []byte) analysis.Report {
	t.Helper()
	var rep analysis.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("report: %v: %s", err, b)
	}
	return rep
}

// TestReportCacheReadYourWrites: the report is computed in the background
// and cached; a client that posted events sees them on its very next read,
// every time; events stored by others (here: straight into the database)
// show up without anyone waiting for them.
func TestReportCacheReadYourWrites(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	ctx := context.Background()
	writer, _, err := ts.db.CreateToken(ctx, "writer", "admin")
	if err != nil {
		t.Fatal(err)
	}
	reader, _, err := ts.db.CreateToken(ctx, "reader", "read")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC)
	for i := range 8 {
		resp, b := doReq(t, "POST", ts.URL+"/api/v1/events", writer, "application/x-ndjson",
			agentBatch(fmt.Sprintf("PC%02d", i), start, 1, 3))
		if resp.StatusCode >= 300 {
			t.Fatalf("post: %d %s", resp.StatusCode, b)
		}
		resp, b = doReq(t, "GET", ts.URL+"/api/v1/report", writer, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("report: %d %s", resp.StatusCode, b)
		}
		if rep := reportOf(t, b); rep.Computers != i+1 || rep.Pairs != 3*(i+1) {
			t.Fatalf("after batch %d the writer sees %d computers, %d pairs: its own write is missing", i, rep.Computers, rep.Pairs)
		}
		if resp.Header.Get("X-Analysis-As-Of") == "" {
			t.Error("no X-Analysis-As-Of header")
		}
	}
	// A writer outside the server (the ingest command, say): picked up by
	// the change-mark poll; the reader is never made to wait for it.
	evs := []ingest.Event{}
	for i := range 4 {
		evs = append(evs, ingest.Event{Computer: "OUT01", Channel: "Application", Provider: "Outlook",
			EventID: 25 + i%2, RecordID: int64(i + 1), Time: start.Add(time.Duration(i) * time.Minute), Qualifiers: -1})
	}
	if _, _, err := ts.db.InsertEvents(ctx, 0, evs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		t0 := time.Now()
		resp, b := doReq(t, "GET", ts.URL+"/api/v1/report", reader, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("report: %d %s", resp.StatusCode, b)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("a reader waited %v", d)
		}
		if reportOf(t, b).Computers == 9 {
			if resp.Header.Get("X-Analysis-Updating") != "" {
				t.Error("up to date, yet marked updating")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("events stored outside the server never reached the report")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The dashboard says how old its analysis is.
	resp, b := doReq(t, "GET", ts.URL+"/", reader, "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "analysis as of") {
		t.Fatalf("dashboard: %d, no 'analysis as of'", resp.StatusCode)
	}
}

// TestAnalysisWorkerStopsOnClose: Close returns promptly with the
// background analysis running, and the cached report matches a full
// analysis of the database.
func TestAnalysisWorkerStopsOnClose(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, err := web.NewServer(web.Config{Addr: "127.0.0.1:0", TempDir: t.TempDir()}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC)
	for i := range 5 {
		resp, b := doReq(t, "POST", srv.URL()+"/api/v1/events", "", "application/x-ndjson", agentBatch(fmt.Sprintf("HQ-PC%02d", i), start, 1, 10))
		if resp.StatusCode >= 300 {
			t.Fatalf("post: %d %s", resp.StatusCode, b)
		}
	}
	_, b := doReq(t, "GET", srv.URL()+"/api/v1/report", "", "", nil)
	evs, err := db.AnalysisEvents(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(analysis.Analyze(evs, analysis.Options{}).Report)
	if got := bytes.TrimSpace(b); !bytes.Equal(got, want) {
		t.Errorf("cached report differs from a full analysis:\n got %s\nwant %s", got, want)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := srv.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
}

// TestDashboardRenderOnce: after the analysis changes, concurrent
// requests for the dashboard wait for one render of it instead of each
// rendering the page.
func TestDashboardRenderOnce(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "dash.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// No read bound: requests held in the render must not hold back the
	// others in the read queue.
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir(), RateLimit: -1, MaxConcurrentReads: -1}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newHTTPTest(t, srv)
	c := newClient(t, ts.URL, "")
	c.hc.Timeout = 20 * time.Second
	start := time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC)
	post := func(computer string) {
		t.Helper()
		resp, b := c.do("POST", "/api/v1/events", bytes.NewReader(agentBatch(computer, start, 1, 3)), map[string]string{"Content-Type": "application/x-ndjson"})
		if resp.StatusCode >= 300 {
			t.Fatalf("post: %d %s", resp.StatusCode, b)
		}
	}
	post("PC01")
	if resp, _ := c.get("/"); resp.StatusCode != 200 {
		t.Fatalf("dashboard: %d", resp.StatusCode)
	}
	post("PC02")
	// The client's next read waits for its write; then nothing is pending.
	waitUntil(t, "the analysis holds both computers", func() bool {
		resp, b := c.get("/api/v1/report")
		return resp.StatusCode == 200 && reportOf(t, b).Computers == 2 && resp.Header.Get("X-Analysis-Updating") == ""
	})

	renders := metric(t, c, "idletrace_dashboard_renders_total")
	started, release := srv.HoldDashboardRenders()
	defer release()
	const n = 8
	var answers []<-chan result
	for range n {
		answers = append(answers, goGet(c, "/", nil))
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("no dashboard render began")
	}
	waitUntil(t, "the other requests wait for the render", func() bool { return srv.DashboardWaiters() == n-1 })
	select {
	case <-started:
		t.Fatal("a second request rendered the same analysis")
	default:
	}
	release()
	var first []byte
	for i, ch := range answers {
		r := await(t, "a dashboard request", ch)
		if r.status != 200 || !bytes.Contains(r.body, []byte("PC02")) {
			t.Fatalf("dashboard %d: %d, PC02 in it: %v", i, r.status, bytes.Contains(r.body, []byte("PC02")))
		}
		if first == nil {
			first = r.body
		} else if !bytes.Equal(r.body, first) {
			t.Errorf("dashboard %d differs from the first", i)
		}
	}
	if got := metric(t, c, "idletrace_dashboard_renders_total") - renders; got != 1 {
		t.Errorf("%v dashboard renders for %d concurrent requests of one new analysis, want 1", got, n)
	}
}

// TestDashboardCacheIgnoresQueries: a dashboard asked for with a query
// (its links carry the query back) is rendered for that request alone:
// the next plain request does not get a page built around someone else's
// query, and does not count as a render shared with it.
func TestDashboardCacheIgnoresQueries(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "dashq.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir(), RateLimit: -1}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newHTTPTest(t, srv)
	c := newClient(t, ts.URL, "")
	start := time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC)
	if resp, b := c.do("POST", "/api/v1/events", bytes.NewReader(agentBatch("PC01", start, 1, 3)), map[string]string{"Content-Type": "application/x-ndjson"}); resp.StatusCode >= 300 {
		t.Fatalf("post: %d %s", resp.StatusCode, b)
	}
	const marker = "zz-someone-elses-query"
	resp, b := c.get("/?" + marker + "=1")
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(marker)) {
		t.Fatalf("dashboard with a query: %d, carries it back: %v", resp.StatusCode, bytes.Contains(b, []byte(marker)))
	}
	renders := metric(t, c, "idletrace_dashboard_renders_total")
	resp, b = c.get("/")
	if resp.StatusCode != 200 || bytes.Contains(b, []byte(marker)) {
		t.Fatalf("plain dashboard: %d, holds the other request's query: %v", resp.StatusCode, bytes.Contains(b, []byte(marker)))
	}
	if got := metric(t, c, "idletrace_dashboard_renders_total"); got != renders+1 {
		t.Fatalf("plain dashboard: %v shared renders after %v, want one more", got, renders)
	}
}
