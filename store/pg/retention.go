package pg

import (
	"context"
	"fmt"
	"time"
)

// DeleteEventsBefore deletes the events whose time is before t: first the
// week partitions wholly before t are dropped (dropPartitionsBefore), then
// what is left before t (in the week holding t, in events_default, in a
// week that could not be locked) is deleted batch rows per transaction,
// with the event_uploads rows of those events. The event with the highest
// seq is always kept (ChangeMark must never go back). It returns how many
// events it deleted.
func (db *DB) DeleteEventsBefore(ctx context.Context, t time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 10_000
	}
	total, err := db.dropPartitionsBefore(ctx, t)
	if err != nil {
		return total, fmt.Errorf("delete events before %s: %w", t.Format(time.RFC3339), err)
	}
	// time_s <= the second of t's last nanosecond before it: prunes the
	// partitions after t.
	lastS := t.Add(-1).Unix()
	for {
		var n int64
		err := db.pool.QueryRow(ctx, `WITH gone AS (
				DELETE FROM events WHERE time_s <= $1 AND seq IN (SELECT seq FROM events WHERE time_s <= $1 AND time_ns < $2
					AND seq < (SELECT MAX(seq) FROM events) LIMIT $3)
				RETURNING seq),
			unlinked AS (DELETE FROM event_uploads WHERE seq IN (SELECT seq FROM gone))
			SELECT count(*) FROM gone`, lastS, t.UnixNano(), batch).Scan(&n)
		if err != nil {
			return total, fmt.Errorf("delete events before %s: %w", t.Format(time.RFC3339), classify(err))
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}
