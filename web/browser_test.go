package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"idletrace/ingest/evtxtest"
	"idletrace/web"
)

// The browser tests drive a real headless Chromium (Debian package
// "chromium", installed by .ci/run) through the pages, as a person would:
// upload files, watch them progress, read the diagnosis, follow links.

// browser is one headless Chromium tab with what it saw: console errors,
// uncaught exceptions, dialogs and every request it made.
type browser struct {
	t        *testing.T
	ctx      context.Context
	base     string
	shots    string
	mu       sync.Mutex
	problems []string
	dialogs  []string
	requests []string
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if lp, err := exec.LookPath(p); err == nil {
			return lp
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI=true: the browser tests must run in CI (.ci/run installs the Debian package chromium)")
	}
	t.Skip("skipping browser test: chromium not installed (Debian: apt-get install chromium)")
	return ""
}

// artifactsDir is where screenshots go: $IDLETRACE_ARTIFACTS, else a temp dir.
func artifactsDir(t *testing.T) string {
	if d := os.Getenv("IDLETRACE_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	exe := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	b := &browser{t: t, ctx: ctx, base: base, shots: artifactsDir(t)}
	// Start the browser (the first Run must not carry a timeout).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	reqs := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range reqs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.requests = append(b.requests, ev.Request.URL)
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs actions with a timeout.
func (b *browser) do(timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func eval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// open navigates to path and waits for the page's heading.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(30*time.Second, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// text is what a person reads on the page.
func (b *browser) text() string { return eval[string](b, `document.body.innerText`) }

func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// checkClean fails on console errors, exceptions, dialogs, and requests
// that left the server.
func (b *browser) checkClean() {
	b.t.Helper()
	time.Sleep(200 * time.Millisecond) // let the event goroutines catch up
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("browser console: %s", p)
	}
	for _, d := range b.dialogs {
		b.t.Errorf("a dialog opened: %s", d)
	}
	for _, u := range b.requests {
		if !strings.HasPrefix(u, b.base+"/") && u != b.base && !strings.HasPrefix(u, "data:") && u != "about:blank" {
			b.t.Errorf("request left the server: %s", u)
		}
	}
	if len(b.requests) == 0 {
		b.t.Error("saw no request at all: the network listener does not work")
	}
}

func TestBrowserUploadDiagnoseNavigate(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	b := newBrowser(t, ts.URL)
	paths := writeFleet(t, t.TempDir(), 6, 900*time.Second, func(i int) string { return fmt.Sprintf("HQ-PC%02d.corp.example", i+1) })

	// First run: the empty state explains and offers the ways in.
	b.open("/")
	if txt := b.text(); !strings.Contains(txt, "No data yet") || !strings.Contains(txt, "Load demo data") {
		t.Fatalf("empty dashboard reads:\n%s", txt)
	}
	b.shot("01-empty-dashboard")
	// Keyboard: the first Tab reaches the skip link.
	b.do(10*time.Second, chromedp.KeyEvent("\t"))
	if got := eval[string](b, `document.activeElement.textContent`); got != "Skip to content" {
		t.Errorf("first Tab focuses %q, want the skip link", got)
	}

	// Upload through the page: every file gets a progress bar that ends done.
	b.open("/upload")
	eval[chromedp.Void](b, `window.__states = {};
		new MutationObserver(ms => ms.forEach(m => {
			if (m.attributeName === 'data-state') {
				const n = m.target.querySelector('.up-name').textContent;
				(window.__states[n] = window.__states[n] || []).push(m.target.getAttribute('data-state'));
			}
		})).observe(document.getElementById('upload-list'), {subtree: true, attributes: true, attributeFilter: ['data-state']}); true`)
	b.do(30*time.Second, chromedp.SetUploadFiles(chromedp.CSS("#file"), paths))
	b.do(60*time.Second, chromedp.Poll[chromedp.Void](
		fmt.Sprintf(`document.querySelectorAll('#upload-list li[data-state=done]').length === %d || document.querySelector('#upload-list li[data-state=failed]')`, len(paths)),
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
	b.shot("02-upload-done")
	type item struct {
		Name, State, Result string
		Value, Max          float64
		Seen                []string
	}
	items := eval[[]item](b, `Array.from(document.querySelectorAll('#upload-list li')).map(li => ({
		Name: li.querySelector('.up-name').textContent, State: li.getAttribute('data-state'),
		Result: li.querySelector('.up-result').textContent,
		Value: li.querySelector('progress').value, Max: li.querySelector('progress').max,
		Seen: window.__states[li.querySelector('.up-name').textContent] || []}))`)
	if len(items) != len(paths) {
		t.Fatalf("%d items on the page, want %d", len(items), len(paths))
	}
	for _, it := range items {
		if it.State != "done" || it.Value != it.Max || !strings.Contains(it.Result, "41 Outlook events") || !strings.Contains(it.Result, "41 new") || !strings.Contains(it.Result, "evtx") {
			t.Errorf("file %s: state %s, progress %v/%v, result %q", it.Name, it.State, it.Value, it.Max, it.Result)
		}
		if len(it.Seen) < 2 || it.Seen[0] != "uploading" || it.Seen[len(it.Seen)-1] != "done" {
			t.Errorf("file %s went through %v, want uploading … done", it.Name, it.Seen)
		}
	}
	if txt := b.text(); !strings.Contains(txt, "6 of 6 files done") || !strings.Contains(txt, "246 new events") {
		t.Errorf("upload summary reads:\n%s", txt)
	}

	// The dashboard shows the diagnosis; open it from its card.
	b.open("/")
	txt := b.text()
	for _, want := range []string{"Idle timeout ≈ 90", "6 computers", "How long connections lived", "Fleet timeline", "Most affected computers", "Data freshness"} {
		if !strings.Contains(txt, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	if n := eval[int](b, `document.querySelectorAll('main svg.chart').length`); n != 2 {
		t.Errorf("dashboard has %d charts, want 2", n)
	}
	b.shot("03-dashboard")
	b.do(30*time.Second, chromedp.Click(chromedp.CSS(".card h3 a")), chromedp.WaitVisible(chromedp.CSS("#fix-h")))
	dxURL := eval[string](b, `location.pathname`)
	if !strings.HasPrefix(dxURL, "/diagnoses/") {
		t.Fatalf("the card led to %s", dxURL)
	}
	txt = b.text()
	for _, want := range []string{"Idle timeout ≈ 90", "15 min", "HQ-PC01.corp.example", "HQ-PC06.corp.example", "What to do", "KeepAliveTime", "How to confirm it", "hosts-file", "Evidence", "The uptimes behind it"} {
		if !strings.Contains(txt, want) {
			t.Errorf("diagnosis page lacks %q", want)
		}
	}
	b.shot("04-diagnosis")

	// Every page opens, has a title and a heading, and nothing breaks.
	for _, p := range []struct{ path, want, shot string }{
		{"/uploads", "Uploads", "05-uploads"},
		{"/uploads/1", "Outlook 25/26 events found", "06-upload-detail"},
		{"/computers", "HQ-PC03.corp.example", "07-computers"},
		{"/computers?sort=name&dir=desc", "HQ-PC06.corp.example", ""},
		{"/computers/" + url.PathEscape("HQ-PC02.corp.example"), "Connected and disconnected periods", "08-computer"},
		{"/events", "restored", "09-events"},
		{"/events?computer=HQ-PC04.corp.example&event_id=25", "HQ-PC04.corp.example", ""},
		{"/api", "openapi.json", "10-api"},
		{"/upload", "Drop the Application logs", ""},
	} {
		b.open(p.path)
		txt := b.text()
		if !strings.Contains(txt, p.want) && !strings.Contains(eval[string](b, `document.body.innerHTML`), p.want) {
			t.Errorf("%s lacks %q", p.path, p.want)
		}
		if title := eval[string](b, `document.title`); !strings.HasSuffix(title, "· idletrace") {
			t.Errorf("%s: title %q", p.path, title)
		}
		if p.shot != "" {
			b.shot(p.shot)
		}
	}
	// The sorted list starts with the last name.
	b.open("/computers?sort=name&dir=desc")
	if first := eval[string](b, `document.querySelector('table.sortable tbody tr td a').textContent`); first != "HQ-PC06.corp.example" {
		t.Errorf("sorted by name descending, the first computer is %q", first)
	}
	// Follow a computer link from the list (escaping of names in URLs).
	b.do(30*time.Second, chromedp.Click(chromedp.CSS("table.sortable tbody tr td a")), chromedp.WaitVisible(chromedp.CSS("#ctl")))
	if h1 := eval[string](b, `document.querySelector('h1').textContent`); h1 != "HQ-PC06.corp.example" {
		t.Errorf("computer page heading %q", h1)
	}
	b.checkClean()
}

// TestBrowserHostileEventText uploads a crafted EVTX whose Computer and
// Data carry markup, and checks every page and chart shows it as text.
func TestBrowserHostileEventText(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	b := newBrowser(t, ts.URL)
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>`
	dir := t.TempDir()
	var paths []string
	start := time.Date(2024, 5, 6, 7, 30, 0, 0, time.UTC)
	for c := 0; c < 4; c++ {
		name := fmt.Sprintf("%s-PC%d", evil, c)
		var recs []evtxtest.Record
		at := start.Add(time.Duration(c) * 13 * time.Second)
		recs = append(recs, evtxtest.Classic("Outlook", name, at, 26, `<svg onload=alert(3)>restored</svg>`))
		for i := 0; i < 12; i++ {
			at = at.Add(300*time.Second + time.Duration(700+i*131*c%3000)*time.Millisecond)
			recs = append(recs, evtxtest.Classic("Outlook", name, at, 25, `<script>alert(4)</script>"'&`))
			at = at.Add(time.Duration(10+i) * time.Second)
			recs = append(recs, evtxtest.Classic("Outlook", name, at, 26, `<img src=x onerror=alert(5)>`))
		}
		p := filepath.Join(dir, fmt.Sprintf("evil%d.evtx", c))
		if err := evtxtest.WriteFile(p, recs); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if status, _, raw := postUploads(t, ts, paths...); status != http.StatusCreated {
		t.Fatalf("upload: %d %s", status, raw)
	}
	rep := getReport(t, ts)
	if len(rep.Diagnoses) == 0 {
		t.Fatal("no diagnosis: the diagnosis page and its chart would go unchecked")
	}
	pages := []string{"/", "/computers", "/events", "/uploads", "/uploads/1", "/diagnoses/" + rep.Diagnoses[0].ID}
	for _, p := range pages {
		b.open(p)
		// No element came from the event text: the only script is ours and
		// there is no image at all.
		dom := eval[struct {
			Scripts []string
			Imgs    int
			SVGBad  int
		}](b, `({Scripts: Array.from(document.scripts).map(s => s.src),
			Imgs: document.querySelectorAll('img, main svg svg, foreignObject').length,
			SVGBad: document.querySelectorAll('svg script, svg img, [onerror], [onload]').length})`)
		for _, s := range dom.Scripts {
			if !strings.HasPrefix(s, ts.URL+"/static/") {
				t.Errorf("%s: a script that is not ours: %q", p, s)
			}
		}
		if dom.Imgs != 0 || dom.SVGBad != 0 {
			t.Errorf("%s: injected elements: %d images, %d in SVG or with handlers", p, dom.Imgs, dom.SVGBad)
		}
		if p != "/uploads" && p != "/uploads/1" && !strings.Contains(b.text(), "<script>alert(1)</script>") {
			t.Errorf("%s does not show the computer name as text", p)
		}
	}
	// Inside SVG: the fleet timeline labels the rows with the names.
	b.open("/")
	if svgText := eval[string](b, `Array.from(document.querySelectorAll('svg.chart')).map(s => s.textContent).join('\n')`); !strings.Contains(svgText, "<script>alert(1)") {
		t.Errorf("the charts do not show the computer name as text:\n%.500s", svgText)
	}
	b.shot("11-hostile-dashboard")
	// The per-computer page, reached through its (escaped) link; its
	// charts' titles carry the name.
	b.open("/computers")
	b.do(30*time.Second, chromedp.Click(chromedp.CSS("table.sortable tbody tr td a")), chromedp.WaitVisible(chromedp.CSS("#ctl")))
	if h1 := eval[string](b, `document.querySelector('h1').textContent`); !strings.HasPrefix(h1, evil) {
		t.Errorf("computer page heading %q", h1)
	}
	if n := eval[int](b, `document.querySelectorAll('svg.chart title').length`); n == 0 {
		t.Error("computer page charts have no titles")
	}
	if svgTitle := eval[string](b, `document.querySelector('svg.chart title').textContent`); !strings.Contains(svgTitle, "<script>alert(1)</script>") {
		t.Errorf("computer chart title %q", svgTitle)
	}
	if bad := eval[int](b, `document.querySelectorAll('img, svg script, [onerror], [onload]').length`); bad != 0 {
		t.Errorf("computer page: %d injected elements", bad)
	}
	b.shot("12-hostile-computer")
	b.checkClean()
}

// TestBrowserDemoButton: a newcomer clicks "Load demo data" on the empty
// dashboard and sees a populated one.
func TestBrowserDemoButton(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	b := newBrowser(t, ts.URL)
	b.open("/")
	b.do(2*time.Minute, chromedp.Click(chromedp.CSS(`form[action="/demo"] button`)), chromedp.WaitVisible(chromedp.CSS("#dx")))
	txt := b.text()
	for _, want := range []string{"33 computers", "Idle timeout ≈ 90", "Idle timeout below 720", "Shared outage", "HQ-PC", "BR-LT"} {
		if !strings.Contains(txt, want) {
			t.Errorf("demo dashboard lacks %q", want)
		}
	}
	if n := eval[int](b, `document.querySelectorAll('.card').length`); n != 3 {
		t.Errorf("%d diagnosis cards, want 3", n)
	}
	b.shot("00-demo-dashboard")
	var rep struct{ Diagnoses []struct{ ID, Kind string } }
	resp, err := http.Get(ts.URL + "/api/v1/report")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&rep)
	resp.Body.Close()
	for i, d := range rep.Diagnoses {
		b.open("/diagnoses/" + d.ID)
		if n := eval[int](b, `document.querySelectorAll('main svg.chart').length`); n != 1 {
			t.Errorf("diagnosis %s has %d charts, want 1", d.ID, n)
		}
		b.shot(fmt.Sprintf("00-demo-diagnosis-%d-%s", i, d.Kind))
	}
	b.open("/computers/BR-LT03.corp.example")
	b.shot("00-demo-computer")
	b.checkClean()
}
