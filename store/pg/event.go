package pg

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"idletrace/analysis"
	"idletrace/ingest"
	"idletrace/store"
)

var eventsInColumns = []string{"ord", "computer", "computer_key", "channel", "provider", "event_id", "qualifiers",
	"level", "record_id", "time_ns", "time_s", "precision_ns", "message", "dedup_key"}

// InsertEvents stores events under uploadID in one transaction, skipping
// those whose dedup key is already stored (or repeated within the batch),
// and returns exactly how many were new and how many duplicates.
//
// The batch is copied (COPY) into a session temp table, then moved by one
// INSERT … SELECT … ON CONFLICT DO NOTHING, whose row count is the new
// events. Seqs are taken in that INSERT under a transaction advisory lock
// held to the commit: batches take seqs one at a time, and each commits
// (becomes visible) before the next takes its first. So seqs become
// visible in order, as on SQLite, and a poller continuing after the
// highest seq it saw never skips a slower writer's lower one. The COPY,
// the slow part, runs before the lock.
//
// Events go to their week's partition (ensurePartitions first creates the
// weeks the batch brings). A duplicate from another upload is recorded in
// event_uploads as also held by it, so that deleting the first upload
// keeps the event (DeleteUpload); that lookup runs only for a batch that
// had duplicates.
func (db *DB) InsertEvents(ctx context.Context, uploadID int64, events []ingest.Event) (added, dups int, err error) {
	if len(events) == 0 {
		return 0, 0, nil
	}
	now := db.Now().Unix()
	var upload *int64
	if uploadID > 0 {
		upload = &uploadID
	}
	if err := db.ensurePartitions(ctx, events); err != nil {
		return 0, 0, fmt.Errorf("insert events: %w", err)
	}
	err = db.write(ctx, func(tx pgx.Tx) error {
		src := pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
			e := &events[i]
			var q *int32
			if e.Qualifiers >= 0 {
				v := int32(e.Qualifiers)
				q = &v
			}
			var rec *int64
			if e.RecordID > 0 {
				rec = &e.RecordID
			}
			return []any{int32(i), e.Computer, strings.ToLower(e.Computer), e.Channel, e.Provider, int32(e.EventID), q,
				int32(e.Level), rec, e.Time.UnixNano(), e.Time.Unix(), int64(e.Precision), e.Message, store.DedupKey(e)}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events_in"}, eventsInColumns, src); err != nil {
			return fmt.Errorf("copy events: %w", err)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockSeq); err != nil {
			return fmt.Errorf("seq lock: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO events (seq, computer, computer_key, channel, provider, event_id, qualifiers,
			level, record_id, time_ns, time_s, precision_ns, message, dedup_key, upload_id, ingested_at)
			SELECT nextval('events_seq'), computer, computer_key, channel, provider, event_id, qualifiers,
			level, record_id, time_ns, time_s, precision_ns, message, dedup_key, $1, $2 FROM events_in ORDER BY ord
			ON CONFLICT (time_s, dedup_key) DO NOTHING`, upload, now)
		if err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		added = int(tag.RowsAffected())
		dups = len(events) - added
		if dups > 0 && upload != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO event_uploads (seq, upload_id)
				SELECT DISTINCT e.seq, $1::bigint FROM events_in i JOIN events e ON e.time_s = i.time_s AND e.dedup_key = i.dedup_key
				WHERE e.upload_id IS DISTINCT FROM $1 ON CONFLICT DO NOTHING`, upload); err != nil {
				return fmt.Errorf("record duplicates: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("insert events: %w", err)
	}
	return added, dups, nil
}

// where is store.EventFilter's WHERE clause in PostgreSQL's $n
// placeholders, with its arguments: fixed fragments only, values bound.
func where(f store.EventFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1))
	}
	if f.Computer != "" {
		add("computer_key = ?", strings.ToLower(f.Computer))
	}
	if len(f.EventIDs) > 0 {
		ids := make([]int32, len(f.EventIDs))
		for i, id := range f.EventIDs {
			ids[i] = int32(id)
		}
		add("event_id = ANY(?)", ids)
	}
	// time_s, the partition key, bounds the partitions read.
	if !f.Since.IsZero() {
		add("time_ns >= ?", f.Since.UnixNano())
		add("time_s >= ?", f.Since.Unix())
	}
	if !f.Until.IsZero() {
		add("time_ns < ?", f.Until.UnixNano())
		add("time_s <= ?", f.Until.Add(-1).Unix())
	}
	if f.UploadID > 0 {
		add("upload_id = ?", f.UploadID)
	}
	if f.ComputerPrefix != "" {
		add(`computer_key LIKE ? ESCAPE '\'`, likeEscape(strings.ToLower(f.ComputerPrefix))+"%")
	}
	if f.Search != "" {
		pat := "%" + likeEscape(f.Search) + "%"
		args = append(args, strings.ToLower(pat), pat)
		conds = append(conds, fmt.Sprintf(`(computer_key LIKE $%d ESCAPE '\' OR message LIKE $%d ESCAPE '\')`, len(args)-1, len(args)))
	}
	switch {
	case f.ByTime && f.After > 0:
		args = append(args, f.AfterTime, f.After)
		op := ">"
		if f.Desc {
			op = "<"
		}
		conds = append(conds, fmt.Sprintf("(time_ns, seq) %s ($%d, $%d)", op, len(args)-1, len(args)))
	case f.After > 0:
		if f.Desc {
			add("seq < ?", f.After)
		} else {
			add("seq > ?", f.After)
		}
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// FindEvents returns events matching f in seq order.
func (db *DB) FindEvents(ctx context.Context, f store.EventFilter) ([]store.StoredEvent, error) {
	w, args := where(f)
	q := `SELECT seq, COALESCE(upload_id, 0), computer, channel, provider, event_id, COALESCE(qualifiers, -1), level,
		COALESCE(record_id, 0), time_ns, precision_ns, message FROM events` + w
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
		args = append(args, f.Limit)
		q += " LIMIT $" + strconv.Itoa(len(args))
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("find events: %w", classify(err))
	}
	defer rows.Close()
	var out []store.StoredEvent
	for rows.Next() {
		var e store.StoredEvent
		var tns, pns int64
		if err := rows.Scan(&e.Seq, &e.UploadID, &e.Computer, &e.Channel, &e.Provider, &e.EventID, &e.Qualifiers,
			&e.Level, &e.RecordID, &tns, &pns, &e.Message); err != nil {
			return nil, fmt.Errorf("find events: %w", err)
		}
		e.Time = time.Unix(0, tns).UTC()
		e.Precision = time.Duration(pns)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find events: %w", classify(err))
	}
	return out, nil
}

// AnalysisEvents returns the Outlook 25/26 events matching f (its EventIDs,
// After and Limit are ignored) in the form the analysis takes.
func (db *DB) AnalysisEvents(ctx context.Context, f store.EventFilter) ([]analysis.Event, error) {
	f.EventIDs = []int{analysis.EventDisconnected, analysis.EventRestored}
	f.After, f.Limit = 0, 0
	w, args := where(f)
	rows, err := db.pool.Query(ctx, `SELECT computer, event_id, time_ns, COALESCE(record_id, 0) FROM events`+w, args...)
	if err != nil {
		return nil, fmt.Errorf("load analysis events: %w", classify(err))
	}
	defer rows.Close()
	var out []analysis.Event
	var names store.Interner
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 4 {
			return nil, fmt.Errorf("load analysis events: %d columns", len(v))
		}
		fd := rows.FieldDescriptions()
		id, err1 := rawInt(v[1], fd[1].Format)
		tns, err2 := rawInt(v[2], fd[2].Format)
		rec, err3 := rawInt(v[3], fd[3].Format)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("load analysis events: bad row")
		}
		out = append(out, analysis.Event{Computer: names.Intern(v[0]), EventID: int(id), Time: time.Unix(0, tns).UTC(), RecordID: rec})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load analysis events: %w", classify(err))
	}
	return out, nil
}

// rawInt decodes an integer column as sent on the wire: binary (big-endian,
// 2, 4 or 8 bytes) or text.
func rawInt(b []byte, format int16) (int64, error) {
	if format == pgx.TextFormatCode {
		return strconv.ParseInt(string(b), 10, 64)
	}
	switch len(b) {
	case 8:
		return int64(binary.BigEndian.Uint64(b)), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case 2:
		return int64(int16(binary.BigEndian.Uint16(b))), nil
	}
	return 0, fmt.Errorf("integer of %d bytes", len(b))
}

// AnalysisEventsAfter reads up to limit events (0 = no limit) with seq >
// after, in seq order. Seqs become visible in order (InsertEvents), so
// calling it again with the returned LastSeq reads exactly the events
// stored since. Computer names are interned through names (may be nil).
func (db *DB) AnalysisEventsAfter(ctx context.Context, after int64, limit int, names *store.Interner) (*store.EventDelta, error) {
	if names == nil {
		names = &store.Interner{}
	}
	q := `SELECT seq, computer, computer_key, event_id, time_ns, COALESCE(record_id, 0) FROM events WHERE seq > $1 ORDER BY seq`
	args := []any{after}
	if limit > 0 {
		q += " LIMIT $2"
		args = append(args, limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("load analysis events: %w", classify(err))
	}
	defer rows.Close()
	d := &store.EventDelta{LastSeq: after}
	keys := map[string]bool{}
	var first, last int64
	for rows.Next() {
		v := rows.RawValues()
		fd := rows.FieldDescriptions()
		if len(v) != 6 {
			return nil, fmt.Errorf("load analysis events: %d columns", len(v))
		}
		seq, err1 := rawInt(v[0], fd[0].Format)
		id, err2 := rawInt(v[3], fd[3].Format)
		tns, err3 := rawInt(v[4], fd[4].Format)
		rec, err4 := rawInt(v[5], fd[5].Format)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			return nil, fmt.Errorf("load analysis events: bad row after seq %d", d.LastSeq)
		}
		if d.Rows == 0 || tns < first {
			first = tns
		}
		if d.Rows == 0 || tns > last {
			last = tns
		}
		d.Rows++
		d.LastSeq = seq
		k := names.Intern(v[2])
		if !keys[k] {
			keys[k] = true
			d.Keys = append(d.Keys, k)
		}
		if id == analysis.EventDisconnected || id == analysis.EventRestored {
			d.Events = append(d.Events, analysis.Event{Computer: names.Intern(v[1]), EventID: int(id),
				Time: time.Unix(0, tns).UTC(), RecordID: rec})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load analysis events: %w", classify(err))
	}
	if d.Rows > 0 {
		d.First, d.Last = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	}
	return d, nil
}

// ChangeMark returns the newest event seq and the newest upload id: two
// index lookups.
func (db *DB) ChangeMark(ctx context.Context) (lastSeq, lastUpload int64, err error) {
	err = db.pool.QueryRow(ctx, `SELECT COALESCE((SELECT MAX(seq) FROM events), 0), COALESCE((SELECT MAX(id) FROM uploads), 0)`).
		Scan(&lastSeq, &lastUpload)
	if err != nil {
		return 0, 0, fmt.Errorf("change mark: %w", classify(err))
	}
	return lastSeq, lastUpload, nil
}

// Stats returns counts and the data's time range.
func (db *DB) Stats(ctx context.Context) (store.Stats, error) {
	var s store.Stats
	var first, last *int64
	err := db.pool.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0), MIN(time_ns), MAX(time_ns),
		(SELECT COUNT(DISTINCT computer_key) FROM events), (SELECT COUNT(*) FROM uploads) FROM events`).
		Scan(&s.Events, &s.LastSeq, &first, &last, &s.Computers, &s.Uploads)
	if err != nil {
		return s, fmt.Errorf("stats: %w", classify(err))
	}
	if first != nil {
		s.First = time.Unix(0, *first).UTC()
		s.Last = time.Unix(0, *last).UTC()
	}
	return s, nil
}

// likeEscape escapes LIKE's wildcards in s (escape character '\').
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
