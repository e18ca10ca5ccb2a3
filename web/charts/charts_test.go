package charts

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"idletrace/analysis"
)

// wellFormed parses s as XML and returns its character data.
func wellFormed(t *testing.T, s string) string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return text.String()
		}
		if err != nil {
			t.Fatalf("chart is not well-formed XML: %v\n%.400s", err, s)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if n := strings.ToLower(tok.Name.Local); n == "script" || n == "img" || n == "foreignobject" {
				t.Fatalf("chart contains a <%s> element", tok.Name.Local)
			}
			for _, a := range tok.Attr {
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
					t.Fatalf("chart has an event handler attribute %s", a.Name.Local)
				}
			}
		case xml.CharData:
			text.Write(tok)
		}
	}
}

// TestChartsEscapeText: every text the Go-built SVG carries (titles, row
// labels, tooltips, links) comes out escaped, so event-log text cannot
// become markup.
func TestChartsEscapeText(t *testing.T) {
	evil := `<script>alert(1)</script>"'&<img src=x onerror=alert(2)>`
	t0 := time.Date(2024, 3, 4, 8, 0, 0, 0, time.UTC)
	charts := map[string]string{
		"Histogram": string((&Histogram{ID: `h"x`, Title: "Uptimes of " + evil, Desc: evil, XLabel: evil, YLabel: evil,
			Values: []float64{900, 901, 905, 60}, Bands: []HistBand{{Low: 890, High: 910, Label: evil}},
			Marks: append(DeviceMarks(), HistMark{Seconds: 900, Label: evil, Class: "mark-estimate"}), HighlightBands: true}).SVG()),
		"fleet": string((&FleetTimeline{ID: "f", Title: evil, Desc: evil, Start: t0, End: t0.Add(48 * time.Hour), TZ: time.UTC,
			Rows:    []TimelineRow{{Name: evil, Marks: []TimelineMark{{T: t0.Add(time.Hour), Kind: MarkTimeout}}}},
			Outages: []analysis.Outage{{Start: t0.Add(5 * time.Hour), End: t0.Add(5*time.Hour + 10*time.Minute), Computers: []string{evil}}}}).SVG()),
		"day": string((&DayTimeline{ID: "d", Title: evil, Desc: evil, Days: []time.Time{t0.Truncate(24 * time.Hour)}, TZ: time.UTC,
			Segments:    []DaySegment{{From: t0, To: t0.Add(15 * time.Minute), Kind: "up", Tip: evil}},
			Disconnects: []time.Time{t0.Add(15 * time.Minute)}}).SVG()),
	}
	for name, svg := range charts {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(svg, "<script") || strings.Contains(svg, "<img") {
				t.Fatalf("raw markup in the chart:\n%s", svg)
			}
			text := wellFormed(t, svg)
			if !strings.Contains(text, "<script>alert(1)</script>") {
				t.Errorf("the text is not carried (as text) in the chart: %q", text)
			}
		})
	}
	// A computer link is path-escaped, then attribute-escaped.
	if !strings.Contains(charts["fleet"], `href="/computers/%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22%27&amp;%3Cimg%20src=x%20onerror=alert%282%29%3E"`) {
		t.Errorf("computer link not escaped as expected:\n%s", charts["fleet"])
	}
}

func TestNiceScaleAndShortSeconds(t *testing.T) {
	for _, c := range []struct{ n, max, step int }{{0, 1, 1}, {3, 3, 1}, {7, 8, 2}, {2390, 2500, 500}, {11, 12, 2}} {
		if m, s := niceScale(c.n); m != c.max || s != c.step {
			t.Errorf("niceScale(%d) = %d, %d; want %d, %d", c.n, m, s, c.max, c.step)
		}
	}
	for sec, want := range map[float64]string{60: "60 s", 180: "3 min", 350: "350 s", 900: "15 min", 3600: "1 h", 5400: "90 min", 9000: "2.5 h"} {
		if got := ShortSeconds(sec); got != want {
			t.Errorf("ShortSeconds(%v) = %q, want %q", sec, got, want)
		}
	}
}

// TestDeviceMarksFollowAnalysis: the dashed device defaults are exactly the
// distinct defaults of analysis.Devices, the table diagnoses match against.
func TestDeviceMarksFollowAnalysis(t *testing.T) {
	want := map[float64]bool{}
	for _, d := range analysis.Devices {
		want[d.Seconds] = true
	}
	marks := DeviceMarks()
	if len(marks) != len(want) {
		t.Fatalf("%d marks, want %d (one per distinct default)", len(marks), len(want))
	}
	for i, m := range marks {
		if !want[m.Seconds] {
			t.Errorf("mark at %v s is no device's default", m.Seconds)
		}
		if i > 0 && marks[i-1].Seconds >= m.Seconds {
			t.Errorf("marks out of order at %d", i)
		}
	}
}
