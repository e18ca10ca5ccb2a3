package pg

import (
	"context"
	"fmt"
	"time"
)

// DeleteEventsBefore deletes the events whose time is before t, batch rows
// per transaction, keeping the event with the highest seq (ChangeMark must
// never go back).
func (db *DB) DeleteEventsBefore(ctx context.Context, t time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 10_000
	}
	var total int64
	for {
		tag, err := db.pool.Exec(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time_ns < $1
			AND seq < (SELECT MAX(seq) FROM events) LIMIT $2)`, t.UnixNano(), batch)
		if err != nil {
			return total, fmt.Errorf("delete events before %s: %w", t.Format(time.RFC3339), classify(err))
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}
