// Package charts draws idletrace's charts as inline SVG: the uptime
// histogram, the fleet timeline and a computer's day timeline. It is pure:
// values in, escaped markup out, no I/O and no state.
package charts

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"idletrace/analysis"
)

// Charts are inline SVG built here, server-side: no script, no chart
// library, nothing fetched from elsewhere, and they print. Every piece of
// text that reaches the SVG goes through svgDoc.text / svgDoc.tip /
// svgDoc.link, which escape it: computer names come from event logs, which
// an attacker can write.

// svgDoc accumulates one SVG element.
type svgDoc struct {
	b strings.Builder
}

func svgEsc(s string) string { return html.EscapeString(s) }

// f formats a coordinate compactly.
func svgNum(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func (d *svgDoc) open(id string, w, h int, title, desc string) {
	fmt.Fprintf(&d.b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" preserveAspectRatio="xMinYMin meet">`, w, h, svgEsc(id), svgEsc(id))
	fmt.Fprintf(&d.b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, svgEsc(id), svgEsc(title), svgEsc(id), svgEsc(desc))
}

func (d *svgDoc) close() template.HTML {
	d.b.WriteString(`</svg>`)
	// Every string in the document was escaped on its way in.
	return template.HTML(d.b.String())
}

// text writes escaped text. anchor is start, middle or end.
func (d *svgDoc) text(x, y float64, anchor, class, s string) {
	fmt.Fprintf(&d.b, `<text x="%s" y="%s" text-anchor="%s" class="%s">%s</text>`, svgNum(x), svgNum(y), anchor, class, svgEsc(s))
}

// vtext writes text rotated to read bottom-up, anchored at (x, y).
func (d *svgDoc) vtext(x, y float64, anchor, class, s string) {
	fmt.Fprintf(&d.b, `<text transform="translate(%s %s) rotate(-90)" text-anchor="%s" class="%s">%s</text>`, svgNum(x), svgNum(y), anchor, class, svgEsc(s))
}

// rect writes a rectangle; a non-empty tip becomes its tooltip.
func (d *svgDoc) rect(x, y, w, h float64, class, tip string) {
	if w <= 0 || h <= 0 {
		return
	}
	if tip == "" {
		fmt.Fprintf(&d.b, `<rect x="%s" y="%s" width="%s" height="%s" class="%s"/>`, svgNum(x), svgNum(y), svgNum(w), svgNum(h), class)
		return
	}
	fmt.Fprintf(&d.b, `<rect x="%s" y="%s" width="%s" height="%s" class="%s"><title>%s</title></rect>`, svgNum(x), svgNum(y), svgNum(w), svgNum(h), class, svgEsc(tip))
}

func (d *svgDoc) line(x1, y1, x2, y2 float64, class string) {
	fmt.Fprintf(&d.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" class="%s"/>`, svgNum(x1), svgNum(y1), svgNum(x2), svgNum(y2), class)
}

// link opens an <a> to a same-site path; close it with endLink.
func (d *svgDoc) link(href, label string) {
	fmt.Fprintf(&d.b, `<a href="%s" aria-label="%s">`, svgEsc(href), svgEsc(label))
}

func (d *svgDoc) endLink() { d.b.WriteString(`</a>`) }

// legend draws swatches with labels from (x, y) to the right.
func (d *svgDoc) legend(x, y float64, items [][2]string) {
	for _, it := range items {
		class, label := it[0], it[1]
		if strings.HasPrefix(class, "line:") {
			d.line(x, y-4, x+16, y-4, strings.TrimPrefix(class, "line:"))
		} else {
			d.rect(x, y-10, 14, 10, class, "")
		}
		d.text(x+20, y, "start", "legend", label)
		x += 20 + 6.2*float64(len([]rune(label))) + 18
	}
}

// ComputerPath is the page of one computer; the name is path-escaped.
func ComputerPath(name string) string { return "/computers/" + url.PathEscape(name) }

// ShortSeconds labels a duration compactly: "45 s", "15 min", "2.5 h".
func ShortSeconds(s float64) string {
	switch {
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	case s < 3600 || (s < 7200 && math.Mod(s, 3600) != 0):
		m := s / 60
		if math.Abs(m-math.Round(m)) < 0.05 {
			return fmt.Sprintf("%.0f min", m)
		}
		return fmt.Sprintf("%.0f s", s)
	default:
		h := s / 3600
		if math.Abs(h-math.Round(h)) < 0.05 {
			return fmt.Sprintf("%.0f h", h)
		}
		return fmt.Sprintf("%.1f h", h)
	}
}

// HistBand is a shaded range of a histogram (a cluster).
type HistBand struct {
	Low, High float64
	Label     string
}

// HistMark is a vertical marker (a device default, an estimate).
type HistMark struct {
	Seconds float64
	Label   string
	Class   string
}

// Histogram is an uptime histogram on a log time axis.
type Histogram struct {
	ID, Title, Desc string
	XLabel, YLabel  string
	Values          []float64 // seconds
	Bands           []HistBand
	Marks           []HistMark // drawn as dashed lines, labelled on top
	Width, Height   int
	HighlightBands  bool // colour bars inside a band
	// BarHref, when set, makes each bar a link to the intervals behind it
	// (uptimes in [lo, hi) seconds): the drill-down.
	BarHref func(lo, hi float64) string
}

const (
	histLo            = 10.0    // s
	histHi            = 36000.0 // 10 h
	histBinsPerDecade = 30
)

// SVG renders the histogram.
func (h *Histogram) SVG() template.HTML {
	w, ht := h.Width, h.Height
	if w == 0 {
		w = 960
	}
	if ht == 0 {
		ht = 340
	}
	const ml, mr, mt, mb = 64.0, 16.0, 84.0, 70.0
	pw, ph := float64(w)-ml-mr, float64(ht)-mt-mb
	lmin, lmax := math.Log10(histLo), math.Log10(histHi)
	x := func(sec float64) float64 {
		sec = math.Min(math.Max(sec, histLo), histHi)
		return ml + (math.Log10(sec)-lmin)/(lmax-lmin)*pw
	}
	nb := int(math.Ceil((lmax - lmin) * histBinsPerDecade))
	counts := make([]int, nb)
	for _, v := range h.Values {
		if v <= 0 || math.IsNaN(v) {
			continue
		}
		i := int((math.Log10(math.Min(math.Max(v, histLo), histHi*0.9999)) - lmin) * histBinsPerDecade)
		counts[max(0, min(nb-1, i))]++
	}
	maxC := 0
	for _, c := range counts {
		maxC = max(maxC, c)
	}
	yMax, yStep := niceScale(maxC)
	y := func(c float64) float64 { return mt + ph - c/float64(yMax)*ph }

	var d svgDoc
	d.open(h.ID, w, ht, h.Title, h.Desc)
	d.rect(ml, mt, pw, ph, "plot-bg", "")
	// Bands (clusters) behind the bars.
	for i, b := range h.Bands {
		x1, x2 := x(b.Low), x(b.High)
		if x2-x1 < 6 {
			c := (x1 + x2) / 2
			x1, x2 = c-3, c+3
		}
		d.rect(x1, mt, x2-x1, ph, "band", b.Label)
		// Labels inside the plot, left of the band, one line each.
		if x1-ml > 200 {
			d.text(x1-5, mt+16+float64(i)*16, "end", "band-label", b.Label)
		} else {
			d.text(x2+5, mt+16+float64(i)*16, "start", "band-label", b.Label)
		}
	}
	// Y grid and labels.
	for c := 0; c <= yMax; c += yStep {
		yy := y(float64(c))
		d.line(ml, yy, ml+pw, yy, "grid")
		d.text(ml-6, yy+4, "end", "tick", strconv.Itoa(c))
	}
	// X ticks.
	for _, t := range []float64{10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 18000, 36000} {
		xx := x(t)
		d.line(xx, mt+ph, xx, mt+ph+5, "axis")
		d.text(xx, mt+ph+18, "middle", "tick", ShortSeconds(t))
	}
	// Bars.
	for i, c := range counts {
		if c == 0 {
			continue
		}
		lo := math.Pow(10, lmin+float64(i)/histBinsPerDecade)
		hi := math.Pow(10, lmin+float64(i+1)/histBinsPerDecade)
		class := "bar"
		if h.HighlightBands {
			mid := math.Sqrt(lo * hi)
			for _, b := range h.Bands {
				if mid >= b.Low*0.97 && mid <= b.High*1.03 {
					class = "bar bar-hit"
				}
			}
		}
		x1, x2 := x(lo), x(hi)
		tip := fmt.Sprintf("%d %s between %s and %s", c, Plural(c, "interval", "intervals"), Seconds(lo), Seconds(hi))
		if h.BarHref != nil {
			d.link(h.BarHref(lo, hi), tip)
		}
		d.rect(x1+0.5, y(float64(c)), math.Max(1, x2-x1-1), y(0)-y(float64(c)), class, tip)
		if h.BarHref != nil {
			d.endLink()
		}
	}
	// Marks: dashed lines, labels on top; close labels are merged.
	marks := append([]HistMark(nil), h.Marks...)
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].Seconds < marks[j].Seconds })
	type lab struct {
		x     float64
		text  string
		class string
	}
	var labels []lab
	for _, m := range marks {
		xx := x(m.Seconds)
		cls := m.Class
		if cls == "" {
			cls = "mark"
		}
		d.line(xx, mt, xx, mt+ph, cls)
		if cls != "mark" {
			// An estimate is labelled inside the plot, beside its line.
			d.text(xx+5, mt+ph-8, "start", "mark-label "+cls+"-label", m.Label)
			continue
		}
		if n := len(labels); n > 0 && xx-labels[n-1].x < 12 {
			labels[n-1].text = mergeLabels(labels[n-1].text, m.Label)
			continue
		}
		labels = append(labels, lab{xx, m.Label, cls})
	}
	for _, l := range labels {
		d.vtext(l.x+4, mt-4, "start", "mark-label "+l.class+"-label", l.text)
	}
	d.line(ml, mt+ph, ml+pw, mt+ph, "axis")
	d.line(ml, mt, ml, mt+ph, "axis")
	d.text(ml+pw/2, mt+ph+36, "middle", "axis-label", h.XLabel)
	d.vtext(16, mt+ph/2, "middle", "axis-label", h.YLabel)
	items := [][2]string{{"bar", "disconnects"}}
	if h.HighlightBands && len(h.Bands) > 0 {
		items = append(items, [2]string{"bar-hit", "in a cluster"}, [2]string{"band", "cluster range"})
	}
	items = append(items, [2]string{"line:mark", "default idle timeout of a common device"})
	for _, m := range h.Marks {
		if m.Class == "mark-estimate" {
			items = append(items, [2]string{"line:mark-estimate", "estimate"})
			break
		}
	}
	d.legend(ml, mt+ph+60, items)
	return d.close()
}

// mergeLabels joins the labels of close marks: "10 min" and "11 min" make
// "10/11 min".
func mergeLabels(a, b string) string {
	ai, bi := strings.LastIndexByte(a, ' '), strings.LastIndexByte(b, ' ')
	if ai > 0 && bi > 0 && a[ai:] == b[bi:] {
		return a[:ai] + "/" + b
	}
	return a + "/" + b
}

// niceScale picks an axis maximum ≥ n and a step giving about 4–6 grid lines.
func niceScale(n int) (maxV, step int) {
	if n <= 4 {
		return max(n, 1), 1
	}
	raw := float64(n) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if s := m * mag; s >= raw {
			step = max(1, int(s))
			break
		}
	}
	maxV = (n + step - 1) / step * step
	return maxV, step
}

// Plural picks the word for n things.
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// DeviceMarks marks the default idle timeouts of the devices of
// analysis.Devices (DOMAIN.md §2), one mark per distinct value, in
// ascending order: the same table the diagnoses match against.
func DeviceMarks() []HistMark {
	secs := make([]float64, 0, len(analysis.Devices))
	for _, d := range analysis.Devices {
		secs = append(secs, d.Seconds)
	}
	slices.Sort(secs)
	secs = slices.Compact(secs)
	ms := make([]HistMark, 0, len(secs))
	for _, s := range secs {
		ms = append(ms, HistMark{Seconds: s, Label: ShortSeconds(s)})
	}
	return ms
}

// timeAxis maps times onto [x0, x0+w] and picks ticks in the display zone.
type timeAxis struct {
	start, end time.Time
	x0, w      float64
	tz         *time.Location
}

// at is the time at x (the inverse of x).
func (a timeAxis) at(x float64) time.Time {
	if a.w <= 0 {
		return a.start
	}
	return a.start.Add(time.Duration((x - a.x0) / a.w * float64(a.end.Sub(a.start))))
}

func (a timeAxis) x(t time.Time) float64 {
	span := a.end.Sub(a.start).Seconds()
	if span <= 0 {
		return a.x0
	}
	return a.x0 + t.Sub(a.start).Seconds()/span*a.w
}

// ticks returns tick times and their labels: at most about maxTicks of
// them, aligned to local hours or days.
func (a timeAxis) ticks(maxTicks int) ([]time.Time, []string) {
	span := a.end.Sub(a.start)
	steps := []time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= time.Duration(maxTicks) {
			step = s
			break
		}
	}
	var ts []time.Time
	var ls []string
	l := a.start.In(a.tz)
	t := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, a.tz) // steps count from midnight
	for ; !t.After(a.end); t = advance(t, step) {
		if t.Before(a.start) {
			continue
		}
		ts = append(ts, t)
		switch {
		case step >= 24*time.Hour:
			ls = append(ls, t.Format("Mon 01-02"))
		case t.Hour() == 0:
			ls = append(ls, t.Format("Mon 01-02"))
		default:
			ls = append(ls, t.Format("15:04"))
		}
	}
	return ts, ls
}

// advance steps local time, by calendar days for day steps (DST-safe).
func advance(t time.Time, step time.Duration) time.Time {
	if step >= 24*time.Hour && step%(24*time.Hour) == 0 {
		return t.AddDate(0, 0, int(step/(24*time.Hour)))
	}
	return t.Add(step)
}

// TimelineRow is one computer of the fleet timeline.
type TimelineRow struct {
	Name  string
	Marks []TimelineMark
}

// TimelineMark is one disconnect on a fleet timeline row.
type TimelineMark struct {
	T    time.Time
	Kind int // MarkOther, MarkTimeout, MarkOutage
}

// The kinds of a TimelineMark, weakest first (a merged mark shows the
// strongest).
const (
	MarkOther = iota
	MarkTimeout
	MarkOutage
)

// ChangeMark is a recorded change (a device's timeout raised, …) on a
// time axis: a labelled line across the chart, a link to the change.
type ChangeMark struct {
	T     time.Time
	Label string // what was changed, shown as the mark's tooltip
	Href  string // the change's page ("" = no link)
}

// FleetTimeline shows disconnects by computer over time, with shared
// outages as shaded columns across every row and recorded changes as
// lines.
type FleetTimeline struct {
	ID, Title, Desc string
	Start, End      time.Time
	Rows            []TimelineRow
	Outages         []analysis.Outage
	Changes         []ChangeMark // drawn when inside [Start, End]
	TZ              *time.Location
	Width           int
	// MarkHref, when set, makes each mark a link to the events of the row's
	// computer in [from, to): the drill-down.
	MarkHref func(name string, from, to time.Time) string
	// RowHref links a row's label (default ComputerPath).
	RowHref func(name string) string
}

// changeMark draws a change as a line from y1 to y2 at x, labelled above.
func (d *svgDoc) changeMark(x, y1, y2 float64, c ChangeMark, tz *time.Location) {
	tip := "Change " + c.T.In(tz).Format("Mon 2006-01-02 15:04 MST") + ": " + c.Label
	if c.Href != "" {
		d.link(c.Href, tip)
	}
	fmt.Fprintf(&d.b, `<g class="change-mark"><title>%s</title>`, svgEsc(tip))
	d.line(x, y1, x, y2, "change-line")
	d.rect(x-5, y1-11, 10, 10, "change-flag", "")
	d.b.WriteString(`</g>`)
	if c.Href != "" {
		d.endLink()
	}
}

// SVG renders the timeline.
func (ft *FleetTimeline) SVG() template.HTML {
	w := ft.Width
	if w == 0 {
		w = 960
	}
	const ml, mr, mt, rowH = 190.0, 16.0, 30.0, 16.0
	mb := 62.0
	pw := float64(w) - ml - mr
	ph := rowH * float64(max(1, len(ft.Rows)))
	ht := int(mt + ph + mb)
	ax := timeAxis{start: ft.Start, end: ft.End, x0: ml, w: pw, tz: ft.TZ}
	var d svgDoc
	d.open(ft.ID, w, ht, ft.Title, ft.Desc)
	d.rect(ml, mt, pw, ph, "plot-bg", "")
	ts, ls := ax.ticks(10)
	for i, t := range ts {
		xx := ax.x(t)
		d.line(xx, mt, xx, mt+ph+5, "grid")
		d.text(xx, mt+ph+18, "middle", "tick", ls[i])
	}
	for _, o := range ft.Outages {
		x1, x2 := ax.x(o.Start), ax.x(o.End)
		if x2-x1 < 4 {
			c := (x1 + x2) / 2
			x1, x2 = c-2, c+2
		}
		tip := fmt.Sprintf("Shared outage %s – %s: %d %s", o.Start.In(ft.TZ).Format("Mon 01-02 15:04"), o.End.In(ft.TZ).Format("15:04"), len(o.Computers), Plural(len(o.Computers), "computer", "computers"))
		d.rect(x1, mt-8, x2-x1, ph+8, "outage-band", tip)
		d.text(x1, mt-12, "middle", "outage-label", "outage "+o.Start.In(ft.TZ).Format("15:04"))
	}
	// Marks, merged per 2-pixel bucket, the strongest kind winning.
	const bucket = 2.0
	nb := int(pw/bucket) + 1
	cells := make([]int8, nb)
	for ri, row := range ft.Rows {
		yy := mt + float64(ri)*rowH
		if ri%2 == 1 {
			d.rect(ml, yy, pw, rowH, "row-alt", "")
		}
		for i := range cells {
			cells[i] = -1
		}
		for _, m := range row.Marks {
			i := int((ax.x(m.T) - ml) / bucket)
			if i < 0 || i >= nb {
				continue
			}
			cells[i] = max(cells[i], int8(m.Kind))
		}
		for i, c := range cells {
			if c < 0 {
				continue
			}
			class := [...]string{"tick-other", "tick-timeout", "tick-outage"}[c]
			if ft.MarkHref == nil {
				d.rect(ml+float64(i)*bucket, yy+3, bucket, rowH-6, class, "")
				continue
			}
			from, to := ax.at(ml+float64(i)*bucket), ax.at(ml+float64(i+1)*bucket)
			from, to = from.Add(-time.Minute).Truncate(time.Minute), to.Add(2*time.Minute).Truncate(time.Minute)
			d.link(ft.MarkHref(row.Name, from, to), "Events of "+row.Name+" around "+from.In(ft.TZ).Format("01-02 15:04"))
			d.rect(ml+float64(i)*bucket, yy+3, bucket, rowH-6, class, "")
			d.endLink()
		}
		label := row.Name
		if r := []rune(label); len(r) > 26 {
			label = string(r[:25]) + "…"
		}
		rowHref := ComputerPath(row.Name)
		if ft.RowHref != nil {
			rowHref = ft.RowHref(row.Name)
		}
		d.link(rowHref, "Computer "+row.Name)
		d.text(ml-6, yy+rowH-4, "end", "row-label", label)
		d.endLink()
	}
	legend := [][2]string{{"tick-timeout", "disconnect: idle timeout"}, {"tick-outage", "disconnect: shared outage"}, {"tick-other", "other disconnect"}, {"outage-band", "shared outage window"}}
	shown := 0
	for _, c := range ft.Changes {
		if c.T.Before(ft.Start) || c.T.After(ft.End) {
			continue
		}
		d.changeMark(ax.x(c.T), mt-2, mt+ph, c, ft.TZ)
		shown++
	}
	if shown > 0 {
		legend = append(legend, [2]string{"change-flag", "recorded change"})
	}
	d.line(ml, mt+ph, ml+pw, mt+ph, "axis")
	d.text(ml+pw/2, mt+ph+36, "middle", "axis-label", "Time ("+ft.TZ.String()+")")
	d.legend(ml, mt+ph+56, legend)
	return d.close()
}

// DaySegment is a connected or disconnected period of one computer.
type DaySegment struct {
	From, To time.Time
	Kind     string // "up", "down", "open"
	Tip      string
}

// DayTimeline shows one computer's connected and disconnected periods, one
// row per local day.
type DayTimeline struct {
	ID, Title, Desc string
	Days            []time.Time // local midnights, in order
	Segments        []DaySegment
	Disconnects     []time.Time
	Changes         []ChangeMark // drawn on their day's row
	TZ              *time.Location
	Width           int
	// DayHref, when set, links each day's label to the events of
	// [day, next day): the drill-down.
	DayHref func(from, to time.Time) string
	// SegmentHref, when set, links each period to the events of [from, to).
	SegmentHref func(from, to time.Time) string
}

// SVG renders the day timeline.
func (dt *DayTimeline) SVG() template.HTML {
	w := dt.Width
	if w == 0 {
		w = 960
	}
	const ml, mr, mt, rowH = 110.0, 16.0, 14.0, 22.0
	pw := float64(w) - ml - mr
	ph := rowH * float64(max(1, len(dt.Days)))
	ht := int(mt + ph + 60)
	var d svgDoc
	d.open(dt.ID, w, ht, dt.Title, dt.Desc)
	d.rect(ml, mt, pw, ph, "plot-bg", "")
	hx := func(h float64) float64 { return ml + h/24*pw }
	changes := 0
	for h := 0; h <= 24; h += 2 {
		d.line(hx(float64(h)), mt, hx(float64(h)), mt+ph+5, "grid")
		d.text(hx(float64(h)), mt+ph+18, "middle", "tick", fmt.Sprintf("%02d:00", h))
	}
	for ri, day := range dt.Days {
		yy := mt + float64(ri)*rowH
		next := day.AddDate(0, 0, 1)
		dayLen := next.Sub(day).Seconds()
		xAt := func(t time.Time) float64 { return ml + t.Sub(day).Seconds()/dayLen*pw }
		if dt.DayHref != nil {
			d.link(dt.DayHref(day, next), "Events of "+day.Format("Mon 2006-01-02"))
		}
		d.text(ml-8, yy+rowH-7, "end", "row-label", day.Format("Mon 2006-01-02"))
		if dt.DayHref != nil {
			d.endLink()
		}
		for _, s := range dt.Segments {
			if !s.To.After(day) || !s.From.Before(next) {
				continue
			}
			from, to := s.From, s.To
			if from.Before(day) {
				from = day
			}
			if to.After(next) {
				to = next
			}
			x1, x2 := xAt(from), xAt(to)
			if x2-x1 < 1.5 {
				x2 = x1 + 1.5
			}
			if dt.SegmentHref != nil {
				d.link(dt.SegmentHref(s.From, s.To), s.Tip)
			}
			d.rect(x1, yy+4, x2-x1, rowH-8, "seg-"+s.Kind, s.Tip)
			if dt.SegmentHref != nil {
				d.endLink()
			}
		}
		for _, t := range dt.Disconnects {
			if t.Before(day) || !t.Before(next) {
				continue
			}
			xx := xAt(t)
			d.line(xx, yy+1, xx, yy+rowH-1, "seg-mark")
		}
		for _, c := range dt.Changes {
			if c.T.Before(day) || !c.T.Before(next) {
				continue
			}
			d.changeMark(xAt(c.T), yy+11, yy+rowH, c, dt.TZ)
			changes++
		}
	}
	legend := [][2]string{{"seg-up", "connected (26 → 25)"}, {"seg-down", "disconnected (25 → 26)"}, {"seg-open", "disconnected, no 26 logged"}, {"line:seg-mark", "disconnect (event 25)"}}
	if changes > 0 {
		legend = append(legend, [2]string{"change-flag", "recorded change"})
	}
	d.line(ml, mt+ph, ml+pw, mt+ph, "axis")
	d.text(ml+pw/2, mt+ph+36, "middle", "axis-label", "Time of day ("+dt.TZ.String()+")")
	d.legend(ml, mt+ph+54, legend)
	return d.close()
}

// Seconds formats a duration in seconds for people: "900 s (15 min)",
// by the one rule every figure follows (analysis.FormatSeconds).
func Seconds(sec float64) string { return analysis.FormatSeconds(sec) }
