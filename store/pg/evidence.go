package pg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"idletrace/store"
)

// NoteDiagnoses records diagnoses as shown now (see store.DB.NoteDiagnoses).
func (db *DB) NoteDiagnoses(ctx context.Context, recs []store.DiagnosisRecord) error {
	if len(recs) == 0 {
		return nil
	}
	now := db.Now().Unix()
	return db.write(ctx, func(tx pgx.Tx) error {
		for _, r := range recs {
			if _, err := tx.Exec(ctx, `INSERT INTO diagnosis_ids (id, kind, value, computers, first_seen, last_seen)
				VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, value = excluded.value,
				computers = excluded.computers, last_seen = excluded.last_seen, replaced_by = ''`,
				r.ID, r.Kind, r.Value, strings.Join(r.Computers, "\n"), now); err != nil {
				return fmt.Errorf("note diagnosis %s: %w", r.ID, classify(err))
			}
		}
		return nil
	})
}

// FindDiagnosisRecord returns the record of a diagnosis id once shown, or
// store.ErrNotFound.
func (db *DB) FindDiagnosisRecord(ctx context.Context, id string) (*store.DiagnosisRecord, error) {
	var r store.DiagnosisRecord
	var comps string
	var first, last int64
	err := db.pool.QueryRow(ctx, `SELECT id, kind, value, computers, first_seen, last_seen, replaced_by FROM diagnosis_ids WHERE id = $1`, id).
		Scan(&r.ID, &r.Kind, &r.Value, &comps, &first, &last, &r.ReplacedBy)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("diagnosis %q: %w", id, store.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("find diagnosis %q: %w", id, classify(err))
	}
	if comps != "" {
		r.Computers = strings.Split(comps, "\n")
	}
	r.FirstSeen, r.LastSeen = time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()
	return &r, nil
}

// ReplaceDiagnosis records that id was replaced by another diagnosis.
func (db *DB) ReplaceDiagnosis(ctx context.Context, id, by string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE diagnosis_ids SET replaced_by = $1 WHERE id = $2`, by, id)
	if err != nil {
		return fmt.Errorf("replace diagnosis %q: %w", id, classify(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("diagnosis %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// DeleteUpload removes an upload and the events only it brought; events
// another upload also held (event_uploads, migration 0003) stay, owned by
// the oldest such upload, as on SQLite. A running upload cannot be deleted
// (store.ErrConflict). Events stored before migration 0003 count as this
// upload's only.
func (db *DB) DeleteUpload(ctx context.Context, id int64) (*store.UploadDeletion, error) {
	out := &store.UploadDeletion{UploadID: id}
	err := db.write(ctx, func(tx pgx.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM uploads WHERE id = $1 FOR UPDATE`, id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("upload %d: %w", id, store.ErrNotFound)
		} else if err != nil {
			return classify(err)
		}
		if status == store.UploadRunning {
			return fmt.Errorf("upload %d is still running: %w", id, store.ErrConflict)
		}
		// Events another upload also held move to the oldest such upload,
		// whose event_uploads row then goes (it owns the event now).
		err = tx.QueryRow(ctx, `WITH heir AS (
				SELECT eu.seq, MIN(eu.upload_id) AS upload_id FROM event_uploads eu
				JOIN events e ON e.seq = eu.seq AND e.upload_id = $1
				WHERE eu.upload_id <> $1 GROUP BY eu.seq),
			moved AS (UPDATE events e SET upload_id = heir.upload_id FROM heir
				WHERE e.seq = heir.seq AND e.upload_id = $1 RETURNING e.seq, e.upload_id),
			owned AS (DELETE FROM event_uploads eu USING moved
				WHERE eu.seq = moved.seq AND eu.upload_id = moved.upload_id)
			SELECT count(*) FROM moved`, id).Scan(&out.Kept)
		if err != nil {
			return fmt.Errorf("delete upload %d: keep shared events: %w", id, classify(err))
		}
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE upload_id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete upload %d: %w", id, classify(err))
		}
		out.Removed = int(tag.RowsAffected())
		if tag, err = tx.Exec(ctx, `DELETE FROM event_uploads WHERE upload_id = $1`, id); err != nil {
			return fmt.Errorf("delete upload %d: %w", id, classify(err))
		}
		out.Unlinked = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `DELETE FROM uploads WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete upload %d: %w", id, classify(err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UploadIDsBySource returns the ids of the uploads from source, oldest first.
func (db *DB) UploadIDsBySource(ctx context.Context, source string) ([]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM uploads WHERE source = $1 ORDER BY id`, source)
	if err != nil {
		return nil, fmt.Errorf("uploads of %s: %w", source, classify(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("uploads of %s: %w", source, classify(err))
	}
	return ids, nil
}

// CreateChange records c and fills its ID and CreatedAt.
func (db *DB) CreateChange(ctx context.Context, c *store.Change) error {
	if err := store.CheckChange(c); err != nil {
		return err
	}
	c.CreatedAt = db.Now().UTC().Truncate(time.Second)
	err := db.pool.QueryRow(ctx, `INSERT INTO changes (at_ns, note, created_at) VALUES ($1, $2, $3) RETURNING id`,
		c.At.UTC().UnixNano(), c.Note, c.CreatedAt.Unix()).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("create change: %w", classify(err))
	}
	return nil
}

func scanChange(row pgx.Row) (*store.Change, error) {
	var c store.Change
	var at, created int64
	if err := row.Scan(&c.ID, &at, &c.Note, &created); err != nil {
		return nil, err
	}
	c.At, c.CreatedAt = time.Unix(0, at).UTC(), time.Unix(created, 0).UTC()
	return &c, nil
}

// FindChangeByID returns the change with id, or store.ErrNotFound.
func (db *DB) FindChangeByID(ctx context.Context, id int64) (*store.Change, error) {
	c, err := scanChange(db.pool.QueryRow(ctx, `SELECT id, at_ns, note, created_at FROM changes WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("change %d: %w", id, store.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("find change %d: %w", id, classify(err))
	}
	return c, nil
}

// FindChanges returns the recorded changes, the latest first, at most limit.
func (db *DB) FindChanges(ctx context.Context, limit int) ([]*store.Change, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, at_ns, note, created_at FROM changes ORDER BY at_ns DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("find changes: %w", classify(err))
	}
	defer rows.Close()
	var out []*store.Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, fmt.Errorf("find changes: %w", err)
		}
		out = append(out, c)
	}
	return out, classify(rows.Err())
}

// CreateProbe stores p and fills p.ID and p.ReceivedAt.
func (db *DB) CreateProbe(ctx context.Context, p *store.Probe) error {
	p.ReceivedAt = db.Now().UTC().Truncate(time.Second)
	err := db.pool.QueryRow(ctx, `INSERT INTO probes (received_at, token, computer, site, target, timeout_seconds,
		plus_minus_seconds, alive_max_seconds, dead_min_seconds, drop_kind, complete, started_at, finished_at, result_json)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
		p.ReceivedAt.Unix(), p.Token, p.Computer, p.Site, p.Target, p.TimeoutSeconds, p.PlusMinusSeconds,
		p.AliveMaxSeconds, p.DeadMinSeconds, p.Drop, p.Complete, p.StartedAt.UnixMilli(), p.FinishedAt.UnixMilli(), string(p.Result)).Scan(&p.ID)
	if err != nil {
		return fmt.Errorf("create probe: %w", classify(err))
	}
	return nil
}

// FindProbes returns the probes f selects, newest first.
func (db *DB) FindProbes(ctx context.Context, f store.ProbeFilter) ([]store.Probe, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	before := f.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.pool.Query(ctx, `SELECT id, received_at, token, computer, site, target, timeout_seconds,
		plus_minus_seconds, alive_max_seconds, dead_min_seconds, drop_kind, complete, started_at, finished_at, result_json
		FROM probes WHERE id < $1 AND ($2 = '' OR lower(computer) = lower($2)) ORDER BY id DESC LIMIT $3`,
		before, f.Computer, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("find probes: %w", classify(err))
	}
	defer rows.Close()
	var out []store.Probe
	for rows.Next() {
		var p store.Probe
		var received, started, finished int64
		var result string
		if err := rows.Scan(&p.ID, &received, &p.Token, &p.Computer, &p.Site, &p.Target, &p.TimeoutSeconds, &p.PlusMinusSeconds,
			&p.AliveMaxSeconds, &p.DeadMinSeconds, &p.Drop, &p.Complete, &started, &finished, &result); err != nil {
			return nil, fmt.Errorf("find probes: %w", err)
		}
		p.ReceivedAt = time.Unix(received, 0).UTC()
		p.StartedAt, p.FinishedAt = time.UnixMilli(started).UTC(), time.UnixMilli(finished).UTC()
		p.Result = []byte(result)
		out = append(out, p)
	}
	return out, classify(rows.Err())
}
