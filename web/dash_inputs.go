package web

import (
	"context"
	"net/http"
	"sync"
	"time"

	"idletrace/intake"
	"idletrace/store"
	"idletrace/web/charts"
)

// dashInputsTTL is how long the dashboard's own reads of the store (demo
// uploads, recorded changes) are reused: every request read them, three
// queries that queue behind one another when 50 clients load the page.
// This node's writes of them clear it at once; another node's show within
// the TTL.
const dashInputsTTL = time.Second

// dashInputs caches what the dashboard reads of the store besides the
// analysis.
type dashInputs struct {
	mu      sync.Mutex
	at      time.Time
	demo    bool
	marks   []charts.ChangeMark
	changes []*store.Change
}

// dashboardInputs returns whether demo data are loaded, the change marks
// and the newest five changes, read at most once per dashInputsTTL.
func (s *Server) dashboardInputs(ctx context.Context) (demo bool, marks []charts.ChangeMark, changes []*store.Change) {
	d := &s.dashIn
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.at.IsZero() && time.Since(d.at) < dashInputsTTL {
		return d.demo, d.marks, d.changes
	}
	if ids, err := s.db.UploadIDsBySource(ctx, intake.SourceDemo); err == nil {
		d.demo = len(ids) > 0
	}
	d.marks = s.changeMarks(ctx)
	d.changes, _ = s.db.FindChanges(ctx, 5)
	d.at = time.Now()
	return d.demo, d.marks, d.changes
}

// forgetDashboardInputs makes the next dashboard read them again (after
// this node recorded a change or loaded or removed demo data).
func (s *Server) forgetDashboardInputs() {
	s.dashIn.mu.Lock()
	s.dashIn.at = time.Time{}
	s.dashIn.mu.Unlock()
}

// forgetOnWrite clears the dashboard's inputs before and after every
// request that may write (any method but GET and HEAD): a change
// recorded, demo data loaded or removed, an upload deleted.
func (s *Server) forgetOnWrite(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		if write {
			s.forgetDashboardInputs()
		}
		next.ServeHTTP(w, r)
		if write {
			s.forgetDashboardInputs()
		}
	})
}
