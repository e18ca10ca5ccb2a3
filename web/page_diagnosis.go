package web

import (
	"context"
	"errors"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"idletrace/analysis"
	"idletrace/store"
	"idletrace/web/live"
)

// evidencePageSize is how many intervals one page of a diagnosis'
// evidence lists; the CSV has every one.
const evidencePageSize = 100

// diagnosisPage explains one diagnosis with its evidence.
type diagnosisPage struct {
	D             *analysis.Diagnosis
	Title         string
	Lead          string
	Figure        string
	Fleet         int
	OneComputer   bool
	Evidence      []analysis.Pair
	EvidenceN     int // every interval behind it
	Filtered      int // those the filter (?lo=&hi=&computer=) keeps
	Filter        string
	Pager         pager
	IsTimeout     bool
	Chart         template.HTML
	Fix           []string
	Confirm       []string
	ComputerLinks []computerLink
	CSVHref       string
	ReportHref    string
	ChartHref     string
	Range         *pageRange
	Changes       []changeVerdict
	// Probes are the direct measurements of this diagnosis' path, in words.
	Probes []string
}

func (p *diagnosisPage) title() (string, string) { return p.Title, "dashboard" }
func (p *diagnosisPage) timeRange() *pageRange   { return p.Range }

// evidenceFilter is the drill-down on a diagnosis' evidence: uptimes in
// [Lo, Hi) seconds (a histogram bar) and one computer.
type evidenceFilter struct {
	Lo, Hi   float64
	Computer string
}

func parseEvidenceFilter(q url.Values) evidenceFilter {
	var f evidenceFilter
	f.Lo, _ = strconv.ParseFloat(q.Get("lo"), 64)
	f.Hi, _ = strconv.ParseFloat(q.Get("hi"), 64)
	if math.IsNaN(f.Lo) || math.IsInf(f.Lo, 0) {
		f.Lo = 0
	}
	if math.IsNaN(f.Hi) || math.IsInf(f.Hi, 0) {
		f.Hi = 0
	}
	f.Computer = strings.TrimSpace(q.Get("computer"))
	return f
}

func (f evidenceFilter) keep(p *analysis.Pair) bool {
	up := p.Uptime.Seconds()
	if f.Lo > 0 && up < f.Lo || f.Hi > 0 && up >= f.Hi {
		return false
	}
	return f.Computer == "" || strings.EqualFold(p.Computer, f.Computer)
}

// evidenceOf returns every pair behind d, in res's order (computer, time).
func evidenceOf(res *analysis.Result, d *analysis.Diagnosis) []analysis.Pair {
	return res.DiagnosisPairs(d.ID)
}

func newDiagnosisPage(res *analysis.Result, d *analysis.Diagnosis, rng *pageRange, q url.Values) *diagnosisPage {
	fleet := len(res.Hosts)
	p := &diagnosisPage{D: d, IsTimeout: d.Kind == analysis.KindIdleTimeout, Title: dxTitle(d), Lead: dxLead(d, fleet),
		Figure: dxFigure(d), Fleet: fleet, OneComputer: len(d.Computers) == 1, Range: rng}
	base := "/diagnoses/" + url.PathEscape(d.ID)
	p.CSVHref, p.ReportHref, p.ChartHref = base+"/evidence.csv"+rng.Q(), base+"/report"+rng.Q(), base+"/chart.svg"+rng.Q()
	f := parseEvidenceFilter(q)
	all := evidenceOf(res, d)
	p.EvidenceN = len(all)
	var kept []analysis.Pair
	for i := range all {
		if f.keep(&all[i]) {
			kept = append(kept, all[i])
		}
	}
	p.Filtered = len(kept)
	if f != (evidenceFilter{}) {
		var parts []string
		if f.Lo > 0 || f.Hi > 0 {
			parts = append(parts, "uptime "+strconv.FormatFloat(math.Round(f.Lo), 'f', -1, 64)+"–"+strconv.FormatFloat(math.Round(f.Hi), 'f', -1, 64)+" s")
		}
		if f.Computer != "" {
			parts = append(parts, "computer "+f.Computer)
		}
		p.Filter = strings.Join(parts, ", ")
	}
	page, _ := strconv.Atoi(q.Get("page"))
	keep := url.Values{}
	for k, v := range q {
		if k != "page" {
			keep[k] = v
		}
	}
	p.Pager = newPager(keep, base, page, evidencePageSize, len(kept))
	if len(kept) > 0 {
		p.Evidence = kept[p.Pager.First-1 : p.Pager.Last]
	}
	return p
}

// diagnosisFor resolves the {diagnosisID} of a page request in the
// page's analysis; it answers the request itself (a redirect to the
// successor, or an error) when it returns ok false.
func (s *Server) diagnosisFor(w http.ResponseWriter, r *http.Request) (*analysis.Diagnosis, *analysis.Result, *live.Snapshot, *pageRange, bool) {
	res, snap, rng, err := s.pageAnalysis(r)
	if err != nil {
		s.writeError(w, r, err)
		return nil, nil, nil, nil, false
	}
	if !rng.Active() {
		s.noteShown(r.Context(), res)
	}
	d, ok := s.resolveDiagnosis(w, r, res)
	return d, res, snap, rng, ok
}

// resolveDiagnosis finds the request's diagnosis in res, or redirects to
// its successor, or answers 404.
func (s *Server) resolveDiagnosis(w http.ResponseWriter, r *http.Request, res *analysis.Result) (*analysis.Diagnosis, bool) {
	id := chi.URLParam(r, "diagnosisID")
	d, succ, err := s.findDiagnosis(r.Context(), res, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.writeError(w, r, errNotFound("no diagnosis with that id in the current data (its data are gone)"))
		return nil, false
	case err != nil:
		s.writeError(w, r, err)
		return nil, false
	case succ != "":
		redirectDiagnosis(w, r, id, succ)
		return nil, false
	}
	return d, true
}

func (s *Server) handleDiagnosisDetail(w http.ResponseWriter, r *http.Request) {
	d, res, snap, rng, ok := s.diagnosisFor(w, r)
	if !ok {
		return
	}
	p := newDiagnosisPage(res, d, rng, r.URL.Query())
	s.views.diagnosisCharts(p, windowSnapshot(snap, res, rng), s.zoneOf(r), s.changeMarks(r.Context()))
	p.Changes = s.changeVerdicts(r.Context(), d, s.zoneOf(r))
	p.Probes = s.probeLines(r.Context(), d)
	s.render(w, r, http.StatusOK, "diagnosis", p)
}

// changeVerdicts says, for each recorded change, whether the diagnosis'
// pattern stopped after it (api_changes.go); errors leave it out.
func (s *Server) changeVerdicts(ctx context.Context, d *analysis.Diagnosis, tz *time.Location) []changeVerdict {
	cs, err := s.db.FindChanges(ctx, 5)
	if err != nil || len(cs) == 0 {
		return nil
	}
	var out []changeVerdict
	for _, c := range cs {
		ba, err := s.beforeAfter(ctx, c)
		if err != nil {
			continue
		}
		out = append(out, ba.verdictFor(d, tz))
	}
	return out
}
