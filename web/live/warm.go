package live

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"idletrace/analysis"
	"idletrace/store"
)

// saveEvery is how often (at most) the worker stores its newest report, so
// that a node that starts answers its first report at once.
const saveEvery = 30 * time.Second

// SetSaving makes the worker store its newest report (every saveEvery at
// most, and the first of each start) while leads reports true — on one
// node of several. A store that keeps no snapshot, or a read-only one,
// saves nothing. Call it before Start; without it the worker saves
// whenever it can.
func (a *Analyzer) SetSaving(leads func() bool) { a.leads = leads }

// warmStart loads the stored report, if any, as the snapshot served to
// readers of the report (CurrentReport) until the first analysis of this
// start is done. It reports whether there was one.
func (a *Analyzer) warmStart(ctx context.Context) bool {
	ss, ok := a.db.(store.AnalysisSnapshots)
	if !ok {
		return false
	}
	s, err := ss.LoadAnalysisSnapshot(ctx)
	if err != nil || s == nil {
		if err != nil {
			a.log.Warn("analysis: stored report not read", "err", err)
		}
		return false
	}
	rep, err := decodeReport(s.Report)
	if err != nil {
		a.log.Warn("analysis: stored report not read", "err", err)
		return false
	}
	snap := &Snapshot{Result: &analysis.Result{Report: rep}, Stats: s.Stats, Seq: s.Seq, Upload: s.Upload, At: s.At,
		WindowStart: s.WindowStart, Warm: true, report: &encoded{}}
	a.mu.Lock()
	a.warm = snap
	a.mu.Unlock()
	a.log.Info("analysis: serving the stored report until the events are read", "as_of", s.At.Format(time.RFC3339), "seq", s.Seq)
	return true
}

// save stores snap's report when it is time to (see SetSaving).
func (a *Analyzer) save(ctx context.Context, snap *Snapshot) {
	ss, ok := a.db.(store.AnalysisSnapshots)
	if !ok || a.db.ReadOnly() || (a.leads != nil && !a.leads()) || snap.Result == nil {
		return
	}
	if !a.lastSave.IsZero() && time.Since(a.lastSave) < saveEvery {
		return
	}
	a.lastSave = time.Now()
	body, err := encodeStored(snap.Result.Report)
	if err == nil {
		err = ss.SaveAnalysisSnapshot(ctx, &store.AnalysisSnapshot{Seq: snap.Seq, Upload: snap.Upload, At: snap.At,
			WindowStart: snap.WindowStart, Stats: snap.Stats, Report: body})
	}
	if err != nil && ctx.Err() == nil {
		a.log.Warn("analysis: report not stored", "err", err)
	}
}

// encodeStored is the stored form of a report: gzipped JSON.
func encodeStored(rep analysis.Report) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(rep); err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	return buf.Bytes(), nil
}

func decodeReport(b []byte) (analysis.Report, error) {
	var rep analysis.Report
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return rep, fmt.Errorf("decode stored report: %w", err)
	}
	if err := json.NewDecoder(io.LimitReader(zr, 1<<30)).Decode(&rep); err != nil {
		return rep, fmt.Errorf("decode stored report: %w", err)
	}
	return rep, nil
}

// CurrentReport is Current for readers of the report alone: until this
// start's first analysis is done it returns the stored report (Warm, and
// Updating) at once, to a client with no write of its own to wait for.
func (a *Analyzer) CurrentReport(ctx context.Context, client string) (*Snapshot, error) {
	a.mu.Lock()
	started := a.started
	a.mu.Unlock()
	if started { // a request in the first moments of a start: Start is reading it
		select {
		case <-a.warmed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	a.remoteMark(ctx, client)
	a.mu.Lock()
	if _, mine := a.marks[client]; a.snap == nil && a.warm != nil && !mine && a.started && !a.stopped {
		out := *a.warm
		out.Updating = true
		a.mu.Unlock()
		return &out, nil
	}
	a.mu.Unlock()
	return a.Current(ctx, client)
}
