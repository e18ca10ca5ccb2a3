package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
	"idletrace/web"
)

// uploadDir posts every file of dir in one multipart request (tz for the
// CSV exports) and returns the report the server then serves.
func uploadDir(t *testing.T, dir, tz string) analysis.Report {
	t.Helper()
	ts := newTestServer(t, web.Config{})
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		w, _ := mw.CreateFormFile("file", filepath.Base(f))
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	mw.Close()
	resp, err := http.Post(ts.URL+"/api/v1/uploads?tz="+url.QueryEscape(tz), mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out struct{ Items []uploadItem }
	json.Unmarshal(raw, &out)
	if resp.StatusCode != http.StatusCreated || len(out.Items) != len(files) {
		t.Fatalf("upload %s: status %d: %.300s", dir, resp.StatusCode, raw)
	}
	for _, it := range out.Items {
		if it.Error != nil || it.Upload == nil || len(it.Upload.Warnings) > 0 {
			t.Fatalf("%s: %+v %+v", it.Name, it.Error, it.Upload)
		}
	}
	return getReport(t, ts)
}

// TestUploadEveryScenarioEveryFormat uploads each scenario's logs in each
// shape through the HTTP API: every shape gives the diagnoses .evtx gives.
func TestUploadEveryScenarioEveryFormat(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: uploads every scenario in every shape")
	}
	root := sharedDir(t, "scenarios")
	truths, _ := filepath.Glob(filepath.Join(root, "*", "truth.json"))
	for _, truth := range truths {
		dir := filepath.Dir(truth)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var tr struct {
				TZ string `json:"tz"`
			}
			b, _ := os.ReadFile(truth)
			json.Unmarshal(b, &tr)
			want := uploadDir(t, filepath.Join(dir, "evtx"), tr.TZ)
			if len(want.Diagnoses) == 0 && filepath.Base(dir) != "healthy" {
				t.Fatal("no diagnosis from the .evtx files")
			}
			// The report the API serves is the truth's, exactly.
			tf, err := fleetsim.ParseTruthFile(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range fleetsim.CheckTruthFile(want, tf, false) {
				t.Errorf("evtx via the API: %s", p)
			}
			for _, shape := range []string{"xml", "csv", "ndjson"} {
				got := uploadDir(t, filepath.Join(dir, shape), tr.TZ)
				for _, p := range fleetsim.CheckTruthFile(got, tf, shape == "csv") {
					t.Errorf("%s via the API: %s", shape, p)
				}
				for _, d := range fleetsim.SameDiagnoses(got, want, 0.02) {
					t.Errorf("%s vs evtx: %s", shape, d)
				}
			}
		})
	}
}
