package pg

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"idletrace/ingest"
)

// The events table is range-partitioned on time_s by week (migration
// 0003, which explains the choice). InsertEvents creates the weeks a batch
// needs, and the current and next week ahead, before it inserts; times
// outside the window below go to events_default.
const (
	weekSeconds = 7 * 24 * 3600
	// mondayOffset is the first Monday 00:00 UTC after the epoch
	// (1970-01-05), in seconds.
	mondayOffset = 4 * 24 * 3600
	// partitionsBack and partitionsAhead bound the weeks, relative to the
	// current one, that get a partition of their own (migration 0003
	// uses the same numbers).
	partitionsBack  = 104
	partitionsAhead = 4
	// partitionRetry is how long a week whose creation failed (e.g. a
	// lock timeout behind a long read) waits before it is tried again;
	// meanwhile its events go to events_default and move later.
	partitionRetry = time.Minute
	// partitionLockTimeout bounds how long creating or dropping a
	// partition waits for a table lock.
	partitionLockTimeout = "3s"
)

// weekStart is the Monday 00:00 UTC (unix seconds) of the week holding
// unix second s, as SQL's events_week_start.
func weekStart(s int64) int64 {
	return s - ((s-mondayOffset)%weekSeconds+weekSeconds)%weekSeconds
}

// partitionName is the table of the week starting at lo.
func partitionName(lo int64) string {
	return "events_w" + time.Unix(lo, 0).UTC().Format("20060102")
}

// partitionWeek parses a partition's table name back to its week start.
func partitionWeek(name string) (int64, bool) {
	d, ok := strings.CutPrefix(name, "events_w")
	if !ok {
		return 0, false
	}
	t, err := time.Parse("20060102", d)
	if err != nil || weekStart(t.Unix()) != t.Unix() {
		return 0, false
	}
	return t.Unix(), true
}

// partitions is this node's knowledge of which weeks have a partition, so
// that an insert asks the database only when a batch brings a new week.
// Another node dropping a week (retention) leaves it marked here: that
// week's events then go to events_default, which is correct, and
// retention deletes them from there.
type partitions struct {
	mu     sync.Mutex
	known  map[int64]bool
	failed map[int64]time.Time
}

// loadPartitions reads the attached weeks.
func (db *DB) loadPartitions(ctx context.Context) error {
	names, err := db.partitionTables(ctx, db.pool, true)
	if err != nil {
		return err
	}
	db.parts.mu.Lock()
	defer db.parts.mu.Unlock()
	db.parts.known = map[int64]bool{}
	db.parts.failed = map[int64]time.Time{}
	for _, n := range names {
		if w, ok := partitionWeek(n); ok {
			db.parts.known[w] = true
		}
	}
	return nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// partitionTables lists the week tables: attached to events (attached) or
// left detached by a retention run that stopped half-way (!attached).
func (db *DB) partitionTables(ctx context.Context, q querier, attached bool) ([]string, error) {
	sql := `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass AND c.relname LIKE 'events\_w%' ORDER BY c.relname`
	if !attached {
		sql = `SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE 'events\_w%'
			AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'events'::regclass)
			AND NOT c.relispartition ORDER BY c.relname`
	}
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", classify(err))
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list partitions: %w", classify(err))
	}
	return names, nil
}

// ensurePartitions creates the partitions that the events' weeks and the
// weeks just ahead need and this node does not know of, each in a short
// transaction of its own under the seq advisory lock (so that nodes do not
// race, and no insert is half-way while rows move out of events_default).
// A week it cannot create now (a lock timeout behind a long read, or any
// other failure) is left to events_default and retried after
// partitionRetry: the insert goes on regardless, and the week's rows move
// to its partition once it exists. Only a cancelled ctx is returned.
func (db *DB) ensurePartitions(ctx context.Context, events []ingest.Event) error {
	now := weekStart(db.Now().Unix())
	lo, hi := now-partitionsBack*weekSeconds, now+partitionsAhead*weekSeconds
	var want []int64
	db.parts.mu.Lock()
	need := func(w int64) {
		if w < lo || w > hi || db.parts.known[w] {
			return
		}
		if at, ok := db.parts.failed[w]; ok && db.Now().Sub(at) < partitionRetry {
			return
		}
		db.parts.known[w] = true // claimed; unmarked again on failure
		want = append(want, w)
	}
	need(now)
	need(now + weekSeconds)
	for i := range events {
		need(weekStart(events[i].Time.Unix()))
	}
	db.parts.mu.Unlock()
	for _, w := range want {
		err := db.write(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+partitionLockTimeout+`'`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockSeq); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `SELECT events_ensure_partition($1)`, w)
			return err
		})
		if err != nil {
			db.parts.mu.Lock()
			delete(db.parts.known, w)
			db.parts.failed[w] = db.Now()
			db.parts.mu.Unlock()
			if ctx.Err() != nil {
				return fmt.Errorf("create partition %s: %w", partitionName(w), err)
			}
		}
	}
	return nil
}

// isLockTimeout reports whether err is PostgreSQL's lock_not_available.
func isLockTimeout(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

// dropPartitionsBefore drops every week partition that lies wholly before
// t, except the one holding the highest seq (kept so that seqs never go
// back; DeleteEventsBefore deletes the rest of it row by row), and returns
// how many events went with them. Each is detached first (a brief ACCESS
// EXCLUSIVE lock on events, bounded by partitionLockTimeout: a week that
// cannot get it now is left to the row-by-row delete), then counted and
// dropped with its event_uploads rows. Tables a stopped run left detached
// are dropped too.
func (db *DB) dropPartitionsBefore(ctx context.Context, t time.Time) (int64, error) {
	cutNs := t.UnixNano()
	attached, err := db.partitionTables(ctx, db.pool, true)
	if err != nil {
		return 0, err
	}
	var top string
	err = db.pool.QueryRow(ctx, `SELECT COALESCE((SELECT tableoid::regclass::text FROM events
		WHERE seq = (SELECT MAX(seq) FROM events) LIMIT 1), '')`).Scan(&top)
	if err != nil {
		return 0, fmt.Errorf("find the newest event: %w", classify(err))
	}
	for _, name := range attached {
		w, ok := partitionWeek(name)
		if !ok || name == top || (w+weekSeconds)*1_000_000_000 > cutNs {
			continue
		}
		err := db.write(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+partitionLockTimeout+`'`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `ALTER TABLE events DETACH PARTITION `+pgx.Identifier{name}.Sanitize())
			return err
		})
		if isLockTimeout(err) {
			continue
		} else if err != nil {
			return 0, fmt.Errorf("detach partition %s: %w", name, err)
		}
	}
	detached, err := db.partitionTables(ctx, db.pool, false)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, name := range detached {
		id := pgx.Identifier{name}.Sanitize()
		var n int64
		err := db.write(ctx, func(tx pgx.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+id).Scan(&n); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM event_uploads WHERE seq IN (SELECT seq FROM `+id+`)`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DROP TABLE `+id); err != nil {
				return err
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("drop partition %s: %w", name, err)
		}
		total += n
		if w, ok := partitionWeek(name); ok {
			db.parts.mu.Lock()
			delete(db.parts.known, w)
			db.parts.mu.Unlock()
		}
	}
	return total, nil
}
