package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"idletrace/analysis"
	"idletrace/store"
)

// reportCache holds the analysis of the whole database, recomputed only
// when events have been added since (keyed on the last ingest sequence).
type reportCache struct {
	mu         sync.Mutex
	lastSeq    int64
	lastUpload int64 // with lastSeq, says whether stats is current
	valid      bool
	result     *analysis.Result
	stats      store.Stats
	took       time.Duration
}

// analysisSnapshot is one computed analysis with the stats it was made from.
type analysisSnapshot struct {
	Result *analysis.Result
	Stats  store.Stats
	Took   time.Duration
}

// currentAnalysis returns the analysis of everything stored, computing it
// if events were added since the last call.
func (s *Server) currentAnalysis(ctx context.Context) (*analysisSnapshot, error) {
	// Stats counts every row (slow on millions); the change mark is two
	// key lookups, so an unchanged database costs next to nothing.
	seq, lastUpload, err := s.db.ChangeMark(ctx)
	if err != nil {
		return nil, err
	}
	c := &s.report
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && c.lastSeq == seq && c.lastUpload == lastUpload {
		return &analysisSnapshot{Result: c.result, Stats: c.stats, Took: c.took}, nil
	}
	st, err := s.db.Stats(ctx)
	if err != nil {
		return nil, err
	}
	c.lastUpload = lastUpload
	if c.valid && c.lastSeq == st.LastSeq { // only uploads changed (duplicates)
		c.stats = st
		return &analysisSnapshot{Result: c.result, Stats: c.stats, Took: c.took}, nil
	}
	start := time.Now()
	events, err := s.db.AnalysisEvents(ctx, store.EventFilter{})
	if err != nil {
		return nil, err
	}
	res := analysis.Analyze(events, analysis.Options{})
	s.metrics.observeAnalysis(time.Since(start))
	c.result, c.stats, c.lastSeq, c.valid, c.took = res, st, st.LastSeq, true, time.Since(start)
	return &analysisSnapshot{Result: res, Stats: st, Took: c.took}, nil
}

// handleAPIReport serves the Report JSON (SPEC §5).
func (s *Server) handleAPIReport(w http.ResponseWriter, r *http.Request) {
	snap, err := s.currentAnalysis(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, snap.Result.Report)
}

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	snap, err := s.currentAnalysis(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p := newDashboardPage(snap)
	if !p.Empty {
		var last *store.Upload
		if ups, err := s.db.FindUploads(r.Context(), 0, 1); err == nil && len(ups) > 0 {
			last = ups[0]
		}
		s.newDashboardCharts(p, snap, last)
	}
	s.render(w, r, http.StatusOK, "dashboard", p)
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
