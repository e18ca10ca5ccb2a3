package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"idletrace/web/charts"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"idletrace/analysis"
	"idletrace/store"
	"idletrace/web/live"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageSet holds each page parsed with the layout, once, at start.
type pageSet struct {
	pages map[string]*template.Template
}

func parsePages(funcs template.FuncMap) (*pageSet, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	ps := &pageSet{pages: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		ps.pages[base] = t
	}
	return ps, nil
}

// layoutData is what the layout needs around every page.
type layoutData struct {
	Title   string
	Nav     string
	Page    any
	Refresh int        // seconds; > 0 reloads the page (a running upload, without script)
	Range   *pageRange // the page's time window and its control (every page has one)
	Zone    zoneControl
}

// zoneControl is the layout's display-zone form.
type zoneControl struct {
	Name    string   // the zone times are shown in
	Default string   // the server's -display-tz
	Chosen  bool     // the browser chose Name (a cookie)
	Common  []string // offered in the list
	Back    string   // the page to return to
}

// ranged lets a page show the time-range control (page_range.go).
type ranged interface{ timeRange() *pageRange }

// titled lets a page name its <title> and highlighted nav entry.
type titled interface{ title() (title, nav string) }

// layoutFor builds the layout around data for r: the browser's display
// zone and its templates, and the page's time range (the page's own, or
// the request's ?since=&until= carried through pages that show no
// analysis).
func (s *Server) layoutFor(r *http.Request, data titled) (*layoutData, *pageSet, error) {
	loc := s.zoneOf(r)
	zt, err := s.templatesFor(loc)
	if err != nil {
		return nil, nil, err
	}
	title, nav := data.title()
	ld := &layoutData{Title: title, Nav: nav, Page: data}
	if rf, ok := data.(interface{ refresh() int }); ok {
		ld.Refresh = rf.refresh()
	}
	if rg, ok := data.(ranged); ok {
		ld.Range = rg.timeRange()
	}
	if _, isErr := data.(*errorPage); ld.Range == nil && !isErr && r.Method == http.MethodGet {
		ld.Range = s.carriedRange(r, loc)
	}
	back := r.URL.Path
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		back += "?" + r.URL.RawQuery
	}
	ld.Zone = zoneControl{Name: loc.String(), Default: s.cfg.DisplayTZ.String(), Chosen: loc != s.cfg.DisplayTZ, Common: commonZones, Back: back}
	return ld, zt.pages, nil
}

// execute renders page with its layout into a byte slice.
func (ps *pageSet) execute(page string, ld *layoutData) ([]byte, error) {
	t, ok := ps.pages[page]
	if !ok {
		return nil, fmt.Errorf("unknown page %q", page)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, ld); err != nil {
		return nil, fmt.Errorf("render page %s: %w", page, err)
	}
	return buf.Bytes(), nil
}

// renderBytes renders a page like render, into a byte slice.
func (s *Server) renderBytes(r *http.Request, page string, data titled) ([]byte, error) {
	ld, ps, err := s.layoutFor(r, data)
	if err != nil {
		return nil, err
	}
	return ps.execute(page, ld)
}

// render executes page into a buffer and only then writes it, so a
// template error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data titled) {
	body, err := s.renderBytes(r, page, data)
	if err != nil {
		s.log.Error("render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Files only: a directory would be listed.
		if name := strings.TrimPrefix(r.URL.Path, "/static/"); name == "" || strings.HasSuffix(name, "/") {
			http.NotFound(w, r)
			return
		}
		if st, err := fs.Stat(sub, strings.TrimPrefix(r.URL.Path, "/static/")); err == nil && st.IsDir() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// pageFuncs are the helpers templates may call; times are shown in zone.
func pageFuncs(zone *time.Location) template.FuncMap {
	tz := func() *time.Location { return zone }
	return template.FuncMap{
		"fmtTime": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.In(tz()).Format("2006-01-02 15:04:05 MST")
		},
		"fmtTimePtr": func(t *time.Time) string {
			if t == nil || t.IsZero() {
				return "—"
			}
			return t.In(tz()).Format("2006-01-02 15:04:05 MST")
		},
		"isoTime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"seconds": charts.Seconds,
		"secPtr": func(p *float64) string {
			if p == nil {
				return "—"
			}
			return charts.Seconds(*p)
		},
		"dur":     func(d time.Duration) string { return charts.Seconds(d.Seconds()) },
		"dur_s":   charts.ShortSeconds,
		"percent": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
		"bytes":   fmtBytes,
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
		"displayTZ":    func() string { return tz().String() },
		"withRange":    withRange,
		"clusterHref":  clusterHref,
		"pairEvents":   pairEvents,
		"computerHref": charts.ComputerPath,
		"pct": func(n, total int64) int64 {
			if total <= 0 {
				return 0
			}
			return min(100, n*100/total)
		},
	}
}

// fmtBytes says how large something is, in binary units.
func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

type errorPage struct {
	Status  int
	Title   string
	Message string
	Reload  int // seconds; > 0 reloads the page (the condition passes by itself)
}

func (p *errorPage) title() (string, string) { return p.Title, "" }

func (p *errorPage) refresh() int { return p.Reload }

type uploadPage struct{ MaxUpload int64 }

func (p *uploadPage) title() (string, string) { return "Upload logs", "upload" }

type uploadListPage struct {
	Uploads []*store.Upload
	Older   int64
}

func (p *uploadListPage) title() (string, string) { return "Uploads", "uploads" }

type uploadDetailPage struct {
	Upload   *store.Upload
	Progress int64 // bytes read so far while running
}

func (p *uploadDetailPage) refresh() int {
	if p.Upload.Status == store.UploadRunning {
		return 2
	}
	return 0
}

func (p *uploadDetailPage) title() (string, string) { return "Upload " + p.Upload.Name, "uploads" }

// dashboardPage is the fleet overview.
type dashboardPage struct {
	Report        *analysis.Report
	Stats         store.Stats
	Diagnoses     []analysis.Diagnosis
	TopRows       []computerRow
	AnalysisMs    float64
	AnalysisAt    time.Time // when the shown analysis was computed
	Updating      bool      // newer events are stored: a recompute is pending
	WindowStart   time.Time // the analysis window's start when events before it are stored (else zero)
	Empty         bool
	UptimeChart   template.HTML
	UptimeN       int
	FleetChart    template.HTML
	TimelineShown int
	TimelineTotal int
	LastUpload    *store.Upload
	Age           string     // how long ago the newest event was logged
	Rollups       []rollup   // the diagnoses, one card per device (figures.go)
	Range         *pageRange // the window shown (nil: everything)
	Demo          bool       // demo data are loaded
	Changes       []*store.Change
	// ChangesOnTimeline is how many recorded changes the fleet timeline marks.
	ChangesOnTimeline int
}

func (p *dashboardPage) title() (string, string) { return "Dashboard", "dashboard" }
func (p *dashboardPage) timeRange() *pageRange   { return p.Range }

func newDashboardPage(snap *live.Snapshot, rollups []rollup) *dashboardPage {
	rep := &snap.Result.Report
	p := &dashboardPage{Report: rep, Stats: snap.Stats, Diagnoses: rep.Diagnoses,
		AnalysisMs: float64(snap.Took.Microseconds()) / 1000, Empty: snap.Stats.Events == 0,
		AnalysisAt: snap.At, Updating: snap.Updating}
	if !snap.WindowStart.IsZero() && snap.Stats.First.Before(snap.WindowStart) {
		p.WindowStart = snap.WindowStart
	}
	p.Rollups = rollups
	return p
}
