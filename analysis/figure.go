package analysis

import (
	"fmt"
	"math"
)

// One number, one spelling: every figure of a diagnosis — its Summary, and
// on the web pages its title, card, lead text, chart labels and report — is
// the diagnosis' own value (the timeout estimate, else the bound a silent
// drop gives), rounded by RoundSeconds and written by FormatSeconds:
// "901 s (15.0 min)". This file is that rule; the pages call it too.

// RoundSeconds is the rounding rule of every figure: whole seconds.
func RoundSeconds(sec float64) float64 { return math.Round(sec) }

// FormatSeconds writes a duration in seconds for people, rounded by
// RoundSeconds: "45 s", "900 s (15 min)", "901 s (15.0 min)", "9000 s (2.5 h)".
func FormatSeconds(sec float64) string {
	sec = RoundSeconds(sec)
	switch {
	case sec < 120:
		return fmt.Sprintf("%.0f s", sec)
	case sec < 7200:
		m := sec / 60
		if math.Abs(m-math.Round(m)) < 0.05 {
			return fmt.Sprintf("%.0f s (%.0f min)", sec, m)
		}
		return fmt.Sprintf("%.0f s (%.1f min)", sec, m)
	default:
		return fmt.Sprintf("%.0f s (%.1f h)", sec, sec/3600)
	}
}

// Figure is the value d's figures show, in whole seconds, and whether it is
// an upper bound (a silent drop) rather than an estimate; ok is false for a
// diagnosis without one (a shared outage).
func Figure(d *Diagnosis) (sec float64, bound, ok bool) {
	switch {
	case d.TimeoutSeconds != nil:
		return RoundSeconds(*d.TimeoutSeconds), false, true
	case d.TimeoutMaxSeconds != nil:
		return RoundSeconds(*d.TimeoutMaxSeconds), true, true
	case d.ObservedSeconds != nil:
		return RoundSeconds(*d.ObservedSeconds), false, true
	}
	return 0, false, false
}

// FigureText is d's value as every page and the Summary write it:
// "≈ 901 s (15.0 min)" or "below 720 s (12 min)"; "" when it has none.
func FigureText(d *Diagnosis) string {
	v, bound, ok := Figure(d)
	switch {
	case !ok:
		return ""
	case bound:
		return "below " + FormatSeconds(v)
	}
	return "≈ " + FormatSeconds(v)
}
