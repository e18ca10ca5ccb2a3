package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"idletrace/ingest"
)

// maxAgentWarnings is how many warnings an agent day's upload row keeps.
const maxAgentWarnings = 200

// AgentDayName is the upload name of an agent's day, e.g. "agents · 2024-05-06".
func AgentDayName(agent, day string) string { return agent + " · " + day }

// AgentBatchCounts is what one agent batch adds to its day's upload row.
type AgentBatchCounts struct {
	Bytes           int64
	Records         int
	OutlookEvents   int
	NewEvents       int
	DuplicateEvents int
	// Format is the batch's format, added to the row's list of formats.
	Format string
	// Warnings are appended while the row holds fewer than 200.
	Warnings []ingest.Warning
}

// AgentDayUpload returns the id of the upload row that counts the batches
// of agent from source on the current UTC day, creating it (finished, so
// that a crash never leaves it "running") when there is none. Concurrent
// callers get the same row: it is keyed by a UNIQUE column (migration 0004).
// The row is read first: only the day's first batch takes a write
// transaction here (every batch used to, one more write per batch for
// SQLite's single writer).
func (db *DB) AgentDayUpload(ctx context.Context, source, agent string) (int64, error) {
	now := db.Now().UTC()
	name := AgentDayName(agent, now.Format(time.DateOnly))
	key := source + "/" + name
	var id int64
	err := db.sql.QueryRowContext(ctx, `SELECT id FROM uploads WHERE agent_day = ?`, key).Scan(&id)
	if err == nil {
		return id, nil
	} else if err != sql.ErrNoRows {
		return 0, fmt.Errorf("agent day upload: %w", err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		at := now.Truncate(time.Second).Unix()
		if _, err := tx.ExecContext(ctx, `INSERT INTO uploads (name, source, format, status, created_at, finished_at, agent_day)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent_day) DO NOTHING`,
			name, source, ingest.FormatJSON, UploadDone, at, at, key); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT id FROM uploads WHERE agent_day = ?`, key).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("agent day upload: %w", err)
	}
	return id, nil
}

// CountAgentBatch adds a batch's counts to upload id (an agent day's row):
// increments in SQL, and the formats and warnings merged in the same
// transaction, so concurrent batches never lose each other's counts.
func (db *DB) CountAgentBatch(ctx context.Context, id int64, c AgentBatchCounts) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var format, warnings string
		err := tx.QueryRowContext(ctx, `SELECT format, warnings FROM uploads WHERE id = ?`, id).Scan(&format, &warnings)
		if err == sql.ErrNoRows {
			return fmt.Errorf("upload %d: %w", id, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("count agent batch: %w", err)
		}
		if c.Format != "" && !strings.Contains(format, c.Format) && len(format) < 200 {
			if format == ingest.FormatJSON || format == "" {
				format = c.Format
			} else {
				format += ", " + c.Format
			}
		}
		if len(c.Warnings) > 0 {
			var ws []ingest.Warning
			json.Unmarshal([]byte(warnings), &ws)
			if n := min(len(c.Warnings), maxAgentWarnings-len(ws)); n > 0 {
				ws = append(ws, c.Warnings[:n]...)
				b, err := json.Marshal(ws)
				if err != nil {
					return err
				}
				warnings = string(b)
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE uploads SET bytes = bytes + ?, records = records + ?, outlook_events = outlook_events + ?,
			new_events = new_events + ?, duplicate_events = duplicate_events + ?, format = ?, warnings = ?, finished_at = ? WHERE id = ?`,
			c.Bytes, c.Records, c.OutlookEvents, c.NewEvents, c.DuplicateEvents, format, warnings,
			db.Now().UTC().Truncate(time.Second).Unix(), id)
		if err != nil {
			return fmt.Errorf("count agent batch: %w", err)
		}
		return nil
	})
}
