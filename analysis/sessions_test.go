package analysis_test

import (
	"testing"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
)

// TestSessionMajorityUnpacked: the session majority gives the same
// analysis when the sessions are too many to pack beside each interval
// (it then reads them from the pairs).
func TestSessionMajorityUnpacked(t *testing.T) {
	var specs []fleetsim.Spec
	for seed := uint64(1); seed <= 40; seed++ {
		specs = append(specs, fleetsim.Random(seed), fleetsim.RandomRealistic(seed))
	}
	for _, spec := range specs {
		evs := fleetsim.AnalysisEvents(fleetsim.Generate(spec).Events)
		want := fleetsim.Fingerprint(analysis.Analyze(evs, analysis.Options{}))
		restore := analysis.SetSessPackLimit(0)
		got := fleetsim.Fingerprint(analysis.Analyze(evs, analysis.Options{}))
		restore()
		if got != want {
			t.Errorf("%v: the analysis differs without packed sessions", spec)
		}
	}
}
