package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

// TestMigrateComputerIndexBySlot: migration 0011 lists the time slots of
// the events stored before it, so that they are found by computer after
// it; the query by computer uses the slot index (not a scan of the table);
// and retention takes the slots it empties off the list.
func TestMigrateComputerIndexBySlot(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "slots.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	evs := []ingest.Event{outlook("PC", 25, 1000, time.Date(1969, 6, 1, 0, 0, 0, 0, time.UTC))}
	for i := range 40 {
		evs = append(evs, outlook("PC", 25+i%2, int64(i+1), t0.Add(time.Duration(i)*7*time.Hour)),
			outlook("Other", 25, int64(i+1), t0.Add(time.Duration(i)*7*time.Hour)))
	}
	if n, _, err := db.InsertEvents(ctx, 0, evs); err != nil || n != len(evs) {
		t.Fatalf("insert: %d, %v", n, err)
	}
	db.Close()
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{ // back to the schema of before 0011
		`DROP INDEX events_slot_computer`, `DROP TABLE event_slots`, `ALTER TABLE events DROP COLUMN slot`,
		`CREATE INDEX events_computer_time ON events (computer_key, time_ns)`,
		`DELETE FROM schema_migrations WHERE name = '0011_computer_index_by_slot.sql'`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if db, err = store.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.FindEvents(ctx, store.EventFilter{Computer: "pc"})
	if err != nil || len(got) != 41 {
		t.Fatalf("after the migration: %d events of PC, %v; want 41", len(got), err)
	}
	slots := func() int {
		var n int
		if err := raw.QueryRow(`SELECT count(*) FROM event_slots`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// 40 events 7 h apart (the slots are 73 min) and one in 1969.
	if n := slots(); n != 41 {
		t.Fatalf("%d time slots listed; want 41", n)
	}
	rows, err := raw.Query(`EXPLAIN QUERY PLAN SELECT seq FROM events WHERE events.slot IN (SELECT s.slot FROM event_slots s)
		AND computer_key = ? ORDER BY seq LIMIT 10`, "pc")
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		rows.Scan(&id, &parent, &unused, &detail)
		plan = append(plan, detail)
	}
	rows.Close()
	if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX events_slot_computer (slot=? AND computer_key=?)") {
		t.Fatalf("the query by computer does not seek the slot index: %s", p)
	}
	if _, err := db.DeleteEventsBefore(ctx, t0.Add(20*7*time.Hour), 5); err != nil {
		t.Fatal(err)
	}
	if n := slots(); n != 20 {
		t.Fatalf("%d time slots listed after the cut; want the 20 that still hold events", n)
	}
	if got, err := db.FindEvents(ctx, store.EventFilter{Computer: "PC"}); err != nil || len(got) != 20 {
		t.Fatalf("after the cut: %d events of PC, %v; want 20", len(got), err)
	}
}
