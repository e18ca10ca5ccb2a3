package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"idletrace/analysis"
)

// EventDelta is what AnalysisEventsAfter read: the events stored after a
// sequence number, in the form the analysis takes, and what Stats needs to
// be kept current without counting every row again.
type EventDelta struct {
	Events  []analysis.Event // the Outlook 25/26 among the rows read
	Rows    int              // rows read (every event id)
	LastSeq int64            // seq of the last row read; the after argument when none
	// First and Last are the earliest and latest event time of the rows
	// read (zero when none).
	First, Last time.Time
	// Keys are the distinct lower-case computer names of the rows read.
	Keys []string
}

// Interner returns one string for equal computer names, so that millions of
// events held in memory share a few thousand names. The zero value is ready.
type Interner struct{ m map[string]string }

func (in *Interner) bytes(b []byte) string {
	if s, ok := in.m[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if in.m == nil {
		in.m = map[string]string{}
	}
	s := string(b)
	in.m[s] = s
	return s
}

// AnalysisEventsAfter reads up to limit events (0 = no limit) with seq >
// after, in seq order. Rows are append-only and seq grows with every commit,
// so calling it again with the returned LastSeq reads exactly the events
// stored since. Computer names are interned through names (may be nil).
func (db *DB) AnalysisEventsAfter(ctx context.Context, after int64, limit int, names *Interner) (*EventDelta, error) {
	if names == nil {
		names = &Interner{}
	}
	q := `SELECT seq, computer, computer_key, event_id, time_ns, COALESCE(record_id, 0) FROM events WHERE seq > ? ORDER BY seq`
	args := []any{after}
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("load analysis events: %w", err)
	}
	defer rows.Close()
	d := &EventDelta{LastSeq: after}
	keys := map[string]bool{}
	var first, last int64
	var computer, key sql.RawBytes
	for rows.Next() {
		var seq, tns, rec int64
		var id int
		if err := rows.Scan(&seq, &computer, &key, &id, &tns, &rec); err != nil {
			return nil, fmt.Errorf("load analysis events: %w", err)
		}
		if d.Rows == 0 || tns < first {
			first = tns
		}
		if d.Rows == 0 || tns > last {
			last = tns
		}
		d.Rows++
		d.LastSeq = seq
		k := names.bytes(key)
		if !keys[k] {
			keys[k] = true
			d.Keys = append(d.Keys, k)
		}
		if id == analysis.EventDisconnected || id == analysis.EventRestored {
			d.Events = append(d.Events, analysis.Event{Computer: names.bytes(computer), EventID: id,
				Time: time.Unix(0, tns).UTC(), RecordID: rec})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load analysis events: %w", err)
	}
	if d.Rows > 0 {
		d.First, d.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	}
	return d, nil
}

// UploadCount is how many uploads are recorded (the Uploads of Stats).
func (db *DB) UploadCount(ctx context.Context) (int, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM uploads`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count uploads: %w", err)
	}
	return n, nil
}
