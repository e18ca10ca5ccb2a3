package web_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
	"idletrace/web"
)

// TestDashboardSaysTheAnalysisWindow: with events older than the analysis
// window stored, the dashboard says from when the analysis covers them and
// that older ones are not analysed; the report counts only the window's.
func TestDashboardSaysTheAnalysisWindow(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "window.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	t0 := time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)
	var evs []ingest.Event
	rec := int64(0)
	for day := range 10 { // ten days, one reconnect an hour
		for h := range 8 {
			at := t0.Add(time.Duration(day)*24*time.Hour + time.Duration(h)*time.Hour)
			for _, id := range []int{25, 26} {
				rec++
				evs = append(evs, ingest.Event{Computer: "HQ-PC01.corp.example", Channel: "Application", Provider: "Outlook",
					EventID: id, Qualifiers: 16384, Level: 4, RecordID: rec, Time: at.Add(time.Duration(id-25) * 20 * time.Second),
					Precision: 100 * time.Nanosecond, Message: "m"})
			}
		}
	}
	if _, _, err := db.InsertEvents(context.Background(), 0, evs); err != nil {
		t.Fatal(err)
	}
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir(), AnalysisWindow: 3 * 24 * time.Hour}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newHTTPTest(t, srv)
	c := newClient(t, ts.URL, "")
	_, body := c.get("/")
	if !strings.Contains(string(body), "covers the events from") || !strings.Contains(string(body), "older stored events are not analysed") {
		t.Fatalf("the dashboard does not say the analysis window:\n%s", body)
	}
	var rep struct {
		Events struct{ Disconnects int } `json:"events"`
	}
	c.getJSON("/api/v1/report", &rep)
	// The window: from the newest event less 3 days, to the hour — the
	// last three days and the newest one's hour of the fourth.
	if rep.Events.Disconnects >= 80 || rep.Events.Disconnects < 3*8 {
		t.Fatalf("report counts %d disconnects, want those of the last three days (24–31), not all 80", rep.Events.Disconnects)
	}
}
