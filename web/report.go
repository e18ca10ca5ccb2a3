package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"idletrace/analysis"
	"idletrace/store"
	"idletrace/web/live"
)

// The analysis pages and the report are served from the live analysis
// (package live): readers take its latest snapshot and never compute.

// dashKey is what the rendered dashboard depends on.
type dashKey struct {
	res       *analysis.Result
	at        time.Time
	updating  bool
	stats     store.Stats
	upload    int64
	age       string
	demo      bool
	changes   int
	changesOn int
	zone      string
}

// dashCache is the last rendered dashboard, plain and gzipped: under load
// the page is rendered at most once per change of its key (the analysis,
// its "as of" time, …), not once per request.
type dashCache struct {
	mu       sync.Mutex
	key      dashKey
	body, gz []byte
	// flights are the renders running, by analysis and zone: a request
	// for an analysis being rendered waits for that body (or, when it has
	// the one before of the same analysis, takes that).
	flights map[dashAnalysis]*dashFlight
	renders prometheus.Counter
	hook    func() // tests only: runs in each render before it starts (export_test.go)
}

// dashAnalysis is what a dashboard body shows but its freshness.
type dashAnalysis struct {
	res  *analysis.Result
	zone string
}

// dashFlight is one render of the dashboard that others wait for.
type dashFlight struct {
	done     chan struct{} // closed when body, gz and err are set
	body, gz []byte
	err      error
	waiters  int // requests that joined it (under dashCache.mu)
}

// get returns the dashboard body for key, rendering it with render only
// when no body of it, nor a render of its analysis, exists. A new
// analysis is rendered once however many requests ask for it at once:
// each would otherwise render the same 120 KiB page, a herd every time
// the analysis updates. Only the freshness changed ("as of", age,
// counts): while one request renders the new body, the others get the
// one before, of the same analysis and zone, at once instead of waiting.
func (dc *dashCache) get(ctx context.Context, key dashKey, render func() ([]byte, error)) (body, gz []byte, err error) {
	an := dashAnalysis{res: key.res, zone: key.zone}
	dc.mu.Lock()
	if dc.body != nil && dc.key == key {
		body, gz = dc.body, dc.gz
		dc.mu.Unlock()
		return body, gz, nil
	}
	sameAnalysis := dc.body != nil && dc.key.res == key.res && dc.key.zone == key.zone
	if f := dc.flights[an]; f != nil {
		if sameAnalysis {
			body, gz = dc.body, dc.gz
			dc.mu.Unlock()
			return body, gz, nil
		}
		f.waiters++
		dc.mu.Unlock()
		select {
		case <-f.done:
			return f.body, f.gz, f.err
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	f := &dashFlight{done: make(chan struct{})}
	if dc.flights == nil {
		dc.flights = map[dashAnalysis]*dashFlight{}
	}
	dc.flights[an] = f
	hook := dc.hook
	dc.mu.Unlock()
	// Deferred, so that a render that panics still releases its waiters.
	f.err = errRenderAborted
	defer func() {
		dc.mu.Lock()
		delete(dc.flights, an)
		// Renders of two analyses may end out of order: never replace a
		// body with an older one of its zone.
		older := dc.body != nil && dc.key.zone == key.zone && dc.key.at.After(key.at)
		if f.err == nil && !older {
			dc.key, dc.body, dc.gz = key, f.body, f.gz
		}
		dc.mu.Unlock()
		close(f.done)
	}()
	if hook != nil {
		hook()
	}
	dc.renders.Inc()
	b, err := render()
	if err != nil {
		f.err = err
		return nil, nil, err
	}
	f.body, f.gz, f.err = b, live.Gzip(b), nil
	return f.body, f.gz, nil
}

// errRenderAborted is what waiters of a render that panicked get.
var errRenderAborted = errors.New("the dashboard render failed")

// encodeReport is the /api/v1/report body of a report.
func encodeReport(rep analysis.Report) []byte {
	b, _ := json.Marshal(apiReport(rep))
	return append(b, '\n')
}

// current is the live analysis for the request's client.
func current(ctx context.Context, l *live.Analyzer) (*live.Snapshot, error) {
	return l.Current(ctx, clientKeyFrom(ctx))
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

// clientKey is the context key of the client's identity for read-your-writes.
type clientKey struct{}

func clientKeyFrom(ctx context.Context) string {
	k, _ := ctx.Value(clientKey{}).(string)
	return k
}

// trackWrites tells clients apart (by token, else address: rateKey) and
// records, before a non-GET request's response is sent, what it stored,
// so that the client's next read sees it.
func trackWrites(l *live.Analyzer, life context.Context) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, _ := rateKey(r)
			r = r.WithContext(context.WithValue(r.Context(), clientKey{}, key))
			switch r.Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions:
				next.ServeHTTP(w, r)
				return
			}
			mw := &markWriter{ResponseWriter: w, mark: func() { l.NoteWrite(life, key) }}
			next.ServeHTTP(mw, r)
			mw.once.Do(mw.mark)
		})
	}
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

func writeSnapshotReport(w http.ResponseWriter, r *http.Request, snap *live.Snapshot) {
	w.Header().Set("X-Analysis-As-Of", snap.At.UTC().Format(time.RFC3339Nano))
	if snap.Updating {
		w.Header().Set("X-Analysis-Updating", "1")
	}
	body, gz := snap.ReportBody(encodeReport)
	writeBody(w, r, "application/json; charset=utf-8", body, gz)
}

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	res, snap, rng, err := s.pageAnalysis(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rng.Active() {
		snap = windowSnapshot(snap, res, rng)
	} else {
		s.noteShown(r.Context(), res)
	}
	p := newDashboardPage(snap, s.views.rollups(snap.Result))
	p.Range = rng
	demo, marks, changes := s.dashboardInputs(r.Context())
	p.Demo, p.Changes = demo, changes
	if !p.Empty {
		s.views.newDashboardCharts(p, snap, snap.LastUpload, s.zoneOf(r), rng, marks)
		p.ChangesOnTimeline = 0
		for _, m := range marks {
			if !m.T.Before(snap.Stats.First) && !m.T.After(snap.Stats.Last.Add(time.Minute)) {
				p.ChangesOnTimeline++
			}
		}
	}
	// A page for a time range, or for a query of any kind (the layout's
	// links carry it back), is the asker's own: only the plain dashboard is
	// shared.
	if rng.Active() || r.URL.RawQuery != "" {
		s.render(w, r, http.StatusOK, "dashboard", p)
		return
	}
	key := dashKey{res: snap.Result, at: snap.At, updating: snap.Updating, stats: snap.Stats, age: p.Age, demo: p.Demo, changes: len(marks), changesOn: p.ChangesOnTimeline, zone: s.zoneOf(r).String()}
	if snap.LastUpload != nil {
		key.upload = snap.LastUpload.ID
	}
	body, gz, err := s.dash.get(r.Context(), key, func() ([]byte, error) { return s.renderBytes(r, "dashboard", p) })
	if err != nil {
		if ctxErr := r.Context().Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			w.WriteHeader(statusClientClosed) // gone while another request rendered
			return
		}
		s.log.Error("render page", "page", "dashboard", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeBody(w, r, "text/html; charset=utf-8", body, gz)
}
