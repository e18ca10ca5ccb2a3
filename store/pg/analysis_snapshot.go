package pg

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"idletrace/store"
)

// SaveAnalysisSnapshot stores s unless the stored snapshot is newer (see
// store.AnalysisSnapshots).
func (db *DB) SaveAnalysisSnapshot(ctx context.Context, s *store.AnalysisSnapshot) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO analysis_snapshot (id, seq, upload, at_ns, window_start_ns,
		events, computers, uploads, first_ns, last_ns, report)
		VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, upload = excluded.upload, at_ns = excluded.at_ns,
			window_start_ns = excluded.window_start_ns, events = excluded.events, computers = excluded.computers,
			uploads = excluded.uploads, first_ns = excluded.first_ns, last_ns = excluded.last_ns, report = excluded.report
		WHERE excluded.seq > analysis_snapshot.seq
			OR (excluded.seq = analysis_snapshot.seq AND excluded.at_ns >= analysis_snapshot.at_ns)`,
		s.Seq, s.Upload, store.NanosOrZero(s.At), store.NanosOrZero(s.WindowStart), s.Stats.Events, s.Stats.Computers, s.Stats.Uploads,
		store.NanosOrZero(s.Stats.First), store.NanosOrZero(s.Stats.Last), s.Report)
	if err != nil {
		return fmt.Errorf("save analysis snapshot: %w", classify(err))
	}
	return nil
}

// LoadAnalysisSnapshot returns the stored snapshot, nil if none.
func (db *DB) LoadAnalysisSnapshot(ctx context.Context) (*store.AnalysisSnapshot, error) {
	s, err := store.ScanAnalysisSnapshot(db.pool.QueryRow(ctx, store.AnalysisSnapshotQuery).Scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load analysis snapshot: %w", classify(err))
	}
	return s, nil
}
