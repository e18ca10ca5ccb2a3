package pg_test

import (
	"testing"

	"idletrace/store/storetest"
)

// TestStore runs the behaviour suite of every backend on PostgreSQL (PG*
// environment, e.g. under pg_virtualenv; skipped without, failed under
// CI=true).
func TestStore(t *testing.T) { storetest.Run(t, storetest.OpenPostgres) }

// BenchmarkInsertEvents: COPY + INSERT … ON CONFLICT in batches of 5000.
func BenchmarkInsertEvents(b *testing.B) { storetest.BenchInsert(b, storetest.OpenPostgres) }
