package web_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idletrace/store"
	"idletrace/web"
)

// slowFirstRead is a real store whose analysis reads wait until release is
// closed: a server starting on a large database, whose first analysis reads
// for half a minute.
type slowFirstRead struct {
	*store.DB
	release chan struct{}
}

func (s *slowFirstRead) AnalysisEventsAfter(ctx context.Context, after int64, limit int, names *store.Interner) (*store.EventDelta, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.DB.AnalysisEventsAfter(ctx, after, limit, names)
}

// TestPagesWhileTheFirstAnalysisLoads: while the first analysis after a
// start is still reading, a page answers within seconds that it is
// loading (503, Retry-After, a page that reloads itself) instead of
// holding a read turn until it is done; the dashboard appears once it is.
func TestPagesWhileTheFirstAnalysisLoads(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "slow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	slow := &slowFirstRead{DB: db, release: make(chan struct{})}
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir()}, slow, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newHTTPTest(t, srv)
	client := &http.Client{Timeout: 15 * time.Second} // a page that waits for the analysis fails here
	get := func(path string) (*http.Response, string, time.Duration) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Accept", "text/html")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b), time.Since(start)
	}
	for _, path := range []string{"/", "/computers"} {
		resp, body, took := get(path)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
			t.Fatalf("%s while loading: %d, Retry-After %q, want 503 and 5", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if !strings.Contains(body, `<meta http-equiv="refresh" content="5">`) || !strings.Contains(body, "reloads by itself") {
			t.Fatalf("%s while loading: the page neither reloads nor says so:\n%s", path, body)
		}
		if took > 10*time.Second {
			t.Errorf("%s answered after %v", path, took)
		}
		t.Logf("%s while loading: 503 after %v", path, took.Round(time.Millisecond))
	}
	close(slow.release)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body, _ := get("/")
		if resp.StatusCode == http.StatusOK {
			if strings.Contains(body, "reloads by itself") {
				t.Fatal("the dashboard still says it is loading")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dashboard 30 s after the analysis could read: %d", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
