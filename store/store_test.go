package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

// MustOpenDB opens a fresh database file in a temp dir, closed at cleanup.
func MustOpenDB(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "test.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func outlook(computer string, id int, rec int64, t time.Time) ingest.Event {
	return ingest.Event{Computer: computer, Channel: "Application", Provider: "Outlook", EventID: id,
		Qualifiers: 16384, Level: 4, RecordID: rec, Time: t, Precision: 100, Message: "m"}
}

func TestOpen(t *testing.T) {
	t.Run("ReopenKeepsDataAndSkipsMigrations", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "re.db")
		ctx := context.Background()
		db, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
		if _, _, err := db.InsertEvents(ctx, 0, []ingest.Event{outlook("PC1", 25, 1, t0)}); err != nil {
			t.Fatal(err)
		}
		db.Close()
		db, err = store.Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer db.Close()
		s, err := db.Stats(ctx)
		if err != nil || s.Events != 1 {
			t.Fatalf("stats = %+v, %v; want 1 event", s, err)
		}
	})
	t.Run("ErrMemory", func(t *testing.T) {
		if _, err := store.Open(context.Background(), ":memory:"); err == nil {
			t.Fatal("want an error for :memory:")
		}
	})
}

func TestInsertEvents(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 123456700, time.UTC)
	t.Run("DedupAcrossBatchesAndCase", func(t *testing.T) {
		db := MustOpenDB(t)
		evs := []ingest.Event{outlook("HQ-PC01.corp", 25, 10, t0), outlook("HQ-PC01.corp", 26, 11, t0.Add(time.Minute))}
		if n, d, err := db.InsertEvents(ctx, 0, evs); err != nil || n != 2 || d != 0 {
			t.Fatalf("first insert: new %d dup %d err %v", n, d, err)
		}
		// Same records, other case and millisecond precision (a Winlogbeat copy).
		again := []ingest.Event{outlook("hq-pc01.CORP", 25, 10, t0.Truncate(time.Millisecond)), outlook("HQ-PC01.corp", 26, 11, t0.Add(time.Minute))}
		if n, d, err := db.InsertEvents(ctx, 0, again); err != nil || n != 0 || d != 2 {
			t.Fatalf("second insert: new %d dup %d err %v; want 0 new, 2 dup", n, d, err)
		}
	})
	t.Run("SameTextOtherRecordIDsAreTwoEvents", func(t *testing.T) {
		db := MustOpenDB(t)
		evs := []ingest.Event{outlook("PC", 25, 1, t0), outlook("PC", 25, 2, t0)}
		if n, _, err := db.InsertEvents(ctx, 0, evs); err != nil || n != 2 {
			t.Fatalf("new = %d, err %v; want 2", n, err)
		}
	})
	t.Run("NoRecordIDDedupsOnMessage", func(t *testing.T) {
		db := MustOpenDB(t)
		a := outlook("PC", 25, 0, t0)
		b := a
		b.Time = t0.Truncate(time.Second)
		c := a
		c.Message = "other"
		if n, d, err := db.InsertEvents(ctx, 0, []ingest.Event{a, b, c}); err != nil || n != 2 || d != 1 {
			t.Fatalf("new %d dup %d err %v; want 2 new 1 dup", n, d, err)
		}
	})
}

func TestFindEvents(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	var evs []ingest.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, outlook("PC"+string(rune('A'+i%2)), 25+i%2, int64(i+1), t0.Add(time.Duration(i)*time.Hour)))
	}
	if _, _, err := db.InsertEvents(ctx, 0, evs); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindEvents(ctx, store.EventFilter{Computer: "pca", Since: t0.Add(2 * time.Hour), Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].RecordID != 3 || got[1].RecordID != 5 {
		t.Fatalf("got %+v", got)
	}
	next, err := db.FindEvents(ctx, store.EventFilter{Computer: "PCA", After: got[1].Seq})
	if err != nil || len(next) != 2 || next[0].RecordID != 7 {
		t.Fatalf("after cursor: %d events, %v; want 2 starting at record 7", len(next), err)
	}
	an, err := db.AnalysisEvents(ctx, store.EventFilter{})
	if err != nil || len(an) != 10 {
		t.Fatalf("analysis events = %d, %v", len(an), err)
	}
}

func TestUploads(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	u := &store.Upload{Name: "a.evtx", Bytes: 100}
	if err := db.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindUploadByID(ctx, u.ID)
	if err != nil || got.Status != store.UploadRunning {
		t.Fatalf("got %+v, %v", got, err)
	}
	u.Format, u.Records, u.Warnings = "evtx", 5, []ingest.Warning{{Offset: 4096, Msg: "bad chunk"}}
	if err := db.FinishUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, _ = db.FindUploadByID(ctx, u.ID)
	if got.Status != store.UploadDone || got.Records != 5 || len(got.Warnings) != 1 || got.Warnings[0].Offset != 4096 {
		t.Fatalf("got %+v", got)
	}
	if _, err := db.FindUploadByID(ctx, 999); err == nil {
		t.Fatal("want ErrNotFound")
	}
}

// TestFull fills a database capped in size: the write fails with ErrFull,
// nothing half-written remains, and the database stays readable and sound.
func TestFull(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenWithOptions(ctx, filepath.Join(t.TempDir(), "full.db"), store.Options{MaxBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	var full error
	stored := 0
	for b := 0; b < 100 && full == nil; b++ {
		batch := make([]ingest.Event, 500)
		for i := range batch {
			batch[i] = outlook("PC-with-a-long-name.corp.example", 25, int64(b*500+i+1), t0.Add(time.Duration(b*500+i)*time.Second))
		}
		n, _, err := db.InsertEvents(ctx, 0, batch)
		if err != nil {
			full = err
			break
		}
		stored += n
	}
	if !errors.Is(full, store.ErrFull) {
		t.Fatalf("err = %v, want ErrFull", full)
	}
	s, err := db.Stats(ctx)
	if err != nil || s.Events != stored {
		t.Fatalf("after full: stats %+v, %v; want %d events (the failed batch rolled back)", s, err, stored)
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFailRunningUploads(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	running := &store.Upload{Name: "cut.evtx"}
	done := &store.Upload{Name: "ok.evtx"}
	db.CreateUpload(ctx, running)
	db.CreateUpload(ctx, done)
	db.FinishUpload(ctx, done)
	n, err := db.FailRunningUploads(ctx)
	if err != nil || n != 1 {
		t.Fatalf("n = %d, %v; want 1", n, err)
	}
	got, _ := db.FindUploadByID(ctx, running.ID)
	if got.Status != store.UploadFailed || !strings.Contains(got.Error, "interrupted") {
		t.Fatalf("running upload after restart: %+v", got)
	}
	if got, _ := db.FindUploadByID(ctx, done.ID); got.Status != store.UploadDone {
		t.Fatalf("done upload changed: %+v", got)
	}
}

// TestReadOnly serves an existing database read-only: reads work, every
// write fails with ErrReadOnly and changes nothing.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ro.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	db.InsertEvents(ctx, 0, []ingest.Event{outlook("PC1", 25, 1, t0)})
	db.Close()
	ro, err := store.OpenWithOptions(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, _, err := ro.InsertEvents(ctx, 0, []ingest.Event{outlook("PC1", 26, 2, t0)}); !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("insert into a read-only database: %v, want ErrReadOnly", err)
	}
	if err := ro.CreateUpload(ctx, &store.Upload{Name: "x"}); !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("create upload: %v, want ErrReadOnly", err)
	}
	if s, err := ro.Stats(ctx); err != nil || s.Events != 1 {
		t.Fatalf("stats %+v, %v", s, err)
	}
}
