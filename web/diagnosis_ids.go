package web

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"idletrace/analysis"
	"idletrace/store"
)

// Stable diagnosis ids: an id, once shown, keeps answering. Every analysis
// served is recorded (store.NoteDiagnoses: what each id stood for); an id
// the current analysis no longer has is answered by a 303 to the diagnosis
// that replaced it — same kind, overlapping computers, a close value —
// and the replacement is recorded, so that it survives restarts. Only an
// id whose data are gone answers 404.

// idBook remembers which analysis was recorded last, so that recording
// costs one write per analysis, not one per request.
type idBook struct {
	mu   sync.Mutex
	last *analysis.Result
}

// noteShown records the diagnoses of res as shown.
func (s *Server) noteShown(ctx context.Context, res *analysis.Result) {
	b := &s.ids
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == res || len(res.Report.Diagnoses) == 0 || s.db.ReadOnly() {
		return
	}
	recs := make([]store.DiagnosisRecord, len(res.Report.Diagnoses))
	for i := range res.Report.Diagnoses {
		recs[i] = diagnosisRecord(&res.Report.Diagnoses[i])
	}
	if err := s.db.NoteDiagnoses(ctx, recs); err != nil {
		s.log.Warn("record diagnosis ids", "err", err)
		return
	}
	b.last = res
}

func diagnosisRecord(d *analysis.Diagnosis) store.DiagnosisRecord {
	r := store.DiagnosisRecord{ID: d.ID, Kind: d.Kind, Computers: make([]string, len(d.Computers))}
	for i, c := range d.Computers {
		r.Computers[i] = strings.ToLower(c)
	}
	if v, _, ok := dxValue(d); ok {
		r.Value = v
	} else if d.Start != nil {
		r.Value = float64(d.Start.Unix())
	}
	return r
}

// findDiagnosis returns the diagnosis id names in res, or "" and the id
// of the one that replaced it, or store.ErrNotFound.
func (s *Server) findDiagnosis(ctx context.Context, res *analysis.Result, id string) (*analysis.Diagnosis, string, error) {
	if d := diagnosisByID(res, id); d != nil {
		return d, "", nil
	}
	rec, err := s.db.FindDiagnosisRecord(ctx, id)
	if err != nil {
		return nil, "", err
	}
	// Follow recorded replacements while they answer.
	seen := map[string]bool{id: true}
	for r := rec; r.ReplacedBy != "" && !seen[r.ReplacedBy]; {
		if diagnosisByID(res, r.ReplacedBy) != nil {
			return nil, r.ReplacedBy, nil
		}
		seen[r.ReplacedBy] = true
		next, err := s.db.FindDiagnosisRecord(ctx, r.ReplacedBy)
		if err != nil {
			break
		}
		r = next
	}
	succ := successor(rec, res.Report.Diagnoses)
	if succ == "" {
		return nil, "", store.ErrNotFound
	}
	if !s.db.ReadOnly() {
		if err := s.db.ReplaceDiagnosis(ctx, id, succ); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("record diagnosis replacement", "id", id, "by", succ, "err", err)
		}
	}
	return nil, succ, nil
}

func diagnosisByID(res *analysis.Result, id string) *analysis.Diagnosis {
	for i := range res.Report.Diagnoses {
		if res.Report.Diagnoses[i].ID == id {
			return &res.Report.Diagnoses[i]
		}
	}
	return nil
}

// successor picks the diagnosis that replaced rec: the same kind, a close
// value (±5 % or 10 s for a timeout; 10 min for an outage's start), and
// the most computers in common (at least one); "" when none.
func successor(rec *store.DiagnosisRecord, ds []analysis.Diagnosis) string {
	had := map[string]bool{}
	for _, c := range rec.Computers {
		had[c] = true
	}
	best, bestN, bestGap := "", 0, math.Inf(1)
	for i := range ds {
		d := &ds[i]
		if d.Kind != rec.Kind {
			continue
		}
		v := diagnosisRecord(d).Value
		gap := math.Abs(v - rec.Value)
		tol := math.Max(0.05*rec.Value, 10)
		if rec.Kind == analysis.KindSharedOutage {
			tol = 600
		}
		if gap > tol {
			continue
		}
		n := 0
		for _, c := range d.Computers {
			if had[strings.ToLower(c)] {
				n++
			}
		}
		if n == 0 {
			continue
		}
		if n > bestN || (n == bestN && gap < bestGap) {
			best, bestN, bestGap = d.ID, n, gap
		}
	}
	return best
}

// redirectDiagnosis answers a replaced id with a 303 to the same path
// under its successor, keeping the rest of the path and the query.
func redirectDiagnosis(w http.ResponseWriter, r *http.Request, old, succ string) {
	p := r.URL.Path
	i := strings.Index(p, "/diagnoses/")
	rest := strings.TrimPrefix(p[i+len("/diagnoses/"):], url.PathEscape(old))
	rest = strings.TrimPrefix(rest, old)
	target := p[:i] + "/diagnoses/" + url.PathEscape(succ) + rest
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("X-Replaced-Diagnosis", old)
	http.Redirect(w, r, target, http.StatusSeeOther)
}
