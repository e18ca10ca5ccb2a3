package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

func testInsertEvents(t *testing.T, open Opener) {
	ctx := context.Background()
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 123456700, time.UTC)
	t.Run("DedupAcrossBatchesAndCase", func(t *testing.T) {
		db := open(t, nil)
		evs := []ingest.Event{Outlook("HQ-PC01.corp", 25, 10, t0), Outlook("HQ-PC01.corp", 26, 11, t0.Add(time.Minute))}
		if n, d, err := db.InsertEvents(ctx, 0, evs); err != nil || n != 2 || d != 0 {
			t.Fatalf("first insert: new %d dup %d err %v", n, d, err)
		}
		// Same records, other case and millisecond precision (a Winlogbeat copy).
		again := []ingest.Event{Outlook("hq-pc01.CORP", 25, 10, t0.Truncate(time.Millisecond)), Outlook("HQ-PC01.corp", 26, 11, t0.Add(time.Minute))}
		if n, d, err := db.InsertEvents(ctx, 0, again); err != nil || n != 0 || d != 2 {
			t.Fatalf("second insert: new %d dup %d err %v; want 0 new, 2 dup", n, d, err)
		}
		got, err := db.FindEvents(ctx, store.EventFilter{})
		if err != nil || len(got) != 2 || got[0].Computer != "HQ-PC01.corp" || !got[0].Time.Equal(t0) ||
			got[0].Qualifiers != 16384 || got[0].Precision != 100 || got[0].Level != 4 || got[0].Message != "m" {
			t.Fatalf("stored %+v, %v", got, err)
		}
	})
	t.Run("SameTextOtherRecordIDsAreTwoEvents", func(t *testing.T) {
		db := open(t, nil)
		evs := []ingest.Event{Outlook("PC", 25, 1, t0), Outlook("PC", 25, 2, t0)}
		if n, _, err := db.InsertEvents(ctx, 0, evs); err != nil || n != 2 {
			t.Fatalf("new = %d, err %v; want 2", n, err)
		}
	})
	t.Run("NoRecordIDDedupsOnMessage", func(t *testing.T) {
		db := open(t, nil)
		a := Outlook("PC", 25, 0, t0)
		a.Qualifiers = -1
		b := a
		b.Time = t0.Truncate(time.Second)
		c := a
		c.Message = "other"
		if n, d, err := db.InsertEvents(ctx, 0, []ingest.Event{a, b, c}); err != nil || n != 2 || d != 1 {
			t.Fatalf("new %d dup %d err %v; want 2 new 1 dup", n, d, err)
		}
		got, _ := db.FindEvents(ctx, store.EventFilter{})
		if len(got) != 2 || got[0].Qualifiers != -1 || got[0].RecordID != 0 {
			t.Fatalf("stored %+v; want no qualifiers (-1) and no record id", got)
		}
	})
	t.Run("UploadID", func(t *testing.T) {
		db := open(t, nil)
		u := &store.Upload{Name: "a"}
		db.CreateUpload(ctx, u)
		db.InsertEvents(ctx, u.ID, []ingest.Event{Outlook("PC", 25, 1, t0)})
		db.InsertEvents(ctx, 0, []ingest.Event{Outlook("PC", 26, 2, t0)})
		got, err := db.FindEvents(ctx, store.EventFilter{UploadID: u.ID})
		if err != nil || len(got) != 1 || got[0].UploadID != u.ID {
			t.Fatalf("events of upload %d: %+v, %v", u.ID, got, err)
		}
	})
}

func testFindEvents(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	var evs []ingest.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, Outlook("PC"+string(rune('A'+i%2)), 25+i%2, int64(i+1), t0.Add(time.Duration(i)*time.Hour)))
	}
	if _, _, err := db.InsertEvents(ctx, 0, evs); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindEvents(ctx, store.EventFilter{Computer: "pca", Since: t0.Add(2 * time.Hour), Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].RecordID != 3 || got[1].RecordID != 5 {
		t.Fatalf("got %+v", got)
	}
	next, err := db.FindEvents(ctx, store.EventFilter{Computer: "PCA", After: got[1].Seq})
	if err != nil || len(next) != 2 || next[0].RecordID != 7 {
		t.Fatalf("after cursor: %d events, %v; want 2 starting at record 7", len(next), err)
	}
	desc, err := db.FindEvents(ctx, store.EventFilter{EventIDs: []int{26}, Until: t0.Add(6 * time.Hour), Desc: true})
	if err != nil || len(desc) != 3 || desc[0].RecordID != 6 || desc[2].RecordID != 2 {
		t.Fatalf("desc 26s before 6h: %+v, %v", desc, err)
	}
	older, err := db.FindEvents(ctx, store.EventFilter{Desc: true, After: desc[0].Seq, Limit: 1})
	if err != nil || len(older) != 1 || older[0].RecordID != 5 {
		t.Fatalf("desc after cursor: %+v, %v", older, err)
	}
	an, err := db.AnalysisEvents(ctx, store.EventFilter{})
	if err != nil || len(an) != 10 {
		t.Fatalf("analysis events = %d, %v", len(an), err)
	}
	an, err = db.AnalysisEvents(ctx, store.EventFilter{Computer: "pcb", Since: t0.Add(5 * time.Hour)})
	if err != nil || len(an) != 3 || an[0].Computer != "PCB" || an[0].EventID != 26 {
		t.Fatalf("analysis events of PCB after 5h = %+v, %v", an, err)
	}
	st, err := db.Stats(ctx)
	if err != nil || st.Events != 10 || st.Computers != 2 || !st.First.Equal(t0) || !st.Last.Equal(t0.Add(9*time.Hour)) {
		t.Fatalf("stats %+v, %v", st, err)
	}
	if seq, _, err := db.ChangeMark(ctx); err != nil || seq != st.LastSeq {
		t.Fatalf("change mark seq %d, %v; stats say %d", seq, err, st.LastSeq)
	}
}

// testAnalysisEventsAfter: reading in chunks after the last seq seen gives
// exactly AnalysisEvents, and the deltas add up to Stats.
func testAnalysisEventsAfter(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
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
	var names store.Interner
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
	all, err := db.AnalysisEvents(ctx, store.EventFilter{})
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
}

// testCursorUnderConcurrentWriters keeps the cursor promise, "a reader
// that sees seq N+1 also sees N", with slow writers (large batches) and
// fast ones (a few events) interleaved: two pollers, one paging FindEvents
// after the last seq it saw (what GET /api/v1/events does) and one reading
// AnalysisEventsAfter (what the live analysis does), each see every event
// stored exactly once. A backend whose seqs commit out of order (a slow
// batch holding 1…5000 while a fast one commits 5001) fails it: the poller
// moves past 5000 before the slow batch is visible and never reads it.
func testCursorUnderConcurrentWriters(t *testing.T, open Opener) {
	if testing.Short() {
		t.Skip("-short")
	}
	ctx := context.Background()
	db := open(t, nil)
	t0 := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	const slowWriters, slowBatches, slowSize = 2, 4, 4000
	const fastWriters = 3
	var writers sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 16)
	write := func(w, size, batches int) {
		defer writers.Done()
		rec := int64(0)
		for b := 0; b < batches || batches == 0; b++ {
			if batches == 0 {
				select {
				case <-done:
					return
				default:
				}
			}
			evs := make([]ingest.Event, size)
			for i := range evs {
				rec++
				evs[i] = Outlook(fmt.Sprintf("W%d", w), 25+int(rec%2), rec, t0.Add(time.Duration(rec)*time.Second))
			}
			if _, _, err := db.InsertEvents(ctx, 0, evs); err != nil {
				errs <- err
				return
			}
		}
	}
	writers.Add(slowWriters + fastWriters)
	for w := range fastWriters {
		go write(100+w, 1+w, 0)
	}
	var slow sync.WaitGroup
	slow.Add(slowWriters)
	for w := range slowWriters {
		go func() { defer slow.Done(); write(w, slowSize, slowBatches) }()
	}
	go func() { slow.Wait(); close(done) }()

	type seen struct {
		seqs []int64
		err  error
	}
	stopPolling := make(chan struct{})
	poll := func(read func(after int64) ([]int64, error)) <-chan seen {
		out := make(chan seen, 1)
		go func() {
			var s seen
			var after int64
			final := false
			for {
				got, err := read(after)
				if err != nil {
					s.err = err
					break
				}
				s.seqs = append(s.seqs, got...)
				if len(got) > 0 {
					after = got[len(got)-1]
					continue
				}
				if final {
					break
				}
				select {
				case <-stopPolling: // writers are done: one last drain
					final = true
				case <-time.After(time.Millisecond):
				}
			}
			out <- s
		}()
		return out
	}
	pages := poll(func(after int64) ([]int64, error) {
		evs, err := db.FindEvents(ctx, store.EventFilter{After: after, Limit: 500})
		seqs := make([]int64, len(evs))
		for i, e := range evs {
			seqs[i] = e.Seq
		}
		return seqs, err
	})
	var names store.Interner
	deltas := poll(func(after int64) ([]int64, error) {
		d, err := db.AnalysisEventsAfter(ctx, after, 700, &names)
		if err != nil || d.Rows == 0 {
			return nil, err
		}
		// The delta tells its last seq and row count; the rows between are
		// checked by count.
		return []int64{-int64(d.Rows), d.LastSeq}, nil
	})
	writers.Wait()
	close(stopPolling)
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	all, err := db.FindEvents(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int64, len(all))
	for i, e := range all {
		want[i] = e.Seq
	}
	p := <-pages
	if p.err != nil {
		t.Fatal(p.err)
	}
	if !slices.Equal(p.seqs, want) {
		missing := 0
		for _, s := range want {
			if _, ok := slices.BinarySearch(p.seqs, s); !ok {
				missing++
			}
		}
		t.Errorf("paging after the last seq seen read %d events, %d stored: %d never read", len(p.seqs), len(want), missing)
	}
	d := <-deltas
	if d.err != nil {
		t.Fatal(d.err)
	}
	rows := 0
	for i := 0; i < len(d.seqs); i += 2 {
		rows += int(-d.seqs[i])
	}
	if rows != len(want) {
		t.Errorf("AnalysisEventsAfter read %d rows, %d stored", rows, len(want))
	}
	if min := slowWriters * slowBatches * slowSize; len(want) < min {
		t.Fatalf("only %d events stored, want at least %d", len(want), min)
	}
	if !t.Failed() {
		t.Logf("%d events: paging FindEvents after the last seq and %d AnalysisEventsAfter deltas read each once", len(want), len(d.seqs)/2)
	}
}

func testDeleteEventsBefore(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
	r, ok := db.(store.Retention)
	if !ok {
		t.Fatalf("%T does not implement store.Retention", db)
	}
	t0 := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	var evs []ingest.Event
	for i := range 10 {
		evs = append(evs, Outlook("PC", 25+i%2, int64(i+1), t0.Add(time.Duration(i)*time.Hour)))
	}
	// The newest seq is an old event: it stays, so that seqs never go back.
	evs = append(evs, Outlook("OLD", 25, 1, t0.Add(-time.Hour)))
	db.InsertEvents(ctx, 0, evs)
	n, err := r.DeleteEventsBefore(ctx, t0.Add(5*time.Hour), 2)
	if err != nil || n != 5 {
		t.Fatalf("deleted %d, %v; want 5", n, err)
	}
	st, err := db.Stats(ctx)
	if err != nil || st.Events != 6 || !st.First.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("after retention: %+v, %v", st, err)
	}
	got, _ := db.FindEvents(ctx, store.EventFilter{Computer: "PC"})
	if len(got) != 5 || !got[0].Time.Equal(t0.Add(5*time.Hour)) {
		t.Fatalf("left %+v", got)
	}
	// A new event gets a seq above every one handed out before.
	db.InsertEvents(ctx, 0, []ingest.Event{Outlook("NEW", 25, 1, t0)})
	if last, _ := db.FindEvents(ctx, store.EventFilter{Computer: "NEW"}); len(last) != 1 || last[0].Seq <= st.LastSeq {
		t.Fatalf("new event %+v after seq %d", last, st.LastSeq)
	}
}
