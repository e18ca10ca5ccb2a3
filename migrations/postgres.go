package migrations

import "embed"

// Postgres holds the PostgreSQL schema migrations (postgres/NNNN_name.sql),
// numbered on their own: the SQLite files above are in SQLite's dialect.
// store/pg applies them in name order under an advisory lock, so nodes
// starting together apply each once.
//
//go:embed postgres/*.sql
var Postgres embed.FS
