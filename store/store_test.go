package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
	"idletrace/store/storetest"
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

var outlook = storetest.Outlook

// TestStore runs the behaviour suite every backend passes on SQLite; the
// PostgreSQL run is in store/pg.
func TestStore(t *testing.T) { storetest.Run(t, storetest.OpenSQLite) }

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

// BenchmarkInsertEvents: prepared inserts in batches of 5000 on SQLite.
func BenchmarkInsertEvents(b *testing.B) { storetest.BenchInsert(b, storetest.OpenSQLite) }
