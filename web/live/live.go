// Package live keeps the analysis of everything stored current, in memory,
// for the web server to serve from (dashboard, /api/v1/report, computers,
// diagnoses …).
//
// One background worker owns an analysis.Incremental: loaded once from the
// store, it is then extended with only the events stored since (seq > the
// last one seen), re-pairing only the computers that got some, and a new
// Snapshot is published. Readers never compute: they take the latest
// snapshot, marked Updating when newer events are stored.
//
// Read your writes: a client that stored events (NoteWrite) waits, on its
// next Current, for a snapshot that holds them — only its own writes, so
// readers are not held up by agents posting elsewhere.
//
// Recomputes are debounced: a write pokes the worker, which (unless a
// client waits) starts no sooner than the last recompute's duration after
// it ended, so bursts coalesce and analysis takes at most about half a
// core. The worker also polls the store's change mark, for writers outside
// this process.
package live

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"idletrace/analysis"
	"idletrace/store"
)

// ErrStopped is returned to readers once the analyzer is stopped (or
// before it was started): the server is shutting down.
var ErrStopped = errors.New("the live analysis is stopped")

// Metrics is where the analyzer reports how long recomputes take.
type Metrics interface {
	ObserveAnalysis(took time.Duration)
	// SetWorkingMemory is the bytes the analysis keeps for its next
	// update (see scratchIdle).
	SetWorkingMemory(bytes int64)
}

// Snapshot is one computed analysis with the stats it was made from.
type Snapshot struct {
	Result     *analysis.Result
	Stats      store.Stats
	Took       time.Duration // the recompute that made it
	Seq        int64         // events up to this seq are in Result
	Upload     int64         // newest upload id when made
	At         time.Time     // the data as of when: read then, or found unchanged since
	LastUpload *store.Upload // newest upload (nil if none)
	// Warm: the stored report of an earlier run (CurrentReport), served
	// while this start reads the events; Result holds the Report alone.
	Warm bool
	// WindowStart is where the analysis window begins: Result holds the
	// events at or after it (zero: every event). See Analyzer.SetWindow.
	WindowStart time.Time
	Updating    bool // newer data is stored: a recompute is pending or running

	report *encoded // shared by the copies of one snapshot
	gen    int64    // the reload generation it was made in
}

// encoded is a snapshot's report body, encoded (and gzipped: it lists
// computers, megabytes on a large fleet) once.
type encoded struct {
	once  sync.Once
	b, gz []byte
}

// ReportBody returns the snapshot's report as encode renders it, plain and
// gzipped, encoding it on the first call only: every reader of one
// snapshot shares the bytes.
func (s *Snapshot) ReportBody(encode func(analysis.Report) []byte) (body, gz []byte) {
	e := s.report
	if e == nil {
		e = &encoded{}
		s.report = e
	}
	e.once.Do(func() {
		e.b = encode(s.Result.Report)
		e.gz = Gzip(e.b)
	})
	return e.b, e.gz
}

// Gzip compresses b at the fastest level (bodies served many times).
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

const (
	pollEvery   = 500 * time.Millisecond // change-mark poll for outside writers
	minGap      = 50 * time.Millisecond  // debounce floor between recomputes
	maxGap      = 5 * time.Second        // debounce ceiling
	loadChunk   = 500_000                // rows per read when loading
	writeMarkTO = 5 * time.Second
)

// scratchIdle: an analysis with nothing new this long after its last
// update lets go of the working memory it keeps for the next one
// (analysis.Incremental.FreeScratch: about 45 bytes a pair, 250 MiB at
// 10 M events). While an agent posts, updates follow each other and
// reuse it instead of allocating it again each time. A test shortens it.
var scratchIdle = 10 * time.Second

// scratchShare: the working memory is kept only while the live heap and
// it are at most this share of the memory limit (roomForScratch). Nearer the limit
// the collector runs for every request's allocations instead, which costs
// more than allocating the working memory again: at 10 M events under the
// default 900 MiB limit, keeping it (280 MiB) halved the throughput of
// /api/v1/events beside an agent and left the staleness as it was.
const scratchShare = 0.6

// Analyzer is the live analysis: the worker's state and what it publishes.
type Analyzer struct {
	db      store.Store
	log     *slog.Logger
	metrics Metrics

	poke   chan struct{} // new data may be stored
	urgent chan struct{} // a client waits
	stop   context.CancelFunc
	done   chan struct{} // closed when the worker returns

	mu         sync.Mutex
	started    bool
	stopped    bool
	snap       *Snapshot
	ready      chan struct{} // closed (and replaced) when an attempt ends
	err        error         // the last attempt's error, nil after a success
	knownSeq   int64         // newest seq / upload known to be stored
	knownUp    int64
	marks      map[string]writeMark // read-your-writes, by client
	waiting    int
	reload     bool  // events were deleted: analyse everything again (reload.go)
	gen        int64 // reloads asked for; a snapshot of an older one is not served
	lastTook   time.Duration
	lastFinish time.Time
	scratch    atomic.Int64 // bytes of working memory the analysis keeps for its next update (setScratch)
	rebuild    bool         // the next refresh starts over from seq 0 (Rebuild)

	// Owned by the worker goroutine.
	inc   *analysis.Incremental
	keys  map[string]bool
	stats store.Stats

	window windowCache

	warm     *Snapshot     // the stored report, until the first snapshot (warm.go)
	warmed   chan struct{} // closed when Start has looked for the stored report
	leads    func() bool   // whether this node stores its report (SetSaving)
	lastSave time.Time     // worker-owned

	span    time.Duration // the analysis window (SetWindow); 0 = everything
	winFrom int64         // unix ns: the current window's start (worker-owned)
}

type writeMark struct{ seq, upload int64 }

// New returns an analyzer over db; Start starts its worker.
func New(db store.Store, log *slog.Logger, metrics Metrics) *Analyzer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Analyzer{db: db, log: log, metrics: metrics,
		poke: make(chan struct{}, 1), urgent: make(chan struct{}, 1), ready: make(chan struct{}),
		marks: map[string]writeMark{}, done: make(chan struct{}), warmed: make(chan struct{})}
}

// SetWindow bounds the analysis, and its memory, to the newest span of
// the data: the events from (newest event − span), rounded down to the
// hour, on. Older events stay stored (retention deletes them) but are not
// analysed; windowed analyses (Scoped) lie within it. Zero (the default)
// analyses everything. Call it before Start.
func (a *Analyzer) SetWindow(span time.Duration) { a.span = max(span, 0) }

// Start starts the worker; it runs until Stop or the end of ctx. Starting
// a stopped (or started) analyzer does nothing.
//
// A store that keeps the newest report (store.AnalysisSnapshots) gives
// it back first: CurrentReport serves it from when Start returns until
// the worker has read the events again.
func (a *Analyzer) Start(ctx context.Context) {
	a.mu.Lock()
	if a.started || a.stopped {
		a.mu.Unlock()
		return
	}
	a.started = true
	ctx, a.stop = context.WithCancel(ctx)
	a.mu.Unlock()
	warm := a.warmStart(ctx)
	close(a.warmed)
	go func() {
		defer close(a.done)
		a.run(ctx, warm)
	}()
}

// Stop stops the worker and waits for it to return. Readers waiting for a
// snapshot get ErrStopped.
func (a *Analyzer) Stop() {
	a.mu.Lock()
	started := a.started
	a.stopped = true
	if a.stop != nil {
		a.stop()
	}
	if a.err == nil {
		a.err = ErrStopped
	}
	close(a.ready)
	a.ready = make(chan struct{})
	a.mu.Unlock()
	if started {
		<-a.done
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Current returns the latest analysis of everything stored: at once when
// there is one that holds the client's own writes (on a shared database,
// also those it made through other nodes), else it waits for the worker
// to publish one.
func (a *Analyzer) Current(ctx context.Context, client string) (*Snapshot, error) {
	a.remoteMark(ctx, client)
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if !a.started || a.stopped {
			return nil, ErrStopped
		}
		need, mine := a.marks[client]
		if snap := a.snap; snap != nil && snap.gen == a.gen && (!mine || (snap.Seq >= need.seq && snap.Upload >= need.upload)) {
			out := *snap
			out.Updating = a.knownSeq > snap.Seq || a.knownUp > snap.Upload
			return &out, nil
		}
		ready := a.ready
		a.waiting++
		signal(a.urgent)
		a.mu.Unlock()
		var err error
		select {
		case <-ready:
		case <-ctx.Done():
			err = ctx.Err()
		}
		a.mu.Lock()
		a.waiting--
		if err != nil {
			return nil, err
		}
		if a.err != nil {
			return nil, a.err
		}
	}
}

// NoteWrite records that client has stored data: its next reads wait for
// an analysis that holds everything stored now ("" = nobody waits, but
// the worker is told).
func (a *Analyzer) NoteWrite(ctx context.Context, client string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeMarkTO)
	defer cancel()
	seq, up, err := a.db.ChangeMark(ctx)
	if err != nil {
		return
	}
	a.mu.Lock()
	a.knownSeq, a.knownUp = max(a.knownSeq, seq), max(a.knownUp, up)
	if client != "" {
		m := a.marks[client]
		a.marks[client] = writeMark{max(m.seq, seq), max(m.upload, up)}
	}
	a.mu.Unlock()
	signal(a.poke)
	if cm := a.sharedMarks(); cm != nil && client != "" {
		if err := cm.SetClientMark(ctx, client, seq, up); err != nil {
			a.log.Warn("analysis: client write mark not stored", "err", err)
		}
	}
}

// sharedMarks is the store's client marks when other nodes may share the
// database (it elects a leader), else nil: one node's marks are in memory.
func (a *Analyzer) sharedMarks() store.ClientMarks {
	if _, ok := a.db.(store.Elector); !ok {
		return nil
	}
	cm, _ := a.db.(store.ClientMarks)
	return cm
}

// remoteMark adopts client's stored write mark — writes it made through
// another node — when this node's snapshot does not hold it yet, so that
// Current waits for an analysis that does.
func (a *Analyzer) remoteMark(ctx context.Context, client string) {
	cm := a.sharedMarks()
	if cm == nil || client == "" {
		return
	}
	seq, up, err := cm.ClientMark(ctx, client)
	if err != nil || (seq == 0 && up == 0) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if snap := a.snap; snap != nil && snap.Seq >= seq && snap.Upload >= up {
		return
	}
	m := a.marks[client]
	a.marks[client] = writeMark{max(m.seq, seq), max(m.upload, up)}
	a.knownSeq, a.knownUp = max(a.knownSeq, seq), max(a.knownUp, up)
}
