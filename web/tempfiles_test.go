package web_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idletrace/store"
	"idletrace/web"
)

// TestTempFilesRemoved checks that spooled uploads leave nothing behind on
// any path: success, a bad file, a body over the limit, and a client that
// goes away in the middle of its upload.
func TestTempFilesRemoved(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "tmp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spool := t.TempDir()
	srv, err := web.NewServer(web.Config{TempDir: spool, MaxUpload: 1 << 20}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: newHTTPTest(t, srv), db: db}

	good := writeFleet(t, t.TempDir(), 1, 300*time.Second, func(int) string { return "PC1" })[0]
	if status, _, raw := postUploads(t, ts, good); status != 201 {
		t.Fatalf("good upload: %s", raw)
	}
	resp, err := http.Post(ts.URL+"/api/v1/uploads", "application/octet-stream", strings.NewReader("garbage"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Post(ts.URL+"/api/v1/uploads", "application/octet-stream", io.LimitReader(zeros{}, 3<<20))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized: %d", resp.StatusCode)
		}
	}

	// A client that sends half a file, then disappears.
	pr, pw := io.Pipe()
	cctx, cancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(cctx, "POST", ts.URL+"/api/v1/uploads", pr)
	req.Header.Set("Content-Type", "application/octet-stream")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	b, _ := os.ReadFile(good)
	pw.Write(b[:len(b)/2])
	time.Sleep(100 * time.Millisecond)
	cancel()
	pw.CloseWithError(context.Canceled)
	<-done

	deadline := time.Now().Add(5 * time.Second)
	for {
		left, _ := os.ReadDir(spool)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d temp file(s) left in the spool dir, e.g. %s", len(left), left[0].Name())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
