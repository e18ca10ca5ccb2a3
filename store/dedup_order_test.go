package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"idletrace/ingest"
	"idletrace/store"
)

// TestMigrateDedupTimeOrder: migration 0009 rewrites the keys stored
// before it into the time-ordered form InsertEvents now writes, for times
// before and after 1970 and with sub-second parts, so that events stored
// before it are still recognised as duplicates.
func TestMigrateDedupTimeOrder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	evs := []ingest.Event{
		outlook("PC", 25, 1, time.Date(2024, 3, 4, 9, 0, 0, 999_999_999, time.UTC)),
		outlook("PC", 26, 2, time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC)),
		outlook("PC", 25, 3, time.Unix(-1, 0)),
		outlook("PC", 26, 0, time.Date(1700, 1, 1, 0, 0, 0, 1, time.UTC)),
	}
	if n, _, err := db.InsertEvents(ctx, 0, evs); err != nil || n != len(evs) {
		t.Fatalf("insert: %d, %v", n, err)
	}
	db.Close()
	// Back to the keys of before 0009.
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE events SET dedup_key = substr(dedup_key, 9)`,
		`DELETE FROM schema_migrations WHERE name = '0009_dedup_time_order.sql'`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	if db, err = store.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The same events, other spellings and precisions of the same second.
	again := append([]ingest.Event{}, evs...)
	again[0].Computer, again[0].Time = "pc", again[0].Time.Truncate(time.Second)
	again[1].Time = time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)
	if n, dups, err := db.InsertEvents(ctx, 0, again); err != nil || n != 0 || dups != len(evs) {
		t.Fatalf("after migration: %d new, %d duplicates, %v; want 0, %d", n, dups, err, len(evs))
	}
}
