// Package benchdb is what the load scripts (bench/httpload,
// bench/ingestload) share about the database they run against: a SQLite
// file or a postgres:// URL, opened, created and measured the same way.
package benchdb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5"

	"idletrace/store"
	"idletrace/store/pg"
)

// Backend names the database for output: "SQLite FILE" or "PostgreSQL
// URL" with its password redacted.
func Backend(dsn string) string {
	if pg.IsURL(dsn) {
		if u, err := url.Parse(dsn); err == nil {
			return "PostgreSQL " + u.Redacted()
		}
		return "PostgreSQL"
	}
	return "SQLite " + dsn
}

// Open opens the store dsn names, as node on PostgreSQL.
func Open(ctx context.Context, dsn, node string) (store.Store, error) {
	if pg.IsURL(dsn) {
		return pg.Open(ctx, dsn, pg.Options{Node: node})
	}
	return store.Open(ctx, dsn)
}

// CreatePGDatabase creates the database a postgres:// URL names when it
// does not exist, connecting to the server's "postgres" database.
func CreatePGDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	name := cfg.Database
	if c, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		c.Close(ctx)
		return nil
	}
	cfg.Database = "postgres"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to create %s: %w", name, err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Size is the database's size in bytes: the SQLite file and its WAL, or
// pg_database_size.
func Size(ctx context.Context, dsn string) (int64, error) {
	var n int64
	if !pg.IsURL(dsn) {
		for _, p := range []string{dsn, dsn + "-wal"} {
			if fi, err := os.Stat(p); err == nil {
				n += fi.Size()
			}
		}
		return n, nil
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("database size: %w", err)
	}
	return n, nil
}
