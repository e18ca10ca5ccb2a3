package pg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"idletrace/ingest"
	"idletrace/store"
)

// CreateUpload records the start of an ingest, owned by this node, and
// fills u.ID and u.CreatedAt.
func (db *DB) CreateUpload(ctx context.Context, u *store.Upload) error {
	u.CreatedAt = db.Now().UTC().Truncate(time.Second)
	u.Status = store.UploadRunning
	if u.Source == "" {
		u.Source = "upload"
	}
	err := db.pool.QueryRow(ctx, `INSERT INTO uploads (name, source, bytes, status, created_at, node)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		u.Name, u.Source, u.Bytes, u.Status, u.CreatedAt.Unix(), db.node).Scan(&u.ID)
	if err != nil {
		return fmt.Errorf("create upload: %w", classify(err))
	}
	return nil
}

// FinishUpload stores the final counts, warnings and status of u. A non-empty
// u.Error marks it failed.
func (db *DB) FinishUpload(ctx context.Context, u *store.Upload) error {
	now := db.Now().UTC().Truncate(time.Second)
	u.FinishedAt = &now
	u.Status = store.UploadDone
	if u.Error != "" {
		u.Status = store.UploadFailed
	}
	if u.Warnings == nil {
		u.Warnings = []ingest.Warning{}
	}
	warnings, err := json.Marshal(u.Warnings)
	if err != nil {
		return fmt.Errorf("finish upload: %w", err)
	}
	_, err = db.pool.Exec(ctx, `UPDATE uploads SET format = $1, bytes = $2, records = $3, outlook_events = $4,
		new_events = $5, duplicate_events = $6, warnings = $7, status = $8, error = $9, looks_like = $10, finished_at = $11 WHERE id = $12`,
		u.Format, u.Bytes, u.Records, u.OutlookEvents, u.NewEvents, u.DuplicateEvents, string(warnings),
		u.Status, u.Error, u.LooksLike, now.Unix(), u.ID)
	if err != nil {
		return fmt.Errorf("finish upload %d: %w", u.ID, classify(err))
	}
	return nil
}

const uploadColumns = `id, name, source, format, bytes, records, outlook_events, new_events, duplicate_events,
	warnings, status, error, looks_like, created_at, finished_at`

func scanUpload(row pgx.Row) (*store.Upload, error) {
	var u store.Upload
	var warnings string
	var created int64
	var finished *int64
	if err := row.Scan(&u.ID, &u.Name, &u.Source, &u.Format, &u.Bytes, &u.Records, &u.OutlookEvents,
		&u.NewEvents, &u.DuplicateEvents, &warnings, &u.Status, &u.Error, &u.LooksLike, &created, &finished); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(warnings), &u.Warnings); err != nil {
		u.Warnings = nil
	}
	u.CreatedAt = time.Unix(created, 0).UTC()
	if finished != nil {
		t := time.Unix(*finished, 0).UTC()
		u.FinishedAt = &t
	}
	return &u, nil
}

// FindUploadByID returns the upload with id, or store.ErrNotFound.
func (db *DB) FindUploadByID(ctx context.Context, id int64) (*store.Upload, error) {
	u, err := scanUpload(db.pool.QueryRow(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("upload %d: %w", id, store.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("find upload %d: %w", id, classify(err))
	}
	return u, nil
}

// FindUploads returns uploads, newest first, at most limit of them with ids
// below before (0 = from the newest).
func (db *DB) FindUploads(ctx context.Context, before int64, limit int) ([]*store.Upload, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.pool.Query(ctx, `SELECT `+uploadColumns+` FROM uploads WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("find uploads: %w", classify(err))
	}
	defer rows.Close()
	var out []*store.Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("find uploads: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find uploads: %w", classify(err))
	}
	return out, nil
}

// UploadCount is how many uploads are recorded.
func (db *DB) UploadCount(ctx context.Context) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM uploads`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count uploads: %w", classify(err))
	}
	return n, nil
}

// FailRunningUploads marks this node's uploads still "running" as failed:
// they were cut off when the node stopped. Other nodes' running uploads
// are live, theirs to finish. It returns how many were marked.
func (db *DB) FailRunningUploads(ctx context.Context) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE uploads SET status = $1, error = $2, finished_at = $3 WHERE status = $4 AND node = $5`,
		store.UploadFailed, store.InterruptedMessage, db.Now().Unix(), store.UploadRunning, db.node)
	if err != nil {
		return 0, fmt.Errorf("fail running uploads: %w", classify(err))
	}
	return int(tag.RowsAffected()), nil
}

// SetUploadProgress records that the ingest of upload id has read n bytes.
func (db *DB) SetUploadProgress(ctx context.Context, id, n int64) error {
	if _, err := db.pool.Exec(ctx, `UPDATE uploads SET progress_bytes = $1 WHERE id = $2`, n, id); err != nil {
		return fmt.Errorf("set upload %d progress: %w", id, classify(err))
	}
	return nil
}

// UploadProgress returns how many bytes of upload id's input have been read:
// the last recorded progress while it runs, its size once it is finished.
func (db *DB) UploadProgress(ctx context.Context, id int64) (int64, error) {
	var n, size int64
	var status string
	err := db.pool.QueryRow(ctx, `SELECT progress_bytes, bytes, status FROM uploads WHERE id = $1`, id).Scan(&n, &size, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("upload %d: %w", id, store.ErrNotFound)
	} else if err != nil {
		return 0, fmt.Errorf("upload %d progress: %w", id, classify(err))
	}
	if status != store.UploadRunning {
		return size, nil
	}
	return min(n, size), nil
}

// maxAgentWarnings is how many warnings an agent day's upload row keeps.
const maxAgentWarnings = 200

// AgentDayUpload returns the id of the upload row that counts the batches
// of agent from source on the current UTC day, creating it (finished) when
// there is none. Concurrent callers, on any node, get the same row: it is
// keyed by a UNIQUE column. The row is read first, so that only the day's
// first batch writes here (an INSERT … ON CONFLICT per batch also used up
// an upload id each time).
func (db *DB) AgentDayUpload(ctx context.Context, source, agent string) (int64, error) {
	now := db.Now().UTC()
	name := store.AgentDayName(agent, now.Format(time.DateOnly))
	key := source + "/" + name
	at := now.Truncate(time.Second).Unix()
	var id int64
	err := db.pool.QueryRow(ctx, `SELECT id FROM uploads WHERE agent_day = $1`, key).Scan(&id)
	if err == nil {
		return id, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("agent day upload: %w", classify(err))
	}
	err = db.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO uploads (name, source, format, status, created_at, finished_at, agent_day, node)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (agent_day) DO NOTHING`,
			name, source, ingest.FormatJSON, store.UploadDone, at, at, key, db.node); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT id FROM uploads WHERE agent_day = $1`, key).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("agent day upload: %w", err)
	}
	return id, nil
}

// CountAgentBatch adds a batch's counts to upload id (an agent day's row):
// increments in SQL, the formats and warnings merged under a row lock in
// the same transaction, so concurrent batches on any node never lose each
// other's counts.
func (db *DB) CountAgentBatch(ctx context.Context, id int64, c store.AgentBatchCounts) error {
	return db.write(ctx, func(tx pgx.Tx) error {
		var format, warnings string
		err := tx.QueryRow(ctx, `SELECT format, warnings FROM uploads WHERE id = $1 FOR UPDATE`, id).Scan(&format, &warnings)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("upload %d: %w", id, store.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("count agent batch: %w", err)
		}
		if c.Format != "" && !strings.Contains(format, c.Format) && len(format) < 200 {
			if format == ingest.FormatJSON || format == "" {
				format = c.Format
			} else {
				format += ", " + c.Format
			}
		}
		if len(c.Warnings) > 0 {
			var ws []ingest.Warning
			json.Unmarshal([]byte(warnings), &ws) // a bad list restarts empty
			if n := min(len(c.Warnings), maxAgentWarnings-len(ws)); n > 0 {
				ws = append(ws, c.Warnings[:n]...)
				b, err := json.Marshal(ws)
				if err != nil {
					return err
				}
				warnings = string(b)
			}
		}
		_, err = tx.Exec(ctx, `UPDATE uploads SET bytes = bytes + $1, records = records + $2, outlook_events = outlook_events + $3,
			new_events = new_events + $4, duplicate_events = duplicate_events + $5, format = $6, warnings = $7, finished_at = $8 WHERE id = $9`,
			c.Bytes, c.Records, c.OutlookEvents, c.NewEvents, c.DuplicateEvents, format, warnings,
			db.Now().UTC().Truncate(time.Second).Unix(), id)
		if err != nil {
			return fmt.Errorf("count agent batch: %w", err)
		}
		return nil
	})
}
