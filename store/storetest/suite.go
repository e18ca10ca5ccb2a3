// Package storetest is the behaviour test suite every store.Store passes:
// the same tests run on SQLite (always) and on PostgreSQL (when the PG*
// environment names a server, e.g. under pg_virtualenv). It also opens
// fresh stores of either kind for other packages' tests.
package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

// Opener opens a fresh, empty store, closed at the test's cleanup. now,
// when not nil, replaces its clock.
type Opener func(tb testing.TB, now func() time.Time) store.Store

// Run runs the whole suite against the stores open makes.
func Run(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"InsertEvents", testInsertEvents},
		{"FindEvents", testFindEvents},
		{"ComputerAcrossTime", testComputerAcrossTime},
		{"AnalysisEventsAfter", testAnalysisEventsAfter},
		{"CursorUnderConcurrentWriters", testCursorUnderConcurrentWriters},
		{"Uploads", testUploads},
		{"FailRunningUploads", testFailRunningUploads},
		{"AgentDay", testAgentDay},
		{"Tokens", testTokens},
		{"Sessions", testSessions},
		{"Push", testPush},
		{"DeleteEventsBefore", testDeleteEventsBefore},
		{"RetentionAcrossWeeks", testRetentionAcrossWeeks},
		{"DeleteUploadKeepsShared", testDeleteUploadKeepsShared},
		{"Evidence", testEvidence},
		{"AnalysisSnapshot", testAnalysisSnapshot},
		{"ClientMarks", testClientMarks},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

// Outlook is an Outlook event of the Application log for tests.
func Outlook(computer string, id int, rec int64, t time.Time) ingest.Event {
	return ingest.Event{Computer: computer, Channel: "Application", Provider: "Outlook", EventID: id,
		Qualifiers: 16384, Level: 4, RecordID: rec, Time: t, Precision: 100, Message: "m"}
}

func testUploads(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
	u := &store.Upload{Name: "a.evtx", Bytes: 100}
	if err := db.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindUploadByID(ctx, u.ID)
	if err != nil || got.Status != store.UploadRunning || got.Source != "upload" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if err := db.SetUploadProgress(ctx, u.ID, 40); err != nil {
		t.Fatal(err)
	}
	if n, err := db.UploadProgress(ctx, u.ID); err != nil || n != 40 {
		t.Fatalf("progress = %d, %v; want 40", n, err)
	}
	u.Format, u.Records, u.Warnings, u.LooksLike = "evtx", 5, []ingest.Warning{{Offset: 4096, Msg: "bad chunk"}}, "x"
	if err := db.FinishUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, _ = db.FindUploadByID(ctx, u.ID)
	if got.Status != store.UploadDone || got.Records != 5 || len(got.Warnings) != 1 || got.Warnings[0].Offset != 4096 ||
		got.LooksLike != "x" || got.FinishedAt == nil {
		t.Fatalf("got %+v", got)
	}
	if n, err := db.UploadProgress(ctx, u.ID); err != nil || n != 100 {
		t.Fatalf("progress of a finished upload = %d, %v; want its size 100", n, err)
	}
	if _, err := db.FindUploadByID(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing upload: %v, want ErrNotFound", err)
	}
	if _, err := db.UploadProgress(ctx, 999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing upload progress: %v, want ErrNotFound", err)
	}
	u2 := &store.Upload{Name: "b.evtx"}
	db.CreateUpload(ctx, u2)
	list, err := db.FindUploads(ctx, 0, 10)
	if err != nil || len(list) != 2 || list[0].ID != u2.ID {
		t.Fatalf("uploads %v, %v; want 2, newest first", list, err)
	}
	if list, _ := db.FindUploads(ctx, u2.ID, 10); len(list) != 1 || list[0].ID != u.ID {
		t.Fatalf("uploads before %d: %v", u2.ID, list)
	}
	if n, err := db.UploadCount(ctx); err != nil || n != 2 {
		t.Fatalf("upload count %d, %v", n, err)
	}
	if _, up, err := db.ChangeMark(ctx); err != nil || up != u2.ID {
		t.Fatalf("change mark upload %d, %v; want %d", up, err, u2.ID)
	}
}

func testFailRunningUploads(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
	running := &store.Upload{Name: "cut.evtx"}
	done := &store.Upload{Name: "ok.evtx"}
	db.CreateUpload(ctx, running)
	db.CreateUpload(ctx, done)
	db.FinishUpload(ctx, done)
	n, err := db.FailRunningUploads(ctx)
	if err != nil || n != 1 {
		t.Fatalf("n = %d, %v; want 1", n, err)
	}
	got, _ := db.FindUploadByID(ctx, running.ID)
	if got.Status != store.UploadFailed || !strings.Contains(got.Error, "interrupted") {
		t.Fatalf("running upload after restart: %+v", got)
	}
	if got, _ := db.FindUploadByID(ctx, done.ID); got.Status != store.UploadDone {
		t.Fatalf("done upload changed: %+v", got)
	}
}

func testAgentDay(t *testing.T, open Opener) {
	ctx := context.Background()
	now := time.Date(2024, 5, 2, 9, 0, 0, 0, time.UTC)
	db := open(t, func() time.Time { return now })
	id, err := db.AgentDayUpload(ctx, "agent", "fleet")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 { // concurrent batches find the same row and lose no count
		go func() {
			again, err := db.AgentDayUpload(ctx, "agent", "fleet")
			if err == nil && again != id {
				err = errors.New("another row for the same day")
			}
			if err == nil {
				err = db.CountAgentBatch(ctx, id, store.AgentBatchCounts{Bytes: 10, Records: 3, OutlookEvents: 2, NewEvents: 1,
					DuplicateEvents: 1, Format: "ndjson", Warnings: []ingest.Warning{{Line: 1, Msg: "w"}}})
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	u, err := db.FindUploadByID(ctx, id)
	if err != nil || u.Bytes != 80 || u.Records != 24 || u.NewEvents != 8 || u.DuplicateEvents != 8 ||
		u.Format != "ndjson" || len(u.Warnings) != 8 || u.Status != store.UploadDone || u.Name != store.AgentDayName("fleet", "2024-05-02") {
		t.Fatalf("agent day %+v, %v", u, err)
	}
	now = now.Add(24 * time.Hour)
	if next, err := db.AgentDayUpload(ctx, "agent", "fleet"); err != nil || next == id {
		t.Fatalf("next day: %d, %v; want a new row", next, err)
	}
	if err := db.CountAgentBatch(ctx, 999, store.AgentBatchCounts{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("count on a missing row: %v", err)
	}
}

func testPush(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
	for range 2 {
		if err := db.MarkDiagnosisPushed(ctx, "hec:x", "d1"); err != nil {
			t.Fatal(err)
		}
	}
	db.MarkDiagnosisPushed(ctx, "webhook:y", "d2")
	got, err := db.PushedDiagnoses(ctx, "hec:x")
	if err != nil || len(got) != 1 || !got["d1"] {
		t.Fatalf("pushed %v, %v", got, err)
	}
}

// BenchInsert measures InsertEvents in batches of 5000 new events (the
// events/s metric) on the stores open makes.
func BenchInsert(b *testing.B, open Opener) {
	ctx := context.Background()
	db := open(b, nil)
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	const batch = 5000
	evs := make([]ingest.Event, batch)
	rec := int64(0)
	b.ResetTimer()
	for range b.N {
		for i := range evs {
			rec++
			evs[i] = Outlook("PC-"+string(rune('A'+rec%26))+".corp.example", 25+int(rec%2), rec, t0.Add(time.Duration(rec)*time.Second))
		}
		if n, _, err := db.InsertEvents(ctx, 0, evs); err != nil || n != batch {
			b.Fatalf("inserted %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}
