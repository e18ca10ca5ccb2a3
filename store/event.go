package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"idletrace/analysis"
	"idletrace/ingest"
)

// StoredEvent is an event as stored, with its ingest sequence number.
type StoredEvent struct {
	Seq      int64
	UploadID int64
	ingest.Event
}

// DedupKey is the identity of an event across re-ingests and across shapes
// of the same log (SPEC §4): computer (case-insensitive), channel, provider,
// record id and time truncated to the second; without a record id (Event
// Viewer CSV), computer, provider, event id, time to the second and a hash
// of the message.
func DedupKey(e *ingest.Event) []byte {
	h := sha256.New()
	var buf [8]byte
	put := func(s string) {
		h.Write([]byte(strings.ToLower(s)))
		h.Write([]byte{0})
	}
	putInt := func(n int64) {
		binary.LittleEndian.PutUint64(buf[:], uint64(n))
		h.Write(buf[:])
	}
	put(e.Computer)
	if e.RecordID > 0 {
		h.Write([]byte{'r'})
		put(e.Channel)
		put(e.Provider)
		putInt(e.RecordID)
	} else {
		h.Write([]byte{'m'})
		put(e.Provider)
		putInt(int64(e.EventID))
		mh := sha256.Sum256([]byte(e.Message))
		h.Write(mh[:])
	}
	putInt(e.Time.Unix())
	return h.Sum(nil)[:16]
}

// storedKey is the dedup key as the SQLite events table holds it
// (migration 0009): the event's unix second, big endian, then DedupKey,
// so that the UNIQUE index is in time order.
func storedKey(e *ingest.Event) []byte {
	k := make([]byte, 8, 8+16)
	binary.BigEndian.PutUint64(k, uint64(e.Time.Unix()))
	return append(k, DedupKey(e)...)
}

// InsertEvents stores events under uploadID in one transaction, skipping
// those whose dedup key is already stored (or repeated within the batch).
// It returns how many were new and how many were duplicates.
func (db *DB) InsertEvents(ctx context.Context, uploadID int64, events []ingest.Event) (added, dups int, err error) {
	if len(events) == 0 {
		return 0, 0, nil
	}
	now := db.Now().Unix()
	var upload any
	if uploadID > 0 {
		upload = uploadID
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO events (computer, computer_key, channel, provider, event_id,
			qualifiers, level, record_id, time_ns, precision_ns, message, dedup_key, upload_id, ingested_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		// A duplicate from another upload is recorded as also held by it,
		// so that deleting the first upload keeps the event (DeleteUpload).
		also, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO event_uploads (seq, upload_id)
			SELECT seq, ?1 FROM events WHERE dedup_key = ?2 AND upload_id IS NOT ?1`)
		if err != nil {
			return err
		}
		defer also.Close()
		added, dups = 0, 0
		for i := range events {
			e := &events[i]
			var q, rec any
			if e.Qualifiers >= 0 {
				q = e.Qualifiers
			}
			if e.RecordID > 0 {
				rec = e.RecordID
			}
			key := storedKey(e)
			res, err := stmt.ExecContext(ctx, e.Computer, strings.ToLower(e.Computer), e.Channel, e.Provider, e.EventID,
				q, e.Level, rec, e.Time.UnixNano(), int64(e.Precision), e.Message, key, upload, now)
			if err != nil {
				return fmt.Errorf("insert event: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				added++
				continue
			}
			dups++
			if uploadID > 0 {
				if _, err := also.ExecContext(ctx, uploadID, key); err != nil {
					return fmt.Errorf("record duplicate: %w", err)
				}
			}
		}
		return recordSlots(ctx, tx, events)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("insert events: %w", err)
	}
	return added, dups, nil
}

// slotShift makes an event's time slot, the leading key of the index by
// computer (migration 0011): time_ns >> slotShift, about 73 minutes.
const slotShift = 42

// slotOf is the time slot of a time in unix nanoseconds, as SQLite's
// time_ns >> 42 computes it (both shift arithmetically).
func slotOf(ns int64) int64 { return ns >> slotShift }

// recordSlots adds the time slots of events to event_slots (a batch holds
// one or two; a slot already listed is left alone).
func recordSlots(ctx context.Context, tx *sql.Tx, events []ingest.Event) error {
	var slots []int64
	for i := range events {
		s := slotOf(events[i].Time.UnixNano())
		if !slices.Contains(slots, s) {
			slots = append(slots, s)
		}
	}
	for _, s := range slots {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO event_slots (slot) VALUES (?)`, s); err != nil {
			return fmt.Errorf("record time slot: %w", err)
		}
	}
	return nil
}

// EventFilter selects events. Zero fields do not filter.
type EventFilter struct {
	Computer string // case-insensitive exact name
	EventIDs []int
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	UploadID int64
	After    int64 // seq cursor: only events with seq > After
	Limit    int   // 0 = no limit
	Desc     bool  // newest seq first (After then means seq < After when > 0)

	// The events browser (issue 15): names starting with ComputerPrefix
	// (case-insensitive), Search in the computer name or message, and
	// ordered by event time (then seq) with the keyset cursor AfterTime,
	// After (both set: rows past that time and seq in the order).
	ComputerPrefix string
	Search         string
	ByTime         bool
	AfterTime      int64 // time_ns of the cursor row (ByTime only)
}

// likeEscape escapes LIKE's wildcards in s (escape character '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (f EventFilter) where() (string, []any) {
	var conds []string
	var args []any
	if f.Computer != "" {
		// The index by computer is ordered by time slot first: look the
		// computer up in each slot that holds events (within the bounds).
		slots := "SELECT s.slot FROM event_slots s"
		var sc []string
		if !f.Since.IsZero() {
			sc = append(sc, "s.slot >= ?")
			args = append(args, slotOf(f.Since.UnixNano()))
		}
		if !f.Until.IsZero() {
			sc = append(sc, "s.slot <= ?")
			args = append(args, slotOf(f.Until.UnixNano()-1))
		}
		if len(sc) > 0 {
			slots += " WHERE " + strings.Join(sc, " AND ")
		}
		conds = append(conds, "events.slot IN ("+slots+") AND computer_key = ?")
		args = append(args, strings.ToLower(f.Computer))
	}
	if len(f.EventIDs) > 0 {
		conds = append(conds, "event_id IN (?"+strings.Repeat(", ?", len(f.EventIDs)-1)+")")
		for _, id := range f.EventIDs {
			args = append(args, id)
		}
	}
	if !f.Since.IsZero() {
		conds = append(conds, "time_ns >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		conds = append(conds, "time_ns < ?")
		args = append(args, f.Until.UnixNano())
	}
	if f.UploadID > 0 {
		conds = append(conds, "upload_id = ?")
		args = append(args, f.UploadID)
	}
	if f.ComputerPrefix != "" {
		conds = append(conds, `computer_key LIKE ? ESCAPE '\'`)
		args = append(args, likeEscape(strings.ToLower(f.ComputerPrefix))+"%")
	}
	if f.Search != "" {
		conds = append(conds, `(computer_key LIKE ? ESCAPE '\' OR message LIKE ? ESCAPE '\')`)
		pat := "%" + likeEscape(f.Search) + "%"
		args = append(args, strings.ToLower(pat), pat)
	}
	if f.ByTime && f.After > 0 {
		if f.Desc {
			conds = append(conds, "(time_ns, seq) < (?, ?)")
		} else {
			conds = append(conds, "(time_ns, seq) > (?, ?)")
		}
		args = append(args, f.AfterTime, f.After)
	} else if f.After > 0 {
		if f.Desc {
			conds = append(conds, "seq < ?")
		} else {
			conds = append(conds, "seq > ?")
		}
		args = append(args, f.After)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// FindEvents returns events matching f in seq order.
func (db *DB) FindEvents(ctx context.Context, f EventFilter) ([]StoredEvent, error) {
	where, args := f.where()
	q := `SELECT seq, COALESCE(upload_id, 0), computer, channel, provider, event_id, COALESCE(qualifiers, -1), level,
		COALESCE(record_id, 0), time_ns, precision_ns, message FROM events` + where
	switch {
	case f.ByTime && f.Desc:
		q += " ORDER BY time_ns DESC, seq DESC"
	case f.ByTime:
		q += " ORDER BY time_ns, seq"
	case f.Desc:
		q += " ORDER BY seq DESC"
	default:
		q += " ORDER BY seq"
	}
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", err)
	}
	defer rows.Close()
	var out []StoredEvent
	for rows.Next() {
		var e StoredEvent
		var tns, pns int64
		if err := rows.Scan(&e.Seq, &e.UploadID, &e.Computer, &e.Channel, &e.Provider, &e.EventID, &e.Qualifiers,
			&e.Level, &e.RecordID, &tns, &pns, &e.Message); err != nil {
			return nil, fmt.Errorf("find events: %w", err)
		}
		e.Time = time.Unix(0, tns).UTC()
		e.Precision = time.Duration(pns)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AnalysisEvents returns the Outlook 25/26 events matching f (its EventIDs,
// After and Limit are ignored) in the form the analysis takes.
func (db *DB) AnalysisEvents(ctx context.Context, f EventFilter) ([]analysis.Event, error) {
	f.EventIDs = []int{analysis.EventDisconnected, analysis.EventRestored}
	f.After, f.Limit = 0, 0
	where, args := f.where()
	rows, err := db.sql.QueryContext(ctx, `SELECT computer, event_id, time_ns, COALESCE(record_id, 0) FROM events`+where, args...)
	if err != nil {
		return nil, fmt.Errorf("load analysis events: %w", err)
	}
	defer rows.Close()
	var out []analysis.Event
	for rows.Next() {
		var e analysis.Event
		var tns int64
		if err := rows.Scan(&e.Computer, &e.EventID, &tns, &e.RecordID); err != nil {
			return nil, fmt.Errorf("load analysis events: %w", err)
		}
		e.Time = time.Unix(0, tns).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Stats summarises what the database holds.
type Stats struct {
	Events    int
	Computers int
	Uploads   int
	LastSeq   int64
	First     time.Time // earliest event time
	Last      time.Time // latest event time
}

// Stats returns counts and the data's time range; LastSeq changes whenever
// events are added, so callers can key caches on it.
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	var first, last sql.NullInt64
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0), MIN(time_ns), MAX(time_ns),
		(SELECT COUNT(DISTINCT computer_key) FROM events), (SELECT COUNT(*) FROM uploads) FROM events`).
		Scan(&s.Events, &s.LastSeq, &first, &last, &s.Computers, &s.Uploads)
	if err != nil {
		return s, fmt.Errorf("stats: %w", err)
	}
	if first.Valid {
		s.First = time.Unix(0, first.Int64).UTC()
		s.Last = time.Unix(0, last.Int64).UTC()
	}
	return s, nil
}
