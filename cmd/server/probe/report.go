package probe

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"idletrace/analysis"
)

// matchTolerance is the analysis package's default device-match tolerance
// (±3 %); a wider bracket widens it.
const matchTolerance = 0.03

// iisConnectionTimeout is IIS's default connectionTimeout: an Exchange
// front end closes an idle HTTPS keep-alive connection after it by itself.
const iisConnectionTimeout = 120.0

// result assembles the Result from the connections so far.
func (p *prober) result(t Target, complete bool, notes []string) *Result {
	now := p.cfg.Clock.Now()
	b := bracketOf(p.conns)
	r := &Result{
		Target: t.String(), Computer: p.cfg.Computer, Site: p.cfg.Site,
		StartedAt: p.start.UTC(), FinishedAt: now.UTC(), WallSeconds: round3(now.Sub(p.start).Seconds()),
		Complete:          complete,
		MaxSeconds:        round3(p.cfg.Max.Seconds()),
		ResolutionSeconds: round3(resolutionAt(p.cfg.Resolution, b.aliveMax)),
		Parallel:          p.cfg.Parallel,
		SilentWaitSeconds: round3(p.cfg.SilentWait.Seconds()),
		AliveMaxSeconds:   round3(b.aliveMax),
		Drop:              b.drop(),
		Matches:           []analysis.Match{},
		Notes:             append([]string{}, notes...),
		Rounds:            p.rounds,
		Connections:       append([]Connection{}, p.conns...),
	}
	slices.SortStableFunc(r.Connections, func(a, b Connection) int {
		return cmp.Or(cmp.Compare(a.Round, b.Round), cmp.Compare(a.PlannedSeconds, b.PlannedSeconds))
	})
	if b.hasDead {
		est, pm := (b.aliveMax+b.deadMin)/2, b.width()/2
		r.DeadMinSeconds, r.TimeoutSeconds, r.PlusMinusSeconds = ptr(round3(b.deadMin)), ptr(round3(est)), ptr(round3(pm))
		r.Matches = analysis.MatchDevices(est, math.Max(matchTolerance, pm/est))
	}
	r.Notes = append(r.Notes, p.notes(t, b, r)...)
	return r
}

// notes explain the result: the drop kind, a server's own keep-alive
// timeout that looks like a device, disagreeing connections.
func (p *prober) notes(t Target, b bracket, r *Result) []string {
	var out []string
	switch r.Drop {
	case DropNone:
		if r.AliveMaxSeconds < 0.99*r.MaxSeconds {
			out = append(out, fmt.Sprintf("no connection died, but none was used after the longest idle time (%s): the path is only known to hold %s", secs(r.MaxSeconds), secs(r.AliveMaxSeconds)))
		} else {
			out = append(out, fmt.Sprintf("every connection survived %s idle: nothing on this path times out sooner", secs(r.AliveMaxSeconds)))
		}
	case DropReset:
		if b.deadSeen == DetectedIdle {
			out = append(out, "idle connections are ended with a reset or close when the timeout expires: clients notice at once, so Outlook's disconnect/reconnect pairs show up at about the timeout (DOMAIN §4)")
		} else {
			out = append(out, "idle connections are forgotten, and the next packet on one is answered with a reset: clients notice only when they next send (Outlook: at its own keep-alive period), but without a silent drop's retransmission delay (DOMAIN §4)")
		}
	case DropSilent:
		out = append(out, "idle connections are forgotten silently: a client notices only when it next sends, after retransmitting, so Outlook's pairs show up at its own keep-alive period, not at the timeout (DOMAIN §4)")
	}
	if b.hasDead && b.deadEnd == EndClosed {
		note := "the connections were closed (FIN), not reset: a server or proxy ending idle keep-alive connections does that, as well as some devices"
		if t.Scheme == SchemeHTTPS {
			note += fmt.Sprintf("; an Exchange front end (IIS connectionTimeout) closes idle HTTPS connections after %g s by default", iisConnectionTimeout)
		}
		out = append(out, note+". Probe the server from a computer on its own network to tell them apart.")
	}
	if b.hasDead && b.deadMin < 1 {
		out = append(out, "connections die after less than a second idle: the target may not answer a second request on the same connection")
	}
	if b.contrary > 0 {
		out = append(out, fmt.Sprintf("%d connection(s) survived longer than the shortest death: the path does not treat every connection alike (several devices, or deaths that are not idle timeouts)", b.contrary))
	}
	for _, m := range r.Matches {
		for _, d := range analysis.Devices {
			if d.Name == m.Device && d.Setting == m.Setting && d.Expiry != "" && d.Expiry != r.Drop {
				out = append(out, fmt.Sprintf("%s drops with a %s by default, but this path drops with a %s: a changed setting, or another device", d.Name, d.Expiry, r.Drop))
			}
		}
	}
	if !r.Complete {
		out = append(out, "the probe was stopped before the bracket was within the resolution: these are the numbers so far")
	}
	return out
}

// secs formats seconds for people: "1.46 s", "300 s (5m0s)".
func secs(s float64) string {
	switch {
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	case s < 120:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f s (%v)", s, time.Duration(s*float64(time.Second)).Round(time.Second))
}

// WriteText prints a Result for people.
func WriteText(w io.Writer, r *Result) error {
	var sb strings.Builder
	n := 0
	for _, c := range r.Connections {
		if c.End != EndSkipped {
			n++
		}
	}
	fmt.Fprintf(&sb, "Probe of %s: %d round(s), %d connection(s) used, %s, TCP keep-alive off.\n", r.Target, r.Rounds, n, secs(r.WallSeconds))
	if !r.Complete {
		sb.WriteString("INTERRUPTED: the bracket so far.\n")
	}
	if r.TimeoutSeconds == nil {
		fmt.Fprintf(&sb, "Idle timeout: none found up to %s (longest survivor %s).\n", secs(r.MaxSeconds), secs(r.AliveMaxSeconds))
	} else {
		fmt.Fprintf(&sb, "Idle timeout: %s ± %s (alive after %s idle, dead after %s).\n",
			secs(*r.TimeoutSeconds), secs(*r.PlusMinusSeconds), secs(r.AliveMaxSeconds), secs(*r.DeadMinSeconds))
	}
	fmt.Fprintf(&sb, "Drop: %s.\n", r.Drop)
	if len(r.Matches) > 0 {
		sb.WriteString("Consistent with these defaults:\n")
		for _, m := range r.Matches {
			fmt.Fprintf(&sb, "  %s (%s: %g s)\n", m.Device, m.Setting, m.DefaultSeconds)
		}
	} else if r.TimeoutSeconds != nil {
		sb.WriteString("No known device default within the bracket: a configured timeout.\n")
	}
	for _, note := range r.Notes {
		fmt.Fprintf(&sb, "Note: %s\n", note)
	}
	sb.WriteString("Connections (round, planned idle, actual idle, end):\n")
	for _, c := range r.Connections {
		end := c.End
		if c.Detected != "" {
			end += " on " + c.Detected
		}
		if c.End == EndError {
			end += ": " + c.Error
		}
		fmt.Fprintf(&sb, "  %d  %10.3f s  %10.3f s  %s\n", c.Round, c.PlannedSeconds, c.IdleSeconds, end)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}
