package web

import (
	"fmt"
	"html/template"
	"idletrace/web/charts"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"idletrace/analysis"
	"idletrace/store"
	"idletrace/web/live"
)

// viewCache holds what is derived from one analysis result, rebuilt when
// the result changes (the analysis is cached on the ingest sequence).
type viewCache struct {
	mu     sync.Mutex
	res    *analysis.Result
	rows   []computerRow
	rolled []rollup    // res's diagnoses rolled up (read-only), built on first use
	dash   *dashCharts // the dashboard's charts of res, built on first use
	// dashKey is what else dash depends on: the display zone, the range
	// its links carry and the change marks.
	dashKey string
}

// dashCharts are the parts of the dashboard that depend only on the
// analysis: rendered once per analysis, not per request.
type dashCharts struct {
	uptime, fleet template.HTML
	uptimeN       int
	shown, total  int
	top           []computerRow
}

// of returns the computers' rows of res (in Hosts order), building them
// when res is new: 24 bytes a computer (a fleet may have a million).
func (c *viewCache) of(res *analysis.Result) []computerRow {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.res == res {
		return c.rows
	}
	rows := make([]computerRow, len(res.Hosts))
	for i := range res.Hosts {
		rows[i] = computerRow{Host: &res.Hosts[i], res: res, MedianUptime: res.MedianUptime(i)}
	}
	c.res, c.rows, c.dash, c.rolled = res, rows, nil, nil
	return rows
}

// rollups returns res's diagnoses rolled up as the dashboard shows them,
// once per analysis (every dashboard request asks; rolling up costs
// milliseconds at a hundred diagnoses). Callers must not modify them.
func (c *viewCache) rollups(res *analysis.Result) []rollup {
	c.of(res)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.res == res && c.rolled != nil {
		return c.rolled
	}
	ru := rollupDiagnoses(res.Report.Diagnoses, len(res.Hosts))
	if c.res == res {
		c.rolled = ru
	}
	return ru
}

// pairsOf returns the pairs of the computer called name in res.
func pairsOf(res *analysis.Result, name string) []analysis.Pair {
	h, ok := res.HostIndex(name)
	if !ok {
		return nil
	}
	return res.HostPairs(h)
}

// markKind classifies a disconnect for the fleet timeline.
func markKind(p *analysis.Pair) int {
	switch {
	case p.Excluded == analysis.ExcludedOutage || strings.HasPrefix(p.DiagnosisID, analysis.KindSharedOutage):
		return charts.MarkOutage
	case p.DiagnosisID != "":
		return charts.MarkTimeout
	}
	return charts.MarkOther
}

// countedUptimes are the uptimes the statistics use (not outages,
// interleaved sessions or overnight gaps).
func countedUptimes(pairs []analysis.Pair, keep func(*analysis.Pair) bool) []float64 {
	var out []float64
	for i := range pairs {
		p := &pairs[i]
		if p.Uptime > 0 && p.Excluded == "" && (keep == nil || keep(p)) {
			out = append(out, p.Uptime.Seconds())
		}
	}
	return out
}

// dxBand is the shaded band of an idle-timeout diagnosis on a histogram:
// the range of the uptime cluster its observed interval sits in, labelled
// with the diagnosis' own figure and computers (not the cluster's, which
// may hold several sites). ok is false when no cluster holds it.
func dxBand(cs []analysis.Cluster, d *analysis.Diagnosis, computers, fleet int) (charts.HistBand, bool) {
	if d.Kind != analysis.KindIdleTimeout || d.ObservedSeconds == nil {
		return charts.HistBand{}, false
	}
	for _, c := range cs {
		if c.Kind == analysis.ClusterUptime && *d.ObservedSeconds >= c.LowSeconds && *d.ObservedSeconds <= c.HighSeconds {
			label := fmt.Sprintf("%s · %d of %d %s", dxFigure(d), computers, fleet, charts.Plural(fleet, "computer", "computers"))
			return charts.HistBand{Low: c.LowSeconds, High: c.HighSeconds, Label: label}, true
		}
	}
	return charts.HistBand{}, false
}

// pairEvents links the events page to the events of one interval: from
// its 26 (or its 25) to its closing 26, a minute either side.
func pairEvents(p analysis.Pair) string {
	from, to := p.Disconnect, p.Reconnect
	if !p.UpSince.IsZero() {
		from = p.UpSince
	}
	if to.IsZero() {
		to = p.Disconnect
	}
	return eventsAround(p.Computer, from.Add(-time.Minute), to.Add(time.Minute))
}

// eventsAround links the events page to one computer's events in [from, to).
func eventsAround(name string, from, to time.Time) string {
	return "/events?" + url.Values{"computer": {name}, "since": {from.UTC().Format(time.RFC3339)},
		"until": {to.UTC().Format(time.RFC3339)}, "order": {"asc"}}.Encode()
}

// fleetRows builds timeline rows for the named computers (in that order).
func fleetRows(res *analysis.Result, names []string, from, to time.Time) []charts.TimelineRow {
	rows := make([]charts.TimelineRow, 0, len(names))
	for _, n := range names {
		row := charts.TimelineRow{Name: n}
		for _, p := range pairsOf(res, n) {
			if (!from.IsZero() && p.Disconnect.Before(from)) || (!to.IsZero() && p.Disconnect.After(to)) {
				continue
			}
			row.Marks = append(row.Marks, charts.TimelineMark{T: p.Disconnect, Kind: markKind(&p)})
		}
		rows = append(rows, row)
	}
	return rows
}

// timelineLimit is how many computers a fleet timeline shows at most.
const timelineLimit = 60

// newDashboardCharts adds the charts and freshness to the dashboard; the
// charts' links carry rng, the fleet timeline marks the changes.
func (c *viewCache) newDashboardCharts(p *dashboardPage, snap *live.Snapshot, lastUpload *store.Upload, tz *time.Location, rng *pageRange, changes []charts.ChangeMark) {
	dc := c.dashboardCharts(snap, tz, rng, changes)
	p.UptimeChart, p.FleetChart, p.UptimeN = dc.uptime, dc.fleet, dc.uptimeN
	p.TimelineShown, p.TimelineTotal, p.TopRows = dc.shown, dc.total, dc.top
	p.LastUpload = lastUpload
	if !snap.Stats.Last.IsZero() {
		p.Age = fmtAge(time.Since(snap.Stats.Last))
	}
}

// dashboardCharts returns the dashboard's charts of the snapshot's
// analysis, rendering them on first use.
func (c *viewCache) dashboardCharts(snap *live.Snapshot, tz *time.Location, rng *pageRange, changes []charts.ChangeMark) *dashCharts {
	res := snap.Result
	rows := c.of(res)
	key := tz.String() + "|" + rng.Query()
	for _, ch := range changes {
		key += "|" + ch.Href + "@" + ch.T.String()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.res == res && c.dash != nil && c.dashKey == key {
		return c.dash
	}
	p := &dashCharts{}
	ups := res.CountedUptimes("")
	p.uptimeN = len(ups)
	var bands []charts.HistBand
	var bandDx []string
	for _, ru := range rollupDiagnoses(res.Report.Diagnoses, len(res.Hosts)) {
		if b, ok := dxBand(res.Report.Clusters, &ru.Lead, ru.Computers, len(res.Hosts)); ok {
			bands = append(bands, b)
			bandDx = append(bandDx, ru.Lead.ID)
		}
	}
	h := &charts.Histogram{ID: "uptime-hist", Title: "How long connections lived before Outlook lost them",
		Desc:   fmt.Sprintf("Histogram of %d uptimes (Outlook event 26 to the next 25) on a logarithmic time axis. Shaded: the idle-timeout diagnoses, labelled as on their cards; a bar in one links to its evidence. Dashed lines: default idle timeouts of common load balancers and firewalls.", len(ups)),
		XLabel: "Uptime before the disconnect (log scale)", YLabel: "Disconnects",
		Values: ups, Bands: bands, Marks: charts.DeviceMarks(), HighlightBands: true,
		BarHref: func(lo, hi float64) string {
			mid := math.Sqrt(lo * hi)
			for i, b := range bands {
				if mid >= b.Low*0.97 && mid <= b.High*1.03 {
					return withRange("/diagnoses/"+url.PathEscape(bandDx[i])+"?"+url.Values{"lo": {strconv.FormatFloat(math.Floor(lo), 'f', -1, 64)}, "hi": {strconv.FormatFloat(math.Ceil(hi), 'f', -1, 64)}}.Encode()+"#evid-h", rng)
				}
			}
			return intervalsHref("", lo, hi, rng) // outside any diagnosis: every interval of that length
		}}
	p.uptime = h.SVG()

	// Fleet timeline: every computer up to the limit, else the most affected.
	sel := slices.Clone(rows)
	if len(sel) > timelineLimit {
		sort.SliceStable(sel, func(i, j int) bool { return sel[i].Disconnects() > sel[j].Disconnects() })
		sel = sel[:timelineLimit]
	}
	names := make([]string, len(sel))
	for i, r := range sel {
		names[i] = r.Name()
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	p.shown, p.total = len(names), len(rows)
	if !snap.Stats.First.IsZero() && len(names) > 0 {
		ft := &charts.FleetTimeline{ID: "fleet-timeline", Title: "Disconnects by computer over time",
			Desc:  "Each mark is an Outlook disconnect (event 25) of one computer and links to its events. Shared outages show as shaded columns across many computers; idle timeouts as marks spread through the working day; recorded changes as green lines.",
			Start: snap.Stats.First, End: snap.Stats.Last.Add(time.Minute), Rows: fleetRows(res, names, time.Time{}, time.Time{}),
			Outages: res.Report.Outages, Changes: changes, TZ: tz, MarkHref: eventsAround,
			RowHref: func(name string) string { return withRange(charts.ComputerPath(name), rng) }}
		p.fleet = ft.SVG()
	}
	p.top = topRows(rows, 10)
	if c.res == res {
		c.dash, c.dashKey = p, key
	}
	return p
}

func topRows(rows []computerRow, n int) []computerRow {
	out := slices.Clone(rows)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Disconnects() > out[j].Disconnects() })
	return out[:min(n, len(out))]
}

// fmtAge says how long ago something was, roughly.
func fmtAge(d time.Duration) string {
	switch {
	case d < 0:
		return "in the future (check the computers' clocks)"
	case d < 2*time.Minute:
		return "just now"
	case d < 2*time.Hour:
		return fmt.Sprintf("%d minutes ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// computerRow is one line of the computers list.
type computerRow struct {
	*analysis.Host                  // in the Result's Hosts, read-only
	res            *analysis.Result // the Host's
	MedianUptime   float64          // seconds, 0 = none counted
}

// DiagnosisIDs are the diagnoses the computer is part of.
func (r computerRow) DiagnosisIDs() []string { return r.res.DiagnosisIDs(r.Host) }

// Href is the computer's page.
func (r computerRow) Href() string { return charts.ComputerPath(r.Name()) }

// sortCol is a sortable column header.
type sortCol struct {
	Label    string
	Href     string
	AriaSort string // "ascending", "descending" or ""
	Num      bool
}

// pager links pages of a list.
type pager struct {
	Page, Pages int
	Total       int
	First, Last int // 1-based rows shown
	PrevHref    string
	NextHref    string
}

func newPager(base url.Values, path string, page, pageSize, total int) pager {
	pages := max(1, (total+pageSize-1)/pageSize)
	page = max(1, min(page, pages))
	pg := pager{Page: page, Pages: pages, Total: total, First: (page-1)*pageSize + 1, Last: min(page*pageSize, total)}
	if total == 0 {
		pg.First = 0
	}
	link := func(n int) string {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		q.Set("page", strconv.Itoa(n))
		return path + "?" + q.Encode()
	}
	if page > 1 {
		pg.PrevHref = link(page - 1)
	}
	if page < pages {
		pg.NextHref = link(page + 1)
	}
	return pg
}

// computersPage lists computers, sortable and paginated.
type computersPage struct {
	Q       string
	Cols    []sortCol
	Rows    []computerRow
	Pager   pager
	Total   int
	Diagns  map[string]string // diagnosis id → short label
	Matched int
	Range   *pageRange
}

func (p *computersPage) title() (string, string) { return "Computers", "computers" }
func (p *computersPage) timeRange() *pageRange   { return p.Range }

// computerPage is one computer: its timeline, uptimes and disconnects.
type computerPage struct {
	Row         computerRow
	Diagnoses   []analysis.Diagnosis
	DayChart    template.HTML
	DaysShown   int
	DaysTotal   int
	UptimeChart template.HTML
	UptimeN     int
	Pairs       []analysis.Pair
	PairsTotal  int
	EventsHref  string
	Range       *pageRange
	Changes     []charts.ChangeMark // those on the timeline's days
}

func (p *computerPage) title() (string, string) { return p.Row.Name(), "computers" }
func (p *computerPage) timeRange() *pageRange   { return p.Range }

// newComputerPage builds the page of one computer, with the recorded
// changes marked on its timeline.
func newComputerPage(res *analysis.Result, row computerRow, tz *time.Location, rng *pageRange, changes []charts.ChangeMark) *computerPage {
	pairs := pairsOf(res, row.Name())
	p := &computerPage{Row: row, PairsTotal: len(pairs), Range: rng,
		EventsHref: withRange("/events?"+url.Values{"computer": {row.Name()}, "order": {"asc"}}.Encode(), rng)}
	for _, d := range res.Report.Diagnoses {
		if slices.Contains(row.DiagnosisIDs(), d.ID) {
			p.Diagnoses = append(p.Diagnoses, d)
		}
	}
	// Newest first in the table.
	for i := len(pairs) - 1; i >= 0 && len(p.Pairs) < 50; i-- {
		p.Pairs = append(p.Pairs, pairs[i])
	}
	// Day rows in the display zone, the most recent 31 days.
	if !row.First().IsZero() {
		first, last := row.First().In(tz), row.Last().In(tz)
		d0 := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, tz)
		var days []time.Time
		for d := d0; !d.After(last); d = d.AddDate(0, 0, 1) {
			days = append(days, d)
		}
		p.DaysTotal = len(days)
		if len(days) > 31 {
			days = days[len(days)-31:]
		}
		p.DaysShown = len(days)
		dt := &charts.DayTimeline{ID: "day-timeline", Title: "Connected and disconnected periods of " + row.Name(),
			Desc: "One row per day. Green: Outlook connected (from event 26 to the next 25). Red: disconnected (25 to 26). Each dark line is a disconnect.",
			Days: days, TZ: tz,
			DayHref: func(from, to time.Time) string { return eventsAround(row.Name(), from, to) },
			SegmentHref: func(from, to time.Time) string {
				return eventsAround(row.Name(), from.Add(-time.Minute), to.Add(time.Minute))
			}}
		for _, c := range changes {
			if !c.T.Before(days[0]) && c.T.Before(days[len(days)-1].AddDate(0, 0, 1)) {
				dt.Changes = append(dt.Changes, c)
				p.Changes = append(p.Changes, c)
			}
		}
		for i, pr := range pairs {
			dt.Disconnects = append(dt.Disconnects, pr.Disconnect)
			if !pr.UpSince.IsZero() {
				dt.Segments = append(dt.Segments, charts.DaySegment{From: pr.UpSince, To: pr.Disconnect, Kind: "up",
					Tip: fmt.Sprintf("connected %s – %s (%s)", pr.UpSince.In(tz).Format("15:04:05"), pr.Disconnect.In(tz).Format("15:04:05"), charts.Seconds(pr.Uptime.Seconds()))})
			}
			if !pr.Open() {
				dt.Segments = append(dt.Segments, charts.DaySegment{From: pr.Disconnect, To: pr.Reconnect, Kind: "down",
					Tip: fmt.Sprintf("disconnected %s – %s (%s)", pr.Disconnect.In(tz).Format("15:04:05"), pr.Reconnect.In(tz).Format("15:04:05"), charts.Seconds(pr.Downtime.Seconds()))})
			} else {
				end := pr.Disconnect.Add(15 * time.Minute)
				if i+1 < len(pairs) && pairs[i+1].Disconnect.Before(end) {
					end = pairs[i+1].Disconnect
				}
				dt.Segments = append(dt.Segments, charts.DaySegment{From: pr.Disconnect, To: end, Kind: "open",
					Tip: fmt.Sprintf("disconnected at %s, no reconnect (26) logged", pr.Disconnect.In(tz).Format("15:04:05"))})
			}
		}
		p.DayChart = dt.SVG()
	}
	ups := countedUptimes(pairs, nil)
	p.UptimeN = len(ups)
	marks := charts.DeviceMarks()
	for _, d := range p.Diagnoses {
		if d.ObservedSeconds != nil {
			marks = append(marks, charts.HistMark{Seconds: *d.ObservedSeconds, Label: "fleet " + charts.ShortSeconds(*d.ObservedSeconds), Class: "mark-estimate"})
		}
	}
	h := &charts.Histogram{ID: "host-uptime-hist", Title: "Uptimes of " + row.Name(),
		Desc:   fmt.Sprintf("%d uptimes of this computer on a logarithmic axis, with device default timeouts dashed and the fleet's diagnosed interval marked.", len(ups)),
		XLabel: "Uptime before the disconnect (log scale)", YLabel: "Disconnects", Values: ups, Marks: marks, Height: 300,
		BarHref: func(lo, hi float64) string { return intervalsHref(row.Name(), lo, hi, rng) }}
	p.UptimeChart = h.SVG()
	return p
}

// diagnosisCharts adds the histogram (idle timeout) or the outage window
// timeline (shared outage) to a diagnosis page.
func (c *viewCache) diagnosisCharts(p *diagnosisPage, snap *live.Snapshot, tz *time.Location, changes []charts.ChangeMark) {
	res := snap.Result
	d := p.D
	for _, r := range d.Recommendations {
		if strings.HasPrefix(r, "Confirm") || strings.HasPrefix(r, "What would change") {
			p.Confirm = append(p.Confirm, r)
		} else {
			p.Fix = append(p.Fix, r)
		}
	}
	for _, c := range d.Computers {
		p.ComputerLinks = append(p.ComputerLinks, computerLink{Name: c, Href: withRange(charts.ComputerPath(c), p.Range)})
	}
	if d.Kind == analysis.KindIdleTimeout {
		ups := res.CountedUptimes(d.ID)
		var bands []charts.HistBand
		if b, ok := dxBand(res.Report.Clusters, d, len(d.Computers), len(res.Hosts)); ok {
			bands = append(bands, b)
		}
		marks := charts.DeviceMarks()
		if v, bound, ok := dxValue(d); ok {
			label := "estimate " + dxFigure(d)
			if bound {
				label = "bound: " + dxFigure(d)
			}
			marks = append(marks, charts.HistMark{Seconds: v, Label: label, Class: "mark-estimate"})
		}
		h := &charts.Histogram{ID: "dx-hist", Title: "Uptimes behind this diagnosis",
			Desc:   fmt.Sprintf("%d uptimes of the %d computers on a logarithmic axis; the shaded band is the cluster, dashed lines are device defaults, the solid line is the estimate.", len(ups), len(d.Computers)),
			XLabel: "Uptime before the disconnect (log scale)", YLabel: "Disconnects", Values: ups, Bands: bands, Marks: marks, HighlightBands: true,
			BarHref: func(lo, hi float64) string {
				return withRange("/diagnoses/"+url.PathEscape(d.ID)+"?"+url.Values{"lo": {strconv.FormatFloat(math.Floor(lo), 'f', -1, 64)}, "hi": {strconv.FormatFloat(math.Ceil(hi), 'f', -1, 64)}}.Encode()+"#evid-h", p.Range)
			}}
		p.Chart = h.SVG()
		return
	}
	if d.Start != nil && d.End != nil {
		from, to := d.Start.Add(-time.Hour), d.End.Add(time.Hour)
		names := slices.Clone(d.Computers)
		if len(names) > timelineLimit {
			names = names[:timelineLimit]
		}
		var outs []analysis.Outage
		for _, o := range res.Report.Outages {
			if o.Start.Equal(*d.Start) {
				outs = append(outs, o)
			}
		}
		ft := &charts.FleetTimeline{ID: "dx-timeline", Title: "Disconnects around the outage",
			Desc:  "Disconnects of the computers involved, from one hour before the outage to one hour after it; the shaded column is the outage window.",
			Start: from, End: to, Rows: fleetRows(res, names, from, to), Outages: outs, Changes: changes, TZ: tz, MarkHref: eventsAround,
			RowHref: func(name string) string { return withRange(charts.ComputerPath(name), p.Range) }}
		p.Chart = ft.SVG()
	}
}

type computerLink struct{ Name, Href string }

// eventsPage browses the stored events with filters.
type eventsPage struct {
	Computer, EventID, Since, Until, Upload string
	Search                                  string
	Order                                   string // "desc" (newest first) or "asc"
	Events                                  []eventRow
	NewerHref, OlderHref, ResetHref         string
	OrderHref                               string
	Err                                     string
	Limit                                   int
	Range                                   *pageRange
}

func (p *eventsPage) title() (string, string) { return "Events", "events" }
func (p *eventsPage) timeRange() *pageRange   { return p.Range }

type eventRow struct {
	store.StoredEvent
	ComputerHref string
	Label        string
}

// apiPage documents the REST API for people.
type apiPage struct {
	Base string
}

func (p *apiPage) title() (string, string) { return "API", "api" }

// diagnosisLabel names a diagnosis in a few words.
func diagnosisLabel(d *analysis.Diagnosis) string {
	if d.Kind == analysis.KindIdleTimeout {
		return dxTitle(d) // the one spelling (figures.go)
	}
	if d.Start != nil {
		return "Shared outage " + d.Start.UTC().Format("01-02 15:04Z")
	}
	return "Shared outage"
}
