package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SetUploadProgress records that the ingest of upload id has read n bytes
// of its input (migration 0003).
func (db *DB) SetUploadProgress(ctx context.Context, id, n int64) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE uploads SET progress_bytes = ? WHERE id = ?`, n, id); err != nil {
			return fmt.Errorf("set upload %d progress: %w", id, err)
		}
		return nil
	})
}

// UploadProgress returns how many bytes of upload id's input have been read:
// the last recorded progress while it runs, its size once it is finished.
func (db *DB) UploadProgress(ctx context.Context, id int64) (int64, error) {
	var n, size int64
	var status string
	err := db.sql.QueryRowContext(ctx, `SELECT progress_bytes, bytes, status FROM uploads WHERE id = ?`, id).Scan(&n, &size, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("upload %d: %w", id, ErrNotFound)
	} else if err != nil {
		return 0, fmt.Errorf("upload %d progress: %w", id, err)
	}
	if status != UploadRunning {
		return size, nil
	}
	return min(n, size), nil
}
