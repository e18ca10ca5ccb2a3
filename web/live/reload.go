package live

import (
	"idletrace/analysis"
	"idletrace/store"
)

// Reload makes the worker analyse everything again from the store, at its
// next recompute: events were deleted (an upload taken back), which the
// incremental analysis (append-only by seq) cannot see. Marks of clients
// waiting for their writes are dropped (the seqs they wait for may be gone),
// and the windowed analysis is forgotten; readers wait for the analysis
// of what is left.
func (a *Analyzer) Reload() {
	a.mu.Lock()
	a.reload = true
	a.gen++ // readers wait for a snapshot of this generation
	a.knownSeq, a.knownUp = 0, 0
	clear(a.marks)
	a.mu.Unlock()
	a.window.mu.Lock()
	a.window.entries, a.window.bytes = nil, 0
	a.window.mu.Unlock()
	signal(a.poke)
}

// takeReload resets the worker's state for a full load when a reload was
// asked for. Called by the worker only.
func (a *Analyzer) takeReload() (reloaded bool, gen int64) {
	a.mu.Lock()
	r, gen := a.reload, a.gen
	a.reload = false
	a.mu.Unlock()
	if !r {
		return false, gen
	}
	a.inc = analysis.NewIncremental(analysis.Options{})
	a.keys = map[string]bool{}
	a.stats = store.Stats{}
	return true, gen
}
