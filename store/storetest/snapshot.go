package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"idletrace/store"
)

// testAnalysisSnapshot: the stored snapshot round-trips; an older one (a
// lower seq, or the same seq made earlier) does not replace a newer one.
func testAnalysisSnapshot(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
	ss, ok := db.(store.AnalysisSnapshots)
	if !ok {
		t.Fatalf("%T keeps no analysis snapshot", db)
	}
	if got, err := ss.LoadAnalysisSnapshot(ctx); got != nil || err != nil {
		t.Fatalf("empty store: %+v, %v", got, err)
	}
	at := time.Date(2026, 4, 1, 9, 30, 0, 123456789, time.UTC)
	want := &store.AnalysisSnapshot{Seq: 42, Upload: 3, At: at, WindowStart: at.Add(-30 * 24 * time.Hour),
		Stats:  store.Stats{Events: 40, Computers: 7, Uploads: 3, LastSeq: 42, First: at.Add(-time.Hour), Last: at.Add(-time.Minute)},
		Report: []byte{0x1f, 0x8b, 0, 1, 2, 255}}
	if err := ss.SaveAnalysisSnapshot(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := ss.LoadAnalysisSnapshot(ctx)
	if err != nil || got == nil {
		t.Fatalf("load: %+v, %v", got, err)
	}
	if got.Seq != want.Seq || got.Upload != want.Upload || !got.At.Equal(want.At) || !got.WindowStart.Equal(want.WindowStart) ||
		got.Stats != want.Stats || !bytes.Equal(got.Report, want.Report) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	older := *want
	older.Seq, older.At, older.Report = 41, at.Add(time.Hour), []byte("older")
	earlier := *want
	earlier.At, earlier.Report = at.Add(-time.Second), []byte("earlier")
	for _, s := range []*store.AnalysisSnapshot{&older, &earlier} {
		if err := ss.SaveAnalysisSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := ss.LoadAnalysisSnapshot(ctx); !bytes.Equal(got.Report, want.Report) {
		t.Fatalf("an older snapshot replaced the newer one: %q", got.Report)
	}
	newer := *want
	newer.Seq, newer.WindowStart, newer.Report = 43, time.Time{}, []byte("newer")
	if err := ss.SaveAnalysisSnapshot(ctx, &newer); err != nil {
		t.Fatal(err)
	}
	if got, _ := ss.LoadAnalysisSnapshot(ctx); got.Seq != 43 || !got.WindowStart.IsZero() || string(got.Report) != "newer" {
		t.Fatalf("the newer snapshot was not stored: %+v", got)
	}
}
