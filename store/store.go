package store

import (
	"context"
	"time"

	"idletrace/analysis"
	"idletrace/ingest"
)

// Store is idletrace's data as the rest of the program uses it: web, the
// intake pipeline, the live analysis and the commands take a Store, never a
// *DB, so that a second backend (PostgreSQL) can stand behind it without
// touching them. Errors are the sentinels and types of errors.go
// (ErrNotFound, ErrFull, *ValidationError …), whatever the backend.
type Store interface {
	// Lifecycle and health.
	Close() error
	Ping(ctx context.Context) error
	ReadOnly() bool
	// Size is how many bytes the database takes (for the metrics).
	Size(ctx context.Context) (int64, error)

	// Uploads.
	CreateUpload(ctx context.Context, u *Upload) error
	FinishUpload(ctx context.Context, u *Upload) error
	FindUploadByID(ctx context.Context, id int64) (*Upload, error)
	FindUploads(ctx context.Context, before int64, limit int) ([]*Upload, error)
	UploadCount(ctx context.Context) (int, error)
	FailRunningUploads(ctx context.Context) (int, error)
	SetUploadProgress(ctx context.Context, id, n int64) error
	UploadProgress(ctx context.Context, id int64) (int64, error)
	AgentDayUpload(ctx context.Context, source, agent string) (int64, error)
	CountAgentBatch(ctx context.Context, id int64, c AgentBatchCounts) error

	// Events.
	InsertEvents(ctx context.Context, uploadID int64, events []ingest.Event) (added, dups int, err error)
	FindEvents(ctx context.Context, f EventFilter) ([]StoredEvent, error)
	AnalysisEvents(ctx context.Context, f EventFilter) ([]analysis.Event, error)
	AnalysisEventsAfter(ctx context.Context, after int64, limit int, names *Interner) (*EventDelta, error)
	ChangeMark(ctx context.Context) (lastSeq, lastUpload int64, err error)
	Stats(ctx context.Context) (Stats, error)

	// Tokens and sessions.
	CreateToken(ctx context.Context, name, scope string) (string, *Token, error)
	FindTokens(ctx context.Context) ([]*Token, error)
	CountTokens(ctx context.Context) (int, error)
	RevokeToken(ctx context.Context, idOrName string) (*Token, error)
	AuthenticateToken(ctx context.Context, secret string) (*Token, error)
	CreateSession(ctx context.Context, tokenID int64, ttl time.Duration) (string, time.Time, error)
	AuthenticateSession(ctx context.Context, secret string) (*Token, error)
	DeleteSession(ctx context.Context, secret string) error

	// Probes (a path's idle timeout measured directly).
	CreateProbe(ctx context.Context, p *Probe) error
	FindProbes(ctx context.Context, f ProbeFilter) ([]Probe, error)

	// Evidence (issue 15, store/evidence.go): diagnosis ids once shown and
	// their successors; taking an upload back; recorded changes.
	NoteDiagnoses(ctx context.Context, recs []DiagnosisRecord) error
	FindDiagnosisRecord(ctx context.Context, id string) (*DiagnosisRecord, error)
	ReplaceDiagnosis(ctx context.Context, id, by string) error
	DeleteUpload(ctx context.Context, id int64) (*UploadDeletion, error)
	UploadIDsBySource(ctx context.Context, source string) ([]int64, error)
	CreateChange(ctx context.Context, c *Change) error
	FindChangeByID(ctx context.Context, id int64) (*Change, error)
	FindChanges(ctx context.Context, limit int) ([]*Change, error)

	// Push bookkeeping.
	PushedDiagnoses(ctx context.Context, target string) (map[string]bool, error)
	MarkDiagnosisPushed(ctx context.Context, target, id string) error
}

// DB is the SQLite Store.
var _ Store = (*DB)(nil)
