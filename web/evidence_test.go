package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
	"idletrace/web"
)

// timeoutFleet returns the events of computers prefix01…prefixNN whose
// connections die after timeout idle, each working day from 08:00 for
// days days from start; after (if not zero), connections live until a
// few irregular disconnects a day (the device was fixed).
func timeoutFleet(prefix string, computers, days int, start time.Time, timeout time.Duration, fixedAt time.Time) []ingest.Event {
	var evs []ingest.Event
	for c := 1; c <= computers; c++ {
		name := fmt.Sprintf("%s%02d.corp.example", prefix, c)
		rec := int64(0)
		add := func(id int, at time.Time) {
			rec++
			evs = append(evs, ingest.Event{Computer: name, Channel: "Application", Provider: "Outlook", EventID: id,
				Qualifiers: 16384, Level: 4, RecordID: rec, Time: at, Precision: 100 * time.Nanosecond, Message: "m"})
		}
		for d := 0; d < days; d++ {
			at := start.AddDate(0, 0, d).Add(8*time.Hour + time.Duration(c)*41*time.Second)
			end := at.Add(9 * time.Hour)
			add(26, at)
			for i := 0; at.Before(end); i++ {
				if !fixedAt.IsZero() && !at.Before(fixedAt) {
					at = at.Add(time.Duration(95+(i*37+c*53)%120) * time.Minute) // irregular, rare
				} else {
					at = at.Add(timeout + time.Duration((i*7+c)%4)*time.Second)
				}
				add(25, at)
				at = at.Add(time.Duration(15+(i+c)%20) * time.Second)
				add(26, at)
			}
		}
	}
	return evs
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func diagnosisIDs(t *testing.T, base string) []string {
	t.Helper()
	var out struct{ Items []struct{ ID string } }
	resp, err := http.Get(base + "/api/v1/diagnoses")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&out)
	var ids []string
	for _, d := range out.Items {
		ids = append(ids, d.ID)
	}
	return ids
}

func storeUpload(t *testing.T, db *store.DB, name string, evs []ingest.Event) int64 {
	t.Helper()
	ctx := context.Background()
	u := &store.Upload{Name: name, Source: "api"}
	if err := db.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	n, _, err := db.InsertEvents(ctx, u.ID, evs)
	if err != nil {
		t.Fatal(err)
	}
	u.NewEvents, u.OutlookEvents = n, len(evs)
	if err := db.FinishUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// waitIDs polls until the diagnosis ids differ from old.
func waitIDs(t *testing.T, base string, old []string) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if ids := diagnosisIDs(t, base); strings.Join(ids, ",") != strings.Join(old, ",") {
			return ids
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("diagnosis ids stayed %v", old)
	return nil
}

// TestStableDiagnosisIDs: an id once shown keeps answering as data grow
// (a 303 to the diagnosis that replaced it), across a restart, and is a
// 404 only once its data are gone.
func TestStableDiagnosisIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ids.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	up1 := storeUpload(t, db, "hq", timeoutFleet("HQ-PC", 12, 3, start, 900*time.Second, time.Time{}))
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir(), RateLimit: -1}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newHTTPTest(t, srv)
	before := diagnosisIDs(t, ts.URL)
	if len(before) != 1 {
		t.Fatalf("diagnoses %v, want one", before)
	}
	old := before[0]
	if code, _ := getPage(t, ts.URL+"/diagnoses/"+old); code != 200 {
		t.Fatalf("GET /diagnoses/%s: %d", old, code)
	}

	// A second site behind the same device: the ids gain a site suffix.
	up2 := storeUpload(t, db, "br", timeoutFleet("BR-LT", 12, 3, start, 900*time.Second, time.Time{}))
	after := waitIDs(t, ts.URL, before)
	t.Logf("ids: %v → %v", before, after)
	for _, id := range after {
		if id == old {
			t.Skipf("the id %s did not change with a second site (%v): nothing to redirect", old, after)
		}
	}
	check := func(base string) string {
		t.Helper()
		for _, p := range []string{"/diagnoses/" + old, "/diagnoses/" + old + "/report", "/api/v1/diagnoses/" + old} {
			resp, err := noRedirect.Get(base + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			seg := strings.TrimPrefix(loc[strings.Index(loc, "/diagnoses/")+1:], "diagnoses/")
			seg, _, _ = strings.Cut(seg, "/")
			if resp.StatusCode != http.StatusSeeOther || seg == old || seg == "" {
				t.Fatalf("GET %s: %d Location %q, want a 303 to the successor", p, resp.StatusCode, loc)
			}
			if strings.HasSuffix(p, "/report") && !strings.HasSuffix(loc, "/report") {
				t.Fatalf("GET %s redirected to %q: the sub-path was lost", p, loc)
			}
		}
		resp, err := http.Get(base + "/diagnoses/" + old) // followed: the successor answers
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("following the redirect: %d", resp.StatusCode)
		}
		return resp.Request.URL.Path
	}
	first := check(ts.URL)

	// A restart: a new server over the same database file.
	ts.Close()
	srv.Close(ctx)
	db.Close()
	db, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, err = web.NewServer(web.Config{TempDir: t.TempDir(), RateLimit: -1}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts = newHTTPTest(t, srv)
	if again := check(ts.URL); again != first {
		t.Fatalf("after a restart the old id leads to %s, before to %s", again, first)
	}

	// Data gone: 404.
	for _, id := range []int64{up1, up2} {
		req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/api/v1/uploads/%d", ts.URL, id), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var del store.UploadDeletion
		json.NewDecoder(resp.Body).Decode(&del)
		resp.Body.Close()
		if resp.StatusCode != 200 || del.Removed == 0 || del.Kept != 0 {
			t.Fatalf("DELETE upload %d: %d %+v", id, resp.StatusCode, del)
		}
	}
	if code, _ := getPage(t, ts.URL+"/diagnoses/"+old); code != 404 {
		t.Fatalf("old id with its data gone: %d, want 404", code)
	}
	if rep := getReport(t, &testServer{Server: ts}); rep.Events.Disconnects != 0 || len(rep.Diagnoses) != 0 {
		t.Fatalf("after deleting every upload the report still has %d disconnects, %d diagnoses", rep.Events.Disconnects, len(rep.Diagnoses))
	}
}

// TestDeleteUploadExactCounts: deleting an upload removes only what it
// alone brought, and says so exactly; the analysis follows.
func TestDeleteUploadExactCounts(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	start := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	hq := timeoutFleet("HQ-PC", 6, 1, start, 900*time.Second, time.Time{})
	br := timeoutFleet("BR-LT", 4, 1, start, 900*time.Second, time.Time{})
	a := storeUpload(t, ts.db, "a", hq)
	b := storeUpload(t, ts.db, "b", append(append([]ingest.Event(nil), hq[:10]...), br...)) // 10 duplicates of a
	del := func(id int64) store.UploadDeletion {
		req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/api/v1/uploads/%d", ts.URL, id), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d store.UploadDeletion
		json.NewDecoder(resp.Body).Decode(&d)
		if resp.StatusCode != 200 {
			t.Fatalf("DELETE %d: %d", id, resp.StatusCode)
		}
		return d
	}
	if got, want := del(a), (store.UploadDeletion{UploadID: a, Removed: len(hq) - 10, Kept: 10}); got != want {
		t.Fatalf("delete a: got %+v, want %+v", got, want)
	}
	rep := getReport(t, ts)
	if n := rep.Events.Disconnects + rep.Events.Reconnects; n != len(br)+10 {
		t.Fatalf("after deleting a the report has %d events, want %d", n, len(br)+10)
	}
	if got, want := del(b), (store.UploadDeletion{UploadID: b, Removed: len(br) + 10}); got != want {
		t.Fatalf("delete b: got %+v, want %+v", got, want)
	}
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/api/v1/uploads/%d", ts.URL, b), nil)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("deleting twice: %d, want 404", resp.StatusCode)
	}
}

func diagnosisOf(t *testing.T, base string) string {
	t.Helper()
	ids := diagnosisIDs(t, base)
	if len(ids) == 0 {
		t.Fatal("no diagnosis")
	}
	return ids[0]
}

// TestEvidenceCSV: every interval behind the diagnosis, one row each.
func TestEvidenceCSV(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	start := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	up := storeUpload(t, ts.db, "hq", timeoutFleet("HQ-PC", 8, 2, start, 900*time.Second, time.Time{}))
	id := diagnosisOf(t, ts.URL)
	resp, err := http.Get(ts.URL + "/diagnoses/" + id + "/evidence.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("content type %q", ct)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"diagnosis", "computer", "up_since_26", "disconnect_25", "reconnect_26", "uptime_seconds", "downtime_seconds", "disconnect_record_id", "reconnect_record_id", "repeats", "upload_id"}
	if strings.Join(rows[0], ",") != strings.Join(want, ",") {
		t.Fatalf("header %v", rows[0])
	}
	_, page := getPage(t, ts.URL+"/diagnoses/"+id)
	m := regexp.MustCompile(`Evidence: disconnects behind this diagnosis \((\d+)\)`).FindStringSubmatch(page)
	if m == nil || fmt.Sprint(len(rows)-1) != m[1] {
		t.Fatalf("CSV has %d rows, the page says %v", len(rows)-1, m)
	}
	computers := map[string]bool{}
	for _, r := range rows[1:] {
		computers[r[1]] = true
		if r[10] != fmt.Sprint(up) || r[7] == "" || r[5] == "" {
			t.Fatalf("row %v: want upload %d, record ids and uptime", r, up)
		}
	}
	if len(computers) != 8 {
		t.Fatalf("CSV covers %d computers, want 8", len(computers))
	}
	// The page pages through them all.
	if !strings.Contains(page, "Page 1 of") || !strings.Contains(page, `rel="next"`) {
		t.Fatal("the evidence table has no paging")
	}
}

// TestReportFile: one self-contained HTML file, with the data range and
// when it was made, that prints in at most 3 A4 pages.
func TestReportFile(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	start := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	storeUpload(t, ts.db, "hq", timeoutFleet("HQ-PC", 18, 5, start, 900*time.Second, time.Time{}))
	id := diagnosisOf(t, ts.URL)
	resp, err := http.Get(ts.URL + "/diagnoses/" + id + "/report")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), ".html") {
		t.Fatalf("report: %d %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	doc := string(body)
	for _, want := range []string{"<style>", "<svg", "Generated ", "by idletrace", "Data from ", "times in ", "What to do", "How to confirm it", "Idle timeout ≈ "} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Nothing outside the file: no links, scripts, images or URLs but the SVG namespace.
	for _, bad := range []string{"<link", "<script", "<img", "src=", "@import", "url(", "href=\"/"} {
		if strings.Contains(doc, bad) {
			t.Errorf("report refers outside itself: %q", bad)
		}
	}
	if n := strings.Count(doc, "http"); n != strings.Count(doc, "http://www.w3.org/2000/svg") {
		t.Errorf("report has %d URLs besides the SVG namespace", n-strings.Count(doc, "http://www.w3.org/2000/svg"))
	}
	// Print it.
	exe := ""
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if lp, err := exec.LookPath(p); err == nil {
			exe = lp
			break
		}
	}
	if exe == "" || testing.Short() {
		t.Skip("printing needs chromium (and not -short)")
	}
	dir := t.TempDir()
	html, pdf := filepath.Join(dir, "report.html"), filepath.Join(artifactsDirFor(t), "report.pdf")
	os.WriteFile(html, body, 0o644)
	out, err := exec.Command(exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--print-to-pdf="+pdf, "file://"+html).CombinedOutput()
	if err != nil {
		t.Fatalf("print: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(b, -1))
	t.Logf("the report prints on %d A4 pages (%s)", pages, pdf)
	if pages < 1 || pages > 3 {
		t.Fatalf("the report prints on %d pages, want 1–3", pages)
	}
}

// artifactsDirFor is $IDLETRACE_ARTIFACTS, else a temp dir.
func artifactsDirFor(t *testing.T) string {
	if d := os.Getenv("IDLETRACE_ARTIFACTS"); d != "" {
		os.MkdirAll(d, 0o755)
		return d
	}
	return t.TempDir()
}

// TestChangeBeforeAfter: a fleet whose timeout stops at a change shows the
// drop, over the API and on the diagnosis page.
func TestChangeBeforeAfter(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	start := time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)
	fixed := start.AddDate(0, 0, 3)
	storeUpload(t, ts.db, "hq", timeoutFleet("HQ-PC", 10, 6, start, 900*time.Second, fixed))
	id := diagnosisOf(t, ts.URL)
	body := strings.NewReader(`{"at": "` + fixed.Format(time.RFC3339) + `", "note": "raised the F5 idle timeout to 7200 s"}`)
	resp, err := http.Post(ts.URL+"/api/v1/changes", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST /changes: %d", resp.StatusCode)
	}
	var ch struct {
		ID            int64
		At            time.Time
		Note          string
		WindowSeconds float64 `json:"window_seconds"`
		Before, After struct {
			IdleTimeoutIntervals      int     `json:"idle_timeout_intervals"`
			Disconnects               int     `json:"disconnects"`
			ComputerDays              int     `json:"computer_days"`
			DisconnectsPerComputerDay float64 `json:"disconnects_per_computer_day"`
		}
	}
	r2, err := http.Get(ts.URL + resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(r2.Body).Decode(&ch)
	r2.Body.Close()
	t.Logf("change %+v", ch)
	if ch.Note == "" || !ch.At.Equal(fixed) || ch.WindowSeconds < 2*86400 {
		t.Fatalf("change %+v", ch)
	}
	if ch.Before.IdleTimeoutIntervals == 0 || ch.After.IdleTimeoutIntervals != 0 {
		t.Fatalf("idle-timeout intervals before %d after %d: want some, then none", ch.Before.IdleTimeoutIntervals, ch.After.IdleTimeoutIntervals)
	}
	if ch.Before.ComputerDays < 20 || ch.After.ComputerDays < 20 || ch.After.DisconnectsPerComputerDay*5 > ch.Before.DisconnectsPerComputerDay {
		t.Fatalf("computer-days %d/%d, rate %.2f → %.2f: want 30 each side and a drop", ch.Before.ComputerDays, ch.After.ComputerDays, ch.Before.DisconnectsPerComputerDay, ch.After.DisconnectsPerComputerDay)
	}
	_, page := getPage(t, ts.URL+"/diagnoses/"+id)
	if !strings.Contains(page, "The pattern stopped after the change") {
		t.Fatal("the diagnosis page does not say the pattern stopped after the change")
	}
	if code, p := getPage(t, fmt.Sprintf("%s/changes/%d", ts.URL, ch.ID)); code != 200 || !strings.Contains(p, "raised the F5 idle timeout") {
		t.Fatalf("change page: %d", code)
	}
	// Refused bodies.
	resp, _ = http.Post(ts.URL+"/api/v1/changes", "application/json", strings.NewReader(`{"at": "2024-05-09T00:00:00Z", "note": ""}`))
	resp.Body.Close()
	if resp.StatusCode != 422 {
		t.Fatalf("a change without a note: %d, want 422", resp.StatusCode)
	}
}

// TestEventsPageTimeOrderPrefixSearch: the events page lists by event
// time (not ingest order), filters computers by name prefix, and
// searches text.
func TestEventsPageTimeOrderPrefixSearch(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	t0 := time.Date(2024, 5, 6, 9, 0, 0, 0, time.UTC)
	ev := func(name string, rec int64, at time.Time, msg string) ingest.Event {
		return ingest.Event{Computer: name, Channel: "Application", Provider: "Outlook", EventID: 25, Qualifiers: 16384,
			Level: 3, RecordID: rec, Time: at, Precision: time.Microsecond, Message: msg}
	}
	// Ingested late first, early last.
	storeUpload(t, ts.db, "late", []ingest.Event{ev("HQ-PC01", 3, t0.Add(2*time.Hour), "third"), ev("BR-LT01", 9, t0.Add(time.Hour), "second 100%_match")})
	storeUpload(t, ts.db, "early", []ingest.Event{ev("HQ-PC02", 1, t0, "first")})
	order := func(q string) []string {
		t.Helper()
		_, page := getPage(t, ts.URL+"/events?"+q)
		var out []string
		for _, w := range []string{"first", "second", "third"} {
			if i := strings.Index(page, ">"+w); i >= 0 {
				out = append(out, fmt.Sprintf("%06d%s", i, w))
			}
		}
		sort.Strings(out)
		for i := range out {
			out[i] = out[i][6:]
		}
		return out
	}
	if got := strings.Join(order("order=asc"), ","); got != "first,second,third" {
		t.Fatalf("oldest first: %s", got)
	}
	if got := strings.Join(order("order=desc"), ","); got != "third,second,first" {
		t.Fatalf("newest first: %s", got)
	}
	if got := strings.Join(order("computer=hq-&order=asc"), ","); got != "first,third" {
		t.Fatalf("prefix hq-: %s", got)
	}
	if got := strings.Join(order("q=100%25_m"), ","); got != "second" {
		t.Fatalf("search 100%%_m: %s", got)
	}
}
