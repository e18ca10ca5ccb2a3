package live

import (
	"context"
	"encoding/json"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
	"idletrace/ingest"
	"idletrace/store"
	"idletrace/store/pg"
	"idletrace/store/storetest"
)

// storeFleet writes a generated fleet's events into a new SQLite file.
func storeFleet(t *testing.T, evs []fleetsim.Event) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), t.TempDir()+"/live.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	insert(t, db, evs)
	return db
}

func insert(t *testing.T, db *store.DB, evs []fleetsim.Event) {
	t.Helper()
	batch := make([]ingest.Event, 0, len(evs))
	for _, e := range evs {
		batch = append(batch, ingest.Event{Computer: e.Computer, Channel: e.Channel, Provider: e.Provider, EventID: e.EventID,
			Qualifiers: e.Qualifiers, Level: e.Level, RecordID: e.RecordID, Time: e.Time, Message: e.Message})
	}
	if _, _, err := db.InsertEvents(context.Background(), 0, batch); err != nil {
		t.Fatal(err)
	}
}

func reportJSON(r analysis.Report) string { b, _ := json.Marshal(r); return string(b) }

// since returns the Outlook events at or after t.
func since(evs []analysis.Event, t time.Time) []analysis.Event {
	var out []analysis.Event
	for _, e := range evs {
		if !e.Time.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// TestAnalysisWindow: with a window, the live analysis holds the newest
// span of the data (from newest − span, to the hour) and reports exactly
// what a full analysis of those events gives; as newer events arrive the
// window slides and older ones leave; a since/until range is cut to the
// window and analysed from memory, equal to a full analysis of its events.
func TestAnalysisWindow(t *testing.T) {
	spec := fleetsim.Spec{Seed: 11, Days: 10, Sites: []fleetsim.Site{
		{Prefix: "HQ-PC", Clients: 6, TimeoutSeconds: 900},
		{Prefix: "BR-LT", Clients: 5, TimeoutSeconds: 350},
	}}
	fleet := fleetsim.Generate(spec)
	all := fleet.AnalysisEvents()
	var newest time.Time
	for _, e := range all {
		if e.Time.After(newest) {
			newest = e.Time
		}
	}
	// The first six days, then the rest: the window slides.
	split := newest.Add(-48 * time.Hour)
	var early, late []fleetsim.Event
	for _, e := range fleet.Events {
		if e.Time.Before(split) {
			early = append(early, e)
		} else {
			late = append(late, e)
		}
	}
	db := storeFleet(t, early)
	a := New(db, nil, nil)
	const span = 3 * 24 * time.Hour
	a.SetWindow(span)
	ctx := context.Background()
	a.Start(ctx)
	defer a.Stop()

	check := func(what string, upTo time.Time) *Snapshot {
		t.Helper()
		snap, err := a.Current(ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		var newestSeen time.Time
		for _, e := range all {
			if e.Time.Before(upTo) && e.Time.After(newestSeen) {
				newestSeen = e.Time
			}
		}
		from := newestSeen.Add(-span).Truncate(time.Hour)
		if !snap.WindowStart.Equal(from) {
			t.Fatalf("%s: window starts %v, want %v", what, snap.WindowStart, from)
		}
		var seen []analysis.Event
		for _, e := range all {
			if e.Time.Before(upTo) {
				seen = append(seen, e)
			}
		}
		want := analysis.Analyze(since(seen, from), analysis.Options{})
		if got := reportJSON(snap.Result.Report); got != reportJSON(want.Report) {
			t.Fatalf("%s: report differs from a full analysis of the window:\n got %s\nwant %s", what, got, reportJSON(want.Report))
		}
		if len(want.Report.Diagnoses) == 0 {
			t.Fatalf("%s: the window holds no diagnosis; the test shows nothing", what)
		}
		return snap
	}
	check("first load", split)

	insert(t, db, late)
	a.NoteWrite(ctx, "test")
	snap := check("after newer events", newest.Add(time.Nanosecond))

	// A range reaching before the window is cut to it and analysed from
	// the snapshot's events.
	lo, hi := snap.WindowStart.Add(-24*time.Hour), newest.Add(-12*time.Hour)
	got, err := a.Scoped(ctx, "test", lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	var in []analysis.Event
	for _, e := range since(all, snap.WindowStart) {
		if e.Time.Before(hi) {
			in = append(in, e)
		}
	}
	if want := analysis.Analyze(in, analysis.Options{}); reportJSON(got.Report) != reportJSON(want.Report) {
		t.Fatalf("range: report differs:\n got %s\nwant %s", reportJSON(got.Report), reportJSON(want.Report))
	}
	if again, _ := a.Scoped(ctx, "test", lo, hi); again != got {
		t.Error("the same range was analysed again (not cached)")
	}
	if whole, _ := a.Scoped(ctx, "test", time.Time{}.Add(time.Hour), time.Time{}); whole != snap.Result {
		t.Error("a range holding the whole window was analysed again instead of served from the snapshot")
	}
}

// TestWarmStart: a node stores its report; started again on the same
// database (with more events stored meanwhile) it serves that report at
// once — marked warm and updating — then its own full analysis; a client
// that has just written waits for the analysis that holds its write.
func TestWarmStart(t *testing.T) {
	fleet := fleetsim.Generate(fleetsim.Spec{Seed: 12, Days: 5, Sites: []fleetsim.Site{{Prefix: "HQ-PC", Clients: 6, TimeoutSeconds: 900}}})
	half := len(fleet.Events) / 2
	db := storeFleet(t, fleet.Events[:half])
	ctx := context.Background()

	a := New(db, nil, nil)
	a.Start(ctx)
	first, err := a.Current(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := db.LoadAnalysisSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first analysis was not stored")
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.Stop()
	insert(t, db, fleet.Events[half:])

	b := New(db, nil, nil)
	b.Start(ctx)
	defer b.Stop()
	warm, err := b.CurrentReport(ctx, "reader")
	if err != nil {
		t.Fatal(err)
	}
	if !warm.Warm || !warm.Updating || warm.Seq != first.Seq || reportJSON(warm.Result.Report) != reportJSON(first.Result.Report) {
		t.Fatalf("after a restart: warm %v, updating %v, seq %d (stored %d); same report: %v",
			warm.Warm, warm.Updating, warm.Seq, first.Seq, reportJSON(warm.Result.Report) == reportJSON(first.Result.Report))
	}
	full, err := b.Current(ctx, "reader")
	if err != nil {
		t.Fatal(err)
	}
	want := analysis.Analyze(fleet.AnalysisEvents(), analysis.Options{})
	if full.Warm || reportJSON(full.Result.Report) != reportJSON(want.Report) {
		t.Fatalf("the full analysis after a warm start: warm %v, report equal to a full analysis: %v", full.Warm,
			reportJSON(full.Result.Report) == reportJSON(want.Report))
	}
	if again, _ := b.CurrentReport(ctx, "reader"); again.Warm {
		t.Error("the stored report is still served after the analysis")
	}

	c := New(db, nil, nil)
	c.Start(ctx)
	defer c.Stop()
	c.NoteWrite(ctx, "writer")
	mine, err := c.CurrentReport(ctx, "writer")
	if err != nil {
		t.Fatal(err)
	}
	if mine.Warm {
		t.Error("a client that wrote was served the stored report, which may not hold its write")
	}
}

// TestReadYourWritesAcrossNodesPostgres: two nodes on one PostgreSQL
// database; a client's write through one node is in the very next
// analysis the other node gives that client, though that node had a
// snapshot from before the write (its own poll would see the write only
// later).
func TestReadYourWritesAcrossNodesPostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	ctx := context.Background()
	open := func(node string) *pg.DB {
		db, err := pg.Open(ctx, url, pg.Options{Node: node})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbA, dbB := open("a"), open("b")
	fleet := fleetsim.Generate(fleetsim.Spec{Seed: 13, Days: 3, Sites: []fleetsim.Site{{Prefix: "HQ-PC", Clients: 4, TimeoutSeconds: 900}}})
	toIngest := func(evs []fleetsim.Event) []ingest.Event {
		out := make([]ingest.Event, 0, len(evs))
		for _, e := range evs {
			out = append(out, ingest.Event{Computer: e.Computer, Channel: e.Channel, Provider: e.Provider, EventID: e.EventID,
				Qualifiers: e.Qualifiers, Level: e.Level, RecordID: e.RecordID, Time: e.Time, Message: e.Message})
		}
		return out
	}
	half := len(fleet.Events) / 2
	if _, _, err := dbA.InsertEvents(ctx, 0, toIngest(fleet.Events[:half])); err != nil {
		t.Fatal(err)
	}
	a, b := New(dbA, nil, nil), New(dbB, nil, nil)
	a.Start(ctx)
	b.Start(ctx)
	defer a.Stop()
	defer b.Stop()
	before, err := b.Current(ctx, "token:7")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 5 { // the poll must not be what passes it
		lo, hi := half+round*(len(fleet.Events)-half)/5, half+(round+1)*(len(fleet.Events)-half)/5
		if _, _, err := dbA.InsertEvents(ctx, 0, toIngest(fleet.Events[lo:hi])); err != nil {
			t.Fatal(err)
		}
		a.NoteWrite(ctx, "token:7")
		seq, _, _ := dbA.ChangeMark(ctx)
		got, err := b.Current(ctx, "token:7")
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq < seq || got.Seq <= before.Seq {
			t.Fatalf("round %d: node b served seq %d to the client that wrote up to seq %d through node a", round, got.Seq, seq)
		}
		if r, _ := b.CurrentReport(ctx, "token:7"); r.Seq < seq {
			t.Fatalf("round %d: node b's report is at seq %d, the client wrote up to %d", round, r.Seq, seq)
		}
		before = got
	}
}

// TestWorkingMemoryLetGo: the analysis keeps its working memory from one
// update to the next while they follow each other, lets go of it once
// the updates pause (scratchIdle), and is still exact after that.
func TestWorkingMemoryLetGo(t *testing.T) {
	old := scratchIdle
	scratchIdle = 300 * time.Millisecond
	t.Cleanup(func() { scratchIdle = old })
	var evs []fleetsim.Event // what intake stores: Outlook's 25s and 26s
	for _, e := range fleetsim.Generate(fleetsim.RandomRealistic(3)).Events {
		if e.Channel == "Application" && e.Provider == "Outlook" && (e.EventID == 25 || e.EventID == 26) {
			evs = append(evs, e)
		}
	}
	half := len(evs) / 2
	db := storeFleet(t, evs[:half])
	a := New(db, nil, nil)
	ctx := context.Background()
	a.Start(ctx)
	defer a.Stop()
	if _, err := a.Current(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if a.scratch.Load() == 0 {
		t.Fatal("no working memory kept after an update")
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.scratch.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the working memory (%d bytes) was kept through a pause of 10 s", a.scratch.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	insert(t, db, evs[half:])
	a.NoteWrite(ctx, "test")
	snap, err := a.Current(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	want := analysis.Analyze(fleetsim.AnalysisEvents(evs), analysis.Options{})
	if got := reportJSON(snap.Result.Report); got != reportJSON(want.Report) {
		t.Fatalf("after the working memory was let go, the report differs from a full analysis:\n got %s\nwant %s", got, reportJSON(want.Report))
	}
	if a.scratch.Load() == 0 {
		t.Fatal("no working memory kept after the next update")
	}
}

// TestWorkingMemoryNearTheLimit: with the live heap above scratchShare of
// the memory limit, the analysis does not keep its working memory from
// one update to the next.
func TestWorkingMemoryNearTheLimit(t *testing.T) {
	fleet := fleetsim.Generate(fleetsim.Random(4))
	var evs []fleetsim.Event
	for _, e := range fleet.Events {
		if e.Channel == "Application" && e.Provider == "Outlook" && (e.EventID == 25 || e.EventID == 26) {
			evs = append(evs, e)
		}
	}
	db := storeFleet(t, evs)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// A limit the test's own heap already exceeds (the collector works
	// harder meanwhile; the default is back at the end).
	old := debug.SetMemoryLimit(int64(ms.HeapAlloc))
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	a := New(db, nil, nil)
	ctx := context.Background()
	a.Start(ctx)
	defer a.Stop()
	snap, err := a.Current(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if n := a.scratch.Load(); n != 0 {
		t.Fatalf("%d bytes of working memory kept with the heap over the memory limit", n)
	}
	if want := analysis.Analyze(fleetsim.AnalysisEvents(evs), analysis.Options{}); reportJSON(snap.Result.Report) != reportJSON(want.Report) {
		t.Fatal("the report differs from a full analysis")
	}
}
