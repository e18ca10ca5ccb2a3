package web

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"idletrace/analysis"
)

// The drill-down by length: /intervals lists the intervals (pairs) whose
// uptime lies in [lo, hi) seconds — a histogram bar, a cluster row —
// optionally of the computers whose names start with computer, in the
// page's time range. Each row links to its events.

// intervalsPageSize is how many intervals one page lists.
const intervalsPageSize = 100

// intervalsPage is the drill-down list.
type intervalsPage struct {
	Lo, Hi    float64 // seconds; 0 = open
	Computer  string
	Measure   string // "uptime" or "downtime"
	What      string // the filter in words
	Rows      []analysis.Pair
	Total     int // intervals that match
	Computers int // computers among them
	InDx      int // of them in a diagnosis
	Pager     pager
	Range     *pageRange
	Err       string
}

func (p *intervalsPage) title() (string, string) { return "Intervals", "dashboard" }
func (p *intervalsPage) timeRange() *pageRange   { return p.Range }

// intervalsHref links the intervals of uptime [lo, hi) seconds (of the
// computers whose names start with computer, "" = all), in rng.
func intervalsHref(computer string, lo, hi float64, rng *pageRange) string {
	v := url.Values{"lo": {strconv.FormatFloat(math.Floor(lo), 'f', -1, 64)}, "hi": {strconv.FormatFloat(math.Ceil(hi), 'f', -1, 64)}}
	if computer != "" {
		v.Set("computer", computer)
	}
	return withRange("/intervals?"+v.Encode(), rng)
}

// handleIntervals serves /intervals.
func (s *Server) handleIntervals(w http.ResponseWriter, r *http.Request) {
	res, _, rng, err := s.pageAnalysis(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	p := &intervalsPage{Range: rng, Computer: strings.TrimSpace(q.Get("computer")), Measure: "uptime"}
	if q.Get("measure") == "downtime" {
		p.Measure = "downtime"
	}
	var bad []string
	for _, f := range []struct {
		name string
		v    *float64
	}{{"lo", &p.Lo}, {"hi", &p.Hi}} {
		if t := strings.TrimSpace(q.Get(f.name)); t != "" {
			x, err := strconv.ParseFloat(t, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				bad = append(bad, f.name+" must be a number of seconds")
				continue
			}
			*f.v = x
		}
	}
	if len(p.Computer) > 255 {
		bad = append(bad, "computer name too long")
	}
	if len(bad) > 0 {
		p.Err = strings.Join(bad, "; ")
		s.render(w, r, http.StatusBadRequest, "intervals", p)
		return
	}
	var parts []string
	switch {
	case p.Lo > 0 && p.Hi > 0:
		parts = append(parts, p.Measure+" "+strconv.FormatFloat(p.Lo, 'f', -1, 64)+"–"+strconv.FormatFloat(p.Hi, 'f', -1, 64)+" s")
	case p.Lo > 0:
		parts = append(parts, p.Measure+" from "+strconv.FormatFloat(p.Lo, 'f', -1, 64)+" s")
	case p.Hi > 0:
		parts = append(parts, p.Measure+" below "+strconv.FormatFloat(p.Hi, 'f', -1, 64)+" s")
	}
	if p.Computer != "" {
		parts = append(parts, "computers "+p.Computer+"…")
	}
	p.What = strings.Join(parts, ", ")
	prefix := strings.ToLower(p.Computer)
	var kept []analysis.Pair
	seen := map[string]bool{}
	for _, pair := range res.AllPairs() {
		pr := &pair
		v := pr.Uptime
		if p.Measure == "downtime" {
			if pr.Open() {
				continue
			}
			v = pr.Downtime
		}
		sec := v.Seconds()
		if v <= 0 || (p.Lo > 0 && sec < p.Lo) || (p.Hi > 0 && sec >= p.Hi) {
			continue
		}
		if prefix != "" && !strings.HasPrefix(strings.ToLower(pr.Computer), prefix) {
			continue
		}
		kept = append(kept, *pr)
		seen[pr.Computer] = true
		if pr.DiagnosisID != "" {
			p.InDx++
		}
	}
	p.Total, p.Computers = len(kept), len(seen)
	page, _ := strconv.Atoi(q.Get("page"))
	keep := url.Values{}
	for k, v := range q {
		if k != "page" {
			keep[k] = v
		}
	}
	p.Pager = newPager(keep, "/intervals", page, intervalsPageSize, len(kept))
	if len(kept) > 0 {
		p.Rows = kept[p.Pager.First-1 : p.Pager.Last]
	}
	s.render(w, r, http.StatusOK, "intervals", p)
}

// clusterHref links a cluster row to the intervals it holds, in rng.
func clusterHref(c analysis.Cluster, rng *pageRange) string {
	v := url.Values{"lo": {strconv.FormatFloat(math.Floor(c.LowSeconds), 'f', -1, 64)}, "hi": {strconv.FormatFloat(math.Floor(c.HighSeconds)+1, 'f', -1, 64)}}
	if c.Kind == analysis.ClusterDowntime {
		v.Set("measure", "downtime")
	}
	return withRange("/intervals?"+v.Encode(), rng)
}
