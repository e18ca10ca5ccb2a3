package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"idletrace/analysis"
	"idletrace/store"
	"idletrace/web/live"
)

// pageRange is the ?since=&until= of a page (SPEC §6: every page takes
// them): the window the page's analysis covers, and the control that
// changes it. Times may be RFC 3339 or local times in the display zone
// (what a datetime-local input sends).
type pageRange struct {
	Since, Until     time.Time
	SinceIn, UntilIn string // datetime-local values in the display zone
	Zone             string
	Path             string     // the page the control sits on
	Keep             url.Values // the page's other parameters, kept by the control
	Presets          []rangePreset
	// Carried is set on pages that show no analysis (uploads, the API
	// docs): the range is only carried on to the pages that do.
	Carried bool
}

// Hidden are the page's other parameters as the control's hidden inputs.
func (p *pageRange) Hidden() [][2]string {
	var out [][2]string
	for k, vs := range p.Keep {
		for _, v := range vs {
			out = append(out, [2]string{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// rangeParams are the parameters the control sets or that a new range
// resets (a page number or cursor of the old range).
var rangeParams = map[string]bool{"since": true, "until": true, "page": true, "cursor": true, "go": true}

// rangePreset is a link to a common window, counted back from the newest
// event (data are often weeks old: "the last 24 h of the data").
type rangePreset struct {
	Label, Href string
	Current     bool
}

// Active reports whether the page is limited to a window.
func (p *pageRange) Active() bool { return p != nil && (!p.Since.IsZero() || !p.Until.IsZero()) }

// Query is the window as a query string ("" when none), to carry on links.
func (p *pageRange) Query() string { return rangeValues(p).Encode() }

// Q is Query with a leading "?" (or ""), for hrefs.
func (p *pageRange) Q() string {
	if p == nil {
		return ""
	}
	if q := p.Query(); q != "" {
		return "?" + q
	}
	return ""
}

// parsePageRange reads since and until of a page request.
func parsePageRange(r *http.Request, tz *time.Location) (*pageRange, error) {
	q := r.URL.Query()
	p := &pageRange{Zone: tz.String(), Path: r.URL.Path, Keep: url.Values{}}
	for k, vs := range q {
		if !rangeParams[k] && len(k) <= 32 && len(vs) <= 4 {
			p.Keep[k] = vs
		}
	}
	for _, f := range []struct {
		name string
		t    *time.Time
		in   *string
	}{{"since", &p.Since, &p.SinceIn}, {"until", &p.Until, &p.UntilIn}} {
		v := strings.TrimSpace(q.Get(f.name))
		if v == "" {
			continue
		}
		t, err := parseLocalTime(v, tz)
		if err != nil {
			return nil, err
		}
		if t.Before(minQueryTime) || t.After(maxQueryTime) {
			return nil, errBadRequest("%s must be between 1970 and 2200", f.name)
		}
		*f.t = t.UTC()
		*f.in = t.In(tz).Format("2006-01-02T15:04:05")
	}
	if !p.Since.IsZero() && !p.Until.IsZero() && !p.Since.Before(p.Until) {
		return nil, errBadRequest("since must be before until")
	}
	return p, nil
}

// presets fills the preset links, counted back from the newest event.
func (p *pageRange) presets(last time.Time) {
	keep := func(extra url.Values) string {
		v := url.Values{}
		for k, vs := range p.Keep {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		if len(v) == 0 {
			return p.Path
		}
		return p.Path + "?" + v.Encode()
	}
	p.Presets = append(p.Presets, rangePreset{Label: "all", Href: keep(nil), Current: !p.Active()})
	if last.IsZero() {
		return
	}
	end := last.Add(time.Second).Truncate(time.Second)
	for _, d := range []struct {
		label string
		dur   time.Duration
	}{{"last 24 h", 24 * time.Hour}, {"7 d", 7 * 24 * time.Hour}, {"30 d", 30 * 24 * time.Hour}} {
		since := end.Add(-d.dur)
		p.Presets = append(p.Presets, rangePreset{Label: d.label,
			Href:    keep(url.Values{"since": {since.UTC().Format(time.RFC3339)}, "until": {end.UTC().Format(time.RFC3339)}}),
			Current: p.Since.Equal(since) && p.Until.Equal(end)})
	}
}

// pageAnalysis is the analysis a page shows: the live snapshot, or the
// analysis of the page's window; the snapshot is returned in both cases
// (its stats say what the database holds).
func (s *Server) pageAnalysis(r *http.Request) (*analysis.Result, *live.Snapshot, *pageRange, error) {
	rng, err := parsePageRange(r, s.zoneOf(r))
	if err != nil {
		return nil, nil, nil, err
	}
	snap, err := s.pageSnapshot(r)
	if err != nil {
		return nil, nil, nil, err
	}
	rng.presets(snap.Stats.Last)
	if !rng.Active() {
		return snap.Result, snap, rng, nil
	}
	res, err := s.live.Scoped(r.Context(), clientKeyFrom(r.Context()), rng.Since, rng.Until)
	if err != nil {
		return nil, nil, nil, err
	}
	return res, snap, rng, nil
}

// carriedRange is the range control of a page that shows no analysis: the
// request's ?since=&until= (ignored when unreadable), with presets counted
// back from the newest event, carried on by the links.
func (s *Server) carriedRange(r *http.Request, loc *time.Location) *pageRange {
	rng, err := parsePageRange(r, loc)
	if err != nil {
		rng = &pageRange{Zone: loc.String(), Path: r.URL.Path}
	}
	rng.Carried = true
	var last time.Time
	if snap, err := s.live.Current(r.Context(), ""); err == nil {
		last = snap.Stats.Last
	}
	rng.presets(last)
	return rng
}

// withRange appends the range's query to a same-site link.
func withRange(href string, p *pageRange) string {
	if p == nil {
		return href
	}
	q := p.Query()
	if q == "" {
		return href
	}
	frag := ""
	if i := strings.IndexByte(href, '#'); i >= 0 {
		href, frag = href[:i], href[i:]
	}
	if strings.Contains(href, "?") {
		return href + "&" + q + frag
	}
	return href + "?" + q + frag
}

// windowSnapshot is snap narrowed to res, the analysis of a window: the
// stats are those of the window's events.
func windowSnapshot(snap *live.Snapshot, res *analysis.Result, rng *pageRange) *live.Snapshot {
	out := *snap
	out.Result = res
	st := store.Stats{Events: res.Report.Events.Disconnects + res.Report.Events.Reconnects, Computers: len(res.Hosts), Uploads: snap.Stats.Uploads}
	for _, h := range res.Hosts {
		if st.First.IsZero() || (!h.First().IsZero() && h.First().Before(st.First)) {
			st.First = h.First()
		}
		if h.Last().After(st.Last) {
			st.Last = h.Last()
		}
	}
	out.Stats = st
	return &out
}

// rangeValues is the range as query values (empty when none).
func rangeValues(p *pageRange) url.Values {
	v := url.Values{}
	if p == nil {
		return v
	}
	if !p.Since.IsZero() {
		v.Set("since", p.Since.UTC().Format(time.RFC3339))
	}
	if !p.Until.IsZero() {
		v.Set("until", p.Until.UTC().Format(time.RFC3339))
	}
	return v
}

// pageWait is how long a page waits for an analysis before it answers that
// the analysis is loading: the first one after a start reads every stored
// event (half a minute at 10 M), and a page that waited for it held a read
// turn the whole time while the readers behind it timed out.
const pageWait = 3 * time.Second

// errAnalysisLoading is a page's answer while there is no analysis yet.
var errAnalysisLoading = &apiError{status: http.StatusServiceUnavailable, code: "analysis_loading", retryAfter: 5, reload: true,
	msg: "The analysis is reading the stored events: the first one after the server starts takes a while on a large database. This page reloads by itself."}

// pageSnapshot is the analysis a page shows: the reader's current one,
// waited for at most pageWait (then errAnalysisLoading). A reader whose
// own write is not analysed yet waits likewise.
func (s *Server) pageSnapshot(r *http.Request) (*live.Snapshot, error) {
	ctx, cancel := context.WithTimeout(r.Context(), pageWait)
	defer cancel()
	snap, err := current(ctx, s.live)
	if err != nil && errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
		return nil, errAnalysisLoading
	}
	return snap, err
}
