package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DiagnosisRecord is a diagnosis id as the server showed it: what it stood
// for, so that a later analysis can name its successor (same kind,
// overlapping computers, a close value), and the successor once named.
type DiagnosisRecord struct {
	ID    string
	Kind  string
	Value float64 // seconds (idle timeout) or unix seconds of the start (outage)
	// Computers are the lower-case names of its computers.
	Computers  []string
	FirstSeen  time.Time
	LastSeen   time.Time
	ReplacedBy string // "" while it answers as itself
}

// NoteDiagnoses records diagnoses as shown now: new ids are added, known
// ones get their computers and last-seen time updated (and lose a
// successor recorded while they were gone).
func (db *DB) NoteDiagnoses(ctx context.Context, recs []DiagnosisRecord) error {
	if len(recs) == 0 {
		return nil
	}
	now := db.Now().Unix()
	return db.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO diagnosis_ids (id, kind, value, computers, first_seen, last_seen)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, value = excluded.value,
			computers = excluded.computers, last_seen = excluded.last_seen, replaced_by = ''`)
		if err != nil {
			return fmt.Errorf("note diagnoses: %w", err)
		}
		defer stmt.Close()
		for _, r := range recs {
			if _, err := stmt.ExecContext(ctx, r.ID, r.Kind, r.Value, strings.Join(r.Computers, "\n"), now, now); err != nil {
				return fmt.Errorf("note diagnosis %s: %w", r.ID, err)
			}
		}
		return nil
	})
}

// FindDiagnosisRecord returns the record of a diagnosis id once shown, or
// ErrNotFound.
func (db *DB) FindDiagnosisRecord(ctx context.Context, id string) (*DiagnosisRecord, error) {
	var r DiagnosisRecord
	var comps string
	var first, last int64
	err := db.sql.QueryRowContext(ctx, `SELECT id, kind, value, computers, first_seen, last_seen, replaced_by FROM diagnosis_ids WHERE id = ?`, id).
		Scan(&r.ID, &r.Kind, &r.Value, &comps, &first, &last, &r.ReplacedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("diagnosis %q: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("find diagnosis %q: %w", id, err)
	}
	if comps != "" {
		r.Computers = strings.Split(comps, "\n")
	}
	r.FirstSeen, r.LastSeen = time.Unix(first, 0).UTC(), time.Unix(last, 0).UTC()
	return &r, nil
}

// ReplaceDiagnosis records that id was replaced by another diagnosis.
func (db *DB) ReplaceDiagnosis(ctx context.Context, id, by string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE diagnosis_ids SET replaced_by = ? WHERE id = ?`, by, id)
		if err != nil {
			return fmt.Errorf("replace diagnosis %q: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("diagnosis %q: %w", id, ErrNotFound)
		}
		return nil
	})
}

// UploadDeletion is what deleting an upload did.
type UploadDeletion struct {
	UploadID int64 `json:"upload_id"`
	// Removed events were brought by this upload only.
	Removed int `json:"removed_events"`
	// Kept events were also in another upload, which now owns them.
	Kept int `json:"kept_events"`
	// Unlinked is how many events of other uploads this one also held.
	Unlinked int `json:"unlinked_events"`
}

// DeleteUpload removes an upload and the events only it brought; events
// another upload also held stay, owned by that upload. A running upload
// cannot be deleted (ErrConflict). Events stored before the record of
// their other uploads existed (migration 0006) count as this upload's
// only.
func (db *DB) DeleteUpload(ctx context.Context, id int64) (*UploadDeletion, error) {
	out := &UploadDeletion{UploadID: id}
	err := db.write(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM uploads WHERE id = ?`, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("upload %d: %w", id, ErrNotFound)
		} else if err != nil {
			return err
		}
		if status == UploadRunning {
			return fmt.Errorf("upload %d is still running: %w", id, ErrConflict)
		}
		n := func(res sql.Result, err error) (int, error) {
			if err != nil {
				return 0, err
			}
			c, err := res.RowsAffected()
			return int(c), err
		}
		// Events another upload also held move to the oldest such upload.
		if out.Kept, err = n(tx.ExecContext(ctx, `UPDATE events SET upload_id =
			(SELECT MIN(eu.upload_id) FROM event_uploads eu WHERE eu.seq = events.seq AND eu.upload_id <> ?1)
			WHERE upload_id = ?1 AND EXISTS (SELECT 1 FROM event_uploads eu WHERE eu.seq = events.seq AND eu.upload_id <> ?1)`, id)); err != nil {
			return fmt.Errorf("delete upload %d: %w", id, err)
		}
		if out.Kept > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM event_uploads WHERE EXISTS
				(SELECT 1 FROM events e WHERE e.seq = event_uploads.seq AND e.upload_id = event_uploads.upload_id)`); err != nil {
				return fmt.Errorf("delete upload %d: %w", id, err)
			}
		}
		if out.Removed, err = n(tx.ExecContext(ctx, `DELETE FROM events WHERE upload_id = ?`, id)); err != nil {
			return fmt.Errorf("delete upload %d: %w", id, err)
		}
		if out.Unlinked, err = n(tx.ExecContext(ctx, `DELETE FROM event_uploads WHERE upload_id = ?`, id)); err != nil {
			return fmt.Errorf("delete upload %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM uploads WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete upload %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UploadIDsBySource returns the ids of the uploads from source (e.g. the
// demo's), oldest first.
func (db *DB) UploadIDsBySource(ctx context.Context, source string) ([]int64, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id FROM uploads WHERE source = ? ORDER BY id`, source)
	if err != nil {
		return nil, fmt.Errorf("uploads of %s: %w", source, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Change is a change made to the network, recorded so that the diagnosis
// before and after it can be compared.
type Change struct {
	ID        int64
	At        time.Time // when the change took effect
	Note      string    // e.g. "raised the F5 idle timeout to 7200 s"
	CreatedAt time.Time
}

// CheckChange trims and validates a change before it is recorded (both
// backends): a time and a note of at most 2000 bytes.
func CheckChange(c *Change) error {
	c.Note = strings.TrimSpace(c.Note)
	switch {
	case c.At.IsZero():
		return &ValidationError{Field: "at", Msg: "the time of the change is missing"}
	case c.Note == "":
		return &ValidationError{Field: "note", Msg: "say what was changed (note)"}
	case len(c.Note) > 2000:
		return &ValidationError{Field: "note", Msg: "the note is longer than 2000 bytes"}
	}
	return nil
}

// CreateChange records c and fills its ID and CreatedAt.
func (db *DB) CreateChange(ctx context.Context, c *Change) error {
	if err := CheckChange(c); err != nil {
		return err
	}
	c.CreatedAt = db.Now().UTC().Truncate(time.Second)
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO changes (at_ns, note, created_at) VALUES (?, ?, ?)`,
			c.At.UTC().UnixNano(), c.Note, c.CreatedAt.Unix())
		if err != nil {
			return fmt.Errorf("create change: %w", err)
		}
		c.ID, err = res.LastInsertId()
		return err
	})
}

func scanChange(sc interface{ Scan(...any) error }) (*Change, error) {
	var c Change
	var at, created int64
	if err := sc.Scan(&c.ID, &at, &c.Note, &created); err != nil {
		return nil, err
	}
	c.At, c.CreatedAt = time.Unix(0, at).UTC(), time.Unix(created, 0).UTC()
	return &c, nil
}

// FindChangeByID returns the change with id, or ErrNotFound.
func (db *DB) FindChangeByID(ctx context.Context, id int64) (*Change, error) {
	c, err := scanChange(db.sql.QueryRowContext(ctx, `SELECT id, at_ns, note, created_at FROM changes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("change %d: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("find change %d: %w", id, err)
	}
	return c, nil
}

// FindChanges returns the recorded changes, the latest (by time of the
// change) first, at most limit.
func (db *DB) FindChanges(ctx context.Context, limit int) ([]*Change, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, at_ns, note, created_at FROM changes ORDER BY at_ns DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("find changes: %w", err)
	}
	defer rows.Close()
	var out []*Change
	for rows.Next() {
		c, err := scanChange(rows)
		if err != nil {
			return nil, fmt.Errorf("find changes: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
