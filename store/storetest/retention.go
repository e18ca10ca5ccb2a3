package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

// testRetentionAcrossWeeks: ten weeks of events from two uploads that
// share some, retention cut inside a week (on PostgreSQL the weeks wholly
// before it are dropped as partitions, the rest deleted row by row): the
// count deleted is exact, every event at or after the cut stays, the
// newest seq stays even when old, and deleting the uploads afterwards
// counts only what is left (no upload record of a deleted event remains).
func testRetentionAcrossWeeks(t *testing.T, open Opener) {
	ctx := context.Background()
	t0 := time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC) // a Monday
	now := t0.AddDate(0, 0, 80)
	db := open(t, func() time.Time { return now })
	r, ok := db.(store.Retention)
	if !ok {
		t.Fatalf("%T does not implement store.Retention", db)
	}
	cut := t0.Add(45*24*time.Hour + 12*time.Hour + 500*time.Millisecond)
	upload := func(name string, evs []ingest.Event) (int64, int, int) {
		u := &store.Upload{Name: name}
		if err := db.CreateUpload(ctx, u); err != nil {
			t.Fatal(err)
		}
		added, dups, err := db.InsertEvents(ctx, u.ID, evs)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.FinishUpload(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u.ID, added, dups
	}
	// Upload one: 3 events a day for 70 days at odd sub-second times, one
	// a nanosecond before the cut and one exactly at it.
	var one, shared []ingest.Event
	rec := int64(0)
	for d := range 70 {
		for k := range 3 {
			rec++
			at := t0.Add(time.Duration(d)*24*time.Hour + time.Duration(k)*7*time.Hour + time.Duration(rec)*time.Millisecond)
			e := Outlook(fmt.Sprintf("PC%d", k), 25+k%2, rec, at)
			one = append(one, e)
			if rec%5 == 0 {
				shared = append(shared, e)
			}
		}
	}
	rec++
	one = append(one, Outlook("EDGE", 25, rec, cut.Add(-time.Nanosecond)))
	rec++
	one = append(one, Outlook("EDGE", 26, rec, cut))
	u1, added, _ := upload("one", one)
	if added != len(one) {
		t.Fatalf("upload one added %d of %d", added, len(one))
	}
	// Upload two: every fifth event of upload one again, and its own.
	var own []ingest.Event
	for d := range 70 {
		rec++
		own = append(own, Outlook("PC9", 25, rec, t0.Add(time.Duration(d)*24*time.Hour+3*time.Hour)))
	}
	u2, added, dups := upload("two", append(append([]ingest.Event{}, shared...), own...))
	if added != len(own) || dups != len(shared) {
		t.Fatalf("upload two: %d new, %d duplicates; want %d, %d", added, dups, len(own), len(shared))
	}
	// The newest seq is an old event (week 2): it stays.
	rec++
	top := Outlook("OLD", 26, rec, t0.Add(9*24*time.Hour))
	if n, _, err := db.InsertEvents(ctx, 0, []ingest.Event{top}); err != nil || n != 1 {
		t.Fatalf("insert the newest: %d, %v", n, err)
	}

	all := append(append(append([]ingest.Event{}, one...), own...), top)
	before, sharedLeft, ownLeft, oneLeft := 0, 0, 0, 0
	for _, e := range all {
		if e.Time.Before(cut) {
			before++
		}
	}
	for _, e := range shared {
		if !e.Time.Before(cut) {
			sharedLeft++
		}
	}
	for _, e := range own {
		if !e.Time.Before(cut) {
			ownLeft++
		}
	}
	for _, e := range one {
		if !e.Time.Before(cut) {
			oneLeft++
		}
	}
	n, err := r.DeleteEventsBefore(ctx, cut, 7)
	if err != nil || n != int64(before-1) {
		t.Fatalf("deleted %d, %v; want %d (every event before the cut but the newest seq)", n, err, before-1)
	}
	left, err := db.FindEvents(ctx, store.EventFilter{ByTime: true})
	if err != nil || len(left) != len(all)-before+1 {
		t.Fatalf("%d events left, %v; want %d", len(left), err, len(all)-before+1)
	}
	if left[0].Computer != "OLD" || !left[1].Time.Equal(cut) || left[1].Computer != "EDGE" {
		t.Fatalf("first events left: %+v, %+v; want the newest seq, then the one at the cut", left[0], left[1])
	}
	for _, e := range left[1:] {
		if e.Time.Before(cut) {
			t.Fatalf("event at %v before the cut left", e.Time)
		}
	}
	if again, err := r.DeleteEventsBefore(ctx, cut, 7); err != nil || again != 0 {
		t.Fatalf("second run deleted %d, %v; want 0", again, err)
	}
	// Re-sending a deleted event stores it again (its key is gone too).
	if n, _, err := db.InsertEvents(ctx, 0, one[:1]); err != nil || n != 1 {
		t.Fatalf("re-sent deleted event: %d new, %v; want 1", n, err)
	}
	if n, err := r.DeleteEventsBefore(ctx, cut, 100); err != nil || n != 1 {
		t.Fatalf("deleting it: %d, %v", n, err)
	}
	// Upload two's records of deleted events went with them.
	del, err := db.DeleteUpload(ctx, u2)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.UploadDeletion{UploadID: u2, Removed: ownLeft, Unlinked: sharedLeft}); *del != want {
		t.Fatalf("delete upload two: %+v, want %+v", *del, want)
	}
	del, err = db.DeleteUpload(ctx, u1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.UploadDeletion{UploadID: u1, Removed: oneLeft}); *del != want {
		t.Fatalf("delete upload one: %+v, want %+v", *del, want)
	}
	if st, err := db.Stats(ctx); err != nil || st.Events != 1 {
		t.Fatalf("after deleting both uploads: %+v, %v; want the newest event only", st, err)
	}
}

// testDeleteUploadKeepsShared: an event two uploads brought stays when
// either is deleted, owned by the other; counts exact.
func testDeleteUploadKeepsShared(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	upload := func(name string, evs ...ingest.Event) int64 { return Upload(t, db, name, evs...) }
	a := Outlook("PC1", 25, 1, t0)
	b := Outlook("PC1", 26, 2, t0.Add(time.Minute))
	c := Outlook("PC2", 25, 3, t0.Add(2*time.Minute))
	d := Outlook("PC2", 26, 4, t0.Add(3*time.Minute))
	e := Outlook("PC3", 25, 5, t0.Add(4*time.Minute))
	u1 := upload("one", a, b, c)
	u2 := upload("two", b, c, d) // b and c duplicate one's
	u3 := upload("three", c, e)  // c is in all three
	upload("one again", a)       // a second copy from a fourth upload…
	// …and the same upload again adds no record of its own.
	if _, dups, err := db.InsertEvents(ctx, u1, []ingest.Event{a, b}); err != nil || dups != 2 {
		t.Fatalf("re-insert into upload one: %d duplicates, %v", dups, err)
	}

	got, err := db.DeleteUpload(ctx, u1)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.UploadDeletion{UploadID: u1, Kept: 3}); *got != want {
		t.Fatalf("delete one: %+v, want %+v (a, b, c kept for others)", *got, want)
	}
	evs, _ := db.FindEvents(ctx, store.EventFilter{})
	owner := map[int64]int64{}
	for _, ev := range evs {
		owner[ev.RecordID] = ev.UploadID
	}
	if len(evs) != 5 || owner[2] != u2 || owner[3] != u2 || owner[4] != u2 || owner[5] != u3 || owner[1] == u1 || owner[1] == 0 {
		t.Fatalf("after deleting one: owners %v; want b, c, d → two, e → three, a → the fourth", owner)
	}
	got, err = db.DeleteUpload(ctx, u2)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.UploadDeletion{UploadID: u2, Removed: 2, Kept: 1}); *got != want {
		t.Fatalf("delete two: %+v, want %+v (b, d removed; c kept for three)", *got, want)
	}
	got, err = db.DeleteUpload(ctx, u3)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.UploadDeletion{UploadID: u3, Removed: 2}); *got != want {
		t.Fatalf("delete three: %+v, want %+v", *got, want)
	}
	if st, _ := db.Stats(ctx); st.Events != 1 {
		t.Fatalf("%d events left, want a (the fourth upload's)", st.Events)
	}
}

// Upload stores evs as one finished upload named name and returns its id.
func Upload(tb testing.TB, db store.Store, name string, evs ...ingest.Event) int64 {
	tb.Helper()
	ctx := context.Background()
	u := &store.Upload{Name: name}
	if err := db.CreateUpload(ctx, u); err != nil {
		tb.Fatal(err)
	}
	if _, _, err := db.InsertEvents(ctx, u.ID, evs); err != nil {
		tb.Fatal(err)
	}
	if err := db.FinishUpload(ctx, u); err != nil {
		tb.Fatal(err)
	}
	return u.ID
}
