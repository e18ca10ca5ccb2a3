package fleetsim

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"idletrace/analysis"
)

// Fingerprint is the SHA-256 of everything a client sees of an analysis:
// its report JSON, every host and every pair with its exclusion and
// diagnosis. Two analyses with the same fingerprint are the same to the
// bit; a change meant only to make the analysis faster must keep it.
func Fingerprint(r *analysis.Result) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	enc.Encode(r.Report)
	hosts := make([]fingerprintHost, len(r.Hosts))
	for i := range r.Hosts {
		h := &r.Hosts[i]
		hosts[i] = fingerprintHost{h.Name(), h.Disconnects(), h.Reconnects(), h.Pairs(), h.Open(), h.Repeats(), h.Orphans(),
			h.Interleaved(), h.First(), h.Last(), r.DiagnosisIDs(h)}
	}
	enc.Encode(hosts)
	for _, p := range r.AllPairs() {
		enc.Encode(p)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// fingerprintHost is what a client sees of an analysis.Host, in the
// fields and order the fingerprints have always hashed.
type fingerprintHost struct {
	Name                                                   string
	Disconnects, Reconnects, Pairs, Open, Repeats, Orphans int
	Interleaved                                            bool
	First, Last                                            time.Time
	DiagnosisIDs                                           []string
}
