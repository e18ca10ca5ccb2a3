package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// DeleteEventsBefore deletes the events whose time is before t, batch rows
// per write transaction, keeping the event with the highest seq (SQLite
// would hand a deleted top seq out again).
func (db *DB) DeleteEventsBefore(ctx context.Context, t time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 10_000
	}
	var total int64
	for {
		var n int64
		err := db.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time_ns < ?
				AND seq < (SELECT MAX(seq) FROM events) LIMIT ?)`, t.UnixNano(), batch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("delete events before %s: %w", t.Format(time.RFC3339), err)
		}
		total += n
		if n < int64(batch) {
			break
		}
	}
	// The time slots left empty go from event_slots (a query by computer
	// looks into each slot listed). The one event kept above may hold
	// its slot.
	err := db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM event_slots WHERE slot <= ?
			AND NOT EXISTS (SELECT 1 FROM events WHERE events.slot = event_slots.slot)`, slotOf(t.UnixNano()))
		return err
	})
	if err != nil {
		return total, fmt.Errorf("delete events before %s: time slots: %w", t.Format(time.RFC3339), err)
	}
	return total, nil
}
