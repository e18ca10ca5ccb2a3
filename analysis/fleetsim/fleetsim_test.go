package fleetsim_test

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
)

func checkFleet(t *testing.T, f *fleetsim.Fleet, res *analysis.Result) {
	t.Helper()
	probs := f.Check(res.Report)
	for _, p := range probs {
		t.Error(p)
	}
	if len(probs) > 0 {
		for _, c := range res.Report.Clusters {
			t.Logf("cluster %s center %.1f [%.1f, %.1f] n=%d computers=%d", c.Kind, c.CenterSeconds, c.LowSeconds, c.HighSeconds, c.Intervals, len(c.Computers))
		}
		for _, d := range res.Report.Diagnoses {
			t.Logf("diagnosis %s (%d computers): %s", d.ID, len(d.Computers), d.Summary)
		}
	}
}

// TestRandomFleets: random fleets with T from the DOMAIN §2 candidates,
// reset and silent drops, healthy sites, outages, noise and anomalies,
// two or three sites: all diagnosed right.
func TestRandomFleets(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 15
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		spec := fleetsim.Random(seed)
		t.Run(spec.String(), func(t *testing.T) {
			t.Parallel()
			f := fleetsim.Generate(spec)
			res := analysis.Analyze(f.AnalysisEvents(), analysis.Options{})
			checkFleet(t, f, res)
		})
	}
}

// TestEveryCandidate: every device default of DOMAIN §2, reset and
// silent, with another site and an outage.
func TestEveryCandidate(t *testing.T) {
	for _, T := range fleetsim.Candidates {
		for _, drop := range []string{"reset", "silent"} {
			spec := fleetsim.Spec{
				Seed: uint64(T) * 7, NoisePerHour: 3,
				Sites: []fleetsim.Site{
					{Prefix: "HQ-PC", Clients: 12, TimeoutSeconds: T, Drop: drop},
					{Prefix: "LAB-", Clients: 6, RandomPerDay: 0.5},
				},
				Outages:    []fleetsim.Outage{{At: time.Date(2024, 3, 6, 11, 7, 0, 0, time.UTC), Minutes: 12}},
				Duplicates: 2, UnpairedDisconnects: 1, OrphanReconnects: 1, Overnight: 1, RPCClientAccess26: 4,
			}
			t.Run(spec.String()+" "+drop, func(t *testing.T) {
				t.Parallel()
				f := fleetsim.Generate(spec)
				res := analysis.Analyze(f.AnalysisEvents(), analysis.Options{})
				checkFleet(t, f, res)
				if drop == "silent" && T >= 720 && hasKind(res, analysis.KindIdleTimeout) {
					t.Errorf("a silent %g s device behind a 720 s ping kills nothing, yet diagnosed", T)
				}
			})
		}
	}
}

func hasKind(res *analysis.Result, kind string) bool {
	for _, d := range res.Report.Diagnoses {
		if d.Kind == kind {
			return true
		}
	}
	return false
}

// TestHealthyFleetsGetNothing: fleets with only random disconnects.
func TestHealthyFleetsGetNothing(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		spec := fleetsim.Spec{Seed: seed, Days: 10, NoisePerHour: 2, Sites: []fleetsim.Site{
			{Prefix: "HQ-PC", Clients: 40, RandomPerDay: 1},
			{Prefix: "BR-PC", Clients: 10, RandomPerDay: 3},
		}, Duplicates: 3, OrphanReconnects: 2, UnpairedDisconnects: 2}
		f := fleetsim.Generate(spec)
		res := analysis.Analyze(f.AnalysisEvents(), analysis.Options{})
		if len(res.Report.Diagnoses) != 0 {
			t.Errorf("seed %d: healthy fleet diagnosed: %+v", seed, res.Report.Diagnoses[0].Summary)
		}
	}
}

// TestOrderAndDuplicatesDoNotMatter: shuffled events with repeated
// records (as when the same log is uploaded twice) give the same result.
func TestOrderAndDuplicatesDoNotMatter(t *testing.T) {
	f := fleetsim.Generate(fleetsim.Random(7))
	evs := f.AnalysisEvents()
	want := analysis.Analyze(evs, analysis.Options{})
	for i := range 3 {
		ev := slices.Clone(evs)
		r := rand.New(rand.NewPCG(uint64(i), 9))
		ev = append(ev, ev[:r.IntN(len(ev))]...)
		r.Shuffle(len(ev), func(a, b int) { ev[a], ev[b] = ev[b], ev[a] })
		// Case of names must not matter either.
		for j := range ev {
			if r.IntN(5) == 0 {
				ev[j].Computer = strings.ToUpper(ev[j].Computer)
			}
		}
		got := analysis.Analyze(ev, analysis.Options{})
		a, _ := json.Marshal(want.Report)
		b, _ := json.Marshal(got.Report)
		if string(a) != string(b) {
			t.Fatalf("run %d: report differs", i)
		}
		gotPairs, wantPairs := got.Pairs(), want.Pairs()
		if len(gotPairs) != len(wantPairs) {
			t.Fatalf("run %d: %d pairs, want %d", i, len(gotPairs), len(wantPairs))
		}
		for k := range gotPairs {
			g, w := gotPairs[k], wantPairs[k]
			if !g.Disconnect.Equal(w.Disconnect) || !g.Reconnect.Equal(w.Reconnect) || g.DiagnosisID != w.DiagnosisID || g.Excluded != w.Excluded {
				t.Fatalf("run %d: pair %d differs: %+v vs %+v", i, k, g, w)
			}
		}
	}
}

// TestGrowingDataKeepsIDs: diagnosis ids do not change as more days come in.
func TestGrowingDataKeepsIDs(t *testing.T) {
	spec := fleetsim.Spec{Seed: 3, Days: 10, Sites: []fleetsim.Site{
		{Prefix: "HQ-PC", Clients: 10, TimeoutSeconds: 900},
		{Prefix: "BR-LT", Clients: 8, TimeoutSeconds: 240, Drop: "silent"},
		{Prefix: "DC-PC", Clients: 6, TimeoutSeconds: 350},
	}}
	f := fleetsim.Generate(spec)
	evs := f.AnalysisEvents()
	var ids []string
	start := f.Spec.Start
	for _, cut := range []time.Time{start.AddDate(0, 0, 2), start.AddDate(0, 0, 4), start.AddDate(0, 0, 10)} {
		var part []analysis.Event
		for _, e := range evs {
			if e.Time.Before(cut) {
				part = append(part, e)
			}
		}
		res := analysis.Analyze(part, analysis.Options{})
		var got []string
		for _, d := range res.Report.Diagnoses {
			got = append(got, d.ID)
		}
		slices.Sort(got)
		if ids != nil && !slices.Equal(ids, got) {
			t.Errorf("ids changed as data grew: %v → %v", ids, got)
		}
		ids = got
	}
	want := []string{"idle-timeout-350s", "idle-timeout-900s", "idle-timeout-silent-720s"}
	if !slices.Equal(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
}

// TestTwoSitesSameTimeout: two sites behind devices with the same
// timeout get a diagnosis each, told apart by the name prefix.
func TestTwoSitesSameTimeout(t *testing.T) {
	f := fleetsim.Generate(fleetsim.Spec{Seed: 11, Sites: []fleetsim.Site{
		{Prefix: "HQ-PC", Clients: 10, TimeoutSeconds: 300},
		{Prefix: "BR-PC", Clients: 6, TimeoutSeconds: 300},
	}})
	res := analysis.Analyze(f.AnalysisEvents(), analysis.Options{})
	checkFleet(t, f, res)
	var ids []string
	for _, d := range res.Report.Diagnoses {
		ids = append(ids, d.ID)
	}
	slices.Sort(ids)
	if want := []string{"idle-timeout-300s-br-pc", "idle-timeout-300s-hq-pc"}; !slices.Equal(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
}

var (
	benchOnce       sync.Once
	benchEvents     []analysis.Event
	benchFleetTruth *fleetsim.Fleet
)

// benchFleet is ≈ 1 M Outlook 25/26 events over 10 000 computers.
func benchFleet() []analysis.Event {
	benchOnce.Do(func() {
		f := fleetsim.Generate(fleetsim.Spec{Seed: 42, Days: 2, Sites: []fleetsim.Site{
			{Prefix: "HQ-PC", Clients: 4000, TimeoutSeconds: 900},
			{Prefix: "BR-LT", Clients: 2900, TimeoutSeconds: 240, Drop: "silent"},
			{Prefix: "FW-PC", Clients: 2100, TimeoutSeconds: 3600},
			{Prefix: "LAB-", Clients: 1000, RandomPerDay: 1},
		}, Outages: []fleetsim.Outage{{At: time.Date(2024, 3, 5, 10, 27, 0, 0, time.UTC), Minutes: 20}},
			Duplicates: 50, OrphanReconnects: 50, UnpairedDisconnects: 50})
		benchFleetTruth = f
		benchEvents = f.AnalysisEvents()
	})
	return benchEvents
}

// BenchmarkAnalyze1M: full analysis of 1 M events over 10 000 computers.
func BenchmarkAnalyze1M(b *testing.B) {
	evs := benchFleet()
	b.ReportAllocs()
	b.ResetTimer()
	var res *analysis.Result
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		res = analysis.Analyze(evs, analysis.Options{})
		n++
	}
	// CPU time (all threads, GC included) per analysis: on a shared,
	// loaded machine wall-clock ns/op also counts other processes' turns.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(n), "cpu-ms/op")
	b.ReportMetric(float64(len(evs)), "events")
	b.ReportMetric(float64(res.Report.Computers), "computers")
	b.ReportMetric(float64(len(res.Report.Diagnoses)), "diagnoses")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBenchFleetDiagnosed: the benchmark's fleet is diagnosed right too.
func TestBenchFleetDiagnosed(t *testing.T) {
	if testing.Short() {
		t.Skip("large fleet")
	}
	evs := benchFleet()
	t.Logf("%d events, %d computers", len(evs), len(benchFleetTruth.Truth.Computers))
	checkFleet(t, benchFleetTruth, analysis.Analyze(evs, analysis.Options{}))
}

func TestSameDiagnoses(t *testing.T) {
	f := fleetsim.Generate(fleetsim.Spec{Seed: 3, Days: 3, Sites: []fleetsim.Site{{Prefix: "HQ-PC", Clients: 8, TimeoutSeconds: 900, Drop: "reset"}}})
	rep := analysis.Analyze(f.AnalysisEvents(), analysis.Options{}).Report
	if len(rep.Diagnoses) == 0 {
		t.Fatal("no diagnosis to compare")
	}
	if d := fleetsim.SameDiagnoses(rep, rep, 0.02); len(d) != 0 {
		t.Fatalf("a report differs from itself: %v", d)
	}
	other := rep
	other.Diagnoses = slices.Clone(rep.Diagnoses)
	moved := *other.Diagnoses[0].TimeoutSeconds * 1.05
	other.Diagnoses[0].TimeoutSeconds = &moved
	other.Diagnoses[0].Computers = other.Diagnoses[0].Computers[1:]
	if d := fleetsim.SameDiagnoses(other, rep, 0.02); len(d) != 2 {
		t.Fatalf("a 5%% timeout shift and a missing computer gave %v", d)
	}
	if fleetsim.ShortName("HQ-PC01.corp.example") != "hq-pc01" {
		t.Fatal(fleetsim.ShortName("HQ-PC01.corp.example"))
	}
}
