package pg_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"idletrace/ingest"
	"idletrace/migrations"
	"idletrace/store"
	"idletrace/store/pg"
	"idletrace/store/storetest"
)

// partitionsOf lists the tables attached to events, and how many rows
// events_default holds.
func partitionsOf(t *testing.T, url string) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM events_default`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return names, n
}

// TestPostgresPartitions: weeks get partitions on demand (and the current and next
// week ahead), far-off times go to events_default and move out when their
// week comes within reach, and retention drops whole weeks.
func TestPostgresPartitions(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	now := time.Date(2024, 3, 6, 12, 0, 0, 0, time.UTC) // a Wednesday
	db, err := pg.Open(ctx, url, pg.Options{Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Now = func() time.Time { return now }
	far := now.AddDate(0, 2, 0) // beyond the 4 weeks ahead
	evs := []ingest4{{"PC", 25, 1, now.AddDate(0, 0, -14)}, {"PC", 26, 2, now}, {"PC", 25, 3, far}, {"PC", 26, 4, now.AddDate(-5, 0, 0)}}
	if n, _, err := db.InsertEvents(ctx, 0, events(evs)); err != nil || n != 4 {
		t.Fatalf("insert: %d, %v", n, err)
	}
	names, inDefault := partitionsOf(t, url)
	want := []string{"events_default", "events_w20240219", "events_w20240304", "events_w20240311"}
	if !slices.Equal(names, want) || inDefault != 2 {
		t.Fatalf("partitions %v, %d in default; want %v and 2 (2019, May 2024)", names, inDefault, want)
	}
	// Two months later the far event's week is within reach: its
	// partition is created and the event moves there, keeping its seq.
	seqBefore, _ := db.FindEvents(ctx, store.EventFilter{Since: far, Until: far.Add(time.Second)})
	now = far.AddDate(0, 0, -7)
	if n, _, err := db.InsertEvents(ctx, 0, events([]ingest4{{"PC", 25, 5, now}})); err != nil || n != 1 {
		t.Fatalf("insert: %d, %v", n, err)
	}
	names, inDefault = partitionsOf(t, url)
	if !slices.Contains(names, "events_w20240506") || inDefault != 1 {
		t.Fatalf("partitions %v, %d in default; want the week of %v, and 1 left (2019)", names, inDefault, far)
	}
	seqAfter, _ := db.FindEvents(ctx, store.EventFilter{Since: far, Until: far.Add(time.Second)})
	if len(seqAfter) != 1 || len(seqBefore) != 1 || seqAfter[0].Seq != seqBefore[0].Seq {
		t.Fatalf("moved event: before %+v, after %+v", seqBefore, seqAfter)
	}
	// A duplicate of a moved event is still a duplicate.
	if n, dups, err := db.InsertEvents(ctx, 0, events(evs[2:3])); err != nil || n != 0 || dups != 1 {
		t.Fatalf("re-insert moved event: %d new, %d dups, %v", n, dups, err)
	}
	// Retention to the start of March drops the February week whole and
	// deletes the 2019 event from events_default.
	n, err := db.DeleteEventsBefore(ctx, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), 10)
	if err != nil || n != 2 {
		t.Fatalf("retention: %d, %v; want 2", n, err)
	}
	names, inDefault = partitionsOf(t, url)
	if slices.Contains(names, "events_w20240219") || inDefault != 0 {
		t.Fatalf("after retention: %v, %d in default", names, inDefault)
	}
	// An old log uploaded later gets its week back, and retention drops it again.
	if n, _, err := db.InsertEvents(ctx, 0, events([]ingest4{{"PC", 25, 9, time.Date(2024, 2, 20, 0, 0, 0, 0, time.UTC)}})); err != nil || n != 1 {
		t.Fatalf("late old event: %d, %v", n, err)
	}
	if names, _ := partitionsOf(t, url); !slices.Contains(names, "events_w20240219") {
		t.Fatalf("late old event's week not re-created: %v", names)
	}
	if n, err := db.DeleteEventsBefore(ctx, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), 10); err != nil || n != 0 {
		t.Fatalf("retention of the newest seq: %d, %v; want 0 (it is kept)", n, err)
	}
}

type ingestEvent = ingest.Event

type ingest4 struct {
	computer string
	id       int
	rec      int64
	at       time.Time
}

func events(in []ingest4) []ingestEvent {
	out := make([]ingestEvent, len(in))
	for i, e := range in {
		out[i] = storetest.Outlook(e.computer, e.id, e.rec, e.at)
	}
	return out
}

// TestPostgresMigratePartitionsExistingEvents: a database at migration 0002 with
// events is converted to the partitioned table keeping every event, its
// seq and its dedup key.
func TestPostgresMigratePartitionsExistingEvents(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"0001_init.sql", "0002_evidence_probes.sql"} {
		body, err := migrations.Postgres.ReadFile("postgres/" + n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		c.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, 0)`, n)
	}
	recent := time.Now().UTC().AddDate(0, 0, -3).Truncate(time.Second).Add(250 * time.Millisecond)
	old := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond) // before the window: events_default
	for i, at := range []time.Time{recent, recent.Add(time.Hour), old} {
		e := storetest.Outlook("PC", 25, int64(i+1), at)
		if _, err := c.Exec(ctx, `INSERT INTO events (seq, computer, computer_key, channel, provider, event_id, level, record_id,
			time_ns, precision_ns, dedup_key, ingested_at) VALUES (nextval('events_seq'), 'PC', 'pc', 'Application', 'Outlook', 25, 4, $1, $2, 100, $3, 0)`,
			e.RecordID, e.Time.UnixNano(), store.DedupKey(&e)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close(ctx)
	db, err := pg.Open(ctx, url, pg.Options{Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.FindEvents(ctx, store.EventFilter{})
	if err != nil || len(got) != 3 || got[0].Seq != 1 || got[2].Seq != 3 || !got[0].Time.Equal(recent) || !got[2].Time.Equal(old) {
		t.Fatalf("after migration: %+v, %v", got, err)
	}
	names, inDefault := partitionsOf(t, url)
	if len(names) < 2 || inDefault != 1 {
		t.Fatalf("partitions %v, %d in default; want the recent week(s) and the 1998 event in default", names, inDefault)
	}
	e := storetest.Outlook("pc", 25, 3, old)
	if n, dups, err := db.InsertEvents(ctx, 0, []ingestEvent{storetest.Outlook("PC", 25, 1, recent), e}); err != nil || n != 0 || dups != 2 {
		t.Fatalf("re-insert after migration: %d new, %d dups, %v; want 0, 2", n, dups, err)
	}
	if n, _, err := db.InsertEvents(ctx, 0, []ingestEvent{storetest.Outlook("PC", 25, 4, recent)}); err != nil || n != 1 {
		t.Fatalf("new event: %d, %v", n, err)
	} else if last, _ := db.FindEvents(ctx, store.EventFilter{Desc: true, Limit: 1}); last[0].Seq <= 3 {
		t.Fatalf("new seq %d, want above 3", last[0].Seq)
	}
}

// TestPostgresPartitionsTwoNodes: two nodes on one database inserting into the
// same new weeks at once create each week once and lose no event.
func TestPostgresPartitionsTwoNodes(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresURL(t)
	now := time.Date(2024, 3, 6, 12, 0, 0, 0, time.UTC)
	var nodes [2]*pg.DB
	for i := range nodes {
		db, err := pg.Open(ctx, url, pg.Options{Node: fmt.Sprintf("node%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.Now = func() time.Time { return now }
		nodes[i] = db
	}
	errs := make(chan error, 2*8)
	for i, db := range nodes {
		for b := range 8 {
			go func() {
				var in []ingest4
				for w := range 6 { // six weeks back, the same for both nodes
					in = append(in, ingest4{fmt.Sprintf("N%d", i), 25, int64(b*10 + w + 1), now.AddDate(0, 0, -7*w)})
				}
				n, _, err := db.InsertEvents(ctx, 0, events(in))
				if err == nil && n != len(in) {
					err = fmt.Errorf("node %d batch %d: %d new of %d", i, b, n, len(in))
				}
				errs <- err
			}()
		}
	}
	for range 2 * 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	names, inDefault := partitionsOf(t, url)
	if len(names) != 1+7 || inDefault != 0 { // six weeks back to this one, the next, and the default
		t.Fatalf("partitions %v, %d in default", names, inDefault)
	}
	if st, err := nodes[0].Stats(ctx); err != nil || st.Events != 2*8*6 {
		t.Fatalf("stats %+v, %v; want %d events", st, err, 2*8*6)
	}
}
