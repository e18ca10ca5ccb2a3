package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AnalysisSnapshot is the live analysis's newest report as stored, so that
// a node that starts (or restarts) answers its first report at once while
// it reads the events again. Report is the analysis.Report as gzipped JSON;
// the store does not look into it.
type AnalysisSnapshot struct {
	Seq         int64     // events up to this seq are in it
	Upload      int64     // newest upload id then
	At          time.Time // the data as of when
	WindowStart time.Time // where its analysis window began (zero: every event)
	Stats       Stats
	Report      []byte
}

// AnalysisSnapshots is implemented by the stores that keep the newest
// analysis snapshot (both backends do).
type AnalysisSnapshots interface {
	// SaveAnalysisSnapshot replaces the stored snapshot with s, unless the
	// stored one is newer (a higher Seq, or the same Seq and a later At):
	// nodes saving at once leave the newest.
	SaveAnalysisSnapshot(ctx context.Context, s *AnalysisSnapshot) error
	// LoadAnalysisSnapshot returns the stored snapshot, nil if none.
	LoadAnalysisSnapshot(ctx context.Context) (*AnalysisSnapshot, error)
}

// SaveAnalysisSnapshot stores s (see AnalysisSnapshots).
func (db *DB) SaveAnalysisSnapshot(ctx context.Context, s *AnalysisSnapshot) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO analysis_snapshot (id, seq, upload, at_ns, window_start_ns,
			events, computers, uploads, first_ns, last_ns, report)
			VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, upload = excluded.upload, at_ns = excluded.at_ns,
				window_start_ns = excluded.window_start_ns, events = excluded.events, computers = excluded.computers,
				uploads = excluded.uploads, first_ns = excluded.first_ns, last_ns = excluded.last_ns, report = excluded.report
			WHERE excluded.seq > analysis_snapshot.seq
				OR (excluded.seq = analysis_snapshot.seq AND excluded.at_ns >= analysis_snapshot.at_ns)`,
			s.Seq, s.Upload, NanosOrZero(s.At), NanosOrZero(s.WindowStart), s.Stats.Events, s.Stats.Computers, s.Stats.Uploads,
			NanosOrZero(s.Stats.First), NanosOrZero(s.Stats.Last), s.Report)
		if err != nil {
			return fmt.Errorf("save analysis snapshot: %w", err)
		}
		return nil
	})
}

// LoadAnalysisSnapshot returns the stored snapshot, nil if none.
func (db *DB) LoadAnalysisSnapshot(ctx context.Context) (*AnalysisSnapshot, error) {
	s, err := ScanAnalysisSnapshot(db.sql.QueryRowContext(ctx, AnalysisSnapshotQuery).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load analysis snapshot: %w", err)
	}
	return s, nil
}

// AnalysisSnapshotQuery selects the stored snapshot (both backends' table
// is the same), for ScanAnalysisSnapshot.
const AnalysisSnapshotQuery = `SELECT seq, upload, at_ns, window_start_ns, events, computers, uploads,
	first_ns, last_ns, report FROM analysis_snapshot WHERE id = 1`

// ScanAnalysisSnapshot makes the snapshot of a row of AnalysisSnapshotQuery
// read by scan (a driver's Row.Scan); its error is scan's, unwrapped.
func ScanAnalysisSnapshot(scan func(dest ...any) error) (*AnalysisSnapshot, error) {
	var s AnalysisSnapshot
	var at, win, first, last int64
	if err := scan(&s.Seq, &s.Upload, &at, &win, &s.Stats.Events, &s.Stats.Computers, &s.Stats.Uploads,
		&first, &last, &s.Report); err != nil {
		return nil, err
	}
	s.At, s.WindowStart, s.Stats.First, s.Stats.Last = TimeOrZero(at), TimeOrZero(win), TimeOrZero(first), TimeOrZero(last)
	s.Stats.LastSeq = s.Seq
	return &s, nil
}

// nsOrZero is t in unix nanoseconds, 0 for the zero time.
func NanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// TimeOrZero is the UTC time of unix nanoseconds ns, the zero time for 0.
func TimeOrZero(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
