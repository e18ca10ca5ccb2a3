package store

import (
	"context"
	"database/sql"
	"fmt"
)

// PushedDiagnoses returns the ids of the diagnoses already forwarded to
// target (a push destination's URL).
func (db *DB) PushedDiagnoses(ctx context.Context, target string) (map[string]bool, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT diagnosis_id FROM pushed_diagnoses WHERE target = ?`, target)
	if err != nil {
		return nil, fmt.Errorf("pushed diagnoses: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("pushed diagnoses: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// MarkDiagnosisPushed records that diagnosis id reached target.
func (db *DB) MarkDiagnosisPushed(ctx context.Context, target, id string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO pushed_diagnoses (target, diagnosis_id, pushed_at) VALUES (?, ?, ?)
			ON CONFLICT (target, diagnosis_id) DO NOTHING`, target, id, db.Now().Unix())
		if err != nil {
			return fmt.Errorf("mark diagnosis %s pushed: %w", id, err)
		}
		return nil
	})
}
