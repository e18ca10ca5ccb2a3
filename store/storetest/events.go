package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// testComputerAcrossTime: a computer's events are all found by its name,
// whatever their times (before 1970, decades apart, on either side of a
// bound to the nanosecond), with and without time bounds, in every batch
// shape, and after a retention cut.
func testComputerAcrossTime(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t, nil)
	times := []time.Time{
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2001, 5, 6, 7, 8, 9, 0, time.UTC),
		time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 4, 10, 13, 0, 0, time.UTC),
		time.Date(2024, 3, 9, 0, 0, 0, 1, time.UTC),
		time.Date(2090, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	var evs []ingest.Event
	for i, tm := range times {
		evs = append(evs, Outlook("HQ-PC01", 25+i%2, int64(i+1), tm), Outlook("HQ-PC02", 25, int64(i+1), tm))
	}
	// One batch with every time, then the same again one event a batch
	// (duplicates: nothing new), then a new computer one event a batch.
	if n, _, err := db.InsertEvents(ctx, 0, evs); err != nil || n != len(evs) {
		t.Fatalf("inserted %d, %v; want %d", n, err, len(evs))
	}
	for i, e := range evs {
		if n, d, err := db.InsertEvents(ctx, 0, []ingest.Event{e}); err != nil || n != 0 || d != 1 {
			t.Fatalf("again %d: %d new, %d duplicates, %v", i, n, d, err)
		}
		if e.Computer != "HQ-PC01" {
			continue
		}
		e.Computer, e.RecordID = "Late-PC", 100+int64(i)
		if _, _, err := db.InsertEvents(ctx, 0, []ingest.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	want := func(name string, f store.EventFilter, from, to int) {
		t.Helper()
		f.Computer = name
		got, err := db.FindEvents(ctx, f)
		if err != nil {
			t.Fatalf("%s %+v: %v", name, f, err)
		}
		var gotTimes []time.Time
		for _, e := range got {
			gotTimes = append(gotTimes, e.Time)
		}
		if len(got) != to-from {
			t.Fatalf("%s since %v until %v: %d events %v; want times %v", name, f.Since, f.Until, len(got), gotTimes, times[from:to])
		}
		for i, e := range got {
			if !e.Time.Equal(times[from+i]) || !strings.EqualFold(e.Computer, name) {
				t.Fatalf("%s: event %d is %s at %v; want %v", name, i, e.Computer, e.Time, times[from+i])
			}
		}
		an, err := db.AnalysisEvents(ctx, f)
		if err != nil || len(an) != to-from {
			t.Fatalf("%s analysis events %d, %v; want %d", name, len(an), err, to-from)
		}
	}
	for _, name := range []string{"hq-pc01", "HQ-PC02", "late-pc"} {
		want(name, store.EventFilter{}, 0, len(times))
		want(name, store.EventFilter{ByTime: true}, 0, len(times))
		for k := range times {
			want(name, store.EventFilter{Since: times[k]}, k, len(times))
			want(name, store.EventFilter{Until: times[k]}, 0, k)
			want(name, store.EventFilter{Since: times[k], Until: times[k].Add(1)}, k, k+1)
			want(name, store.EventFilter{Since: times[k].Add(1), Until: times[k]}, k, k) // empty
		}
	}
	if got, err := db.FindEvents(ctx, store.EventFilter{Computer: "HQ-PC0"}); err != nil || len(got) != 0 {
		t.Fatalf("a name's prefix is not the computer: %d events, %v", len(got), err)
	}
	r, ok := db.(store.Retention)
	if !ok {
		t.Fatalf("%T does not delete old events (store.Retention)", db)
	}
	cut := times[4]
	if _, err := r.DeleteEventsBefore(ctx, cut, 3); err != nil {
		t.Fatal(err)
	}
	want("hq-pc01", store.EventFilter{}, 4, len(times))
	want("hq-pc02", store.EventFilter{Since: cut}, 4, len(times))
	// New events in a slot the cut emptied are found again.
	if _, _, err := db.InsertEvents(ctx, 0, []ingest.Event{Outlook("HQ-PC01", 25, 99, times[3])}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.FindEvents(ctx, store.EventFilter{Computer: "hq-pc01", Until: cut}); err != nil || len(got) != 1 || got[0].RecordID != 99 {
		t.Fatalf("after the cut, an event before it again: %+v, %v", got, err)
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
