package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"idletrace/ingest"
)

// TestAnalysisEventsAfter: reading in chunks after the last seq seen gives
// exactly AnalysisEvents, and the deltas add up to Stats.
func TestAnalysisEventsAfter(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC)
	var evs []ingest.Event
	for i := range 300 {
		name := []string{"PC01", "pc01", "PC02", "LT-9"}[i%4]
		evs = append(evs, ingest.Event{Computer: name, Channel: "Application", Provider: "Outlook", EventID: 25 + i%2,
			RecordID: int64(i + 1), Time: t0.Add(time.Duration(300-i) * time.Minute), Qualifiers: -1})
	}
	if _, _, err := db.InsertEvents(ctx, 0, evs[:100]); err != nil {
		t.Fatal(err)
	}
	var names Interner
	var got []string
	var seq int64
	rows := 0
	var first, last time.Time
	keys := map[string]bool{}
	read := func() {
		for {
			d, err := db.AnalysisEventsAfter(ctx, seq, 7, &names)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range d.Events {
				got = append(got, e.Computer+e.Time.String())
			}
			if d.Rows > 0 {
				if first.IsZero() || d.First.Before(first) {
					first = d.First
				}
				if d.Last.After(last) {
					last = d.Last
				}
			}
			for _, k := range d.Keys {
				keys[k] = true
			}
			rows += d.Rows
			seq = d.LastSeq
			if d.Rows < 7 {
				return
			}
		}
	}
	read()
	if _, _, err := db.InsertEvents(ctx, 0, evs); err != nil { // 100 duplicates, 200 new
		t.Fatal(err)
	}
	read()
	all, err := db.AnalysisEvents(ctx, EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range all {
		want = append(want, e.Computer+e.Time.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("read %d events after seqs, want %d", len(got), len(want))
	}
	st, err := db.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rows != st.Events || seq != st.LastSeq || len(keys) != st.Computers || !first.Equal(st.First) || !last.Equal(st.Last) {
		t.Fatalf("deltas: %d rows, seq %d, %d computers, %v–%v; stats %+v", rows, seq, len(keys), first, last, st)
	}
	if n := len(names.m); n != 6 { // PC01 pc01 PC02 pc02 LT-9 lt-9
		t.Errorf("interned %d strings, want 6", n)
	}
}
