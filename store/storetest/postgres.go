package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"idletrace/store"
	"idletrace/store/pg"
)

// PostgresAvailable reports whether the environment names a PostgreSQL
// server for tests: PGHOST set, as pg_virtualenv does.
func PostgresAvailable() bool { return os.Getenv("PGHOST") != "" }

// RequirePostgres skips tb when no PostgreSQL is configured, with the
// command that runs it; under CI=true it fails instead, so that CI never
// passes without having run the PostgreSQL tests, unless
// IDLETRACE_PG_TESTS=later says this run leaves them to a later one
// under pg_virtualenv (.ci/run's first go test pass).
func RequirePostgres(tb testing.TB) {
	tb.Helper()
	if PostgresAvailable() {
		return
	}
	const msg = "no PostgreSQL: PGHOST is not set; run the tests under pg_virtualenv (Debian package postgresql), e.g. pg_virtualenv go test ./store/..."
	if os.Getenv("CI") == "true" && os.Getenv("IDLETRACE_PG_TESTS") != "later" {
		tb.Fatal(msg + " (CI=true: PostgreSQL tests must run)")
	}
	tb.Skip(msg)
}

// PostgresURL creates an empty database on the server the PG* environment
// names and returns its URL ("postgres:///name": PG* fills the rest); the
// database is dropped at cleanup. It calls RequirePostgres first.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	RequirePostgres(tb)
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	name := "idletrace_test_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, "postgres://")
	if err != nil {
		tb.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, "postgres://")
		if err != nil {
			tb.Errorf("drop test database: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	return "postgres:///" + name
}

// OpenPostgres opens a fresh PostgreSQL store (PostgresURL), closed at
// cleanup; now, when not nil, is its clock.
func OpenPostgres(tb testing.TB, now func() time.Time) store.Store {
	tb.Helper()
	db, err := pg.Open(context.Background(), PostgresURL(tb), pg.Options{Node: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	if now != nil {
		db.Now = now
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// OpenSQLite opens a fresh SQLite store in a temp dir, closed at cleanup;
// now, when not nil, is its clock.
func OpenSQLite(tb testing.TB, now func() time.Time) store.Store {
	tb.Helper()
	db, err := store.Open(context.Background(), tb.TempDir()+"/test.db")
	if err != nil {
		tb.Fatal(err)
	}
	if now != nil {
		db.Now = now
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
