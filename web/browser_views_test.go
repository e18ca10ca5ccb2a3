package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"idletrace/ingest/evtxtest"
	"idletrace/web"
)

// The browser tests of the pages' view features: the upload flow, the
// time-range and display-zone controls on every page, change marks, the
// drill-down links and the delete button.

// TestBrowserUploadFlow: choosing files is the one action (no second
// button, no "select files" refusal); one bar shows all files and only
// grows; the headline result appears at the top, above the form, and
// leads to the diagnosis; a log without Outlook events is a warning.
func TestBrowserUploadFlow(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	b := newBrowser(t, ts.URL)
	dir := t.TempDir()
	paths := writeFleet(t, dir, 6, 900*time.Second, func(i int) string { return fmt.Sprintf("HQ-PC%02d.corp.example", i+1) })
	// An Application log without a single Outlook event.
	other := filepath.Join(dir, "not-outlook.evtx")
	var recs []evtxtest.Record
	for i := 0; i < 30; i++ {
		recs = append(recs, evtxtest.Classic("Application Error", "HQ-PC99.corp.example", time.Date(2024, 5, 6, 9, 0, i, 0, time.UTC), 1000, "faulting application"))
	}
	if err := evtxtest.WriteFile(other, recs); err != nil {
		t.Fatal(err)
	}
	paths = append(paths, other)

	b.open("/upload")
	ui := eval[struct {
		SubmitShown bool
		Required    bool
		Label       string
	}](b, `({SubmitShown: getComputedStyle(document.getElementById('upload-submit')).display !== 'none',
		Required: document.getElementById('file').required,
		Label: document.querySelector('.filelabel').textContent})`)
	if ui.SubmitShown || ui.Required || !strings.Contains(ui.Label, "Choose log files") {
		t.Errorf("upload page offers more than one action: submit shown %v, input required %v, label %q", ui.SubmitShown, ui.Required, ui.Label)
	}
	// Every value the overall bar takes.
	eval[chromedp.Void](b, `window.__overall = [];
		new MutationObserver(() => window.__overall.push(document.getElementById('upload-overall').value))
			.observe(document.getElementById('upload-overall'), {attributes: true, attributeFilter: ['value']}); true`)
	b.do(30*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#file"), paths))
	b.do(60*time.Second, chromedp.Poll[chromedp.Void](
		fmt.Sprintf(`document.querySelectorAll('#upload-list li[data-state=done], #upload-list li[data-state=warning], #upload-list li[data-state=failed]').length === %d`, len(paths)),
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
	// The headline comes once the last file's answer is in.
	b.do(30*time.Second, chromedp.Poll[chromedp.Void](`!document.getElementById('upload-headline').hidden && document.getElementById('hl-title').textContent.includes('Idle timeout')`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	b.shot("15-upload-flow")

	vals := eval[[]float64](b, `window.__overall`)
	if len(vals) == 0 || vals[len(vals)-1] != 100 {
		t.Errorf("the overall bar went through %v, want it to end at 100", vals)
	}
	mid := false
	for i, v := range vals {
		if i > 0 && v < vals[i-1] {
			t.Errorf("the overall bar went back: %v", vals)
			break
		}
		mid = mid || (v > 0 && v < 100)
	}
	if !mid {
		t.Errorf("the overall bar showed no progress between 0 and 100: %v", vals)
	}
	states := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#upload-list li')].map(li => [li.querySelector('.up-name').textContent, li.getAttribute('data-state') + ' | ' + li.querySelector('.up-state').textContent + ' | ' + li.querySelector('.up-result').textContent]))`)
	for name, st := range states {
		want := "done | done"
		if name == "not-outlook.evtx" {
			want = "warning | no Outlook events"
		}
		if !strings.HasPrefix(st, want) {
			t.Errorf("file %s: %q, want %q…", name, st, want)
		}
	}
	if st := states["not-outlook.evtx"]; !strings.Contains(st, "0 Outlook events") || !strings.Contains(st, "no Outlook events (25/26) in this file") {
		t.Errorf("the file without Outlook events reads %q", st)
	}
	if color := eval[string](b, `getComputedStyle(document.querySelector('#upload-list li[data-state=warning] .up-state')).color`); color == eval[string](b, `getComputedStyle(document.querySelector('#upload-list li[data-state=done] .up-state')).color`) {
		t.Errorf("a file without Outlook events is shown in the colour of success (%s)", color)
	}
	if txt := eval[string](b, `document.getElementById('upload-summary').textContent`); !strings.Contains(txt, "100 % · 7 of 7 files done") || !strings.Contains(txt, "1 file without Outlook events") {
		t.Errorf("upload summary reads %q", txt)
	}
	// The headline sits at the top: above the form and the list of files.
	pos := eval[struct{ Headline, Form, List float64 }](b, `({Headline: document.getElementById('upload-headline').getBoundingClientRect().top,
		Form: document.getElementById('upload-form').getBoundingClientRect().top, List: document.getElementById('upload-list').getBoundingClientRect().top})`)
	if pos.Headline >= pos.Form || pos.Headline >= pos.List {
		t.Errorf("the headline is not at the top: headline %v, form %v, list %v", pos.Headline, pos.Form, pos.List)
	}
	hl := eval[string](b, `document.getElementById('hl-title').textContent`)
	if !strings.Contains(hl, "Idle timeout ≈ 90") || !strings.Contains(hl, "6 of 6 computers") {
		t.Errorf("headline %q", hl)
	}
	if label := eval[string](b, `document.querySelector('.filelabel').textContent`); !strings.Contains(label, "Choose more files") {
		t.Errorf("after the upload the file button reads %q", label)
	}
	b.clickNav("#hl-link")
	if path := eval[string](b, `location.pathname`); !strings.HasPrefix(path, "/diagnoses/") {
		t.Errorf("the headline led to %s", path)
	}
	if h1 := eval[string](b, `document.querySelector('h1').textContent`); !strings.HasPrefix(hl, h1) {
		t.Errorf("the headline %q and the diagnosis page %q spell it differently", hl, h1)
	}
	// The upload without events is a warning on its own page too.
	b.open("/uploads")
	if n := eval[int](b, `document.querySelectorAll('.status-warning').length`); n != 1 {
		t.Errorf("the uploads list shows %d uploads as warnings, want the one without Outlook events", n)
	}
	b.checkClean()
}

// clickNav clicks sel and waits until the page it leads to has loaded
// (the old page's marker is gone; evaluations fail while the page changes).
func (b *browser) clickNav(sel string) {
	b.t.Helper()
	eval[chromedp.Void](b, `window.__leaving = true`)
	b.do(30*time.Second, chromedp.Click(chromedp.CSS(sel)))
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!window.__leaving && document.readyState === 'complete' && document.querySelector('main h1') !== null`))
		cancel()
		if err == nil && loaded {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("clicking %s led to no new page", sel)
}

// rangeControl is what a page's time-range control offers.
type rangeControl struct {
	Presets []string
	Hrefs   []string
	Inputs  int
	Zone    string
}

func (b *browser) rangeControl() rangeControl {
	b.t.Helper()
	return eval[rangeControl](b, `({Presets: [...document.querySelectorAll('form.range a')].map(a => a.textContent),
		Hrefs: [...document.querySelectorAll('form.range a')].map(a => a.getAttribute('href')),
		Inputs: document.querySelectorAll('form.range input[type=datetime-local]').length,
		Zone: (document.getElementById('zone-tz') || {}).value || ''})`)
}

// TestBrowserRangeZoneMarksDrillDown: every page has the time-range
// control with its presets and the zone control; a range chosen on the
// dashboard is kept in the links from page to page; a zone chosen in the
// browser is remembered and every time is shown in it; recorded changes
// are marked on the timelines; histogram bars (also outside any
// diagnosis), cluster rows and timeline marks lead to the intervals and
// events behind them; the delete button removes an upload with exact
// counts.
func TestBrowserRangeZoneMarksDrillDown(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	start := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	fixed := start.AddDate(0, 0, 3)
	up := storeUpload(t, ts.db, "hq", timeoutFleet("HQ-PC", 8, 6, start, 900*time.Second, fixed))
	small := storeUpload(t, ts.db, "br", timeoutFleet("BR-LT", 2, 1, start, 600*time.Second, time.Time{}))
	resp, err := http.Post(ts.URL+"/api/v1/changes", "application/json", strings.NewReader(`{"at": "`+fixed.Format(time.RFC3339)+`", "note": "raised the F5 idle timeout to 7200 s"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/changes: %d", resp.StatusCode)
	}
	id := diagnosisOf(t, ts.URL)
	b := newBrowser(t, ts.URL)

	// Every page: the range control with its presets, and the zone control.
	for _, p := range []string{"/", "/upload", "/uploads", fmt.Sprintf("/uploads/%d", up), "/computers", "/computers/" + url.PathEscape("HQ-PC01.corp.example"),
		"/events", "/changes", "/changes/1", "/api", "/diagnoses/" + id, "/intervals?lo=800&hi=1000"} {
		b.open(p)
		rc := b.rangeControl()
		if strings.Join(rc.Presets, ",") != "all,last 24 h,7 d,30 d" || rc.Inputs != 2 {
			t.Errorf("%s: range control %+v, want the presets all, last 24 h, 7 d, 30 d and a picker", p, rc)
		}
		if rc.Zone != "UTC" {
			t.Errorf("%s: zone control shows %q, want the server's UTC", p, rc.Zone)
		}
	}

	// The dashboard marks the change on the fleet timeline, as a link.
	b.open("/")
	marks := eval[[]string](b, `[...document.querySelectorAll('svg[aria-labelledby^="fleet-timeline"] .change-mark')].map(g => (g.closest('a') || {getAttribute: () => ''}).getAttribute('href') + ' ' + g.querySelector('title').textContent)`)
	if len(marks) != 1 || !strings.HasPrefix(marks[0], "/changes/1 Change ") || !strings.Contains(marks[0], "raised the F5 idle timeout") {
		t.Errorf("fleet timeline change marks %q, want the one change, linked", marks)
	}
	if txt := b.text(); !strings.Contains(txt, "Marked on the fleet timeline") {
		t.Error("the dashboard does not say the change is marked on the timeline")
	}
	b.shot("15-change-mark-dashboard")

	// Drill-down from a cluster row: the intervals it holds.
	b.clickNav("tr.cluster-row a")
	if txt := b.text(); !strings.Contains(txt, "Intervals: uptime") || eval[int](b, `document.querySelectorAll('table.intervals tbody tr').length`) == 0 {
		t.Errorf("the cluster row led to %s: %.300s", eval[string](b, `location.href`), txt)
	}
	b.shot("15-cluster-intervals")
	// … and a row of it to its events.
	b.clickNav(`table.intervals tbody tr td:last-child a`)
	if n := eval[int](b, `document.querySelectorAll('main table tbody tr').length`); n < 2 || eval[string](b, `location.pathname`) != "/events" {
		t.Errorf("an interval's events page lists %d events", n)
	}

	// A histogram bar outside any diagnosis (the uptimes after the fix).
	b.open("/")
	if n := eval[int](b, `document.querySelectorAll('svg[aria-labelledby^="uptime-hist"] a rect.bar:not(.bar-hit)').length`); n == 0 {
		t.Fatal("the histogram has no bar outside a diagnosis, or it is not a link")
	}
	b.clickNav(`svg[aria-labelledby^="uptime-hist"] a rect.bar:not(.bar-hit)`)
	if path, n := eval[string](b, `location.pathname`), eval[int](b, `document.querySelectorAll('table.intervals tbody tr').length`); path != "/intervals" || n == 0 {
		t.Errorf("a bar outside a diagnosis led to %s with %d intervals", path, n)
	}
	// A fleet timeline mark: the events of that computer at that time.
	b.open("/")
	b.clickNav(`svg[aria-labelledby^="fleet-timeline"] a rect.tick-timeout`)
	ev := eval[struct {
		Path, Computer string
		Rows           int
	}](b, `({Path: location.pathname, Computer: new URLSearchParams(location.search).get('computer'), Rows: document.querySelectorAll('main table tbody tr').length})`)
	if ev.Path != "/events" || ev.Computer == "" || ev.Rows == 0 {
		t.Errorf("a timeline mark led to %+v", ev)
	}

	// A range chosen on the dashboard is kept from page to page.
	b.open("/")
	preset := func(label string) string {
		return eval[string](b, `[...document.querySelectorAll('form.range a')].find(a => a.textContent === '`+label+`').getAttribute('href')`)
	}
	day := preset("last 24 h")
	b.open(preset("7 d"))
	if q := eval[string](b, `location.search`); !strings.Contains(q, "since=") || !strings.Contains(q, "until=") {
		t.Fatalf("the preset led to %q", q)
	}
	sinceUntil := func() string {
		p := eval[map[string]string](b, `Object.fromEntries(new URLSearchParams(location.search))`)
		return p["since"] + "/" + p["until"]
	}
	want := sinceUntil()
	for _, step := range []struct{ what, click string }{
		{"nav Computers", `nav a[href^="/computers"]`},
		{"a computer", `table.sortable tbody tr td a`},
		{"its crumb", `p.crumbs a`},
		{"nav Events", `nav a[href^="/events"]`},
		{"nav Dashboard", `nav a[href^="/?"]`},
		{"a card", `.card h3 a`},
		{"nav Uploads", `nav a[href^="/uploads"]`},
		{"nav Changes", `nav a[href^="/changes"]`},
	} {
		b.clickNav(step.click)
		if got := sinceUntil(); got != want {
			t.Errorf("after %s (%s) the range is %q, want %q", step.what, eval[string](b, `location.href`), got, want)
		}
		if rc := b.rangeControl(); len(rc.Presets) != 4 {
			t.Errorf("after %s: range control %+v", step.what, rc)
		}
	}
	// The computers list in the range: only computers with events in it.
	b.open(strings.Replace(day, "/?", "/computers?", 1))
	if txt := b.text(); !strings.Contains(txt, "Time range (filtered)") || strings.Contains(txt, "BR-LT01") {
		t.Errorf("the computers list in the last 24 h: %.400s", txt)
	}
	b.shot("15-computers-range")

	// The display zone, chosen in the browser, remembered, used everywhere.
	b.open("/computers/" + url.PathEscape("HQ-PC01.corp.example"))
	if n := eval[int](b, `document.querySelectorAll('svg[aria-labelledby^="day-timeline"] .change-mark').length`); n != 1 {
		t.Errorf("the computer's day timeline has %d change marks, want 1", n)
	}
	b.clickNav(`svg[aria-labelledby^="day-timeline"] a rect.seg-down`)
	if c := eval[string](b, `new URLSearchParams(location.search).get('computer')`); c != "HQ-PC01.corp.example" || eval[int](b, `document.querySelectorAll('main table tbody tr').length`) == 0 {
		t.Errorf("a disconnected period led to the events of %q", c)
	}
	b.open("/computers/" + url.PathEscape("HQ-PC01.corp.example") + "?x=1")
	b.do(30*time.Second, chromedp.SetValue(chromedp.CSS("#zone-tz"), "Asia/Tokyo"))
	b.clickNav(`form.zone button[type=submit]:not([name])`)
	if got := eval[string](b, `location.pathname + location.search`); got != "/computers/HQ-PC01.corp.example?x=1" {
		t.Errorf("setting the zone led to %s, want back to the page", got)
	}
	checkZone := func(path string, want string) {
		t.Helper()
		b.open(path)
		txt := b.text()
		if rc := b.rangeControl(); rc.Zone != want {
			t.Errorf("%s: the zone control shows %q, want %q", path, rc.Zone, want)
		}
		if !strings.Contains(txt, "Times shown in "+want) {
			t.Errorf("%s: footer does not say %s", path, want)
		}
		abbr := map[string]string{"Asia/Tokyo": "JST", "UTC": "UTC"}[want]
		other := map[string]string{"Asia/Tokyo": " UTC", "UTC": " JST"}[want]
		// The page's own text, without the zone control (which offers zones).
		own := eval[string](b, `[...document.querySelector('main').children].filter(e => !e.classList.contains('viewbar')).map(e => e.innerText).join('\n')`)
		if !strings.Contains(txt, " "+abbr) || strings.Contains(own, other) {
			t.Errorf("%s: times are not all in %s: %.600s", path, want, txt)
		}
	}
	checkZone("/computers/"+url.PathEscape("HQ-PC01.corp.example"), "Asia/Tokyo")
	if axis := eval[string](b, `document.querySelector('svg[aria-labelledby^="day-timeline"]').textContent`); !strings.Contains(axis, "Time of day (Asia/Tokyo)") {
		t.Error("the day timeline is not drawn in the chosen zone")
	}
	b.shot("15-zone-tokyo")
	for _, p := range []string{"/", "/computers", "/events", "/uploads", "/changes", "/diagnoses/" + id, "/intervals?lo=800&hi=1000"} {
		checkZone(p, "Asia/Tokyo")
	}
	b.open("/")
	if axis := eval[string](b, `document.querySelector('svg[aria-labelledby^="fleet-timeline"]').textContent`); !strings.Contains(axis, "Time (Asia/Tokyo)") {
		t.Error("the fleet timeline is not drawn in the chosen zone")
	}
	// A datetime typed in the picker is in the chosen zone: 09:00 in Tokyo
	// is 00:00 UTC.
	eval[chromedp.Void](b, `document.querySelector('form.range input[name=since]').value = '2024-05-09T09:00'; true`)
	b.clickNav(`form.range button`)
	if got := eval[string](b, `document.querySelector('nav a[href^="/computers"]').getAttribute('href')`); !strings.Contains(got, "since=2024-05-09T00%3A00%3A00Z") {
		t.Errorf("09:00 Tokyo typed in the picker became %q (%s: %.300s)", got, eval[string](b, `location.href`), b.text())
	}
	// Back to the server's zone.
	b.clickNav(`form.zone button[name=reset]`)
	checkZone("/computers", "UTC")

	// The delete button: exact counts, and the data are gone.
	b.open(fmt.Sprintf("/uploads/%d", small))
	b.clickNav(`form.takeback button`)
	n := len(timeoutFleet("BR-LT", 2, 1, start, 600*time.Second, time.Time{}))
	if txt := b.text(); !strings.Contains(txt, fmt.Sprintf("Events removed\n%d (brought by this upload only)", n)) || !strings.Contains(txt, "Events kept\n0") {
		t.Errorf("after the delete button the page reads: %.500s", txt)
	}
	b.shot("15-deleted-upload")
	b.open("/computers")
	if strings.Contains(b.text(), "BR-LT01") {
		t.Error("the deleted upload's computers are still listed")
	}
	b.checkClean()
}
