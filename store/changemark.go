package store

import (
	"context"
	"fmt"
)

// ChangeMark returns the newest event sequence and the newest upload id:
// two primary-key lookups, cheap on any database size. Stats (which counts
// every row) changes only when one of them does, so callers can cache
// Stats and what they derive from it on the pair.
func (db *DB) ChangeMark(ctx context.Context) (lastSeq, lastUpload int64, err error) {
	err = db.sql.QueryRowContext(ctx, `SELECT COALESCE((SELECT MAX(seq) FROM events), 0), COALESCE((SELECT MAX(id) FROM uploads), 0)`).
		Scan(&lastSeq, &lastUpload)
	if err != nil {
		return 0, 0, fmt.Errorf("change mark: %w", err)
	}
	return lastSeq, lastUpload, nil
}
