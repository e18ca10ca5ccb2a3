package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"idletrace/ingest/exporttest"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"idletrace/analysis"
	"idletrace/ingest/evtxtest"
	"idletrace/store"
	"idletrace/web"
)

// testServer is a real server over a real SQLite file.
type testServer struct {
	*httptest.Server
	db *store.DB
}

func newTestServer(t testing.TB, cfg web.Config) *testServer {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "web.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg.TempDir = t.TempDir()
	srv, err := web.NewServer(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, srv)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, db: db}
}

func sharedDir(t testing.TB, sub string) string {
	t.Helper()
	dir := exporttest.Shared(t, sub)
	return dir
}

// multipartBody builds a multipart body with one "file" part per path.
func multipartBody(t testing.TB, fields map[string]string, paths ...string) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for _, p := range paths {
		fw, err := mw.CreateFormFile("file", filepath.Base(p))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(b)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

type uploadItem struct {
	Name   string `json:"name"`
	Error  *struct{ Code, Message string }
	Upload *store.Upload `json:"upload"`
}

func postUploads(t testing.TB, ts *testServer, paths ...string) (int, []uploadItem, []byte) {
	t.Helper()
	body, ct := multipartBody(t, nil, paths...)
	resp, err := http.Post(ts.URL+"/api/v1/uploads", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct{ Items []uploadItem }
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out.Items, raw
}

func getReport(t testing.TB, ts *testServer) analysis.Report {
	t.Helper()
	resp, err := http.Get(ts.URL + "/api/v1/report")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("report status %d", resp.StatusCode)
	}
	var r analysis.Report
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func getPage(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// writeFleet writes one .evtx per computer with the project's own EVTX
// writer: every computer behind a device resetting idle connections at
// timeout, plus noise from other providers.
func writeFleet(t testing.TB, dir string, computers int, timeout time.Duration, computerName func(i int) string) []string {
	t.Helper()
	var paths []string
	start := time.Date(2024, 5, 6, 7, 30, 0, 0, time.UTC)
	for c := 0; c < computers; c++ {
		name := computerName(c)
		var recs []evtxtest.Record
		rec := func(provider string, id uint16, at time.Time, msg string) {
			recs = append(recs, evtxtest.Record{Provider: provider, EventID: id, Qualifiers: 16384, Level: 4,
				Keywords: 0x80000000000000, Time: at, Computer: name, Data: []string{msg}})
		}
		at := start.Add(time.Duration(c) * 17 * time.Second)
		rec("Outlook", 26, at, "Connection to Microsoft Exchange has been restored.")
		for i := 0; i < 20; i++ {
			at = at.Add(timeout + time.Duration(500+(i*c*137)%4000)*time.Millisecond)
			rec("Outlook", 25, at, "The connection to Microsoft Exchange is unavailable.")
			rec("Microsoft-Windows-Security-SPP", 16384, at.Add(time.Second), "noise")
			at = at.Add(time.Duration(5+(i*7+c)%50) * time.Second)
			rec("Outlook", 26, at, "Connection to Microsoft Exchange has been restored.")
			rec("MSExchange RPC Client Access", 26, at, "not Outlook")
		}
		p := filepath.Join(dir, strings.NewReplacer("<", "_", ">", "_", "/", "_").Replace(name)+".evtx")
		if err := evtxtest.WriteFile(p, recs); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func TestUploadAPIOwnFixtures(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	paths := writeFleet(t, t.TempDir(), 8, 300*time.Second, func(i int) string { return fmt.Sprintf("LAB-PC%02d.corp.example", i+1) })
	status, items, raw := postUploads(t, ts, paths...)
	if status != http.StatusCreated || len(items) != 8 {
		t.Fatalf("status %d, %d items: %s", status, len(items), raw)
	}
	for _, it := range items {
		u := it.Upload
		if u == nil || u.Format != "evtx" || u.Records != 81 || u.OutlookEvents != 41 || u.NewEvents != 41 || u.DuplicateEvents != 0 || u.Status != store.UploadDone {
			t.Fatalf("upload %+v", u)
		}
	}
	rep := getReport(t, ts)
	if len(rep.Diagnoses) != 1 {
		t.Fatalf("diagnoses = %+v, want one", rep.Diagnoses)
	}
	d := rep.Diagnoses[0]
	if d.Kind != analysis.KindIdleTimeout || d.TimeoutSeconds == nil || math.Abs(*d.TimeoutSeconds-300)/300 > 0.02 || len(d.Computers) != 8 {
		t.Fatalf("diagnosis %+v", d)
	}

	t.Run("SecondUploadAddsNothing", func(t *testing.T) {
		status, items, raw := postUploads(t, ts, paths...)
		if status != http.StatusCreated {
			t.Fatalf("status %d: %s", status, raw)
		}
		for _, it := range items {
			if it.Upload.NewEvents != 0 || it.Upload.DuplicateEvents != 41 {
				t.Fatalf("re-upload: %+v", it.Upload)
			}
		}
		code, page := getPage(t, fmt.Sprintf("%s/uploads/%d", ts.URL, items[0].Upload.ID))
		if code != 200 || !strings.Contains(page, "had been uploaded before; nothing was added") {
			t.Fatalf("upload page does not say the data was known: %d", code)
		}
		if rep2 := getReport(t, ts); rep2.Events != rep.Events || rep2.Pairs != rep.Pairs {
			t.Fatalf("report changed after a duplicate upload: %+v vs %+v", rep2.Events, rep.Events)
		}
	})
}

func TestUploadAPIScenarioLB900(t *testing.T) {
	dir := sharedDir(t, "scenarios/lb-900")
	var truth struct {
		Expected []struct {
			Kind           string   `json:"kind"`
			TimeoutSeconds float64  `json:"timeout_seconds"`
			Computers      []string `json:"computers"`
		} `json:"expected_diagnoses"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, web.Config{})
	paths, _ := filepath.Glob(filepath.Join(dir, "evtx", "*.evtx"))
	status, items, raw := postUploads(t, ts, paths...)
	if status != http.StatusCreated || len(items) != len(paths) {
		t.Fatalf("status %d, items %d: %.300s", status, len(items), raw)
	}
	rep := getReport(t, ts)
	if len(rep.Diagnoses) != 1 {
		t.Fatalf("got %d diagnoses, want 1", len(rep.Diagnoses))
	}
	d, want := rep.Diagnoses[0], truth.Expected[0]
	if d.Kind != want.Kind || d.TimeoutSeconds == nil || math.Abs(*d.TimeoutSeconds-want.TimeoutSeconds)/want.TimeoutSeconds > 0.02 {
		t.Fatalf("diagnosis %s timeout %v, truth %s %v", d.Kind, d.TimeoutSeconds, want.Kind, want.TimeoutSeconds)
	}
	got := append([]string(nil), d.Computers...)
	sort.Strings(got)
	sort.Strings(want.Computers)
	if strings.Join(got, ",") != strings.Join(want.Computers, ",") {
		t.Fatalf("computers %v, truth %v", got, want.Computers)
	}
}

// TestUploadPageForm drives the plain HTML form (no JavaScript) and follows
// the redirect to the result, then reads the dashboard and diagnosis pages.
func TestUploadPageForm(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	code, page := getPage(t, ts.URL+"/upload")
	if code != 200 || !strings.Contains(page, `enctype="multipart/form-data"`) || !strings.Contains(page, `name="file"`) {
		t.Fatalf("upload page: %d", code)
	}
	code, page = getPage(t, ts.URL+"/")
	if code != 200 || !strings.Contains(page, "No data yet") {
		t.Fatalf("empty dashboard: %d", code)
	}
	paths := writeFleet(t, t.TempDir(), 5, 900*time.Second, func(i int) string { return fmt.Sprintf("HQ-PC%02d.corp.example", i+1) })
	body, ct := multipartBody(t, map[string]string{"tz": "", "computer": ""}, paths...)
	resp, err := http.Post(ts.URL+"/upload", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/uploads" {
		t.Fatalf("after form POST: status %d at %s", resp.StatusCode, resp.Request.URL.Path)
	}
	code, page = getPage(t, ts.URL+"/")
	if code != 200 || !strings.Contains(page, "Idle timeout ≈ 90") || !strings.Contains(page, "/diagnoses/") {
		t.Fatalf("dashboard lacks the diagnosis (%d)", code)
	}
	rep := getReport(t, ts)
	code, page = getPage(t, ts.URL+"/diagnoses/"+rep.Diagnoses[0].ID)
	for _, want := range []string{"HQ-PC03.corp.example", "KeepAliveTime", "hosts-file", "Evidence"} {
		if !strings.Contains(page, want) {
			t.Errorf("diagnosis page lacks %q", want)
		}
	}
	if code != 200 {
		t.Fatalf("diagnosis page %d", code)
	}
	if code, _ := getPage(t, ts.URL+"/diagnoses/nope"); code != 404 {
		t.Fatalf("unknown diagnosis: %d, want 404", code)
	}
}

func TestUploadErrors(t *testing.T) {
	ts := newTestServer(t, web.Config{MaxUpload: 256 << 10})
	post := func(ct string, body io.Reader) (int, string) {
		resp, err := http.Post(ts.URL+"/api/v1/uploads", ct, body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		name   string
		ct     string
		body   io.Reader
		status int
		code   string
	}{
		{"Empty", "application/octet-stream", strings.NewReader(""), 415, "unsupported_format"},
		{"Garbage", "application/octet-stream", strings.NewReader("\x00\x01hello"), 415, "unsupported_format"},
		{"TruncatedEVTXHeader", "application/octet-stream", strings.NewReader("ElfFile\x00short"), 415, "unsupported_format"},
		{"TooLarge", "application/octet-stream", bytes.NewReader(make([]byte, 400<<10)), 413, "too_large"},
		{"MultipartWithoutFile", "multipart/form-data; boundary=x", strings.NewReader("--x--\r\n"), 400, "bad_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := post(c.ct, c.body)
			var e struct {
				Error struct{ Code, Message string }
			}
			json.Unmarshal([]byte(body), &e)
			if status != c.status || e.Error.Code != c.code || e.Error.Message == "" {
				t.Fatalf("status %d body %s; want %d %s", status, body, c.status, c.code)
			}
		})
	}
	t.Run("BadFileBesideGoodOneKeepsTheGoodOne", func(t *testing.T) {
		dir := t.TempDir()
		good := writeFleet(t, dir, 1, 300*time.Second, func(int) string { return "PC1" })[0]
		bad := filepath.Join(dir, "bad.evtx")
		os.WriteFile(bad, []byte("not a log at all"), 0o644)
		status, items, raw := postUploads(t, ts, bad, good)
		if status != 201 || len(items) != 2 || items[0].Error == nil || items[1].Upload == nil || items[1].Upload.NewEvents != 41 {
			t.Fatalf("status %d: %s", status, raw)
		}
		ups, _ := ts.db.FindUploads(context.Background(), 0, 10)
		var failed int
		for _, u := range ups {
			if u.Status == store.UploadFailed {
				failed++
			}
		}
		if failed == 0 {
			t.Fatal("the bad file's upload is not recorded as failed")
		}
	})
	t.Run("FileNameNeverAPath", func(t *testing.T) {
		good := writeFleet(t, t.TempDir(), 1, 300*time.Second, func(int) string { return "PC2" })[0]
		b, _ := os.ReadFile(good)
		resp, err := http.Post(ts.URL+"/api/v1/uploads?name=..%2F..%2Fetc%2Fpasswd", "application/octet-stream", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Items []uploadItem }
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 201 || out.Items[0].Upload.Name != "passwd" {
			t.Fatalf("status %d, %+v", resp.StatusCode, out.Items)
		}
	})
}

// TestUploadCorpus sends every sample of the shared corpus through HTTP: no
// 5xx, damaged files give warnings, the server keeps serving.
func TestUploadCorpus(t *testing.T) {
	dir := sharedDir(t, "evtx-samples")
	ts := newTestServer(t, web.Config{})
	paths, _ := filepath.Glob(filepath.Join(dir, "*.evtx"))
	warned := 0
	for _, p := range paths {
		status, items, raw := postUploads(t, ts, p)
		if status >= 500 {
			t.Fatalf("%s: status %d: %s", filepath.Base(p), status, raw)
		}
		if status == 201 && len(items[0].Upload.Warnings) > 0 {
			warned++
		}
	}
	if warned == 0 {
		t.Fatal("no damaged sample gave a warning")
	}
	if code, _ := getPage(t, ts.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz %d after the corpus", code)
	}
}

// TestHostileEventTextIsEscaped puts markup in a computer name and checks
// every page shows it as text.
func TestHostileEventTextIsEscaped(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	evil := `<script>alert(1)</script>`
	paths := writeFleet(t, t.TempDir(), 4, 300*time.Second, func(i int) string { return fmt.Sprintf("%s-%d", evil, i) })
	if status, _, raw := postUploads(t, ts, paths...); status != 201 {
		t.Fatalf("upload: %s", raw)
	}
	rep := getReport(t, ts)
	pages := []string{"/", "/uploads"}
	for _, d := range rep.Diagnoses {
		pages = append(pages, "/diagnoses/"+d.ID)
	}
	for _, p := range pages {
		_, body := getPage(t, ts.URL+p)
		if strings.Contains(body, evil) {
			t.Errorf("%s renders the computer name unescaped", p)
		}
	}
	if len(rep.Diagnoses) == 0 {
		t.Fatal("no diagnosis: the escaping of the diagnosis page was not checked")
	}
}

func TestSecurityHeadersAndHealthz(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("healthz %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	// A cross-site form POST is refused (CSRF).
	req, _ := http.NewRequest("POST", ts.URL+"/upload", strings.NewReader(""))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d, want 403", resp.StatusCode)
	}
}

// startServer starts srv's background work (the live analysis) for a
// test that serves its Handler, and stops it when the test ends.
func startServer(t testing.TB, srv *web.Server) {
	t.Helper()
	srv.Start()
	t.Cleanup(func() { srv.Close(context.Background()) })
}

func newHTTPTest(t testing.TB, srv *web.Server) *httptest.Server {
	startServer(t, srv)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}
