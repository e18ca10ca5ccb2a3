package live

import (
	"context"
	"sync"
	"time"

	"idletrace/analysis"
	"idletrace/store"
)

// Bounds of the windowed-analysis cache: a few windows (a client paging
// through one, two people looking at two), and no more bytes than a
// budget, so that clients asking for ever new since/until cannot make it
// hold one full analysis per window.
const (
	windowEntries = 4
	windowBytes   = 64 << 20
)

// windowCache keeps the analyses of the last since/until windows asked
// for (least recently used first out), each valid while the data have not
// changed, so that a client paging through one window analyses it once.
// Windowed analyses run one at a time (mu is held while one runs).
type windowCache struct {
	mu      sync.Mutex
	entries []windowEntry // most recently used last
	bytes   int64
}

type windowEntry struct {
	since, until time.Time
	lastSeq      int64
	result       *analysis.Result
	bytes        int64
}

// resultBytes estimates what a result holds in memory: its pairs and
// hosts and their names.
func resultBytes(res *analysis.Result) int64 {
	n := int64(256) // the Result itself
	n += res.PairBytes()
	n += int64(len(res.Hosts)) * 96 // an analysis.Host (64 bytes), its key and a page row
	for _, h := range res.Hosts {
		n += 2 * int64(len(h.Name())) // the host's and its pairs' names
	}
	return n + 64<<10 // the report
}

// get returns the cached analysis of [since, until) at lastSeq, or nil.
func (c *windowCache) get(since, until time.Time, lastSeq int64) *analysis.Result {
	for i, e := range c.entries {
		if e.lastSeq == lastSeq && e.since.Equal(since) && e.until.Equal(until) {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			return e.result
		}
	}
	return nil
}

// evict drops entries (stale ones first, then the least recently used)
// until n more bytes and one more entry fit.
func (c *windowCache) evict(lastSeq, n int64) {
	kept := c.entries[:0]
	c.bytes = 0
	for _, e := range c.entries {
		if e.lastSeq == lastSeq {
			kept = append(kept, e)
			c.bytes += e.bytes
		}
	}
	c.entries = kept
	for len(c.entries) > 0 && (len(c.entries) >= windowEntries || c.bytes+n > windowBytes) {
		c.bytes -= c.entries[0].bytes
		c.entries = c.entries[1:]
	}
}

// put caches res unless it alone is over the byte budget.
func (c *windowCache) put(since, until time.Time, lastSeq int64, res *analysis.Result) {
	n := resultBytes(res)
	if n > windowBytes {
		return
	}
	c.evict(lastSeq, n)
	c.entries = append(c.entries, windowEntry{since: since, until: until, lastSeq: lastSeq, result: res, bytes: n})
	c.bytes += n
}

// WindowCacheStats reports what the windowed-analysis cache holds: entries
// and their estimated bytes.
func (a *Analyzer) WindowCacheStats() (entries int, bytes int64) {
	a.window.mu.Lock()
	defer a.window.mu.Unlock()
	return len(a.window.entries), a.window.bytes
}

// Scoped is the analysis of the events in [since, until), or of everything
// (the current snapshot's, for client) when both are zero. Pairs,
// computers and diagnoses of a window are those the window's own events
// show. A window is cut to the analysis window (SetWindow) and analysed
// from the snapshot's events in memory, not read again from the store.
func (a *Analyzer) Scoped(ctx context.Context, client string, since, until time.Time) (*analysis.Result, error) {
	snap, err := a.Current(ctx, client)
	if err != nil {
		return nil, err
	}
	if since.IsZero() && until.IsZero() {
		return snap.Result, nil
	}
	if !snap.WindowStart.IsZero() && since.Before(snap.WindowStart) {
		since = snap.WindowStart
	}
	first := snap.Stats.First
	if first.Before(snap.WindowStart) {
		first = snap.WindowStart
	}
	if !since.After(first) && (until.IsZero() || until.After(snap.Stats.Last)) {
		return snap.Result, nil // the window holds every event analysed
	}
	c := &a.window
	c.mu.Lock()
	defer c.mu.Unlock()
	if res := c.get(since, until, snap.Seq); res != nil {
		return res, nil
	}
	// Results of older data go before a new analysis runs: they would
	// only add to its peak.
	c.evict(snap.Seq, 0)
	start := time.Now()
	res, ok := snap.Result.Window(since, until)
	if !ok { // not made incrementally: read the window's events
		events, err := a.db.AnalysisEvents(ctx, store.EventFilter{Since: since, Until: until})
		if err != nil {
			return nil, err
		}
		res = analysis.Analyze(events, analysis.Options{})
	}
	a.observe(time.Since(start))
	c.put(since, until, snap.Seq, res)
	return res, nil
}
