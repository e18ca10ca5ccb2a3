package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"idletrace/ingest"
)

// Upload statuses.
const (
	UploadRunning = "running"
	UploadDone    = "done"
	UploadFailed  = "failed"
)

// Upload is one ingested input and what came of it.
type Upload struct {
	ID              int64            `json:"id"`
	Name            string           `json:"name"`
	Source          string           `json:"source"`
	Format          string           `json:"format"`
	Bytes           int64            `json:"bytes"`
	Records         int              `json:"records"`
	OutlookEvents   int              `json:"outlook_events"`
	NewEvents       int              `json:"new_events"`
	DuplicateEvents int              `json:"duplicate_events"`
	Warnings        []ingest.Warning `json:"warnings"`
	Status          string           `json:"status"`
	Error           string           `json:"error,omitempty"`
	// LooksLike says what an input with no Outlook event looks like (e.g.
	// another Windows log); empty otherwise.
	LooksLike  string     `json:"looks_like,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// CreateUpload records the start of an ingest and fills u.ID and u.CreatedAt.
func (db *DB) CreateUpload(ctx context.Context, u *Upload) error {
	u.CreatedAt = db.Now().UTC().Truncate(time.Second)
	u.Status = UploadRunning
	if u.Source == "" {
		u.Source = "upload"
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO uploads (name, source, bytes, status, created_at) VALUES (?, ?, ?, ?, ?)`,
			u.Name, u.Source, u.Bytes, u.Status, u.CreatedAt.Unix())
		if err != nil {
			return fmt.Errorf("create upload: %w", err)
		}
		u.ID, err = res.LastInsertId()
		return err
	})
}

// FinishUpload stores the final counts, warnings and status of u. A non-empty
// u.Error marks it failed.
func (db *DB) FinishUpload(ctx context.Context, u *Upload) error {
	now := db.Now().UTC().Truncate(time.Second)
	u.FinishedAt = &now
	u.Status = UploadDone
	if u.Error != "" {
		u.Status = UploadFailed
	}
	if u.Warnings == nil {
		u.Warnings = []ingest.Warning{}
	}
	warnings, err := json.Marshal(u.Warnings)
	if err != nil {
		return fmt.Errorf("finish upload: %w", err)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE uploads SET format = ?, bytes = ?, records = ?, outlook_events = ?,
			new_events = ?, duplicate_events = ?, warnings = ?, status = ?, error = ?, looks_like = ?, finished_at = ? WHERE id = ?`,
			u.Format, u.Bytes, u.Records, u.OutlookEvents, u.NewEvents, u.DuplicateEvents, string(warnings),
			u.Status, u.Error, u.LooksLike, now.Unix(), u.ID)
		if err != nil {
			return fmt.Errorf("finish upload %d: %w", u.ID, err)
		}
		return nil
	})
}

const uploadColumns = `id, name, source, format, bytes, records, outlook_events, new_events, duplicate_events,
	warnings, status, error, looks_like, created_at, finished_at`

func scanUpload(sc interface{ Scan(...any) error }) (*Upload, error) {
	var u Upload
	var warnings string
	var created int64
	var finished sql.NullInt64
	if err := sc.Scan(&u.ID, &u.Name, &u.Source, &u.Format, &u.Bytes, &u.Records, &u.OutlookEvents,
		&u.NewEvents, &u.DuplicateEvents, &warnings, &u.Status, &u.Error, &u.LooksLike, &created, &finished); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(warnings), &u.Warnings); err != nil {
		u.Warnings = nil
	}
	u.CreatedAt = time.Unix(created, 0).UTC()
	if finished.Valid {
		t := time.Unix(finished.Int64, 0).UTC()
		u.FinishedAt = &t
	}
	return &u, nil
}

// FindUploadByID returns the upload with id, or ErrNotFound.
func (db *DB) FindUploadByID(ctx context.Context, id int64) (*Upload, error) {
	row := db.sql.QueryRowContext(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE id = ?`, id)
	u, err := scanUpload(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("upload %d: %w", id, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("find upload %d: %w", id, err)
	}
	return u, nil
}

// FindUploads returns uploads, newest first, at most limit of them with ids
// below before (0 = from the newest).
func (db *DB) FindUploads(ctx context.Context, before int64, limit int) ([]*Upload, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("find uploads: %w", err)
	}
	defer rows.Close()
	var out []*Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("find uploads: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// InterruptedMessage is the error recorded on uploads that were still
// running when the server stopped.
const InterruptedMessage = "interrupted: the server stopped before this ingest finished; upload the file again (events already stored are not counted twice)"

// FailRunningUploads marks every upload still "running" as failed. The
// server calls it at start: an upload can only be running in a live
// process, so these were cut off by a crash or kill, and must not be shown
// as complete. It returns how many were marked.
func (db *DB) FailRunningUploads(ctx context.Context) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE uploads SET status = ?, error = ?, finished_at = ? WHERE status = ?`,
			UploadFailed, InterruptedMessage, db.Now().Unix(), UploadRunning)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("fail running uploads: %w", err)
	}
	return int(n), nil
}
