package live

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"idletrace/analysis"
	"idletrace/store"
)

// run recomputes the analysis when data arrive, until ctx ends. The first
// load waits for the first reader or write to ask for it (a server that is
// only probed reads nothing, and the first snapshot holds everything
// stored before it was asked for, by this process or another) — unless
// warm: a node that served an analysis before reads at once.
func (a *Analyzer) run(ctx context.Context, warm bool) {
	a.inc = analysis.NewIncremental(analysis.Options{})
	a.keys = map[string]bool{}
	// A node that analysed before starts reading at once, serving the
	// stored report meanwhile; a new one waits to be asked.
	if !warm {
		select {
		case <-ctx.Done():
			return
		case <-a.poke:
		case <-a.urgent:
		}
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	first := true
	for {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-a.poke:
			case <-a.urgent:
			case <-tick.C:
			}
		}
		polled := time.Now()
		seq, up, err := a.db.ChangeMark(ctx)
		if ctx.Err() != nil {
			return
		}
		a.mu.Lock()
		if err == nil {
			a.knownSeq, a.knownUp = max(a.knownSeq, seq), max(a.knownUp, up)
		}
		current := !a.rebuild && a.snap != nil && a.snap.Seq >= a.knownSeq && a.snap.Upload >= a.knownUp && !a.reload
		if current && err == nil {
			a.snap.At = polled // nothing new: the analysis is current as of now
		}
		waiting := a.waiting > 0
		gap := min(max(a.lastTook, minGap), maxGap)
		wait := time.Until(a.lastFinish.Add(gap))
		quiet := time.Since(a.lastFinish) > scratchIdle
		a.mu.Unlock()
		if err == nil && current && !first {
			if quiet { // the updates have paused: hold only the Result
				a.inc.FreeScratch()
				a.setScratch()
			}
			if waiting { // waiting for a mark this snapshot already covers
				a.publish(nil, nil)
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
			case <-a.urgent:
			case <-t.C:
			}
			t.Stop()
		}
		first = false
		if err == nil {
			err = a.refresh(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			a.log.Warn("analysis", "err", err)
			a.publish(nil, err)
		}
	}
}

// refresh reads the events stored since the last snapshot, updates the
// analysis and publishes a new snapshot.
func (a *Analyzer) refresh(ctx context.Context) error {
	start := time.Now()
	reloaded, gen := a.takeReload()
	// The upload side first: a snapshot never claims an upload whose
	// events it has not read.
	_, up, err := a.db.ChangeMark(ctx)
	if err != nil {
		return err
	}
	nUp, err := a.db.UploadCount(ctx)
	if err != nil {
		return err
	}
	var last *store.Upload
	if ups, err := a.db.FindUploads(ctx, 0, 1); err == nil && len(ups) > 0 {
		last = ups[0]
	}
	a.mu.Lock()
	rebuild := a.rebuild
	a.rebuild = false
	a.mu.Unlock()
	if rebuild { // events were deleted: start over (the rows are append-only otherwise)
		a.inc = analysis.NewIncremental(analysis.Options{})
		a.keys = map[string]bool{}
		a.stats = store.Stats{}
		a.winFrom = 0
	}
	st := a.stats
	// Names repeat from row to row: one string each while this refresh
	// reads (the analysis keeps its own copy; a million computers' names
	// held here too would be hundreds of MB).
	var names store.Interner
	for {
		d, err := a.db.AnalysisEventsAfter(ctx, st.LastSeq, loadChunk, &names)
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
				a.keys[k] = true
			}
			st.LastSeq = d.LastSeq
			a.inc.Add(a.inWindow(d.Events))
		}
		if d.Rows < loadChunk {
			break
		}
	}
	a.slide(st.Last, start)
	st.Computers, st.Uploads = len(a.keys), nUp
	var res *analysis.Result
	a.mu.Lock()
	old := a.snap
	a.mu.Unlock()
	if old != nil && old.Seq == st.LastSeq && !reloaded && !rebuild {
		res = old.Result // only uploads changed (duplicates)
	} else {
		// Near the memory limit, an update holding its working memory
		// from start to end (and keeping it for the next) makes the
		// collector run for every request instead.
		a.inc.KeepScratch(roomForScratch(a.inc.ScratchEstimate()))
		res = a.inc.Result()
		a.setScratch()
	}
	took := time.Since(start)
	if old == nil || res != old.Result {
		a.observe(took)
	} else {
		took = old.Took
	}
	a.stats = st
	snap := &Snapshot{Result: res, Stats: st, Took: took, Seq: st.LastSeq, Upload: up,
		At: start, LastUpload: last, report: &encoded{}, gen: gen}
	if a.winFrom != 0 {
		snap.WindowStart = time.Unix(0, a.winFrom).UTC()
	}
	a.publish(snap, nil)
	if old == nil || res != old.Result {
		a.save(ctx, snap)
	}
	return nil
}

// inWindow drops, in place, the events before the current window start
// (they would be pruned at once).
func (a *Analyzer) inWindow(evs []analysis.Event) []analysis.Event {
	if a.winFrom == 0 {
		return evs
	}
	kept := evs[:0]
	for _, e := range evs {
		if e.Time.UnixNano() >= a.winFrom {
			kept = append(kept, e)
		}
	}
	return kept
}

// slide moves the window start to (newest − span) rounded down to the
// hour and prunes what fell out. The newest event counts no later than a
// day after now: one computer with its clock years ahead must not push
// the fleet's data out of the window.
func (a *Analyzer) slide(newest, now time.Time) {
	if a.span <= 0 || newest.IsZero() {
		return
	}
	newest = minTime(newest, now.Add(24*time.Hour))
	from := newest.Add(-a.span).Truncate(time.Hour).UnixNano()
	if from <= a.winFrom {
		return
	}
	a.winFrom = from
	if n := a.inc.Prune(time.Unix(0, from)); n > 0 {
		a.log.Info("analysis window: older events left out", "events", n, "from", time.Unix(0, from).UTC().Format(time.RFC3339))
	}
}

func minTime(x, y time.Time) time.Time {
	if y.Before(x) {
		return y
	}
	return x
}

func (a *Analyzer) observe(took time.Duration) {
	if a.metrics != nil {
		a.metrics.ObserveAnalysis(took)
	}
}

// roomForScratch reports whether the heap leaves room to keep the
// analysis's working memory (scratch bytes) between updates: the live
// heap and it at most scratchShare of the memory limit (always, without
// one). The live heap is as of the last collection, which may or may not
// have seen the working memory: counting it again errs on the side of
// letting it go.
func roomForScratch(scratch int) bool {
	limit := debug.SetMemoryLimit(-1)
	if limit == math.MaxInt64 {
		return true
	}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	return live[0].Value.Kind() == metrics.KindUint64 && float64(live[0].Value.Uint64())+float64(scratch) <= scratchShare*float64(limit)
}

// setScratch records the working memory the analysis keeps (worker only).
func (a *Analyzer) setScratch() {
	n := int64(a.inc.ScratchBytes())
	a.scratch.Store(n)
	if a.metrics != nil {
		a.metrics.SetWorkingMemory(n)
	}
}

// publish ends an attempt: a new snapshot (if any) or an error, and wakes
// the waiting clients.
func (a *Analyzer) publish(snap *Snapshot, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if snap != nil {
		if a.snap == nil || snap.Result != a.snap.Result {
			a.lastTook = snap.Took
		}
		a.snap, a.err, a.warm = snap, nil, nil
		for k, m := range a.marks { // marks the snapshot holds are done
			if snap.Seq >= m.seq && snap.Upload >= m.upload {
				delete(a.marks, k)
			}
		}
		a.lastFinish = time.Now()
	} else if err != nil {
		a.err = err
		a.lastFinish = time.Now()
	}
	close(a.ready)
	a.ready = make(chan struct{})
}
