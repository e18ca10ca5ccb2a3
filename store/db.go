// Package store keeps idletrace's data: uploads, events and their dedup
// keys, tokens and sessions. Store (store.go) is what the rest of the
// program uses; DB is its SQLite implementation (mattn/go-sqlite3). All SQL
// lives here; values are always bound as arguments, never formatted into
// statements.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"idletrace/migrations"
)

// Options tune how a database is opened. The zero value is the default.
type Options struct {
	// MaxBytes caps the database file's size (0 = no cap). Writes past it
	// fail with ErrFull, exactly as on a full disk.
	MaxBytes int64
	// ReadOnly opens the database for reading only (e.g. to serve an
	// archived database): every write fails with ErrReadOnly. The schema
	// must already be current.
	ReadOnly bool
}

// classifySQLite wraps SQLite's storage errors in the sentinels of
// errors.go so
// that callers can answer "disk full" rather than "internal error".
func classifySQLite(err error) error {
	var se sqlite3.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case sqlite3.ErrFull:
		return fmt.Errorf("%w: %v", ErrFull, err)
	case sqlite3.ErrReadonly, sqlite3.ErrPerm, sqlite3.ErrCantOpen:
		return fmt.Errorf("%w: %v", ErrReadOnly, err)
	case sqlite3.ErrBusy, sqlite3.ErrLocked:
		return fmt.Errorf("%w: %v", ErrBusy, err)
	}
	return err
}

// connector opens connections with the driver's per-connection hook, so
// settings that have no DSN parameter (max_page_count) reach every pooled
// connection too.
type connector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c *connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c *connector) Driver() driver.Driver                        { return c.drv }

// DB is an open idletrace database.
type DB struct {
	sql  *sql.DB
	path string
	// writeMu serialises write transactions: SQLite has one writer, and
	// queueing in Go is fairer than spinning on busy_timeout. It guards
	// wconn.
	writeMu sync.Mutex
	// wconn is the connection every write transaction runs on (see
	// writeConn), taken out of the pool on the first write.
	wconn *sql.Conn
	// Now is the clock; tests may replace it.
	Now func() time.Time

	readOnly bool
}

// ReadOnly reports whether the database was opened read-only.
func (db *DB) ReadOnly() bool { return db.readOnly }

// Open opens (creating if needed) the database at path and applies pending
// migrations. Per-connection settings live in the DSN so that every pooled
// connection gets them.
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWithOptions(ctx, path, Options{})
}

// OpenWithOptions is Open with settings.
func OpenWithOptions(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("open database: need a file path, got %q", path)
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	if opts.ReadOnly {
		q.Set("_query_only", "1")
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	drv := &sqlite3.SQLiteDriver{}
	if opts.MaxBytes > 0 {
		drv.ConnectHook = func(c *sqlite3.SQLiteConn) error {
			// max_page_count is in pages; page_size is 4096 by default.
			_, err := c.Exec(fmt.Sprintf("PRAGMA max_page_count = %d", max(opts.MaxBytes/4096, 16)), nil)
			return err
		}
	}
	sdb := sql.OpenDB(&connector{dsn: dsn, drv: drv})
	sdb.SetMaxOpenConns(8)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	db := &DB{sql: sdb, path: path, Now: time.Now, readOnly: opts.ReadOnly}
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open database %s: %w", path, classifySQLite(err))
	}
	if err := db.migrate(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("migrate database %s: %w", path, err)
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	db.writeMu.Lock()
	if db.wconn != nil {
		db.wconn.Close()
		db.wconn = nil
	}
	db.writeMu.Unlock()
	return db.sql.Close()
}

// Path is the database file's path.
func (db *DB) Path() string { return db.path }

// Size is how many bytes the database takes on disk: the file and its
// write-ahead log.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		st, err := os.Stat(db.path + suffix)
		if err != nil {
			if suffix == "" {
				return 0, fmt.Errorf("database size: %w", err)
			}
			continue
		}
		n += st.Size()
	}
	return n, nil
}

// Ping checks the database answers (for readiness probes).
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return err
	}
	applied := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		applied[n] = true
		if !known[n] {
			rows.Close()
			return fmt.Errorf("database has migration %s that this idletrace does not know: it was written by a newer version", n)
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, n := range names {
		if applied[n] {
			continue
		}
		if db.readOnly {
			return fmt.Errorf("%w: migration %s is pending; open it once read-write to upgrade it", ErrReadOnly, n)
		}
		body, err := migrations.FS.ReadFile(n)
		if err != nil {
			return err
		}
		if err := db.write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, n, db.Now().Unix())
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// write runs fn in a write transaction, committing if it returns nil.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	c, err := db.writeConn(ctx)
	if err != nil {
		return err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
			db.wconn.Close()
			db.wconn = nil
		}
		return fmt.Errorf("begin: %w", classifySQLite(err))
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return classifySQLite(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", classifySQLite(err))
	}
	return nil
}

// writerCacheKiB is the page cache of the write connection, in KiB (SQLite's
// default is 2 000). An insert walks the events table's indexes; 16 MiB
// keeps their right-hand pages resident (3 M events: 77 k events/s, as with
// 64 MiB, at 41 instead of 100 MiB of RSS; the default gives 76 k/s).
const writerCacheKiB = 16 << 10

// writeConn returns the connection writes run on, opening it on first use
// (db.writeMu held). Every write on one connection keeps its page cache
// valid: SQLite drops a connection's cache when another one wrote, so
// writes spread over the pool re-read (pread, copy) every index page they
// touch, which was most of an insert's CPU at a few million events.
func (db *DB) writeConn(ctx context.Context) (*sql.Conn, error) {
	if db.wconn != nil {
		return db.wconn, nil
	}
	c, err := db.sql.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("write connection: %w", classifySQLite(err))
	}
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", writerCacheKiB)); err != nil {
		c.Close()
		return nil, fmt.Errorf("write connection: %w", classifySQLite(err))
	}
	db.wconn = c
	return c, nil
}

// IntegrityCheck runs SQLite's integrity check and returns an error unless
// it reports "ok".
func (db *DB) IntegrityCheck(ctx context.Context) error {
	var res string
	if err := db.sql.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("integrity check: %s", res)
	}
	return nil
}
