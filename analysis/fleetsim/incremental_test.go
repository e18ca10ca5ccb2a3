package fleetsim_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
)

// sameResult fails t when got differs from want in any way a client sees:
// the report JSON, every pair and every host.
func sameResult(t *testing.T, what string, got, want *analysis.Result) {
	t.Helper()
	a, _ := json.Marshal(want.Report)
	b, _ := json.Marshal(got.Report)
	if string(a) != string(b) {
		t.Fatalf("%s: report differs:\n got %s\nwant %s", what, b, a)
	}
	gotPairs, wantPairs := got.Pairs(), want.Pairs()
	if len(gotPairs) != len(wantPairs) {
		t.Fatalf("%s: %d pairs, want %d", what, len(gotPairs), len(wantPairs))
	}
	for i := range gotPairs {
		if !reflect.DeepEqual(gotPairs[i], wantPairs[i]) {
			t.Fatalf("%s: pair %d differs:\n got %+v\nwant %+v", what, i, gotPairs[i], wantPairs[i])
		}
	}
	if !reflect.DeepEqual(got.Hosts, want.Hosts) {
		for i := range min(len(got.Hosts), len(want.Hosts)) {
			if !reflect.DeepEqual(got.Hosts[i], want.Hosts[i]) {
				t.Fatalf("%s: host %d differs:\n got %+v\nwant %+v", what, i, got.Hosts[i], want.Hosts[i])
			}
		}
		t.Fatalf("%s: %d hosts, want %d", what, len(got.Hosts), len(want.Hosts))
	}
}

// TestIncrementalEqualsFull: random fleets fed in random batches — in
// time order (as agents send them), shuffled (uploads of old logs), with
// repeated events and names in other cases — give after every batch
// exactly the result of a full Analyze of everything fed so far.
func TestIncrementalEqualsFull(t *testing.T) {
	n := 24
	if testing.Short() {
		n = 8
	}
	for seed := uint64(1); seed <= uint64(n+n/3); seed++ {
		spec := fleetsim.Random(seed)
		if seed > uint64(n) { // realistic offices too (short names, laptops, roaming)
			spec = fleetsim.RandomRealistic(seed)
		}
		t.Run(spec.String(), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 77))
			evs := fleetsim.Generate(spec).AnalysisEvents()
			switch seed % 3 {
			case 0: // agents: roughly in time order
				slices.SortStableFunc(evs, func(a, b analysis.Event) int { return a.Time.Compare(b.Time) })
			case 1: // uploads: whole logs in any order
				r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
			case 2: // re-uploads and other spellings
				evs = append(evs, evs[:r.IntN(len(evs))]...)
				r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				for i := range evs {
					switch r.IntN(9) {
					case 0:
						evs[i].Computer = strings.ToUpper(evs[i].Computer)
					case 1: // the short name of the same machine
						evs[i].Computer, _, _ = strings.Cut(evs[i].Computer, ".")
					}
				}
			}
			inc := analysis.NewIncremental(analysis.Options{})
			fed := 0
			for step := 0; fed < len(evs); step++ {
				// Small batches (a few computers) and large ones.
				size := 1 + r.IntN(max(1, len(evs)/20))
				if r.IntN(4) == 0 {
					size = 1 + r.IntN(len(evs))
				}
				end := min(len(evs), fed+size)
				inc.Add(evs[fed:end])
				fed = end
				if step%3 != 0 && fed < len(evs) {
					continue // several Adds before a Result
				}
				want := analysis.Analyze(evs[:fed], analysis.Options{})
				sameResult(t, "after "+itoa(fed)+" events", inc.Result(), want)
			}
			if inc.Events() != len(evs) {
				t.Errorf("Events() = %d, want %d", inc.Events(), len(evs))
			}
		})
	}
}

// TestIncrementalResultsIndependent: a Result is not changed by later
// Adds and Results (servers hand them to concurrent readers), though the
// Results of one Incremental share its working memory (the scratch an
// update reuses): every pair, exclusion and diagnosis of each stays as it
// was, and equals a full Analyze of its events.
func TestIncrementalResultsIndependent(t *testing.T) {
	evs := fleetsim.Generate(fleetsim.RandomRealistic(5)).AnalysisEvents()
	slices.SortStableFunc(evs, func(a, b analysis.Event) int { return a.Time.Compare(b.Time) })
	inc := analysis.NewIncremental(analysis.Options{})
	var results []*analysis.Result
	var prints []string
	cuts := []int{len(evs) / 3, len(evs) / 2, len(evs) * 3 / 4, len(evs)}
	fed := 0
	for _, cut := range cuts {
		inc.Add(evs[fed:cut])
		fed = cut
		r := inc.Result()
		results, prints = append(results, r), append(prints, fleetsim.Fingerprint(r))
		if inc.ScratchBytes() == 0 {
			t.Fatal("the Incremental keeps no working memory for the next update")
		}
	}
	for i, r := range results {
		if got := fleetsim.Fingerprint(r); got != prints[i] {
			t.Errorf("the Result of %d events changed after later updates", cuts[i])
		}
		sameResult(t, "after "+itoa(cuts[i])+" events", r, analysis.Analyze(evs[:cuts[i]], analysis.Options{}))
	}
	inc.FreeScratch()
	if inc.ScratchBytes() != 0 {
		t.Fatal("FreeScratch kept the working memory")
	}
	inc.Add(evs[:10]) // repeats: a Result without the scratch is made again
	if got := fleetsim.Fingerprint(inc.Result()); got != prints[len(prints)-1] {
		t.Error("after FreeScratch the Result differs")
	}
	inc.KeepScratch(false) // near a memory limit: no working memory kept
	inc.Add(evs[:10])
	if got := fleetsim.Fingerprint(inc.Result()); got != prints[len(prints)-1] || inc.ScratchBytes() != 0 {
		t.Errorf("without a kept scratch: the Result differs or %d bytes are kept", inc.ScratchBytes())
	}
}

// inRange returns the events in [since, until) (a zero bound is open).
func inRange(evs []analysis.Event, since, until time.Time) []analysis.Event {
	var out []analysis.Event
	for _, e := range evs {
		if (since.IsZero() || !e.Time.Before(since)) && (until.IsZero() || e.Time.Before(until)) {
			out = append(out, e)
		}
	}
	return out
}

// TestWindowAndPruneEqualFull: the analysis of a time window made from an
// Incremental's Result, and the Result after pruning the events before a
// time, equal a full Analyze of just those events — for fleets fed in time
// order and shuffled, with other spellings and short names, windows at
// random bounds (open ones too), pruned step by step as a server's
// analysis window slides.
func TestWindowAndPruneEqualFull(t *testing.T) {
	n := 12
	if testing.Short() {
		n = 4
	}
	for seed := uint64(101); seed <= uint64(100+n); seed++ {
		spec := fleetsim.Random(seed)
		if seed%2 == 0 {
			spec = fleetsim.RandomRealistic(seed)
		}
		t.Run(spec.String(), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(seed, 78))
			evs := fleetsim.Generate(spec).AnalysisEvents()
			r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
			for i := range evs {
				if r.IntN(11) == 0 {
					evs[i].Computer, _, _ = strings.Cut(strings.ToUpper(evs[i].Computer), ".")
				}
			}
			first, last := evs[0].Time, evs[0].Time
			for _, e := range evs {
				if e.Time.Before(first) {
					first = e.Time
				}
				if e.Time.After(last) {
					last = e.Time
				}
			}
			at := func() time.Time { return first.Add(time.Duration(r.Int64N(int64(last.Sub(first)) + 1))) }
			inc := analysis.NewIncremental(analysis.Options{})
			inc.Add(evs)
			full := inc.Result()
			for k := range 4 {
				a, b := at(), at()
				if b.Before(a) {
					a, b = b, a
				}
				switch k {
				case 0:
					a = time.Time{}
				case 1:
					b = time.Time{}
				}
				got, ok := full.Window(a, b)
				if !ok {
					t.Fatal("an Incremental's Result has no events for Window")
				}
				sameResult(t, "window "+a.String()+" … "+b.String(), got, analysis.Analyze(inRange(evs, a, b), analysis.Options{}))
			}
			if _, ok := analysis.Analyze(evs, analysis.Options{}).Window(first, last); ok {
				t.Error("Analyze's Result claims its events")
			}
			// The analysis window slides: prune, add newer events, prune.
			cut, want := first, evs
			for step := range 3 {
				cut = cut.Add(last.Sub(first) / 4)
				dropped := inc.Prune(cut)
				before := len(want)
				want = inRange(want, cut, time.Time{})
				if dropped != before-len(want) {
					t.Errorf("step %d: Prune dropped %d, want %d", step, dropped, before-len(want))
				}
				if step == 1 { // events arrive between prunes, some before the cut
					inc.Add(evs[:len(evs)/10])
					want = append(want, evs[:len(evs)/10]...)
					sameResult(t, "added after prune", inc.Result(), analysis.Analyze(want, analysis.Options{}))
					inc.Prune(cut)
					want = inRange(want, cut, time.Time{})
				}
				sameResult(t, "pruned before "+cut.String(), inc.Result(), analysis.Analyze(want, analysis.Options{}))
				if inc.Events() != len(want) {
					t.Errorf("step %d: Events() = %d after pruning, want %d", step, inc.Events(), len(want))
				}
			}
			// A Result made before the prunes still answers its own windows.
			got, _ := full.Window(first, time.Time{})
			sameResult(t, "old Result's window", got, analysis.Analyze(evs, analysis.Options{}))
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// benchIncremental measures Add(new)+Result on an Incremental that holds
// the rest of the 1 M-event fleet and has computed its Result.
func benchIncremental(b *testing.B, split func([]analysis.Event) (base, add []analysis.Event)) {
	base, add := split(benchFleet())
	b.ReportAllocs()
	var cpu time.Duration
	var res *analysis.Result
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		inc := analysis.NewIncremental(analysis.Options{})
		inc.Add(base)
		inc.Result()
		cpu0 := cpuTime()
		b.StartTimer()
		inc.Add(add)
		res = inc.Result()
		b.StopTimer()
		cpu += cpuTime() - cpu0
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(len(add)), "new-events")
	b.ReportMetric(float64(res.Report.Computers), "computers")
}

// BenchmarkIncremental1MNewest1Pct: the newest 1 % of the events (as agents
// send them: many computers get a few events each).
func BenchmarkIncremental1MNewest1Pct(b *testing.B) {
	benchIncremental(b, func(evs []analysis.Event) ([]analysis.Event, []analysis.Event) {
		evs = slices.Clone(evs)
		slices.SortStableFunc(evs, func(a, b analysis.Event) int { return a.Time.Compare(b.Time) })
		cut := len(evs) - len(evs)/100
		return evs[:cut], evs[cut:]
	})
}

// BenchmarkIncremental1MUpload1Pct: all events of 1 % of the computers (an
// upload of 100 computers' logs).
func BenchmarkIncremental1MUpload1Pct(b *testing.B) {
	benchIncremental(b, func(evs []analysis.Event) (base, add []analysis.Event) {
		for _, e := range evs {
			if h := fnv32(strings.ToLower(e.Computer)); h%100 == 0 {
				add = append(add, e)
			} else {
				base = append(base, e)
			}
		}
		return base, add
	})
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
