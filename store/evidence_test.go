package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
	"idletrace/store/storetest"
)

func TestDeleteUpload(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	upload := func(name string, evs ...ingest.Event) int64 { return storetest.Upload(t, db, name, evs...) }
	a := outlook("PC1", 25, 1, t0)
	b := outlook("PC1", 26, 2, t0.Add(time.Minute))
	c := outlook("PC2", 25, 3, t0.Add(2*time.Minute))
	d := outlook("PC2", 26, 4, t0.Add(3*time.Minute))
	u1 := upload("one", a, b, c)
	u2 := upload("two", b, c, d) // b and c duplicate u1's

	t.Run("OK", func(t *testing.T) {
		got, err := db.DeleteUpload(ctx, u1)
		if err != nil {
			t.Fatal(err)
		}
		want := store.UploadDeletion{UploadID: u1, Removed: 1, Kept: 2}
		if *got != want {
			t.Fatalf("got %+v, want %+v", *got, want)
		}
		evs, _ := db.FindEvents(ctx, store.EventFilter{})
		if len(evs) != 3 {
			t.Fatalf("%d events left, want 3 (b, c kept for upload two; d)", len(evs))
		}
		for _, e := range evs {
			if e.UploadID != u2 {
				t.Errorf("event %d owned by upload %d, want %d", e.RecordID, e.UploadID, u2)
			}
		}
		// Deleting the second removes the rest: nothing is held elsewhere.
		got, err = db.DeleteUpload(ctx, u2)
		if err != nil {
			t.Fatal(err)
		}
		if want := (store.UploadDeletion{UploadID: u2, Removed: 3}); *got != want {
			t.Fatalf("got %+v, want %+v", *got, want)
		}
		if n, _ := db.UploadCount(ctx); n != 0 {
			t.Fatalf("%d uploads left", n)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := db.DeleteUpload(ctx, 999); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
	})
	t.Run("ErrConflictWhileRunning", func(t *testing.T) {
		u := &store.Upload{Name: "running"}
		db.CreateUpload(ctx, u)
		if _, err := db.DeleteUpload(ctx, u.ID); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
	})
}

func TestDiagnosisRecordsSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ids.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	rec := store.DiagnosisRecord{ID: "idle-timeout-900s", Kind: "idle-timeout", Value: 900.6, Computers: []string{"hq-pc01", "hq-pc02"}}
	if err := db.NoteDiagnoses(ctx, []store.DiagnosisRecord{rec}); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceDiagnosis(ctx, rec.ID, "idle-timeout-900s-hq"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.FindDiagnosisRecord(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != rec.Kind || got.Value != rec.Value || len(got.Computers) != 2 || got.ReplacedBy != "idle-timeout-900s-hq" {
		t.Fatalf("got %+v", got)
	}
	if _, err := db.FindDiagnosisRecord(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if err := db.ReplaceDiagnosis(ctx, "nope", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

func TestChanges(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	var ve *store.ValidationError
	if err := db.CreateChange(ctx, &store.Change{Note: "x"}); !errors.As(err, &ve) || ve.Field != "at" {
		t.Fatalf("no time: got %v", err)
	}
	if err := db.CreateChange(ctx, &store.Change{At: time.Now(), Note: "  "}); !errors.As(err, &ve) || ve.Field != "note" {
		t.Fatalf("no note: got %v", err)
	}
	at := time.Date(2024, 3, 6, 12, 0, 0, 0, time.UTC)
	c := &store.Change{At: at, Note: "raised the F5 idle timeout to 7200 s"}
	if err := db.CreateChange(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindChangeByID(ctx, c.ID)
	if err != nil || !got.At.Equal(at) || got.Note != c.Note {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := db.FindChangeByID(ctx, c.ID+1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	list, err := db.FindChanges(ctx, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("list %v, %v", list, err)
	}
}
