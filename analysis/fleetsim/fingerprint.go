package fleetsim

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"

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
	enc.Encode(r.Hosts)
	for _, p := range r.AllPairs() {
		enc.Encode(p)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
