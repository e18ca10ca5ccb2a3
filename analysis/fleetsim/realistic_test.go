package fleetsim_test

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
)

// envInt reads a positive integer from the environment.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type fleetResult struct {
	spec   fleetsim.Spec
	tags   []string
	probs  []fleetsim.Problem
	falseD bool // an idle-timeout diagnosis on a healthy or outage-only fleet
}

// TestRealisticFleets: RandomRealistic fleets (FLEETSIM_N, default 200,
// from seed FLEETSIM_SEED, default 1) through analysis.Analyze, judged by
// CheckRealistic. Logs the pass rate and, for the failures, which
// behaviours they had and what failed. Fails below 95 % or on any
// idle-timeout diagnosis of a healthy or outage-only fleet.
//
//	go test ./analysis/fleetsim -run TestRealisticFleets -v
//	FLEETSIM_N=1000 go test ./analysis/fleetsim -run TestRealisticFleets -v
//	FLEETSIM_SEED=137 FLEETSIM_N=1 go test ./analysis/fleetsim -run TestRealisticFleets -v   # one fleet in detail
func TestRealisticFleets(t *testing.T) {
	n := envInt("FLEETSIM_N", 200)
	first := uint64(envInt("FLEETSIM_SEED", 1))
	results := make([]fleetResult, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				spec := fleetsim.RandomRealistic(first + uint64(i))
				f := fleetsim.Generate(spec)
				res := analysis.Analyze(f.AnalysisEvents(), analysis.Options{})
				r := fleetResult{spec: spec, tags: spec.Behaviours(), probs: f.CheckRealistic(res.Report)}
				if spec.Kind() != fleetsim.FleetProblem {
					for _, d := range res.Report.Diagnoses {
						r.falseD = r.falseD || d.Kind == analysis.KindIdleTimeout
					}
				}
				if n == 1 {
					logFleet(t, f, res)
				}
				results[i] = r
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()

	pass := 0
	tagAll, tagFail := map[string]int{}, map[string]int{}
	probFleets := map[string]int{}
	var falseFleets []string
	var failing []fleetResult
	for _, r := range results {
		for _, tg := range r.tags {
			tagAll[tg]++
		}
		if len(r.probs) == 0 {
			pass++
			continue
		}
		failing = append(failing, r)
		for _, tg := range r.tags {
			tagFail[tg]++
		}
		kinds := map[string]bool{}
		for _, p := range r.probs {
			kinds[p.Kind] = true
		}
		for k := range kinds {
			probFleets[k]++
		}
		if r.falseD {
			falseFleets = append(falseFleets, r.spec.String())
		}
	}
	rate := float64(pass) / float64(n)
	t.Logf("realistic fleets: %d of %d diagnosed right (%.1f %%), seeds %d–%d", pass, n, 100*rate, first, first+uint64(n)-1)
	if len(failing) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "what failed (fleets with at least one such problem):\n")
		for _, k := range sortedKeys(probFleets) {
			fmt.Fprintf(&b, "  %-15s %4d\n", k, probFleets[k])
		}
		fmt.Fprintf(&b, "behaviours (failing / fleets with it, fail rate):\n")
		tags := sortedKeys(tagAll)
		sort.SliceStable(tags, func(i, j int) bool {
			ri := float64(tagFail[tags[i]]) / float64(tagAll[tags[i]])
			rj := float64(tagFail[tags[j]]) / float64(tagAll[tags[j]])
			return ri > rj
		})
		for _, tg := range tags {
			fmt.Fprintf(&b, "  %-24s %4d / %-4d %5.1f %%\n", tg, tagFail[tg], tagAll[tg], 100*float64(tagFail[tg])/float64(tagAll[tg]))
		}
		fmt.Fprintf(&b, "failing fleets (FLEETSIM_SEED=<seed> FLEETSIM_N=1 for one in detail):\n")
		for i, r := range failing {
			if i == 40 && !testing.Verbose() {
				fmt.Fprintf(&b, "  … %d more (-v for all)\n", len(failing)-i)
				break
			}
			fmt.Fprintf(&b, "  %s\n", r.spec.String())
			for j, p := range r.probs {
				if j == 6 {
					fmt.Fprintf(&b, "      … %d more\n", len(r.probs)-j)
					break
				}
				fmt.Fprintf(&b, "      %s\n", p)
			}
		}
		t.Log(b.String())
	}
	for _, s := range falseFleets {
		t.Errorf("idle-timeout diagnosis on a fleet without an idle-timeout device: %s", s)
	}
	if rate < 0.95 {
		t.Errorf("pass rate %.1f %% < 95 %%", 100*rate)
	}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// logFleet logs a fleet's truth and report in detail.
func logFleet(t *testing.T, f *fleetsim.Fleet, res *analysis.Result) {
	t.Helper()
	t.Logf("spec: %s", f.Spec.String())
	t.Logf("%d events, %d computers, behaviours %v", len(f.Events), len(f.Truth.Computers), f.Spec.Behaviours())
	for _, d := range f.Truth.Devices {
		t.Logf("device %s effective=%v diagnosed=%v: %d timeout uptimes, %d sharp (share %.2f) in %v; expected %d (%d sharp), gray %d, one-sharp %d, members %d",
			d.Name, d.Effective, d.Diagnosed, d.TimeoutUptimes, d.Sharp, d.SharpShare(), d.Window, len(d.Expected), d.ExpectedSharp, len(d.Gray), len(d.OneSharp), len(d.Members))
	}
	for _, e := range f.Truth.Diagnoses {
		t.Logf("want %s %s %s T=%g observed=%g %v–%v computers %d %v gray %v", e.Kind, e.Device, e.Drop, e.TimeoutSeconds, e.ObservedSeconds, e.Start, e.End, len(e.Computers), e.Computers, e.Gray)
	}
	for _, e := range f.Truth.Tolerated {
		t.Logf("tolerated %s %s T=%g %v computers %v", e.Kind, e.Device, e.TimeoutSeconds, e.Start, e.Computers)
	}
	for _, c := range res.Report.Clusters {
		t.Logf("cluster %s center %.1f [%.1f, %.1f] n=%d computers=%d", c.Kind, c.CenterSeconds, c.LowSeconds, c.HighSeconds, c.Intervals, len(c.Computers))
	}
	for _, d := range res.Report.Diagnoses {
		t.Logf("got %s (%d computers %v): %s", d.ID, len(d.Computers), d.Computers, d.Summary)
	}
	for _, p := range f.CheckRealistic(res.Report) {
		t.Logf("PROBLEM %s", p)
	}
}

// analyzeAndCheck runs the analysis on f and reports CheckRealistic's
// problems as errors (the analysis part of the focused tests).
func analyzeAndCheck(t *testing.T, f *fleetsim.Fleet) {
	t.Helper()
	res := analysis.Analyze(f.AnalysisEvents(), analysis.Options{})
	probs := f.CheckRealistic(res.Report)
	for _, p := range probs {
		t.Error(p)
	}
	if len(probs) > 0 {
		for _, d := range res.Report.Diagnoses {
			t.Logf("got %s (%d computers): %s", d.ID, len(d.Computers), d.Summary)
		}
	}
}
