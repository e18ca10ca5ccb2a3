package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

// testEvidence: diagnosis records and their successors, changes, probes,
// deleting an upload, and the events browser's filters, on every backend.
func testEvidence(t *testing.T, open Opener) {
	ctx := context.Background()
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	t.Run("DiagnosisRecords", func(t *testing.T) {
		db := open(t, nil)
		if err := db.NoteDiagnoses(ctx, []store.DiagnosisRecord{{ID: "idle-timeout-900s", Kind: "idle-timeout", Value: 900, Computers: []string{"a", "b"}}}); err != nil {
			t.Fatal(err)
		}
		if err := db.ReplaceDiagnosis(ctx, "idle-timeout-900s", "idle-timeout-900s-hq"); err != nil {
			t.Fatal(err)
		}
		r, err := db.FindDiagnosisRecord(ctx, "idle-timeout-900s")
		if err != nil || r.ReplacedBy != "idle-timeout-900s-hq" || len(r.Computers) != 2 || r.Value != 900 {
			t.Fatalf("record %+v, %v", r, err)
		}
		if _, err := db.FindDiagnosisRecord(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	})
	t.Run("Changes", func(t *testing.T) {
		db := open(t, nil)
		if err := db.CreateChange(ctx, &store.Change{At: t0}); err == nil {
			t.Error("a change without a note was recorded")
		}
		c := &store.Change{At: t0, Note: " raised the F5 idle timeout to 7200 s "}
		if err := db.CreateChange(ctx, c); err != nil || c.ID == 0 {
			t.Fatal(c, err)
		}
		got, err := db.FindChangeByID(ctx, c.ID)
		if err != nil || got.Note != "raised the F5 idle timeout to 7200 s" || !got.At.Equal(t0) {
			t.Fatalf("%+v, %v", got, err)
		}
		if cs, err := db.FindChanges(ctx, 5); err != nil || len(cs) != 1 {
			t.Errorf("changes %v, %v", cs, err)
		}
	})
	t.Run("Probes", func(t *testing.T) {
		db := open(t, nil)
		tm := 300.5
		for _, c := range []string{"HQ-PC01", "HQ-PC02", "hq-pc01"} {
			p := &store.Probe{Computer: c, Target: "tcp://x:1", TimeoutSeconds: &tm, Drop: "reset", StartedAt: t0, FinishedAt: t0.Add(time.Minute), Result: []byte(`{}`)}
			if err := db.CreateProbe(ctx, p); err != nil || p.ID == 0 {
				t.Fatal(err)
			}
		}
		ps, err := db.FindProbes(ctx, store.ProbeFilter{Computer: "HQ-PC01"})
		if err != nil || len(ps) != 2 || ps[0].ID < ps[1].ID || *ps[0].TimeoutSeconds != tm || ps[0].DeadMinSeconds != nil || !ps[0].FinishedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("probes %+v, %v", ps, err)
		}
		if ps, _ := db.FindProbes(ctx, store.ProbeFilter{Before: ps[1].ID}); len(ps) != 0 {
			t.Errorf("before the first: %d", len(ps))
		}
	})
	t.Run("DeleteUploadAndBrowse", func(t *testing.T) {
		db := open(t, nil)
		u := &store.Upload{Name: "a.evtx"}
		if err := db.CreateUpload(ctx, u); err != nil {
			t.Fatal(err)
		}
		evs := []ingest.Event{Outlook("HQ-PC01.corp", 25, 1, t0.Add(time.Hour)), Outlook("HQ-PC01.corp", 26, 2, t0), Outlook("BR-LT07.corp", 25, 3, t0.Add(time.Minute))}
		if _, _, err := db.InsertEvents(ctx, u.ID, evs); err != nil {
			t.Fatal(err)
		}
		byTime, err := db.FindEvents(ctx, store.EventFilter{ByTime: true})
		if err != nil || len(byTime) != 3 || !byTime[0].Time.Equal(t0) || !byTime[2].Time.Equal(t0.Add(time.Hour)) {
			t.Fatalf("by time: %+v, %v", byTime, err)
		}
		if got, _ := db.FindEvents(ctx, store.EventFilter{ComputerPrefix: "hq-"}); len(got) != 2 {
			t.Errorf("prefix hq-: %d events", len(got))
		}
		if got, _ := db.FindEvents(ctx, store.EventFilter{Search: "br-lt"}); len(got) != 1 {
			t.Errorf("search br-lt: %d events", len(got))
		}
		if err := db.FinishUpload(ctx, u); err != nil {
			t.Fatal(err)
		}
		del, err := db.DeleteUpload(ctx, u.ID)
		if err != nil || del.Removed != 3 {
			t.Fatalf("delete: %+v, %v", del, err)
		}
		if got, _ := db.FindEvents(ctx, store.EventFilter{}); len(got) != 0 {
			t.Errorf("%d events left", len(got))
		}
		if _, err := db.DeleteUpload(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleting again: %v", err)
		}
	})
}
