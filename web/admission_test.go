package web_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idletrace/store"
	"idletrace/web"
)

// holdStore is the SQLite store with FindProbes (GET /api/v1/probes)
// held until release: a read whose handler takes as long as the test
// wants, without a hook in the server.
type holdStore struct {
	*store.DB
	entered     chan struct{} // a FindProbes began
	release     chan struct{} // closed: FindProbes calls return
	releaseOnce sync.Once
	calls       atomic.Int32

	mu                  sync.Mutex
	running, maxRunning int // FindProbes calls at once, now and at most
}

func (h *holdStore) FindProbes(ctx context.Context, f store.ProbeFilter) ([]store.Probe, error) {
	h.calls.Add(1)
	h.mu.Lock()
	h.running++
	h.maxRunning = max(h.maxRunning, h.running)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.running--
		h.mu.Unlock()
	}()
	h.entered <- struct{}{}
	select {
	case <-h.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.DB.FindProbes(ctx, f)
}

func (h *holdStore) unblock() { h.releaseOnce.Do(func() { close(h.release) }) }

// newHoldServer serves cfg (no rate limit) over a holdStore.
func newHoldServer(t *testing.T, cfg web.Config) (*holdStore, *client) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "adm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	hs := &holdStore{DB: db, entered: make(chan struct{}, 16), release: make(chan struct{})}
	cfg.TempDir, cfg.RateLimit = t.TempDir(), -1
	srv, err := web.NewServer(cfg, hs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newHTTPTest(t, srv)
	t.Cleanup(hs.unblock) // before ts.Close, which waits for the handlers
	c := newClient(t, ts.URL, "")
	c.hc.Timeout = 20 * time.Second
	return hs, c
}

// metric is the value of the series line starting with series (name and
// labels as /metrics writes them), -1 when absent.
func metric(t *testing.T, c *client, series string) float64 {
	t.Helper()
	resp, b := c.get("/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %d %s", resp.StatusCode, b)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", series, v)
			}
			return f
		}
	}
	return -1
}

// waitUntil polls cond until it holds, failing after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// entered waits for a held FindProbes to begin.
func (h *holdStore) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the held read never reached its handler")
	}
}

type result struct {
	status int // 0: no answer (err)
	header http.Header
	body   []byte
	err    error
}

// goGet GETs path in the background; the result arrives on the channel.
func goGet(c *client, path string, hdr map[string]string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		req, err := http.NewRequest("GET", c.base+path, nil)
		if err != nil {
			ch <- result{err: err}
			return
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- result{status: resp.StatusCode, header: resp.Header, body: b, err: err}
	}()
	return ch
}

func await(t *testing.T, what string, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r
	case <-time.After(15 * time.Second):
		t.Fatalf("%s never answered", what)
	}
	return result{}
}

const (
	waitingSeries = "idletrace_read_requests_waiting"
	runningSeries = "idletrace_read_requests_running"
)

// TestReadAdmission: with one read slot held by a slow read, a second
// read waits its turn (the gauge shows it) while probes, /metrics, static
// files, a stream and an agent's write are answered at once; the queued
// read runs once the first is done, never alongside it.
func TestReadAdmission(t *testing.T) {
	hs, c := newHoldServer(t, web.Config{MaxConcurrentReads: 1})
	first := goGet(c, "/api/v1/probes", nil)
	hs.waitEntered(t)
	second := goGet(c, "/api/v1/probes", nil)
	waitUntil(t, "the second read waits", func() bool { return metric(t, c, waitingSeries) == 1 })
	if n := metric(t, c, runningSeries); n != 1 {
		t.Errorf("%v reads running, want 1", n)
	}

	for _, path := range []string{"/healthz", "/readyz", "/static/style.css", "/api/v1/export?kind=events&format=ndjson"} {
		if resp, b := c.get(path); resp.StatusCode != 200 {
			t.Errorf("GET %s while the read slot is held: %d %s", path, resp.StatusCode, b)
		}
	}
	batch := agentBatch("PC01", time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC), 1, 3)
	if resp, b := c.do("POST", "/api/v1/events", bytes.NewReader(batch), map[string]string{"Content-Type": "application/x-ndjson"}); resp.StatusCode >= 300 {
		t.Errorf("agent POST while the read slot is held: %d %s", resp.StatusCode, b)
	}

	select {
	case r := <-first:
		t.Fatalf("the held read answered %d before it was released", r.status)
	case r := <-second:
		t.Fatalf("the queued read answered %d while the slot was held", r.status)
	default:
	}
	if n := hs.calls.Load(); n != 1 {
		t.Fatalf("%d probe reads began with one slot held, want 1", n)
	}
	if n := metric(t, c, waitingSeries); n != 1 {
		t.Errorf("%v reads waiting after the others were served, want 1", n)
	}

	hs.unblock()
	for what, ch := range map[string]<-chan result{"first": first, "second": second} {
		if r := await(t, what+" read", ch); r.status != 200 {
			t.Errorf("%s read: %d %s", what, r.status, r.body)
		}
	}
	if n := hs.calls.Load(); n != 2 {
		t.Errorf("%d probe reads ran, want 2", n)
	}
	hs.mu.Lock()
	most := hs.maxRunning
	hs.mu.Unlock()
	if n := most; n != 1 {
		t.Errorf("%d probe reads ran at once with one slot", n)
	}
	waitUntil(t, "the queue drains", func() bool {
		return metric(t, c, waitingSeries) == 0 && metric(t, c, runningSeries) == 0
	})
}

// TestReadQueueTimeout: a read that waits past the queue timeout gets
// 503 with Retry-After: 1, as JSON from the API and as a page elsewhere,
// without running; the time it waited is in the request duration.
func TestReadQueueTimeout(t *testing.T) {
	const timeout = 100 * time.Millisecond
	hs, c := newHoldServer(t, web.Config{MaxConcurrentReads: 1, ReadQueueTimeout: timeout})
	held := goGet(c, "/api/v1/probes", nil)
	hs.waitEntered(t)

	api := await(t, "the queued API read", goGet(c, "/api/v1/report", nil))
	if api.status != http.StatusServiceUnavailable || api.header.Get("Retry-After") != "1" {
		t.Errorf("queued API read past the timeout: %d, Retry-After %q, want 503, 1", api.status, api.header.Get("Retry-After"))
	}
	if code := errorCode(t, api.body); code != "overloaded" {
		t.Errorf("error code %q, want overloaded", code)
	}
	page := await(t, "the queued page", goGet(c, "/changes", map[string]string{"Accept": "text/html"}))
	if page.status != http.StatusServiceUnavailable || page.header.Get("Retry-After") != "1" ||
		!strings.HasPrefix(page.header.Get("Content-Type"), "text/html") || !strings.Contains(string(page.body), "waited too long") {
		t.Errorf("queued page past the timeout: %d, Retry-After %q, %s: %.200s", page.status, page.header.Get("Retry-After"), page.header.Get("Content-Type"), page.body)
	}
	if n := hs.calls.Load(); n != 1 {
		t.Errorf("%d probe reads ran, want 1", n)
	}

	series := `idletrace_http_request_duration_seconds_%s{method="GET",route="/api/v1/report",status="503"}`
	if n := metric(t, c, strings.Replace(series, "%s", "count", 1)); n != 1 {
		t.Errorf("%v timed-out reads of /api/v1/report in the histogram, want 1", n)
	}
	if sum := metric(t, c, strings.Replace(series, "%s", "sum", 1)); sum < timeout.Seconds() {
		t.Errorf("the timed-out read took %vs by the histogram, less than the %v it waited", sum, timeout)
	}
	hs.unblock()
	if r := await(t, "the held read", held); r.status != 200 {
		t.Errorf("held read: %d %s", r.status, r.body)
	}
}

// TestReadQueueClientGone: a client that gives up while queued leaves the
// queue at once (before the slot frees) and its handler never runs.
func TestReadQueueClientGone(t *testing.T) {
	hs, c := newHoldServer(t, web.Config{MaxConcurrentReads: 1})
	held := goGet(c, "/api/v1/probes", nil)
	hs.waitEntered(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gone := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/probes", nil)
		resp, err := c.hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		gone <- err
	}()
	waitUntil(t, "the second read waits", func() bool { return metric(t, c, waitingSeries) == 1 })
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	waitUntil(t, "the cancelled read leaves the queue", func() bool { return metric(t, c, waitingSeries) == 0 })

	hs.unblock()
	if r := await(t, "the held read", held); r.status != 200 {
		t.Fatalf("held read: %d %s", r.status, r.body)
	}
	// Queued behind the cancelled one if it were still there.
	if r := await(t, "a later read", goGet(c, "/api/v1/probes", nil)); r.status != 200 {
		t.Fatalf("later read: %d %s", r.status, r.body)
	}
	if n := hs.calls.Load(); n != 2 {
		t.Errorf("%d probe reads ran, want 2: the cancelled one ran", n)
	}
	if n := metric(t, c, `idletrace_http_request_duration_seconds_count{method="GET",route="/api/v1/probes",status="499"}`); n != 1 {
		t.Errorf("%v abandoned reads recorded as 499, want 1", n)
	}
}
