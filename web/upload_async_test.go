package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"idletrace/store"
	"idletrace/web"
)

// TestUploadAsyncProgress: ?async=1 answers 202 with running uploads, and
// GET /api/v1/uploads/{id} follows each to its end with progress_bytes.
func TestUploadAsyncProgress(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	paths := writeFleet(t, t.TempDir(), 3, 300*time.Second, func(i int) string { return fmt.Sprintf("ASYNC-PC%d", i) })
	body, ct := multipartBody(t, nil, paths...)
	resp, err := http.Post(ts.URL+"/api/v1/uploads?async=1", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Items []uploadItem }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || len(out.Items) != 3 {
		t.Fatalf("status %d, %d items; want 202 and 3", resp.StatusCode, len(out.Items))
	}
	for _, it := range out.Items {
		if it.Upload == nil || it.Upload.Status != store.UploadRunning || it.Upload.ID == 0 {
			t.Fatalf("item %+v: want a running upload with an id", it)
		}
		var st struct {
			store.Upload
			ProgressBytes int64 `json:"progress_bytes"`
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			r, err := http.Get(fmt.Sprintf("%s/api/v1/uploads/%d", ts.URL, it.Upload.ID))
			if err != nil {
				t.Fatal(err)
			}
			json.NewDecoder(r.Body).Decode(&st)
			r.Body.Close()
			if r.StatusCode != 200 {
				t.Fatalf("GET upload %d: %d", it.Upload.ID, r.StatusCode)
			}
			if st.ProgressBytes < 0 || st.ProgressBytes > st.Bytes {
				t.Fatalf("progress %d of %d bytes", st.ProgressBytes, st.Bytes)
			}
			if st.Status != store.UploadRunning || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if st.Status != store.UploadDone || st.NewEvents != 41 || st.ProgressBytes != st.Bytes || st.Format != "evtx" {
			t.Fatalf("upload %d ended %+v", it.Upload.ID, st)
		}
		// The detail page of a finished upload does not refresh itself.
		_, page := getPage(t, fmt.Sprintf("%s/uploads/%d", ts.URL, it.Upload.ID))
		if strings.Contains(page, `http-equiv="refresh"`) {
			t.Error("finished upload page refreshes")
		}
	}
	if code, _ := getPage(t, ts.URL+"/api/v1/uploads/999"); code != 404 {
		t.Fatalf("unknown upload: %d", code)
	}
	if rep := getReport(t, ts); rep.Computers != 3 {
		t.Fatalf("report after async uploads: %d computers", rep.Computers)
	}
}
