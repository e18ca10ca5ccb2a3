package web

import (
	"context"
	"embed"
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"idletrace/analysis"
	"idletrace/store"
)

// The evidence a change request carries: the intervals behind a diagnosis
// as CSV, its chart as SVG, and the report — one self-contained HTML file
// (inline CSS and SVG, no outside reference) that prints on A4.

//go:embed templates/standalone/*.html
var standaloneFS embed.FS

// reportDoc is the data of the report file.
type reportDoc struct {
	*diagnosisPage
	CSS          template.CSS
	Generated    time.Time
	Zone         string
	DataFirst    time.Time
	DataLast     time.Time
	Computers    int
	Version      string
	EvidenceRows []analysis.Pair // the first rows (the CSV has all)
}

// parseStandalone parses the report template with the page helpers.
func parseStandalone(funcs template.FuncMap) (*template.Template, error) {
	return template.New("report.html").Funcs(funcs).ParseFS(standaloneFS, "templates/standalone/report.html")
}

// reportEvidenceRows is how many intervals the report lists (≤ 3 A4 pages).
const reportEvidenceRows = 12

func (s *Server) handleDiagnosisReport(w http.ResponseWriter, r *http.Request) {
	d, res, snap, rng, ok := s.diagnosisFor(w, r)
	if !ok {
		return
	}
	p := newDiagnosisPage(res, d, rng, nil)
	win := windowSnapshot(snap, res, rng)
	loc := s.zoneOf(r)
	zt, err := s.templatesFor(loc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.views.diagnosisCharts(p, win, loc, s.changeMarks(r.Context()))
	p.Changes = s.changeVerdicts(r.Context(), d, loc)
	css, _ := staticFS.ReadFile("static/style.css")
	doc := &reportDoc{diagnosisPage: p, CSS: template.CSS(css), Generated: time.Now(), Zone: loc.String(),
		DataFirst: win.Stats.First, DataLast: win.Stats.Last, Computers: len(res.Hosts)}
	if rng.Active() {
		doc.DataFirst, doc.DataLast = rng.Since, rng.Until
	}
	all := evidenceOf(res, d)
	doc.EvidenceRows = all[:min(len(all), reportEvidenceRows)]
	// The chart's links point into the server: the file stands alone.
	p.Chart = template.HTML(stripLinks(string(p.Chart)))
	var buf strings.Builder
	if err := zt.report.Execute(&buf, doc); err != nil {
		s.log.Error("render report", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	name := fmt.Sprintf("idletrace-%s-%s.html", d.ID, doc.Generated.UTC().Format("20060102-1504"))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Write([]byte(buf.String()))
}

// stripLinks removes the <a …> wrappers of a chart's drill-down links,
// keeping what they wrap.
func stripLinks(svg string) string {
	var b strings.Builder
	for {
		i := strings.Index(svg, "<a ")
		if i < 0 {
			break
		}
		j := strings.IndexByte(svg[i:], '>')
		if j < 0 {
			break
		}
		b.WriteString(svg[:i])
		svg = svg[i+j+1:]
	}
	b.WriteString(svg)
	return strings.ReplaceAll(b.String(), "</a>", "")
}

// handleDiagnosisChart serves the diagnosis' chart as an SVG file, styled
// inline so that it renders on its own.
func (s *Server) handleDiagnosisChart(w http.ResponseWriter, r *http.Request) {
	d, res, snap, rng, ok := s.diagnosisFor(w, r)
	if !ok {
		return
	}
	p := newDiagnosisPage(res, d, rng, nil)
	s.views.diagnosisCharts(p, windowSnapshot(snap, res, rng), s.zoneOf(r), s.changeMarks(r.Context()))
	if p.Chart == "" {
		s.writeError(w, r, errNotFound("this diagnosis has no chart"))
		return
	}
	svg := stripLinks(string(p.Chart))
	css, _ := staticFS.ReadFile("static/style.css")
	// The chart rules, with the page's colour variables resolved by the
	// :root block they come with.
	style := "<style>" + string(css) + " svg.chart{min-width:0;background:#fff}</style>"
	if i := strings.IndexByte(svg, '>'); i > 0 {
		svg = svg[:i+1] + style + svg[i+1:]
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Disposition", `attachment; filename="idletrace-`+d.ID+`.svg"`)
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + svg))
}

// handleDiagnosisEvidenceCSV serves every interval behind a diagnosis.
func (s *Server) handleDiagnosisEvidenceCSV(w http.ResponseWriter, r *http.Request) {
	d, res, _, _, ok := s.diagnosisFor(w, r)
	if !ok {
		return
	}
	pairs := evidenceOf(res, d)
	uploads, err := s.uploadsOf(r.Context(), d.Computers)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="idletrace-`+d.ID+`-evidence.csv"`)
	cw := csv.NewWriter(w)
	cw.Write([]string{"diagnosis", "computer", "up_since_26", "disconnect_25", "reconnect_26", "uptime_seconds", "downtime_seconds",
		"disconnect_record_id", "reconnect_record_id", "repeats", "upload_id"})
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	num := func(d time.Duration, ok bool) string {
		if !ok {
			return ""
		}
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	}
	rec := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	for _, p := range pairs {
		up := ""
		if id := uploads[eventKey(p.Computer, p.DisconnectRecord, p.Disconnect)]; id > 0 {
			up = strconv.FormatInt(id, 10)
		}
		cw.Write([]string{d.ID, csvSafe(p.Computer), ts(p.UpSince), ts(p.Disconnect), ts(p.Reconnect),
			num(p.Uptime, !p.UpSince.IsZero()), num(p.Downtime, !p.Open()), rec(p.DisconnectRecord), rec(p.ReconnectRecord),
			strconv.Itoa(p.Repeats), up})
	}
	cw.Flush()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func eventKey(computer string, record int64, t time.Time) string {
	return strings.ToLower(computer) + "|" + strconv.FormatInt(record, 10) + "|" + strconv.FormatInt(t.UnixNano(), 10)
}

// uploadsOf maps the disconnects (25) of computers to the upload that
// brought them.
func (s *Server) uploadsOf(ctx context.Context, computers []string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, c := range computers {
		evs, err := s.db.FindEvents(ctx, store.EventFilter{Computer: c, EventIDs: []int{analysis.EventDisconnected}})
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			out[eventKey(c, e.RecordID, e.Time)] = e.UploadID
		}
	}
	return out, nil
}
