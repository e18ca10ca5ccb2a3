// Package intake is the one way data come into idletrace: a file (web
// uploads, sync or async; the ingest command; the demo) or a batch of
// decoded events (agents, shippers, the Beats listener). It records the
// upload row, the events and the outcome through store.Store; the callers
// only parse their transport (multipart, a path, a JSON batch).
package intake

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

// Upload sources: where an upload row's data came from.
const (
	SourceUpload = "upload" // the upload page's form
	SourceAPI    = "api"    // POST /api/v1/uploads
	SourceCLI    = "cli"    // the ingest command
	SourceDemo   = "demo"   // the demo fleet
	SourceAgent  = "agent"  // POST /api/v1/events
	SourceBeats  = "beats"  // the Beats (lumberjack) listener
)

const (
	// batchSize is how many events go into one write transaction.
	batchSize = 5000
	// progressEvery is how often a running ingest records its progress.
	progressEvery = 250 * time.Millisecond
	// asyncSlots bounds concurrent background ingests: SQLite has one
	// writer, so more would only queue on it.
	asyncSlots = 2
)

// Metrics is where the pipeline reports each ingest.
type Metrics interface {
	ObserveIngest(u *store.Upload, took time.Duration, err error)
}

// Pipeline stores inputs in a store.
type Pipeline struct {
	db      store.Store
	log     *slog.Logger
	metrics Metrics
	slots   chan struct{} // background ingests running
}

// New returns a pipeline over db; log and metrics may be nil.
func New(db store.Store, log *slog.Logger, metrics Metrics) *Pipeline {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{db: db, log: log, metrics: metrics, slots: make(chan struct{}, asyncSlots)}
}

// Input is one file to ingest.
type Input struct {
	Name   string // the upload's label (a client's file name, a path)
	Source string // one of the Source constants
	R      io.ReaderAt
	Size   int64
	// Release, when set, is called once the pipeline is done with R (after
	// the background ingest, for an async one).
	Release func()
}

// OpenFile opens the file at path as an Input named name whose Release
// closes it (and, with remove, deletes it: a spooled upload).
func OpenFile(path, name, source string, remove bool) (Input, error) {
	cleanup := func() {
		if remove {
			os.Remove(path)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		cleanup()
		return Input{}, fmt.Errorf("open input: %w", err)
	}
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		f.Close()
		cleanup()
		if err != nil {
			return Input{}, fmt.Errorf("stat input: %w", err)
		}
		return Input{}, &ingest.FormatError{Msg: filepath.Base(path) + " is a directory"}
	}
	return Input{Name: name, Source: source, R: f, Size: st.Size(), Release: func() { f.Close(); cleanup() }}, nil
}

// Options tune one ingest.
type Options struct {
	// Read is what the readers need to know (time zone, computer name of a
	// CSV export, limits). Its Name defaults to the input's.
	Read ingest.Options
	// Async makes Ingest return as soon as the upload row exists (a copy of
	// it, status running) and read the input in the background: Async is
	// given the work and must run it exactly once (on the caller's
	// goroutine accounting, under a context of the caller's lifetime).
	Async func(work func(ctx context.Context))
	// Progress, when set, is told how many bytes have been read, every
	// progressEvery (the store is told too).
	Progress func(read int64)
	// Stored, when set, runs once the events are committed and before the
	// upload shows finished (read-your-writes).
	Stored func(ctx context.Context)
	// ErrorText turns an ingest's failure into the message recorded on its
	// upload row (default: the error's text).
	ErrorText func(error) string
}

// Ingest records in as one upload: the upload row, the Outlook 25/26 events
// (deduplicated by the store), and the outcome. The row is finished even
// when the read fails, so a failed or partial ingest is never shown as
// complete. In.Release is called when the input is no longer needed.
func (p *Pipeline) Ingest(ctx context.Context, in Input, opts Options) (*store.Upload, error) {
	u := &store.Upload{Name: in.Name, Source: in.Source, Bytes: in.Size}
	if err := p.db.CreateUpload(ctx, u); err != nil {
		release(in)
		return nil, err
	}
	if opts.Async == nil {
		defer release(in)
		return p.read(ctx, u, in, opts)
	}
	snap := *u
	opts.Async(func(ctx context.Context) {
		defer release(in)
		select {
		case p.slots <- struct{}{}:
			defer func() { <-p.slots }()
		case <-ctx.Done(): // shutting down: read fails at once and says so
		}
		if _, err := p.read(ctx, u, in, opts); err != nil {
			p.log.Warn("background ingest", "upload_id", u.ID, "name", u.Name, "err", err)
		}
	})
	return &snap, nil
}

func release(in Input) {
	if in.Release != nil {
		in.Release()
	}
}

// read reads in into the upload row u (created, running) and finishes it.
func (p *Pipeline) read(ctx context.Context, u *store.Upload, in Input, opts Options) (*store.Upload, error) {
	start := time.Now()
	if opts.Read.Name == "" {
		opts.Read.Name = u.Name
	}
	sink := &sink{db: p.db, ctx: ctx, u: u, batch: make([]ingest.Event, 0, batchSize)}
	res, err := p.readWithProgress(ctx, u, in, opts, sink.add)
	if err == nil {
		err = sink.flush()
		if opts.Stored != nil {
			opts.Stored(ctx)
		}
	}
	errText := opts.ErrorText
	if errText == nil {
		errText = func(err error) string { return err.Error() }
	}
	err = sink.finish(res, err, errText)
	if p.metrics != nil {
		p.metrics.ObserveIngest(u, time.Since(start), err)
	}
	if err != nil {
		return u, fmt.Errorf("ingest %s: %w", u.Name, err)
	}
	p.log.Info("ingested", "upload_id", u.ID, "name", u.Name, "format", u.Format, "records", u.Records,
		"outlook_events", u.OutlookEvents, "new", u.NewEvents, "duplicates", u.DuplicateEvents, "warnings", len(u.Warnings))
	return u, nil
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(b, off)
	c.n.Add(int64(n))
	return n, err
}

// readWithProgress reads in and records, every progressEvery, how many
// bytes have been read (capped at the size: some readers look at parts
// twice).
func (p *Pipeline) readWithProgress(ctx context.Context, u *store.Upload, in Input, opts Options, emit ingest.EmitFunc) (ingest.Result, error) {
	cr := &countingReaderAt{r: in.R}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if n := min(cr.n.Load(), in.Size); n != last {
					last = n
					if err := p.db.SetUploadProgress(context.WithoutCancel(ctx), u.ID, n); err != nil {
						p.log.Debug("upload progress", "upload_id", u.ID, "err", err)
					}
					if opts.Progress != nil {
						opts.Progress(n)
					}
				}
			}
		}
	}()
	res, err := ingest.Read(ctx, cr, in.Size, opts.Read, emit)
	close(done)
	<-stopped
	return res, err
}

// sink stores an upload's Outlook 25/26 events as a reader emits them, in
// batched transactions, and keeps the upload's counts.
type sink struct {
	db    store.Store
	ctx   context.Context
	u     *store.Upload
	batch []ingest.Event
}

// add keeps e if it is an Outlook 25/26 event; it is an ingest.EmitFunc.
func (s *sink) add(e ingest.Event) error {
	if !e.IsConnectivity() {
		return nil
	}
	s.u.OutlookEvents++
	s.batch = append(s.batch, e)
	if len(s.batch) == batchSize {
		return s.flush()
	}
	return nil
}

// flush stores the events added since the last flush.
func (s *sink) flush() error {
	n, d, err := s.db.InsertEvents(s.ctx, s.u.ID, s.batch)
	s.u.NewEvents += n
	s.u.DuplicateEvents += d
	s.batch = s.batch[:0]
	return err
}

// finish flushes what is left (unless the read failed), records the read's
// result on the upload and finishes its row: done, or failed with errText
// when readErr is not nil. The row is written even when ctx was cancelled
// meanwhile, so that an ingest cut short is never left looking complete.
// It returns the first error of the read, the flush or the finish.
func (s *sink) finish(res ingest.Result, readErr error, errText func(error) string) error {
	err := readErr
	if err == nil {
		err = s.flush()
	}
	s.u.Format, s.u.Records, s.u.Warnings, s.u.LooksLike = res.Format, res.Records, res.Warnings, res.LooksLike
	if res.Bytes > 0 {
		s.u.Bytes = res.Bytes
	}
	if err != nil {
		s.u.Error = errText(err)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if ferr := s.db.FinishUpload(fctx, s.u); ferr != nil && err == nil {
		err = ferr
	}
	return err
}
