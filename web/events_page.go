package web

import (
	"idletrace/web/charts"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"idletrace/store"
)

// eventsPageSize is how many events one page of the browser shows.
const eventsPageSize = 100

// parseLocalTime reads a time typed in a filter: a datetime-local value
// ("2024-03-06T13:40"), a date, or RFC 3339. Times without a zone are in
// the display zone.
func parseLocalTime(v string, tz *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, tz); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errBadRequest("cannot read the time %q: use e.g. 2024-03-06T13:40 (in %s)", v, tz)
}

// handleEvents serves /events: the stored events by event time, newest
// first (or oldest first), filtered by computer-name prefix, text, event
// id, time and upload.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	tz := s.zoneOf(r)
	p := &eventsPage{Computer: strings.TrimSpace(q.Get("computer")), EventID: strings.TrimSpace(q.Get("event_id")),
		Upload: strings.TrimSpace(q.Get("upload")),
		Order:  q.Get("order"), Limit: eventsPageSize, Search: strings.TrimSpace(q.Get("q"))}
	if p.Order != "asc" {
		p.Order = "desc"
	}
	var f store.EventFilter
	var bad []string
	if len(p.Computer) > 255 {
		bad = append(bad, "computer name too long")
	} else {
		f.ComputerPrefix = p.Computer // a prefix: "HQ-" is a site, "HQ-PC01" a computer
	}
	if len(p.Search) > 200 {
		bad = append(bad, "search text too long")
	} else {
		f.Search = p.Search
	}
	if p.EventID != "" {
		id, err := strconv.Atoi(p.EventID)
		if err != nil || id < 0 || id > 65535 {
			bad = append(bad, "event id must be a number from 0 to 65535")
		} else {
			f.EventIDs = []int{id}
		}
	}
	// The time range is the page's range control (page_range.go).
	rng, err := parsePageRange(r, tz)
	if err != nil {
		bad = append(bad, err.Error())
		rng = s.carriedRange(&http.Request{Method: r.Method, URL: &url.URL{Path: r.URL.Path}}, tz)
		rng.Carried = false
	} else {
		var last time.Time
		if snap, err := s.live.Current(r.Context(), ""); err == nil {
			last = snap.Stats.Last
		}
		rng.presets(last)
		f.Since, f.Until = rng.Since, rng.Until
		if !rng.Since.IsZero() {
			p.Since = rng.Since.Format(time.RFC3339)
		}
		if !rng.Until.IsZero() {
			p.Until = rng.Until.Format(time.RFC3339)
		}
	}
	p.Range = rng
	if p.Upload != "" {
		id, err := strconv.ParseInt(p.Upload, 10, 64)
		if err != nil || id <= 0 {
			bad = append(bad, "upload must be an upload number")
		} else {
			f.UploadID = id
		}
	}
	status := http.StatusOK
	if len(bad) > 0 {
		p.Err = strings.Join(bad, "; ")
		status = http.StatusBadRequest
		s.render(w, r, status, "events", p)
		return
	}
	// Ordered by event time; the cursor is the time and seq of a row.
	ct, cs, _ := strings.Cut(q.Get("cursor"), "_")
	curT, _ := strconv.ParseInt(ct, 10, 64)
	cur, _ := strconv.ParseInt(cs, 10, 64)
	back := q.Get("go") == "prev" && cur > 0
	f.ByTime, f.After, f.AfterTime = true, max(cur, 0), curT
	f.Limit = eventsPageSize + 1
	f.Desc = (p.Order == "desc") != back
	evs, err := s.db.FindEvents(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	more := len(evs) > eventsPageSize
	if more {
		evs = evs[:eventsPageSize]
	}
	if back {
		slices.Reverse(evs)
	}
	for _, e := range evs {
		row := eventRow{StoredEvent: e, ComputerHref: charts.ComputerPath(e.Computer)}
		switch e.EventID {
		case 25:
			row.Label = "disconnected"
		case 26:
			row.Label = "restored"
		}
		p.Events = append(p.Events, row)
	}
	// Links keep the filters and move the cursor.
	base := url.Values{}
	for k, v := range map[string]string{"computer": p.Computer, "event_id": p.EventID, "since": p.Since, "until": p.Until, "upload": p.Upload, "q": p.Search} {
		if v != "" {
			base.Set(k, v)
		}
	}
	link := func(extra url.Values) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		if len(v) == 0 {
			return "/events"
		}
		return "/events?" + v.Encode()
	}
	p.ResetHref = link(url.Values{"order": {p.Order}})
	other := "asc"
	if p.Order == "asc" {
		other = "desc"
	}
	p.OrderHref = link(url.Values{"order": {other}})
	if len(evs) > 0 {
		key := func(e store.StoredEvent) string {
			return strconv.FormatInt(e.Time.UnixNano(), 10) + "_" + strconv.FormatInt(e.Seq, 10)
		}
		first, last := key(evs[0]), key(evs[len(evs)-1])
		// Forward: more rows in this order (known when not going back).
		if back || more {
			p.OlderHref = link(url.Values{"order": {p.Order}, "cursor": {last}})
		}
		// Backward: rows before the first one shown.
		if (back && more) || (!back && cur > 0) {
			p.NewerHref = link(url.Values{"order": {p.Order}, "cursor": {first}, "go": {"prev"}})
		}
	}
	s.render(w, r, status, "events", p)
}

// handleAPIDocs serves /api: the REST API for people.
func (s *Server) handleAPIDocs(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "api", &apiPage{Base: "/api/v1"})
}
