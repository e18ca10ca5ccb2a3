// Package pg is the PostgreSQL store.Store (github.com/jackc/pgx/v5), for
// running several idletrace nodes on one database that a company already
// runs, replicates and backs up. It keeps every promise of the SQLite
// store: the same dedup key, exact new and duplicate counts per batch, and
// an ingest sequence that is safe to poll (a reader that sees seq N+1 also
// sees N: see InsertEvents). Events are range-partitioned by week of event
// time, so that retention drops whole weeks (partition.go, migration
// 0003). All SQL binds its values as arguments.
package pg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"idletrace/migrations"
	"idletrace/store"
)

// Advisory lock keys: (lockClass, one of the others). lockClass spells
// "idlt", so idletrace's locks do not collide with another application's
// on the same database.
const (
	lockClass   = 0x69646c74
	lockMigrate = 1 // schema migrations: one node at a time
	lockSeq     = 2 // event seq allocation to commit (InsertEvents)
	lockLeader  = 3 // the leader's session lock (Elect)
)

// IsURL reports whether dsn names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a SQLite file.
func IsURL(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// Options tune how a database is opened. The zero value is the default.
type Options struct {
	// ReadOnly opens every session read-only: writes fail with
	// store.ErrReadOnly. The schema must already be current.
	ReadOnly bool
	// Node names this server node (default: the host name). Uploads are
	// recorded with it, and FailRunningUploads fails only the node's own:
	// a node that restarts must keep its name.
	Node string
	// MaxConns caps the pool (0 = 8).
	MaxConns int32
}

// DB is an open PostgreSQL database.
type DB struct {
	pool     *pgxpool.Pool
	cfg      *pgxpool.Config
	node     string
	readOnly bool
	parts    partitions
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

// DB is a Store that several nodes share, with retention.
var (
	_ store.Store     = (*DB)(nil)
	_ store.Elector   = (*DB)(nil)
	_ store.Retention = (*DB)(nil)
)

// tempEvents is the per-session table InsertEvents copies a batch into.
const tempEvents = `CREATE TEMP TABLE IF NOT EXISTS events_in (
	ord int NOT NULL, computer text NOT NULL, computer_key text NOT NULL, channel text NOT NULL,
	provider text NOT NULL, event_id int NOT NULL, qualifiers int, level int NOT NULL, record_id bigint,
	time_ns bigint NOT NULL, time_s bigint NOT NULL, precision_ns bigint NOT NULL, message text NOT NULL, dedup_key bytea NOT NULL
) ON COMMIT DELETE ROWS`

// Open connects to the database dsn names (a libpq URL: PG* environment
// variables fill what it leaves out, so "postgres://" alone works under
// pg_virtualenv) and applies pending migrations.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	cfg.MaxConns = 8
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "idletrace"
	}
	if opts.ReadOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	} else {
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, tempEvents)
			return err
		}
	}
	if opts.Node == "" {
		opts.Node, _ = os.Hostname()
	}
	db := &DB{cfg: cfg, node: opts.Node, readOnly: opts.ReadOnly, Now: time.Now}
	// Migrate on a connection of its own before the pool exists: the
	// pool's AfterConnect needs no schema, but reads do.
	if err := db.migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate database %s: %w", db.Name(), err)
	}
	if db.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open database %s: %w", db.Name(), err)
	}
	if err := db.pool.Ping(ctx); err != nil {
		db.pool.Close()
		return nil, fmt.Errorf("open database %s: %w", db.Name(), classify(err))
	}
	if err := db.loadPartitions(ctx); err != nil {
		db.pool.Close()
		return nil, fmt.Errorf("open database %s: %w", db.Name(), err)
	}
	return db, nil
}

// Name is the database as host:port/name, for logs (never the password).
func (db *DB) Name() string {
	c := db.cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Node is the name this node records on its uploads.
func (db *DB) Node() string { return db.node }

// Close closes the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks the database answers (for readiness probes).
func (db *DB) Ping(ctx context.Context) error { return classify(db.pool.Ping(ctx)) }

// ReadOnly reports whether the database was opened read-only.
func (db *DB) ReadOnly() bool { return db.readOnly }

// Size is how many bytes the database takes (pg_database_size).
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
		return 0, fmt.Errorf("database size: %w", classify(err))
	}
	return n, nil
}

// classify wraps PostgreSQL's errors in the sentinels of store/errors.go,
// so that callers answer "disk full" or "read-only" rather than "internal
// error".
func classify(err error) error {
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == "53100" || pe.Code == "53200": // disk_full, out_of_memory
		return fmt.Errorf("%w: %v", store.ErrFull, err)
	case pe.Code == "25006" || pe.Code == "42501": // read_only_sql_transaction, insufficient_privilege
		return fmt.Errorf("%w: %v", store.ErrReadOnly, err)
	case pe.Code == "55P03" || pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "57014":
		// lock_not_available, serialization_failure, deadlock, query_canceled (statement_timeout)
		return fmt.Errorf("%w: %v", store.ErrBusy, err)
	case pe.Code == "23505": // unique_violation
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return err
}

// write runs fn in a transaction, committing if it returns nil.
func (db *DB) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", classify(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return classify(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	return nil
}

// migrate applies the pending files of migrations.Postgres in name order,
// each in its own transaction, holding a session advisory lock throughout
// so that nodes starting together apply each file once: the second waits,
// then finds them recorded.
func (db *DB) migrate(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, db.cfg.ConnConfig)
	if err != nil {
		return classify(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	names, err := fs.Glob(migrations.Postgres, "postgres/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	if db.readOnly {
		return db.checkMigrated(ctx, conn, names)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, lockMigrate); err != nil {
		return fmt.Errorf("migration lock: %w", classify(err))
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClass, lockMigrate)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return classify(err)
	}
	applied, err := appliedMigrations(ctx, conn, names)
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "postgres/")
		if applied[base] {
			continue
		}
		body, err := migrations.Postgres.ReadFile(n)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", base, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`, base, db.Now().Unix())
			return err
		})
		if err != nil {
			return classify(err)
		}
	}
	return nil
}

// appliedMigrations returns the recorded migrations, refusing a database
// that records one this binary does not ship.
func appliedMigrations(ctx context.Context, conn *pgx.Conn, names []string) (map[string]bool, error) {
	known := map[string]bool{}
	for _, n := range names {
		known[strings.TrimPrefix(n, "postgres/")] = true
	}
	rows, err := conn.Query(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, classify(err)
	}
	recorded, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, classify(err)
	}
	applied := map[string]bool{}
	for _, n := range recorded {
		if !known[n] {
			return nil, fmt.Errorf("database has migration %s that this idletrace does not know: it was written by a newer version", n)
		}
		applied[n] = true
	}
	return applied, nil
}

// checkMigrated is migrate for a read-only database: every migration must
// already be applied.
func (db *DB) checkMigrated(ctx context.Context, conn *pgx.Conn, names []string) error {
	applied, err := appliedMigrations(ctx, conn, names)
	if err != nil {
		return err
	}
	for _, n := range names {
		if base := strings.TrimPrefix(n, "postgres/"); !applied[base] {
			return fmt.Errorf("%w: migration %s is pending; open it once read-write to upgrade it", store.ErrReadOnly, base)
		}
	}
	return nil
}
