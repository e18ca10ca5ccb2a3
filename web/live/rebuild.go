package live

import "time"

// Rebuild makes the worker read everything again at once when the current
// snapshot holds events before t: events were deleted (retention), and
// the incremental analysis only ever adds. It reports whether a rebuild
// was asked for. Without a snapshot yet there is nothing to rebuild: the
// first load reads what is stored.
func (a *Analyzer) Rebuild(t time.Time) bool {
	a.mu.Lock()
	snap := a.snap
	need := snap != nil && !snap.Stats.First.IsZero() && snap.Stats.First.Before(t)
	if need {
		a.rebuild = true
	}
	a.mu.Unlock()
	if need {
		signal(a.poke)
	}
	return need
}
