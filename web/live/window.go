package live

import (
	"context"
	"sync"
	"time"

	"idletrace/analysis"
	"idletrace/store"
)

// windowCache keeps the analysis of the last since/until window asked for,
// so that a client paging through one window analyses it once.
type windowCache struct {
	mu           sync.Mutex
	since, until time.Time
	lastSeq      int64
	result       *analysis.Result
}

// Scoped is the analysis of the events in [since, until), or of everything
// (the current snapshot's, for client) when both are zero. Pairs,
// computers and diagnoses of a window are those the window's own events
// show.
func (a *Analyzer) Scoped(ctx context.Context, client string, since, until time.Time) (*analysis.Result, error) {
	if since.IsZero() && until.IsZero() {
		snap, err := a.Current(ctx, client)
		if err != nil {
			return nil, err
		}
		return snap.Result, nil
	}
	lastSeq, _, err := a.db.ChangeMark(ctx) // two key lookups, not a count of every row
	if err != nil {
		return nil, err
	}
	c := &a.window
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.result != nil && c.lastSeq == lastSeq && c.since.Equal(since) && c.until.Equal(until) {
		return c.result, nil
	}
	start := time.Now()
	events, err := a.db.AnalysisEvents(ctx, store.EventFilter{Since: since, Until: until})
	if err != nil {
		return nil, err
	}
	res := analysis.Analyze(events, analysis.Options{})
	a.observe(time.Since(start))
	c.since, c.until, c.lastSeq, c.result = since, until, lastSeq, res
	return res, nil
}
