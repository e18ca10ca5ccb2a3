package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"idletrace/analysis"
	"idletrace/store"
)

// The analysis of the whole database is kept in memory and served to every
// request at once (dashboard, /api/v1/report, computers, diagnoses …). One
// background worker owns an analysis.Incremental: loaded once from the
// database, it is then extended with only the events stored since (seq >
// the last one seen), re-pairing only the computers that got some, and a
// new snapshot is published. Readers never compute: they take the latest
// snapshot, marked "updating" when newer events are stored.
//
// Read your writes: a client that stored events (any non-GET request that
// returned, or an async ingest that finished) waits, on its next read, for
// a snapshot that holds them — only its own writes, so readers are not
// held up by agents posting elsewhere. Clients are told apart as the rate
// limit does (token, else address).
//
// Recomputes are debounced: ingest pokes the worker, which (unless a client
// waits) starts no sooner than the last recompute's duration after it
// ended, so bursts coalesce and analysis takes at most about half a core.
// The worker also polls the change mark, for writers outside this process.

// analysisSnapshot is one computed analysis with the stats it was made from.
type analysisSnapshot struct {
	Result     *analysis.Result
	Stats      store.Stats
	Took       time.Duration // the recompute that made it
	Seq        int64         // events up to this seq are in Result
	Upload     int64         // newest upload id when made
	At         time.Time     // the data as of when: read then, or found unchanged since
	LastUpload *store.Upload // newest upload (nil if none)
	Updating   bool          // newer data is stored: a recompute is pending or running

	report *reportJSON // shared by the copies of one snapshot
}

// reportJSON is the /api/v1/report body of a snapshot, encoded (and
// gzipped: it lists computers, megabytes on a large fleet) once.
type reportJSON struct {
	once  sync.Once
	b, gz []byte
}

// dashKey is what the rendered dashboard depends on.
type dashKey struct {
	res      *analysis.Result
	at       time.Time
	updating bool
	stats    store.Stats
	upload   int64
	age      string
}

// dashCache is the last rendered dashboard, plain and gzipped: under load
// the page is rendered at most once per change of its key (the analysis,
// its "as of" time, …), not once per request.
type dashCache struct {
	mu       sync.Mutex
	key      dashKey
	body, gz []byte
}

const (
	analysisPoll        = 500 * time.Millisecond // change-mark poll for outside writers
	analysisMinGap      = 50 * time.Millisecond  // debounce floor between recomputes
	analysisMaxGap      = 5 * time.Second        // debounce ceiling
	analysisLoadChunk   = 500_000                // rows per read when loading
	analysisWriteMarkTO = 5 * time.Second
)

// reportCache is the analysis worker's state and what it publishes.
type reportCache struct {
	startOnce sync.Once
	stop      context.CancelFunc
	poke      chan struct{} // new data may be stored
	urgent    chan struct{} // a client waits

	mu         sync.Mutex
	snap       *analysisSnapshot
	ready      chan struct{} // closed (and replaced) when an attempt ends
	err        error         // the last attempt's error, nil after a success
	knownSeq   int64         // newest seq / upload known to be stored
	knownUp    int64
	marks      map[string]writeMark // read-your-writes, by client
	waiting    int
	lastTook   time.Duration
	lastFinish time.Time
	dash       dashCache

	// Owned by the worker goroutine.
	inc   *analysis.Incremental
	names store.Interner
	keys  map[string]bool
	stats store.Stats
}

type writeMark struct{ seq, upload int64 }

// startAnalysis starts the worker on first use. It lives as long as the
// server: stopAnalysis (from Close) or the end of s.life stops it.
func (s *Server) startAnalysis() {
	c := &s.report
	c.startOnce.Do(func() {
		c.poke = make(chan struct{}, 1)
		c.urgent = make(chan struct{}, 1)
		c.ready = make(chan struct{})
		c.marks = map[string]writeMark{}
		ctx, cancel := context.WithCancel(s.life)
		c.stop = cancel
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.analysisWorker(ctx)
		}()
	})
}

// stopAnalysis stops the worker (Close waits for it through s.wg).
func (s *Server) stopAnalysis() {
	c := &s.report
	c.startOnce.Do(func() {}) // never start it after this
	if c.stop != nil {
		c.stop()
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// currentAnalysis returns the latest analysis of everything stored: at once
// when there is one that holds the caller's own writes, else it waits for
// the worker to publish one.
func (s *Server) currentAnalysis(ctx context.Context) (*analysisSnapshot, error) {
	s.startAnalysis()
	c := &s.report
	if c.poke == nil { // stopped before it ever started
		return nil, &apiError{status: http.StatusServiceUnavailable, code: "shutting_down", msg: "the server is shutting down"}
	}
	key := clientKeyFrom(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		need, mine := c.marks[key]
		if snap := c.snap; snap != nil && (!mine || (snap.Seq >= need.seq && snap.Upload >= need.upload)) {
			out := *snap
			out.Updating = c.knownSeq > snap.Seq || c.knownUp > snap.Upload
			return &out, nil
		}
		ready := c.ready
		c.waiting++
		signal(c.urgent)
		c.mu.Unlock()
		var err error
		select {
		case <-ready:
		case <-ctx.Done():
			err = ctx.Err()
		}
		c.mu.Lock()
		c.waiting--
		if err != nil {
			return nil, err
		}
		if c.err != nil {
			return nil, c.err
		}
	}
}

// noteWrite records that the client key has stored data: its next reads
// wait for an analysis that holds everything stored now.
func (s *Server) noteWrite(key string) {
	s.startAnalysis()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.life), analysisWriteMarkTO)
	defer cancel()
	seq, up, err := s.db.ChangeMark(ctx)
	if err != nil {
		return
	}
	c := &s.report
	c.mu.Lock()
	c.knownSeq, c.knownUp = max(c.knownSeq, seq), max(c.knownUp, up)
	if key != "" {
		m := c.marks[key]
		c.marks[key] = writeMark{max(m.seq, seq), max(m.upload, up)}
	}
	c.mu.Unlock()
	signal(c.poke)
}

// analysisWorker recomputes the analysis when data arrive, until ctx ends.
func (s *Server) analysisWorker(ctx context.Context) {
	c := &s.report
	c.inc = analysis.NewIncremental(analysis.Options{})
	c.keys = map[string]bool{}
	tick := time.NewTicker(analysisPoll)
	defer tick.Stop()
	first := true
	for {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-c.poke:
			case <-c.urgent:
			case <-tick.C:
			}
		}
		polled := time.Now()
		seq, up, err := s.db.ChangeMark(ctx)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		if err == nil {
			c.knownSeq, c.knownUp = max(c.knownSeq, seq), max(c.knownUp, up)
		}
		current := c.snap != nil && c.snap.Seq >= c.knownSeq && c.snap.Upload >= c.knownUp
		if current && err == nil {
			c.snap.At = polled // nothing new: the analysis is current as of now
		}
		waiting := c.waiting > 0
		gap := min(max(c.lastTook, analysisMinGap), analysisMaxGap)
		wait := time.Until(c.lastFinish.Add(gap))
		c.mu.Unlock()
		if err == nil && current && !first {
			if waiting { // waiting for a mark this snapshot already covers
				s.publish(nil, nil)
			}
			continue
		}
		// Debounce: let a burst of batches come in, unless a client waits.
		if !first && !waiting && wait > 0 && err == nil {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-c.urgent:
			case <-t.C:
			}
			t.Stop()
		}
		first = false
		if err == nil {
			err = s.refreshAnalysis(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Warn("analysis", "err", err)
			s.publish(nil, err)
		}
	}
}

// refreshAnalysis reads the events stored since the last snapshot, updates
// the analysis and publishes a new snapshot.
func (s *Server) refreshAnalysis(ctx context.Context) error {
	c := &s.report
	start := time.Now()
	// The upload side first: a snapshot never claims an upload whose
	// events it has not read.
	_, up, err := s.db.ChangeMark(ctx)
	if err != nil {
		return err
	}
	nUp, err := s.db.UploadCount(ctx)
	if err != nil {
		return err
	}
	var last *store.Upload
	if ups, err := s.db.FindUploads(ctx, 0, 1); err == nil && len(ups) > 0 {
		last = ups[0]
	}
	st := c.stats
	for {
		d, err := s.db.AnalysisEventsAfter(ctx, st.LastSeq, analysisLoadChunk, &c.names)
		if err != nil {
			return err
		}
		if d.Rows > 0 {
			if st.First.IsZero() || d.First.Before(st.First) {
				st.First = d.First
			}
			if d.Last.After(st.Last) {
				st.Last = d.Last
			}
			st.Events += d.Rows
			for _, k := range d.Keys {
				c.keys[k] = true
			}
			st.LastSeq = d.LastSeq
			c.inc.Add(d.Events)
		}
		if d.Rows < analysisLoadChunk {
			break
		}
	}
	st.Computers, st.Uploads = len(c.keys), nUp
	var res *analysis.Result
	c.mu.Lock()
	old := c.snap
	c.mu.Unlock()
	if old != nil && old.Seq == st.LastSeq {
		res = old.Result // only uploads changed (duplicates)
	} else {
		res = c.inc.Result()
	}
	took := time.Since(start)
	if old == nil || res != old.Result {
		s.metrics.observeAnalysis(took)
	} else {
		took = old.Took
	}
	c.stats = st
	s.publish(&analysisSnapshot{Result: res, Stats: st, Took: took, Seq: st.LastSeq, Upload: up,
		At: start, LastUpload: last, report: &reportJSON{}}, nil)
	return nil
}

// publish ends an attempt: a new snapshot (if any) or an error, and wakes
// the waiting clients.
func (s *Server) publish(snap *analysisSnapshot, err error) {
	c := &s.report
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap != nil {
		if c.snap == nil || snap.Result != c.snap.Result {
			c.lastTook = snap.Took
		}
		c.snap, c.err = snap, nil
		for k, m := range c.marks { // marks the snapshot holds are done
			if snap.Seq >= m.seq && snap.Upload >= m.upload {
				delete(c.marks, k)
			}
		}
		c.lastFinish = time.Now()
	} else if err != nil {
		c.err = err
		c.lastFinish = time.Now()
	}
	close(c.ready)
	c.ready = make(chan struct{})
}

// reportBody is the snapshot's Report JSON, plain and gzipped, encoded on
// first use.
func (snap *analysisSnapshot) reportBody() (body, gz []byte) {
	rj := snap.report
	if rj == nil {
		rj = &reportJSON{}
		snap.report = rj
	}
	rj.once.Do(func() {
		b, _ := json.Marshal(apiReport(snap.Result.Report))
		rj.b = append(b, '\n')
		rj.gz = gzipBytes(rj.b)
	})
	return rj.b, rj.gz
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// acceptsGzip reports whether the request accepts a gzip body.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// writeBody writes a prepared body, gzipped when the client takes it.
func writeBody(w http.ResponseWriter, r *http.Request, ct string, body, gz []byte) {
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Add("Vary", "Accept-Encoding")
	if gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// renderBytes renders a page like render, into a byte slice.
func (s *Server) renderBytes(page string, data titled) ([]byte, error) {
	t, ok := s.pages.pages[page]
	if !ok {
		return nil, fmt.Errorf("unknown page %q", page)
	}
	title, nav := data.title()
	var buf bytes.Buffer
	if err := t.Execute(&buf, &layoutData{Title: title, Nav: nav, Page: data}); err != nil {
		return nil, fmt.Errorf("render page %s: %w", page, err)
	}
	return buf.Bytes(), nil
}

// clientKey is the context key of the client's identity for read-your-writes.
type clientKey struct{}

func clientKeyFrom(ctx context.Context) string {
	k, _ := ctx.Value(clientKey{}).(string)
	return k
}

// trackWrites tells clients apart (by token, else address: rateKey) and
// records, before a non-GET request's response is sent, what it stored,
// so that the client's next read sees it.
func (s *Server) trackWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, _ := rateKey(r)
		r = r.WithContext(context.WithValue(r.Context(), clientKey{}, key))
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		mw := &markWriter{ResponseWriter: w, mark: func() { s.noteWrite(key) }}
		next.ServeHTTP(mw, r)
		mw.once.Do(mw.mark)
	})
}

// markWriter runs mark once before the first byte of the response.
type markWriter struct {
	http.ResponseWriter
	once sync.Once
	mark func()
}

func (m *markWriter) WriteHeader(code int) {
	m.once.Do(m.mark)
	m.ResponseWriter.WriteHeader(code)
}

func (m *markWriter) Write(b []byte) (int, error) {
	m.once.Do(m.mark)
	return m.ResponseWriter.Write(b)
}

func (m *markWriter) Flush() {
	m.once.Do(m.mark)
	http.NewResponseController(m.ResponseWriter).Flush()
}

func (m *markWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// handleAPIReport serves the Report JSON (SPEC §5).
func (s *Server) handleAPIReport(w http.ResponseWriter, r *http.Request) {
	snap, err := s.currentAnalysis(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSnapshotReport(w, r, snap)
}

func writeSnapshotReport(w http.ResponseWriter, r *http.Request, snap *analysisSnapshot) {
	w.Header().Set("X-Analysis-As-Of", snap.At.UTC().Format(time.RFC3339Nano))
	if snap.Updating {
		w.Header().Set("X-Analysis-Updating", "1")
	}
	body, gz := snap.reportBody()
	writeBody(w, r, "application/json; charset=utf-8", body, gz)
}

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	snap, err := s.currentAnalysis(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := newDashboardPage(snap)
	if !p.Empty {
		s.newDashboardCharts(p, snap, snap.LastUpload)
	}
	key := dashKey{res: snap.Result, at: snap.At, updating: snap.Updating, stats: snap.Stats, age: p.Age}
	if snap.LastUpload != nil {
		key.upload = snap.LastUpload.ID
	}
	dc := &s.report.dash
	dc.mu.Lock()
	if dc.body == nil || dc.key != key {
		body, err := s.renderBytes("dashboard", p)
		if err != nil {
			dc.mu.Unlock()
			s.log.Error("render page", "page", "dashboard", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		dc.key, dc.body, dc.gz = key, body, gzipBytes(body)
	}
	body, gz := dc.body, dc.gz
	dc.mu.Unlock()
	writeBody(w, r, "text/html; charset=utf-8", body, gz)
}

func (s *Server) handleDiagnosisDetail(w http.ResponseWriter, r *http.Request) {
	snap, err := s.currentAnalysis(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id := chi.URLParam(r, "diagnosisID")
	for i := range snap.Result.Report.Diagnoses {
		d := &snap.Result.Report.Diagnoses[i]
		if d.ID == id {
			p := newDiagnosisPage(snap, d)
			s.diagnosisCharts(p, snap)
			s.render(w, r, http.StatusOK, "diagnosis", p)
			return
		}
	}
	s.writeError(w, r, errNotFound("no diagnosis with that id in the current data"))
}
