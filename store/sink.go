package store

import (
	"context"
	"time"

	"idletrace/ingest"
)

// sinkBatch is how many events go into one write transaction.
const sinkBatch = 5000

// UploadSink stores an upload's Outlook 25/26 events as a reader emits
// them, in batched transactions, and keeps the upload's counts. Every
// ingest path (uploads, the command line) goes through it.
type UploadSink struct {
	db    *DB
	ctx   context.Context
	u     *Upload
	batch []ingest.Event
}

// NewUploadSink returns a sink for the events of u (created, running).
func (db *DB) NewUploadSink(ctx context.Context, u *Upload) *UploadSink {
	return &UploadSink{db: db, ctx: ctx, u: u, batch: make([]ingest.Event, 0, sinkBatch)}
}

// Add keeps e if it is an Outlook 25/26 event; it is an ingest.EmitFunc.
func (s *UploadSink) Add(e ingest.Event) error {
	if !e.IsConnectivity() {
		return nil
	}
	s.u.OutlookEvents++
	s.batch = append(s.batch, e)
	if len(s.batch) == sinkBatch {
		return s.Flush()
	}
	return nil
}

// Flush stores the events added since the last flush.
func (s *UploadSink) Flush() error {
	n, d, err := s.db.InsertEvents(s.ctx, s.u.ID, s.batch)
	s.u.NewEvents += n
	s.u.DuplicateEvents += d
	s.batch = s.batch[:0]
	return err
}

// Finish flushes what is left (unless the read failed), records the read's
// result on the upload and finishes its row: done, or failed with errMsg
// when readErr is not nil. The row is written even when ctx was cancelled
// meanwhile, so that an ingest cut short is never left looking complete.
// It returns the first error of the read, the flush or the finish.
func (s *UploadSink) Finish(res ingest.Result, readErr error, errMsg func(error) string) error {
	err := readErr
	if err == nil {
		err = s.Flush()
	}
	s.u.Format, s.u.Records, s.u.Warnings = res.Format, res.Records, res.Warnings
	if res.Bytes > 0 {
		s.u.Bytes = res.Bytes
	}
	if err != nil {
		s.u.Error = errMsg(err)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if ferr := s.db.FinishUpload(fctx, s.u); ferr != nil && err == nil {
		err = ferr
	}
	return err
}
