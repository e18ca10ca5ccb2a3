package analysis

import (
	"regexp"
	"strings"
	"testing"
)

// TestFormatSeconds: whole seconds, then minutes or hours.
func TestFormatSeconds(t *testing.T) {
	for sec, want := range map[float64]string{45.4: "45 s", 900: "900 s (15 min)", 900.6: "901 s (15 min)", 1234.5: "1235 s (20.6 min)", 720: "720 s (12 min)", 9000: "9000 s (2.5 h)", 119.6: "120 s (2 min)"} {
		if got := FormatSeconds(sec); got != want {
			t.Errorf("FormatSeconds(%v) = %q, want %q", sec, got, want)
		}
	}
}

// TestSummarySpellsTheFigure: a diagnosis' Summary writes its value as
// FigureText does (the pages' spelling), with no tenths of a second.
func TestSummarySpellsTheFigure(t *testing.T) {
	var evs []Event
	rec := int64(1)
	for c, name := range []string{"HQ-PC01", "HQ-PC02", "HQ-PC03", "HQ-PC04", "HQ-PC05", "HQ-PC06"} {
		at := float64(c) * 7
		for k := range 30 {
			up := 900.3 + float64((k*7+c)%5)*0.9
			evs = append(evs, ev(name, 25, at+up, rec), ev(name, 26, at+up+20, rec+1))
			rec += 2
			at += up + 20
		}
	}
	res := Analyze(evs, Options{})
	if len(res.Report.Diagnoses) == 0 {
		t.Fatal("no diagnosis")
	}
	d := res.Report.Diagnoses[0]
	fig := FigureText(&d)
	if fig == "" || !strings.Contains(d.Summary, "Idle timeout "+fig+" on the path of") {
		t.Errorf("summary %q does not spell the figure %q", d.Summary, fig)
	}
	if m := regexp.MustCompile(`\d+\.\d+ s\b`).FindString(d.Summary); m != "" {
		t.Errorf("summary %q has a figure in tenths of a second: %q", d.Summary, m)
	}
	for _, r := range d.Recommendations {
		if m := regexp.MustCompile(`\d+\.\d+ s\b`).FindString(r); m != "" {
			t.Errorf("recommendation %q has a figure in tenths of a second: %q", r, m)
		}
	}
}
