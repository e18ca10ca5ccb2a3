package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"idletrace/analysis"
	"idletrace/store"
	"idletrace/web/charts"
)

// Before/after: a recorded change (POST /api/v1/changes, or the form on
// /changes) and the analysis of equal windows either side of it — did the
// idle-timeout pattern stop?

// apiChangeRequest is the body of POST /api/v1/changes.
type apiChangeRequest struct {
	At   time.Time `json:"at"`
	Note string    `json:"note"`
}

// apiChange is a change with the analysis before and after it.
type apiChange struct {
	ID            int64      `json:"id"`
	At            time.Time  `json:"at"`
	Note          string     `json:"note"`
	WindowSeconds float64    `json:"window_seconds"` // the length of each side
	Before        changeSide `json:"before"`
	After         changeSide `json:"after"`
}

// changeSide is the analysis of one side of a change.
type changeSide struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// IdleTimeoutIntervals are the intervals in this side's idle-timeout
	// clusters (the diagnoses' evidence).
	IdleTimeoutIntervals      int             `json:"idle_timeout_intervals"`
	Disconnects               int             `json:"disconnects"`
	ComputerDays              int             `json:"computer_days"`
	DisconnectsPerComputerDay float64         `json:"disconnects_per_computer_day"`
	Diagnoses                 []changeDiagRef `json:"diagnoses"`

	ups []float64 // uptimes that count in the statistics (seconds)
}

// changeDiagRef is a diagnosis of one side, in short.
type changeDiagRef struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Title     string `json:"title"`
	Computers int    `json:"computers"`
	Intervals int    `json:"intervals"`
}

// changeCache keeps the before/after of changes per state of the data.
type changeCache struct {
	mu      sync.Mutex
	lastSeq int64
	m       map[int64]*apiChange
}

// beforeAfter analyses equal windows either side of c: as long as the
// data reach on the shorter side (at most 30 days).
func (s *Server) beforeAfter(ctx context.Context, c *store.Change) (*apiChange, error) {
	snap, err := current(ctx, s.live)
	if err != nil {
		return nil, err
	}
	cc := &s.changes
	cc.mu.Lock()
	if cc.lastSeq != snap.Seq || cc.m == nil {
		cc.lastSeq, cc.m = snap.Seq, map[int64]*apiChange{}
	}
	if out := cc.m[c.ID]; out != nil {
		cc.mu.Unlock()
		return out, nil
	}
	cc.mu.Unlock()
	at := c.At.UTC()
	w := 30 * 24 * time.Hour
	if !snap.Stats.First.IsZero() {
		w = min(w, max(0, at.Sub(snap.Stats.First)), max(0, snap.Stats.Last.Add(time.Second).Sub(at)))
	}
	out := &apiChange{ID: c.ID, At: at, Note: c.Note, WindowSeconds: w.Seconds()}
	for _, side := range []struct {
		s     *changeSide
		since time.Time
		until time.Time
	}{{&out.Before, at.Add(-w), at}, {&out.After, at, at.Add(w)}} {
		side.s.Since, side.s.Until = side.since, side.until
		side.s.Diagnoses = []changeDiagRef{}
		if w <= 0 {
			continue
		}
		res, err := s.live.Scoped(ctx, "", side.since, side.until)
		if err != nil {
			return nil, err
		}
		fillSide(side.s, res, s.cfg.DisplayTZ)
	}
	cc.mu.Lock()
	if cc.lastSeq == snap.Seq {
		cc.m[c.ID] = out
	}
	cc.mu.Unlock()
	return out, nil
}

func fillSide(cs *changeSide, res *analysis.Result, tz *time.Location) {
	cs.Disconnects = res.Report.Events.Disconnects
	for i := range res.Report.Diagnoses {
		d := &res.Report.Diagnoses[i]
		if d.Kind == analysis.KindIdleTimeout {
			cs.IdleTimeoutIntervals += d.Intervals
		}
		cs.Diagnoses = append(cs.Diagnoses, changeDiagRef{ID: d.ID, Kind: d.Kind, Title: dxTitle(d), Computers: len(d.Computers), Intervals: d.Intervals})
	}
	days := map[string]bool{}
	day := func(c string, t time.Time) {
		if !t.IsZero() {
			days[strings.ToLower(c)+"|"+t.In(tz).Format("2006-01-02")] = true
		}
	}
	for _, p := range res.AllPairs() {
		day(p.Computer, p.Disconnect)
		day(p.Computer, p.Reconnect)
		day(p.Computer, p.UpSince)
	}
	cs.ComputerDays = len(days)
	if cs.ComputerDays > 0 {
		cs.DisconnectsPerComputerDay = math.Round(float64(cs.Disconnects)/float64(cs.ComputerDays)*1000) / 1000
	}
	cs.ups = res.CountedUptimes("")
}

// changeVerdict says whether one diagnosis' pattern stopped after a change.
type changeVerdict struct {
	Change        *apiChange
	Before, After int // uptimes near the diagnosis' value on each side
	Stopped       bool
	Text          string
	Href          string
}

// verdictFor counts, on each side, the uptimes within ±5 % of d's
// observed interval (whether or not they still form a diagnosis).
func (ba *apiChange) verdictFor(d *analysis.Diagnosis, tz *time.Location) changeVerdict {
	v := changeVerdict{Change: ba, Href: "/changes/" + strconv.FormatInt(ba.ID, 10)}
	obs := 0.0
	if d.ObservedSeconds != nil {
		obs = *d.ObservedSeconds
	} else if x, _, ok := dxValue(d); ok {
		obs = x
	}
	near := func(ups []float64) int {
		n := 0
		for _, up := range ups {
			if obs > 0 && math.Abs(up-obs) <= 0.05*obs {
				n++
			}
		}
		return n
	}
	v.Before, v.After = near(ba.Before.ups), near(ba.After.ups)
	when := ba.At.In(tz).Format("2006-01-02 15:04 MST")
	switch {
	case d.Kind != analysis.KindIdleTimeout:
		v.Text = fmt.Sprintf("Change of %s (%s): a shared outage is not an idle timeout; compare the disconnect rates on the change page.", when, ba.Note)
	case ba.WindowSeconds <= 0:
		v.Text = fmt.Sprintf("Change of %s (%s): no data on one side of it yet.", when, ba.Note)
	case v.Before > 0 && v.After == 0:
		v.Stopped = true
		v.Text = fmt.Sprintf("The pattern stopped after the change of %s (%s): %d uptimes near %s in the %s before it, none in the %s after.",
			when, ba.Note, v.Before, charts.Seconds(math.Round(obs)), charts.ShortSeconds(ba.WindowSeconds), charts.ShortSeconds(ba.WindowSeconds))
	case v.Before == 0:
		v.Text = fmt.Sprintf("Change of %s (%s): the pattern was not seen in the %s before it.", when, ba.Note, charts.ShortSeconds(ba.WindowSeconds))
	default:
		v.Text = fmt.Sprintf("The pattern continues after the change of %s (%s): %d uptimes near %s before it, %d after (equal windows of %s).",
			when, ba.Note, v.Before, charts.Seconds(math.Round(obs)), v.After, charts.ShortSeconds(ba.WindowSeconds))
	}
	return v
}

// handleAPIChangeCreate serves POST /api/v1/changes.
func (s *Server) handleAPIChangeCreate(w http.ResponseWriter, r *http.Request) {
	var req apiChangeRequest
	if err := decodeJSONBody(w, r, &req, maxJSONBody, maxJSONDepth); err != nil {
		s.writeError(w, r, err)
		return
	}
	c := &store.Change{At: req.At, Note: req.Note}
	if err := s.db.CreateChange(r.Context(), c); err != nil {
		s.writeError(w, r, err)
		return
	}
	ba, err := s.beforeAfter(r.Context(), c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/changes/"+strconv.FormatInt(c.ID, 10))
	writeJSON(w, http.StatusCreated, ba)
}

// handleAPIChange serves GET /api/v1/changes/{changeID}.
func (s *Server) handleAPIChange(w http.ResponseWriter, r *http.Request) {
	c, err := s.changeOf(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ba, err := s.beforeAfter(r.Context(), c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ba)
}

func (s *Server) changeOf(r *http.Request) (*store.Change, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "changeID"), 10, 64)
	if err != nil || id <= 0 {
		return nil, errNotFound("no such change")
	}
	return s.db.FindChangeByID(r.Context(), id)
}
