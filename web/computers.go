package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// computersPageSize is how many computers one page of the list shows.
const computersPageSize = 50

// computerSorts are the sortable columns of the computers list: key,
// header, numeric, and the comparison (ascending).
type computerSort struct {
	key, label string
	num        bool
	cmp        func(a, b *computerRow) int
}

var computerSorts = []computerSort{
	{"name", "Computer", false, func(a, b *computerRow) int {
		return strings.Compare(strings.ToLower(a.Name()), strings.ToLower(b.Name()))
	}},
	{"disconnects", "Disconnects (25)", true, func(a, b *computerRow) int { return cmp.Compare(a.Disconnects(), b.Disconnects()) }},
	{"reconnects", "Reconnects (26)", true, func(a, b *computerRow) int { return cmp.Compare(a.Reconnects(), b.Reconnects()) }},
	{"pairs", "Pairs", true, func(a, b *computerRow) int { return cmp.Compare(a.Pairs(), b.Pairs()) }},
	{"uptime", "Median uptime", true, func(a, b *computerRow) int { return cmp.Compare(a.MedianUptime, b.MedianUptime) }},
	{"diagnoses", "Diagnoses", false, func(a, b *computerRow) int { return cmp.Compare(len(a.DiagnosisIDs()), len(b.DiagnosisIDs())) }},
	{"first", "First event", false, func(a, b *computerRow) int { return a.First().Compare(b.First()) }},
	{"last", "Last event", false, func(a, b *computerRow) int { return a.Last().Compare(b.Last()) }},
}

// handleComputers serves /computers: every computer with its counts,
// sortable by any column, filtered by a name substring, paginated.
func (s *Server) handleComputers(w http.ResponseWriter, r *http.Request) {
	res, _, rng, err := s.pageAnalysis(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	all := s.views.of(res)
	q := r.URL.Query()
	key, dir := q.Get("sort"), q.Get("dir")
	si := slices.IndexFunc(computerSorts, func(c computerSort) bool { return c.key == key })
	if si < 0 {
		si, key = 1, "disconnects"
		if dir == "" {
			dir = "desc"
		}
	}
	if dir != "desc" {
		dir = "asc"
	}
	p := &computersPage{Q: strings.TrimSpace(q.Get("q")), Total: len(all), Range: rng}
	if len(p.Q) > 200 {
		s.writeError(w, r, errBadRequest("search text too long"))
		return
	}
	rows := make([]computerRow, 0, len(all))
	needle := strings.ToLower(p.Q)
	for _, row := range all {
		if needle == "" || strings.Contains(strings.ToLower(row.Name()), needle) {
			rows = append(rows, row)
		}
	}
	p.Matched = len(rows)
	less := computerSorts[si].cmp
	slices.SortStableFunc(rows, func(a, b computerRow) int {
		c := less(&a, &b)
		if c == 0 {
			c = strings.Compare(strings.ToLower(a.Name()), strings.ToLower(b.Name()))
			return c // ties by name, always ascending
		}
		if dir == "desc" {
			return -c
		}
		return c
	})
	page, _ := strconv.Atoi(q.Get("page"))
	base := url.Values{"sort": {key}, "dir": {dir}}
	if p.Q != "" {
		base.Set("q", p.Q)
	}
	for k, vs := range rangeValues(rng) {
		base[k] = vs
	}
	p.Pager = newPager(base, "/computers", page, computersPageSize, len(rows))
	if p.Pager.Total > 0 {
		p.Rows = rows[p.Pager.First-1 : p.Pager.Last]
	}
	for _, c := range computerSorts {
		col := sortCol{Label: c.label, Num: c.num}
		v := url.Values{"sort": {c.key}}
		if p.Q != "" {
			v.Set("q", p.Q)
		}
		switch {
		case c.key == key && dir == "asc":
			col.AriaSort = "ascending"
			v.Set("dir", "desc")
		case c.key == key:
			col.AriaSort = "descending"
			v.Set("dir", "asc")
		case c.num || c.key == "last" || c.key == "diagnoses":
			v.Set("dir", "desc") // biggest first is what people look for
		default:
			v.Set("dir", "asc")
		}
		col.Href = withRange("/computers?"+v.Encode(), rng)
		p.Cols = append(p.Cols, col)
	}
	p.Diagns = map[string]string{}
	for _, d := range res.Report.Diagnoses {
		p.Diagns[d.ID] = diagnosisLabel(&d)
	}
	s.render(w, r, http.StatusOK, "computers", p)
}

// handleComputer serves /computers/{name}: one computer's timeline.
func (s *Server) handleComputer(w http.ResponseWriter, r *http.Request) {
	// chi matches on the escaped path when there is one (a name with "/"
	// or "%" in it), so the parameter is then still escaped.
	name := chi.URLParam(r, "name")
	if r.URL.RawPath != "" {
		n, err := url.PathUnescape(name)
		if err != nil {
			s.writeError(w, r, errNotFound("no such computer"))
			return
		}
		name = n
	}
	res, _, rng, err := s.pageAnalysis(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rows := s.views.of(res)
	i, ok := res.HostIndex(name)
	if !ok {
		msg := "no computer of that name in the data"
		if rng.Active() {
			msg = "no events of a computer of that name in the selected time range"
		}
		s.writeError(w, r, errNotFound(msg))
		return
	}
	p := newComputerPage(res, rows[i], s.zoneOf(r), rng, s.changeMarks(r.Context()))
	s.render(w, r, http.StatusOK, "computer", p)
}
