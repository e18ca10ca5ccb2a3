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
	if len(got.Pairs) != len(want.Pairs) {
		t.Fatalf("%s: %d pairs, want %d", what, len(got.Pairs), len(want.Pairs))
	}
	for i := range got.Pairs {
		if !reflect.DeepEqual(got.Pairs[i], want.Pairs[i]) {
			t.Fatalf("%s: pair %d differs:\n got %+v\nwant %+v", what, i, got.Pairs[i], want.Pairs[i])
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
// Adds and Results (servers hand them to concurrent readers).
func TestIncrementalResultsIndependent(t *testing.T) {
	evs := fleetsim.Generate(fleetsim.Random(5)).AnalysisEvents()
	half := len(evs) / 2
	inc := analysis.NewIncremental(analysis.Options{})
	inc.Add(evs[:half])
	first := inc.Result()
	before, _ := json.Marshal(first)
	inc.Add(evs[half:])
	inc.Result()
	after, _ := json.Marshal(first)
	if string(before) != string(after) {
		t.Fatal("an earlier Result changed")
	}
	sameResult(t, "first half", first, analysis.Analyze(evs[:half], analysis.Options{}))
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
