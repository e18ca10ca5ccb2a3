package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"idletrace/analysis"
	"idletrace/store"
)

// Limits of a posted probe result.
const (
	maxProbeBody        = 1 << 20
	maxProbeConnections = 10000
	maxProbeText        = 255
)

// probeSubmit is the body of POST /api/v1/probes: the JSON `server probe
// --json` prints (and `--post` sends). Only what is checked or stored as a
// column is named here; the whole body is kept.
type probeSubmit struct {
	Target           string            `json:"target"`
	Computer         string            `json:"computer"`
	Site             string            `json:"site"`
	StartedAt        time.Time         `json:"started_at"`
	FinishedAt       time.Time         `json:"finished_at"`
	Complete         bool              `json:"complete"`
	AliveMaxSeconds  float64           `json:"alive_max_seconds"`
	DeadMinSeconds   *float64          `json:"dead_min_seconds"`
	TimeoutSeconds   *float64          `json:"timeout_seconds"`
	PlusMinusSeconds *float64          `json:"plus_minus_seconds"`
	Drop             string            `json:"drop"`
	Connections      []json.RawMessage `json:"connections"`
}

// validate checks a posted probe result: a 422 says what is wrong.
func (p *probeSubmit) validate() error {
	bad := func(field, msg string) error { return &store.ValidationError{Field: field, Msg: field + ": " + msg} }
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0 }
	switch {
	case strings.TrimSpace(p.Target) == "" || len(p.Target) > 2*maxProbeText:
		return bad("target", "required, at most 510 bytes")
	case len(p.Computer) > maxProbeText || len(p.Site) > maxProbeText:
		return bad("computer", "computer and site are at most 255 bytes")
	case p.Drop != "reset" && p.Drop != "silent" && p.Drop != "none":
		return bad("drop", `must be "reset", "silent" or "none"`)
	case !finite(p.AliveMaxSeconds):
		return bad("alive_max_seconds", "must be a number ≥ 0")
	case p.DeadMinSeconds != nil && (!finite(*p.DeadMinSeconds) || *p.DeadMinSeconds < p.AliveMaxSeconds):
		return bad("dead_min_seconds", "must be at least alive_max_seconds")
	case (p.TimeoutSeconds == nil) != (p.Drop == "none"):
		return bad("timeout_seconds", `null exactly when drop is "none"`)
	case p.TimeoutSeconds != nil && !finite(*p.TimeoutSeconds):
		return bad("timeout_seconds", "must be a number ≥ 0")
	case p.PlusMinusSeconds != nil && !finite(*p.PlusMinusSeconds):
		return bad("plus_minus_seconds", "must be a number ≥ 0")
	case p.StartedAt.IsZero() || p.FinishedAt.Before(p.StartedAt):
		return bad("finished_at", "started_at and finished_at are required, in order")
	case len(p.Connections) == 0 || len(p.Connections) > maxProbeConnections:
		return bad("connections", "between 1 and 10000 connections")
	}
	return nil
}

// handleAPIProbeCreate serves POST /api/v1/probes (ingest): stores a probe
// result.
func (s *Server) handleAPIProbeCreate(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := decodeJSONBody(w, r, &raw, maxProbeBody, maxJSONDepth); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req probeSubmit
	if err := json.Unmarshal(raw, &req); err != nil {
		s.writeError(w, r, errBadRequest("not a probe result: %v", err))
		return
	}
	if err := req.validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	p := &store.Probe{Token: principalFrom(r.Context()).name(), Computer: req.Computer, Site: req.Site, Target: req.Target,
		TimeoutSeconds: req.TimeoutSeconds, PlusMinusSeconds: req.PlusMinusSeconds, AliveMaxSeconds: req.AliveMaxSeconds,
		DeadMinSeconds: req.DeadMinSeconds, Drop: req.Drop, Complete: req.Complete,
		StartedAt: req.StartedAt.UTC(), FinishedAt: req.FinishedAt.UTC(), Result: raw}
	if err := s.db.CreateProbe(r.Context(), p); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("probe stored", "probe_id", p.ID, "computer", p.Computer, "target", p.Target, "drop", p.Drop)
	writeJSON(w, http.StatusCreated, p)
}

// probeItem is a stored probe as GET /api/v1/probes lists it, with what it
// says of each idle-timeout diagnosis of one of its computer's.
type probeItem struct {
	store.Probe
	Verdicts []probeVerdict `json:"verdicts"`
}

type probeVerdict struct {
	DiagnosisID string `json:"diagnosis_id"`
	Verdict     string `json:"verdict"` // "confirms" or "contradicts"
}

// handleAPIProbes serves GET /api/v1/probes (read): newest first, filter
// computer, cursor after (a probe id).
func (s *Server) handleAPIProbes(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r, pComputer, pAfter, pLimit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var before int64
	if q.After != "" {
		if before, err = strconv.ParseInt(q.After, 10, 64); err != nil || before <= 0 {
			s.writeError(w, r, errBadRequest("after must be a probe id from a previous page's next"))
			return
		}
	}
	ps, err := s.db.FindProbes(r.Context(), store.ProbeFilter{Computer: q.Computer, Before: before, Limit: q.Limit + 1})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := page[probeItem]{Items: []probeItem{}}
	if len(ps) > q.Limit {
		ps = ps[:q.Limit]
		out.Next = strconv.FormatInt(ps[len(ps)-1].ID, 10)
	}
	var diags []analysis.Diagnosis
	if snap, err := current(r.Context(), s.live); err == nil {
		diags = snap.Result.Report.Diagnoses
	}
	for _, p := range ps {
		out.Items = append(out.Items, probeItem{Probe: p, Verdicts: probeVerdicts(p, diags)})
	}
	writeJSON(w, http.StatusOK, out)
}

// probeVerdicts says what a probe says of the idle-timeout diagnoses that
// name its computer (or, for a probe without one, of every one).
func probeVerdicts(p store.Probe, diags []analysis.Diagnosis) []probeVerdict {
	out := []probeVerdict{}
	for i := range diags {
		d := &diags[i]
		if d.Kind != analysis.KindIdleTimeout || !probeOnPath(p, d) {
			continue
		}
		pm := 0.0
		if p.PlusMinusSeconds != nil {
			pm = *p.PlusMinusSeconds
		}
		if v := analysis.ProbeVerdict(*d, p.TimeoutSeconds, pm, p.Drop); v != analysis.ProbeUnrelated {
			out = append(out, probeVerdict{DiagnosisID: d.ID, Verdict: v})
		}
	}
	return out
}

// probeOnPath: the probe ran from one of the diagnosis' computers, or its
// site is the diagnosis' site, or it names neither.
func probeOnPath(p store.Probe, d *analysis.Diagnosis) bool {
	if p.Computer == "" && p.Site == "" {
		return true
	}
	short, _, _ := strings.Cut(p.Computer, ".")
	for _, c := range d.Computers {
		cs, _, _ := strings.Cut(c, ".")
		if p.Computer != "" && (strings.EqualFold(c, p.Computer) || strings.EqualFold(cs, short)) {
			return true
		}
	}
	return p.Site != "" && strings.EqualFold(p.Site, d.Site)
}

// probeLines says in words what the stored probes on d's path measured and
// whether that confirms d ("probe from HQ-PC07: idle connections reset
// after 300 s ± 3 s — confirms the 300 s diagnosis"). A failing look-up
// leaves the page without them.
func (s *Server) probeLines(ctx context.Context, d *analysis.Diagnosis) []string {
	var out []string
	for _, p := range s.probesOf(ctx, d) {
		from := p.Computer
		if from == "" {
			from = p.Site
		}
		if from == "" {
			from = "an unnamed computer"
		}
		what := "no idle connection died"
		if p.TimeoutSeconds != nil {
			pm := 0.0
			if p.PlusMinusSeconds != nil {
				pm = *p.PlusMinusSeconds
			}
			how := map[string]string{"reset": "reset", "silent": "dropped silently"}[p.Drop]
			what = fmt.Sprintf("idle connections %s after %.0f s ± %.0f s", how, *p.TimeoutSeconds, pm)
		}
		out = append(out, fmt.Sprintf("Probe from %s to %s on %s: %s — %s this diagnosis.",
			from, p.Target, p.FinishedAt.UTC().Format("2006-01-02 15:04Z"), what, p.Verdict))
	}
	return out
}

// diagnosisWithProbes is GET /api/v1/diagnoses/{id}: the diagnosis and the
// probes measured on its path, each with its verdict.
type diagnosisWithProbes struct {
	analysis.Diagnosis
	Probes []diagnosisProbe `json:"probes"`
}

// diagnosisProbe is a probe as a diagnosis lists it.
type diagnosisProbe struct {
	ID               int64     `json:"id"`
	Computer         string    `json:"computer"`
	Site             string    `json:"site"`
	Target           string    `json:"target"`
	TimeoutSeconds   *float64  `json:"timeout_seconds"`
	PlusMinusSeconds *float64  `json:"plus_minus_seconds"`
	Drop             string    `json:"drop"`
	FinishedAt       time.Time `json:"finished_at"`
	Verdict          string    `json:"verdict"` // "confirms" or "contradicts"
}

// probesOf returns the stored probes on d's path with their verdicts
// (none for an outage); a failing look-up gives none.
func (s *Server) probesOf(ctx context.Context, d *analysis.Diagnosis) []diagnosisProbe {
	out := []diagnosisProbe{}
	if d.Kind != analysis.KindIdleTimeout {
		return out
	}
	ps, err := s.db.FindProbes(ctx, store.ProbeFilter{Limit: 200})
	if err != nil {
		s.log.Warn("probes for a diagnosis", "err", err)
		return out
	}
	for _, p := range ps {
		if !probeOnPath(p, d) {
			continue
		}
		pm := 0.0
		if p.PlusMinusSeconds != nil {
			pm = *p.PlusMinusSeconds
		}
		out = append(out, diagnosisProbe{ID: p.ID, Computer: p.Computer, Site: p.Site, Target: p.Target,
			TimeoutSeconds: p.TimeoutSeconds, PlusMinusSeconds: p.PlusMinusSeconds, Drop: p.Drop, FinishedAt: p.FinishedAt,
			Verdict: analysis.ProbeVerdict(*d, p.TimeoutSeconds, pm, p.Drop)})
	}
	return out
}
