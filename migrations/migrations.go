// Package migrations holds idletrace's numbered SQL schema migrations. Files
// are applied in name order, each in its own transaction, and recorded in the
// schema_migrations table; an applied file is never edited, a new one is added.
package migrations

import "embed"

// FS holds the migration files (NNNN_name.sql).
//
//go:embed *.sql
var FS embed.FS
