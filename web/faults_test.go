package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"idletrace/store"
	"idletrace/web"
)

// TestDatabaseFull fills a size-capped database through uploads: the
// client gets a clear 507, the server keeps serving, and the database
// stays sound with every event it acknowledged.
func TestDatabaseFull(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "full.db")
	db, err := store.OpenWithOptions(ctx, dbPath, store.Options{MaxBytes: 320 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir()}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: newHTTPTest(t, srv), db: db}
	acked := 0
	var full bool
	for i := 0; i < 60 && !full; i++ {
		paths := writeFleet(t, t.TempDir(), 4, 300*time.Second, func(c int) string {
			return fmt.Sprintf("PC-%03d-%d.a-rather-long-domain-name.corp.example", i, c)
		})
		status, items, raw := postUploads(t, ts, paths...)
		switch {
		case status == http.StatusCreated:
			for _, it := range items {
				if it.Upload != nil && it.Error == nil {
					acked += it.Upload.NewEvents
				} else if it.Error != nil && it.Error.Code == "storage_full" {
					full = true
				}
			}
		case status == http.StatusInsufficientStorage:
			var e struct {
				Error struct{ Code, Message string }
			}
			json.Unmarshal(raw, &e)
			if e.Error.Code != "storage_full" || e.Error.Message == "" {
				t.Fatalf("507 body: %s", raw)
			}
			full = true
		default:
			t.Fatalf("status %d: %s", status, raw)
		}
	}
	if !full {
		t.Fatal("the database never filled up")
	}
	if code, _ := getPage(t, ts.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz %d after the database filled", code)
	}
	if code, _ := getPage(t, ts.URL+"/"); code != 200 {
		t.Fatalf("dashboard %d after the database filled", code)
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := db.Stats(ctx)
	if st.Events < acked {
		t.Fatalf("%d events acknowledged, %d stored", acked, st.Events)
	}
}

// TestDatabaseReadOnly serves a read-only database: writes get a clear
// 503 with Retry-After, pages and reads keep working, nothing changes.
func TestDatabaseReadOnly(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "ro.db")
	rw, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	rwSrv, _ := web.NewServer(web.Config{TempDir: t.TempDir()}, rw, nil)
	paths := writeFleet(t, t.TempDir(), 4, 300*time.Second, func(c int) string { return fmt.Sprintf("RO-PC%d", c) })
	if status, _, raw := postUploads(t, &testServer{Server: newHTTPTest(t, rwSrv), db: rw}, paths...); status != 201 {
		t.Fatalf("seed upload: %s", raw)
	}
	rw.Close()

	db, err := store.OpenWithOptions(ctx, dbPath, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, _ := web.NewServer(web.Config{TempDir: t.TempDir()}, db, nil)
	ts := &testServer{Server: newHTTPTest(t, srv), db: db}
	more := writeFleet(t, t.TempDir(), 1, 300*time.Second, func(int) string { return "RO-NEW" })
	body, ct := multipartBody(t, nil, more...)
	resp, err := http.Post(ts.URL+"/api/v1/uploads", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "read_only" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("upload to a read-only database: %d %+v", resp.StatusCode, e)
	}
	for _, p := range []string{"/", "/uploads", "/api/v1/report", "/healthz"} {
		if code, _ := getPage(t, ts.URL+p); code != 200 {
			t.Errorf("%s: %d on a read-only database", p, code)
		}
	}
	if rep := getReport(t, ts); rep.Computers != 4 {
		t.Fatalf("report on the read-only database: %d computers, want 4", rep.Computers)
	}
}
