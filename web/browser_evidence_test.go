package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"idletrace/web"
)

// TestBrowserEvidence drives the evidence features in Chromium: the demo's
// one-device cards, a histogram bar drilling down to its intervals, an
// evidence row to its events, the range control, the report and CSV
// links, and no horizontal overflow at 390 px.
func TestBrowserEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	ts := newTestServer(t, web.Config{})
	b := newBrowser(t, ts.URL)
	b.open("/")
	b.do(2*time.Minute, chromedp.Click(chromedp.CSS(`form[action="/demo"] button`)), chromedp.WaitVisible(chromedp.CSS("section.fresh")))
	txt := b.text()
	for _, want := range []string{"of 33 computers", "includes demo data", "Time range", "last 24 h"} {
		if !strings.Contains(txt, want) {
			i := strings.Index(txt, "Stored events")
			t.Errorf("dashboard lacks %q (%.200s)", want, txt[max(0, i):])
		}
	}
	if strings.Contains(txt, "Fleet diagnosis") {
		t.Error(`the dashboard still says "Fleet diagnosis"`)
	}
	// The histogram's band labels say what the cards say.
	labels := eval[[]string](b, `[...document.querySelectorAll('svg[aria-labelledby^="uptime-hist"] .band-label')].map(e => e.textContent)`)
	cards := eval[[]string](b, `[...document.querySelectorAll('.card h3')].map(e => e.textContent)`)
	if len(labels) == 0 {
		t.Error("the histogram has no band label")
	}
	for _, l := range labels {
		fig, _, _ := strings.Cut(l, " · ")
		ok := false
		for _, c := range cards {
			ok = ok || strings.Contains(c, fig)
		}
		if !ok {
			t.Errorf("histogram label %q matches no card %q", l, cards)
		}
	}
	// Drill-down: a highlighted bar leads to the intervals behind it.
	b.do(30*time.Second, chromedp.Click(chromedp.CSS(`svg[aria-labelledby^="uptime-hist"] a rect.bar-hit`)), chromedp.WaitVisible(chromedp.CSS("#evid-h")))
	if txt := b.text(); !strings.Contains(txt, "Showing ") || !strings.Contains(txt, "uptime ") {
		t.Errorf("the bar did not lead to its filtered evidence: %.300s", txt)
	}
	b.shot("15-drilldown")
	// An evidence row leads to its events, in time order.
	b.do(30*time.Second, chromedp.Click(chromedp.CSS(`table.evidence tbody tr td:last-child a`)), chromedp.WaitVisible(chromedp.CSS("main h1")))
	if n := eval[int](b, `document.querySelectorAll('main table tbody tr').length`); n < 2 {
		t.Errorf("the interval's events page lists %d events, want its 26 and 25", n)
	}
	b.shot("15-interval-events")

	var rep struct{ Diagnoses []struct{ ID, Kind string } }
	resp, err := http.Get(ts.URL + "/api/v1/report")
	if err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, resp, &rep)
	// Mobile: no page wider than the screen.
	b.do(30*time.Second, chromedp.EmulateViewport(390, 844))
	pages := []string{"/", "/upload", "/uploads", "/computers", "/computers/HQ-PC01.corp.example", "/events", "/changes", "/api", "/intervals?lo=800&hi=1000"}
	for _, d := range rep.Diagnoses {
		pages = append(pages, "/diagnoses/"+d.ID)
	}
	for i, p := range pages {
		b.open(p)
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 390 {
			wide := eval[[]string](b, `[...document.querySelectorAll('body *')].filter(e => { if (e.getBoundingClientRect().right <= 392) return false; for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) { if (getComputedStyle(p).overflowX !== 'visible') return false; } return true; }).slice(0, 6).map(e => e.tagName + ' ' + (e.getAttribute('class') || '') + ' ' + Math.round(e.getBoundingClientRect().right)).concat([...document.querySelectorAll('main > *, main section > *')].filter(e => e.scrollWidth > 392).map(e => 'sw:' + e.tagName + ' ' + (e.getAttribute('class') || '') + ' ' + e.scrollWidth + '/' + e.clientWidth + ' ' + getComputedStyle(e).overflowX))`)
			t.Errorf("%s is %d px wide at 390 px: %v", p, w, wide)
		}
		if i == 0 || strings.HasPrefix(p, "/diagnoses/") {
			b.shot("15-mobile-" + strings.NewReplacer("/", "_").Replace(p))
		}
	}
	b.checkClean()
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
