package web

import (
	"fmt"
	"sort"
	"strings"

	"idletrace/analysis"
	"idletrace/web/charts"
)

// One number, one spelling: every figure of a diagnosis (title, card, lead
// text, chart label, report, and the analysis' own Summary) is the
// diagnosis' own value — the timeout estimate, else the bound a silent
// drop gives — rounded and written by the rule of analysis/figure.go
// ("901 s (15.0 min)").

// dxValue is analysis.Figure: the value in whole seconds, whether it is an
// upper bound, and whether there is one.
func dxValue(d *analysis.Diagnosis) (sec float64, bound, ok bool) { return analysis.Figure(d) }

// dxFigure is analysis.FigureText: "≈ 901 s (15.0 min)" or "below 720 s
// (12 min)"; "" when it has none.
func dxFigure(d *analysis.Diagnosis) string { return analysis.FigureText(d) }

// dxTitle names a diagnosis: "Idle timeout ≈ 901 s (15.0 min)".
func dxTitle(d *analysis.Diagnosis) string {
	if d.Kind == analysis.KindIdleTimeout {
		if f := dxFigure(d); f != "" {
			return "Idle timeout " + f
		}
		return "Idle timeout"
	}
	return diagnosisLabel(d)
}

// dxWho says whose path it is: "HQ-PC01 (the one computer in the data)",
// "24 of 33 computers (HQ-*)".
func dxWho(d *analysis.Diagnosis, fleet int) string {
	n := len(d.Computers)
	switch {
	case n == 1 && fleet <= 1:
		return d.Computers[0] + " (the one computer in the data)"
	case n == 1:
		return fmt.Sprintf("one computer, %s, of %d", d.Computers[0], fleet)
	}
	who := fmt.Sprintf("%d of %d computers", n, fleet)
	if d.Site != "" {
		who += " (" + d.Site + "*)"
	}
	return who
}

// dxLead is the diagnosis in one paragraph, with the figure spelled as
// everywhere else. A shared outage keeps the analysis' own summary (it has
// times, not a timeout).
func dxLead(d *analysis.Diagnosis, fleet int) string {
	if d.Kind != analysis.KindIdleTimeout {
		return d.Summary
	}
	v, bound, ok := dxValue(d)
	if !ok {
		return d.Summary
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s on the path of %s: %d %s behind it. ", dxTitle(d), dxWho(d, fleet), d.Intervals, charts.Plural(d.Intervals, "uptime", "uptimes"))
	if bound {
		fmt.Fprintf(&b, "The uptimes pile up just after Outlook's %s keep-alive, consistent with a device that drops idle connections silently somewhere below %s. "+
			"The logs cannot see the timeout below the keep-alive: measure it with idletrace probe from a computer on this path, or read it from the device's configuration.",
			charts.Seconds(v), charts.Seconds(v))
	} else {
		how := "resets idle connections"
		if d.Drop == "unknown" {
			how = "ends idle connections"
		}
		fmt.Fprintf(&b, "Consistent with a device that %s after %s", how, dxFigure(d))
		if len(d.Matches) > 0 {
			names := make([]string, 0, 3)
			for i, m := range d.Matches {
				if i == 3 {
					break
				}
				names = append(names, m.Device)
			}
			fmt.Fprintf(&b, " — e.g. %s", strings.Join(names, ", "))
		}
		b.WriteString(".")
	}
	return b.String()
}

// rollup is the diagnoses of one device — same kind and the same figure —
// across sites (name prefixes): one card, "N of M computers", the sites
// inside.
type rollup struct {
	Lead      analysis.Diagnosis   // the largest site's diagnosis
	Sites     []analysis.Diagnosis // all of them, largest first
	Title     string
	Computers int // across the sites
	Fleet     int // computers in the data
	Text      string
}

// rollupDiagnoses groups diagnoses by device: idle timeouts with the same
// kind of drop and the same figure; shared outages stay one card each.
func rollupDiagnoses(ds []analysis.Diagnosis, fleet int) []rollup {
	var out []rollup
	at := map[string]int{}
	for _, d := range ds {
		key := d.ID
		if d.Kind == analysis.KindIdleTimeout {
			key = d.Kind + "|" + d.Drop + "|" + dxFigure(&d)
		}
		i, ok := at[key]
		if !ok {
			i = len(out)
			at[key] = i
			out = append(out, rollup{Title: dxTitle(&d), Fleet: fleet})
		}
		out[i].Sites = append(out[i].Sites, d)
		out[i].Computers += len(d.Computers)
	}
	for i := range out {
		r := &out[i]
		sort.SliceStable(r.Sites, func(a, b int) bool { return len(r.Sites[a].Computers) > len(r.Sites[b].Computers) })
		r.Lead = r.Sites[0]
		if len(r.Sites) == 1 {
			r.Text = dxLead(&r.Lead, fleet)
			continue
		}
		var sites []string
		for _, s := range r.Sites {
			name := s.Site
			if name == "" {
				name = "other"
			}
			sites = append(sites, name)
		}
		r.Text = fmt.Sprintf("%s on the path of %d of %d computers: sites %s.", r.Title, r.Computers, fleet, strings.Join(sites, ", "))
	}
	return out
}
