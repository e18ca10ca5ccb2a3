package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

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
	mu        sync.Mutex
	key       dashKey
	body, gz  []byte
	rendering bool // a request renders a newer body of the same analysis
}

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
	p := newDashboardPage(snap)
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
	if rng.Active() {
		s.render(w, r, http.StatusOK, "dashboard", p)
		return
	}
	key := dashKey{res: snap.Result, at: snap.At, updating: snap.Updating, stats: snap.Stats, age: p.Age, demo: p.Demo, changes: len(marks), changesOn: p.ChangesOnTimeline, zone: s.zoneOf(r).String()}
	if snap.LastUpload != nil {
		key.upload = snap.LastUpload.ID
	}
	dc := &s.dash
	dc.mu.Lock()
	// Only the freshness changed ("as of", age, counts): while one request
	// renders the new body, the others get the one before, of the same
	// analysis and zone, at once instead of queueing behind the render.
	sameAnalysis := dc.body != nil && dc.key.res == key.res && dc.key.zone == key.zone
	render := func() ([]byte, bool) {
		body, err := s.renderBytes(r, "dashboard", p)
		if err != nil {
			s.log.Error("render page", "page", "dashboard", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return nil, false
		}
		return body, true
	}
	switch {
	case dc.body != nil && dc.key == key, sameAnalysis && dc.rendering:
	default:
		if sameAnalysis {
			dc.rendering = true
			dc.mu.Unlock()
		}
		body, ok := render()
		if sameAnalysis {
			dc.mu.Lock()
			dc.rendering = false
		}
		if !ok {
			dc.mu.Unlock()
			return
		}
		dc.key, dc.body, dc.gz = key, body, live.Gzip(body)
	}
	body, gz := dc.body, dc.gz
	dc.mu.Unlock()
	writeBody(w, r, "text/html; charset=utf-8", body, gz)
}
