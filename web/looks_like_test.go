package web_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idletrace/ingest/evtxtest"
	"idletrace/web"
)

// TestUploadOfAnotherLogSaysWhatItIs: a System log uploaded by mistake is
// done with 0 Outlook events, and the API item and the upload page say
// what it is and where Outlook's events are (issue 12).
func TestUploadOfAnotherLogSaysWhatItIs(t *testing.T) {
	ts := newTestServer(t, web.Config{RateLimit: -1})
	var recs []evtxtest.Record
	at := time.Date(2024, 5, 6, 8, 0, 0, 0, time.UTC)
	for i := range 40 {
		recs = append(recs, evtxtest.Record{Provider: "Service Control Manager", EventID: 7036, Qualifiers: 16384, Level: 4,
			Keywords: 0x8080000000000000, Channel: "System", Time: at.Add(time.Duration(i) * time.Minute), Computer: "HQ-PC01.corp.example",
			Data: []string{"Windows Update", "running"}})
	}
	path := filepath.Join(t.TempDir(), "System.evtx")
	if err := evtxtest.WriteFile(path, recs); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("file", "System.evtx")
	b, _ := os.ReadFile(path)
	w.Write(b)
	mw.Close()
	resp, err := http.Post(ts.URL+"/api/v1/uploads", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Items []struct {
			Upload struct {
				ID            int64
				OutlookEvents int    `json:"outlook_events"`
				LooksLike     string `json:"looks_like"`
			}
		}
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated || len(out.Items) != 1 {
		t.Fatalf("status %d, %+v", resp.StatusCode, out)
	}
	u := out.Items[0].Upload
	if u.OutlookEvents != 0 || !strings.Contains(u.LooksLike, "System log") || !strings.Contains(u.LooksLike, "Application log") {
		t.Fatalf("upload %+v: want 0 Outlook events and a looks_like naming the System and Application logs", u)
	}
	page, err := http.Get(ts.URL + "/uploads/" + jsonNumber(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	var html bytes.Buffer
	html.ReadFrom(page.Body)
	if !strings.Contains(html.String(), "System log") {
		t.Errorf("the upload page does not say what the log is")
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }
