package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"idletrace/ingest/evtxtest"
	"idletrace/store"
)

// buildServer compiles this command once per test run.
func buildServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: builds and runs the server binary")
	}
	bin := filepath.Join(t.TempDir(), "idletrace-server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serverProc is a running server binary.
type serverProc struct {
	cmd *exec.Cmd
	url string
}

func startServer(t *testing.T, bin, db string) *serverProc {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-db", db, "-log-level", "error")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("server printed no startup line: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	return &serverProc{cmd: cmd, url: regexp.MustCompile(`http://[0-9.:]+`).FindString(line)}
}

// bigOutlookLog writes an EVTX file with n Outlook events over many
// computers, big enough that ingesting it takes a while.
func bigOutlookLog(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.evtx")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w, err := evtxtest.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		id := uint16(25 + i%2)
		if err := w.Write(evtxtest.Classic("Outlook", fmt.Sprintf("PC%04d.corp.example", i%500), t0.Add(time.Duration(i)*time.Second), id, "msg")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func countEvents(t *testing.T, dbPath string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		return -1
	}
	return n
}

func postFile(url, path string) (*http.Response, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return http.Post(url+"/api/v1/uploads?name=big.evtx", "application/octet-stream", bytes.NewReader(b))
}

// TestCrashDuringIngest kills the real server with SIGKILL in the middle of
// a large ingest, restarts it, and checks the database is sound, the upload
// is shown as incomplete, and a second upload ends with exact counts.
func TestCrashDuringIngest(t *testing.T) {
	bin := buildServer(t)
	const total = 150000
	log := bigOutlookLog(t, total)
	dbPath := filepath.Join(t.TempDir(), "crash.db")
	srv := startServer(t, bin, dbPath)
	go func() {
		if resp, err := postFile(srv.url, log); err == nil {
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	partial := 0
	for time.Now().Before(deadline) {
		if n := countEvents(t, dbPath); n > 0 {
			partial = n
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	srv.cmd.Process.Signal(syscall.SIGKILL)
	srv.cmd.Wait()
	if partial == 0 || partial >= total {
		t.Fatalf("kill did not land mid-ingest (events stored before the kill: %d of %d)", partial, total)
	}
	t.Logf("killed with %d of %d events stored", countEvents(t, dbPath), total)

	srv = startServer(t, bin, dbPath)
	ctx := context.Background()
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	ups, err := db.FindUploads(ctx, 0, 10)
	if err != nil || len(ups) != 1 {
		t.Fatalf("uploads %v, %v", ups, err)
	}
	if ups[0].Status != store.UploadFailed {
		t.Fatalf("the interrupted upload is %q, want failed", ups[0].Status)
	}
	resp, err := postFile(srv.url, log)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Items []struct{ Upload store.Upload }
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 201 || len(out.Items) != 1 {
		t.Fatalf("re-upload status %d", resp.StatusCode)
	}
	u := out.Items[0].Upload
	if u.NewEvents+u.DuplicateEvents != total || u.DuplicateEvents == 0 {
		t.Fatalf("re-upload: new %d + duplicates %d, want %d with some duplicates", u.NewEvents, u.DuplicateEvents, total)
	}
	if n := countEvents(t, dbPath); n != total {
		t.Fatalf("events stored %d, want exactly %d", n, total)
	}
}

// TestSIGTERMDuringIngest stops the server gracefully mid-ingest: it exits
// within the deadline, and an upload it acknowledged is complete.
func TestSIGTERMDuringIngest(t *testing.T) {
	bin := buildServer(t)
	const total = 60000
	log := bigOutlookLog(t, total)
	dbPath := filepath.Join(t.TempDir(), "term.db")
	srv := startServer(t, bin, dbPath)
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := postFile(srv.url, log)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	for i := 0; i < 30000 && countEvents(t, dbPath) <= 0; i++ {
		time.Sleep(2 * time.Millisecond)
	}
	start := time.Now()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	waitErr := make(chan error, 1)
	go func() { waitErr <- srv.cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("server exit: %v", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("server did not stop within 45 s of SIGTERM")
	}
	r := <-done
	t.Logf("stopped in %v; upload answered %d (%v)", time.Since(start).Round(time.Millisecond), r.status, r.err)
	n := countEvents(t, dbPath)
	if r.status == 201 && n != total {
		t.Fatalf("upload acknowledged but %d of %d events stored", n, total)
	}
	// Finished or cleanly aborted: never left looking like it is running,
	// never "done" with events missing.
	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ups, _ := db.FindUploads(context.Background(), 0, 10)
	if len(ups) != 1 {
		t.Fatalf("%d uploads recorded, want 1", len(ups))
	}
	switch u := ups[0]; {
	case u.Status == store.UploadDone && n != total:
		t.Fatalf("upload marked done with %d of %d events", n, total)
	case u.Status == store.UploadRunning:
		t.Fatal("upload still marked running after a graceful stop")
	}
	if err := db.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}
