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

// testClientMarks: a client's write mark is raised, never lowered, and
// zero for a client that never wrote.
func testClientMarks(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
	cm, ok := db.(store.ClientMarks)
	if !ok {
		t.Fatalf("%T keeps no client marks", db)
	}
	if s, u, err := cm.ClientMark(ctx, "token:1"); s != 0 || u != 0 || err != nil {
		t.Fatalf("never wrote: %d %d %v", s, u, err)
	}
	for _, m := range [][2]int64{{10, 2}, {7, 3}, {12, 1}} {
		if err := cm.SetClientMark(ctx, "token:1", m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	cm.SetClientMark(ctx, "ip:192.0.2.1", 5, 0)
	if s, u, err := cm.ClientMark(ctx, "token:1"); s != 12 || u != 3 || err != nil {
		t.Fatalf("mark %d %d %v, want the highest seq 12 and upload 3", s, u, err)
	}
	if s, _, _ := cm.ClientMark(ctx, "ip:192.0.2.1"); s != 5 {
		t.Fatalf("another client's mark %d, want 5", s)
	}
}
