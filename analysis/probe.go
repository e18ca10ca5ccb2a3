package analysis

import "math"

// Probe verdicts: what a direct measurement of a path (server probe) says
// of an idle-timeout diagnosis.
const (
	ProbeConfirms    = "confirms"
	ProbeContradicts = "contradicts"
	ProbeUnrelated   = "unrelated" // another path, or nothing to compare
)

// ProbeVerdict says whether a probe's measurement — its timeout estimate
// (nil when every connection survived) ± plusMinus and its drop kind
// ("reset", "silent" or "none") — confirms or contradicts an idle-timeout
// diagnosis measured on the same path. A reset diagnosis is confirmed by a
// bracket within MatchTolerance-ish (3 %, at least plusMinus) of its
// timeout; a silent one by a timeout below its bound. A path on which
// nothing died contradicts either; so does a timeout elsewhere.
func ProbeVerdict(d Diagnosis, timeout *float64, plusMinus float64, drop string) string {
	if d.Kind != KindIdleTimeout {
		return ProbeUnrelated
	}
	if timeout == nil || drop == "none" {
		return ProbeContradicts
	}
	t := *timeout
	switch {
	case d.TimeoutSeconds != nil:
		tol := math.Max(0.03**d.TimeoutSeconds, plusMinus)
		if math.Abs(t-*d.TimeoutSeconds) <= tol {
			return ProbeConfirms
		}
	case d.TimeoutMaxSeconds != nil:
		if t-plusMinus <= *d.TimeoutMaxSeconds {
			return ProbeConfirms
		}
	default:
		return ProbeUnrelated
	}
	return ProbeContradicts
}
