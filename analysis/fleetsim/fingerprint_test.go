package fleetsim_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
)

var updateFingerprints = flag.Bool("update-fingerprints", false, "rewrite testdata/fingerprints.txt from this build's analysis")

// fingerprintFile holds, per generated fleet, the SHA-256 of everything a
// client sees of its analysis (the report JSON, every host, every pair
// with its exclusion and diagnosis).
const fingerprintFile = "testdata/fingerprints.txt"

// fingerprintSpecs are the fleets TestAnalysisFingerprints pins: generated
// ones of both kinds (idealized and realistic offices).
func fingerprintSpecs(n int) []fleetsim.Spec {
	var specs []fleetsim.Spec
	for seed := uint64(1); seed <= uint64(n); seed++ {
		specs = append(specs, fleetsim.Random(seed), fleetsim.RandomRealistic(seed))
	}
	return specs
}

// TestAnalysisFingerprints pins the analysis's output, bit for bit, on 120
// generated fleets and the benchmarks' 1 M-event fleet: a change meant only to make the analysis faster or
// smaller must leave every fingerprint as it is. A change meant to alter
// the results rewrites them with -update-fingerprints (and says why in its
// commit, with the accuracy figures of the property test).
func TestAnalysisFingerprints(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 15
	}
	specs := fingerprintSpecs(n)
	got := make([]string, len(specs))
	for i, spec := range specs {
		got[i] = fmt.Sprintf("%s %s", fleetsim.Fingerprint(analysis.Analyze(fleetsim.AnalysisEvents(fleetsim.Generate(spec).Events), analysis.Options{})), spec.String())
	}
	if !testing.Short() { // and the benchmarks' fleet: 1 M events, hundreds of clusters
		got = append(got, fleetsim.Fingerprint(analysis.Analyze(benchFleet(), analysis.Options{}))+" bench fleet")
	}
	if *updateFingerprints {
		if testing.Short() {
			t.Fatal("-update-fingerprints needs the full set: run without -short")
		}
		if err := os.WriteFile(fingerprintFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d fingerprints to %s", len(got), fingerprintFile)
		return
	}
	f, err := os.Open(fingerprintFile)
	if err != nil {
		t.Fatalf("%v (make it with: go test ./analysis/fleetsim -run TestAnalysisFingerprints -update-fingerprints)", err)
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	if len(want) < len(got) {
		t.Fatalf("%s has %d fingerprints, want at least %d", filepath.Base(fingerprintFile), len(want), len(got))
	}
	bad := 0
	for i := range got {
		if got[i] != want[i] {
			bad++
			if bad <= 5 {
				t.Errorf("fleet %d: analysis changed\n got %.80s\nwant %.80s", i, got[i], want[i])
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d fleets analysed differently", bad, len(got))
	}
}
