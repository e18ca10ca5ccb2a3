package probe

import (
	"fmt"
	"math"
	"strings"
	"time"

	"idletrace/analysis"
)

// Result is the outcome of a probe, shaped to be printed by --json and
// posted as is to the server (the future POST /api/v1/probes).
type Result struct {
	Target string `json:"target"`
	// Computer and Site say where the probe ran from: the path measured is
	// the one between this computer and the target.
	Computer string `json:"computer,omitempty"`
	Site     string `json:"site,omitempty"`

	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	WallSeconds float64   `json:"wall_seconds"`
	// Complete is false when the probe was stopped (Ctrl-C) before the
	// bracket reached the resolution; the numbers are the bracket so far.
	Complete bool `json:"complete"`

	MaxSeconds        float64 `json:"max_seconds"`
	ResolutionSeconds float64 `json:"resolution_seconds"`
	Parallel          int     `json:"parallel"`
	SilentWaitSeconds float64 `json:"silent_wait_seconds"`

	// AliveMaxSeconds is the longest idle time a connection survived
	// (0 when none did: each answered its opening request).
	AliveMaxSeconds float64 `json:"alive_max_seconds"`
	// DeadMinSeconds is the shortest idle time after which a connection was
	// dead; null when every connection survived.
	DeadMinSeconds *float64 `json:"dead_min_seconds"`
	// TimeoutSeconds is the estimate of the path's idle timeout, the middle
	// of the bracket, ± PlusMinusSeconds; null when every connection survived.
	TimeoutSeconds   *float64 `json:"timeout_seconds"`
	PlusMinusSeconds *float64 `json:"plus_minus_seconds"`
	// Drop is DropReset, DropSilent or DropNone.
	Drop string `json:"drop"`
	// Matches are the device defaults (DOMAIN §2) that fit the estimate.
	Matches []analysis.Match `json:"matches"`
	// Notes explain what the numbers do and do not show.
	Notes []string `json:"notes"`

	Rounds      int          `json:"rounds"`
	Connections []Connection `json:"connections"`
}

// Connection is how one probe connection ended.
type Connection struct {
	Round int `json:"round"`
	// PlannedSeconds is the idle time it was meant to wait.
	PlannedSeconds float64 `json:"planned_seconds"`
	// IdleSeconds is how long it had been idle when it was used, or when
	// its end arrived while it waited.
	IdleSeconds float64 `json:"idle_seconds"`
	// End is EndAlive, EndReset, EndClosed, EndSilent, EndSkipped or EndError.
	End string `json:"end"`
	// Detected says when a death was seen: "idle" (the reset arrived while
	// the connection waited) or "use" (when it was used).
	Detected string `json:"detected,omitempty"`
	// AnswerSeconds is how long the answer took after the use (alive only).
	AnswerSeconds float64 `json:"answer_seconds,omitempty"`
	Error         string  `json:"error,omitempty"`
}

// Detected values.
const (
	DetectedIdle = "idle"
	DetectedUse  = "use"
)

// Progress is what a running probe reports after each connection ends
// and every Config.ProgressEvery.
type Progress struct {
	Round   int
	Elapsed time.Duration
	// Waiting is the number of connections of this round still open or
	// being opened; Planned the number the round started.
	Waiting, Planned int
	AliveMax         float64
	DeadMin          *float64
	Drop             string
	// Ended is the connection that just ended (nil for a heartbeat).
	Ended *Connection
}

// round3 keeps JSON numbers to milliseconds.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func ptr(x float64) *float64 { return &x }

// String is a progress line for people: the round, the connections still
// open and the bracket so far.
func (p Progress) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "round %d: %d of %d connections waiting; alive after %s", p.Round, p.Waiting, p.Planned, secs(p.AliveMax))
	if p.DeadMin != nil {
		fmt.Fprintf(&sb, ", dead after %s (%s)", secs(*p.DeadMin), p.Drop)
	}
	fmt.Fprintf(&sb, "; %v elapsed", p.Elapsed.Round(100*time.Millisecond))
	if c := p.Ended; c != nil {
		fmt.Fprintf(&sb, " [planned %s: %s", secs(c.PlannedSeconds), c.End)
		if c.Detected != "" {
			fmt.Fprintf(&sb, " on %s", c.Detected)
		}
		if c.End != EndSkipped && c.End != EndError {
			fmt.Fprintf(&sb, " after %s idle", secs(c.IdleSeconds))
		}
		sb.WriteString("]")
	}
	return sb.String()
}
