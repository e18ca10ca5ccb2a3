// Package probe measures the idle timeout of a network path directly: it
// opens many connections through the path at once, leaves each idle for a
// different time, then uses it. The shortest idle time after which a
// connection is dead, and the longest after which one still answers,
// bracket the timeout of the device in between; whether the dead ones
// were reset or went silent tells how the device drops (DOMAIN §4, the
// method of Hätönen et al., IMC 2010).
//
// A first round spreads the idle times geometrically up to Config.Max; each
// later round spreads them evenly inside the bracket, until it is narrower
// than the resolution. The rounds of connections run side by side, so a
// probe takes about the timeout (or Max) per round, not the sum of the
// idle times.
package probe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults for an Exchange path: a device must hold an idle Outlook
// connection for up to 2 h (the Windows TCP KeepAliveTime, DOMAIN §3).
const (
	DefaultMax        = 2 * time.Hour
	DefaultParallel   = 32
	DefaultSilentWait = 20 * time.Second
	DefaultOpen       = 30 * time.Second
	DefaultMaxRounds  = 8
	DefaultHeartbeat  = time.Minute
)

// Config says how to probe. Zero fields take the defaults.
type Config struct {
	// Max is the longest idle time tried (DefaultMax).
	Max time.Duration
	// Resolution is the bracket width to stop at; zero means 1 % of the
	// timeout, at least 5 s.
	Resolution time.Duration
	// Parallel is the number of connections a round opens (DefaultParallel).
	Parallel int
	// SilentWait is how long an answer may take after a use before the
	// connection counts as silently dropped: long enough for TCP to
	// retransmit a lost segment a few times (DefaultSilentWait).
	SilentWait time.Duration
	// OpenTimeout bounds connecting and the opening exchange (DefaultOpen).
	OpenTimeout time.Duration
	// MaxRounds caps the rounds, in case the path is inconsistent and the
	// bracket does not narrow (DefaultMaxRounds).
	MaxRounds int
	// Insecure skips TLS certificate checks (self-signed test targets).
	Insecure bool
	// Clock is the time source (the system clock when nil).
	Clock Clock
	// Opener opens connections (real sockets to the target when nil).
	Opener Opener
	// Progress, when set, is called after each connection ends and every
	// ProgressEvery (DefaultHeartbeat) from Run's goroutine.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Computer and Site are copied into the Result.
	Computer, Site string
}

func (c *Config) setDefaults(t Target) {
	if c.Max <= 0 {
		c.Max = DefaultMax
	}
	if c.Parallel <= 0 {
		c.Parallel = DefaultParallel
	}
	if c.SilentWait <= 0 {
		c.SilentWait = DefaultSilentWait
	}
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = DefaultOpen
	}
	if c.MaxRounds <= 0 {
		c.MaxRounds = DefaultMaxRounds
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = DefaultHeartbeat
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Opener == nil {
		c.Opener = &socketOpener{target: t, insecure: c.Insecure, clock: c.Clock}
	}
}

// Run probes the path to t. It returns when the bracket is within the
// resolution, when every connection survived Max, or when ctx is done: then
// it returns the bracket so far (Complete false) with ctx's error. It
// returns an error without a useful bracket when no connection could be
// opened. Every connection is closed when Run returns.
func Run(ctx context.Context, t Target, cfg Config) (*Result, error) {
	cfg.setDefaults(t)
	p := &prober{cfg: cfg, start: cfg.Clock.Now()}
	planned := spread(firstIdle(cfg.Max, cfg.Resolution, cfg.Parallel), cfg.Max, cfg.Parallel)
	var notes []string
	for round := 1; ; round++ {
		from := len(p.conns)
		p.round(ctx, round, planned)
		if ctx.Err() != nil {
			break
		}
		b := bracketOf(p.conns)
		if !evidence(p.conns[from:]) {
			if round == 1 {
				return p.result(t, false, nil), fmt.Errorf("probe %s: no connection could be used: %s", t, firstError(p.conns))
			}
			notes = append(notes, fmt.Sprintf("stopped: no connection of round %d could be used (%s)", round, firstError(p.conns[from:])))
			break
		}
		if !b.hasDead {
			break
		}
		res := resolutionAt(cfg.Resolution, b.aliveMax)
		if b.width() <= res {
			break
		}
		if round == cfg.MaxRounds {
			notes = append(notes, fmt.Sprintf("stopped after %d rounds with the bracket wider than the resolution: the path does not behave the same for every connection", round))
			break
		}
		planned = refine(b.aliveMax, b.deadMin, res, cfg.Parallel)
	}
	if err := ctx.Err(); err != nil {
		return p.result(t, false, notes), fmt.Errorf("probe %s interrupted: %w", t, err)
	}
	return p.result(t, true, notes), nil
}

// prober holds the connections of all rounds.
type prober struct {
	cfg    Config
	start  time.Time
	rounds int
	conns  []Connection
}

// round runs one round: a connection per planned idle time, all at once.
// When one dies, the still idle ones planned as long or longer are closed
// unused: on a path that kills at T they would only die too.
func (p *prober) round(ctx context.Context, n int, planned []time.Duration) {
	p.rounds = n
	results := make(chan Connection)
	cancels := make([]context.CancelFunc, len(planned))
	var wg sync.WaitGroup
	for i, d := range planned {
		cctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- p.runConn(cctx, n, d)
		}()
	}
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
		wg.Wait()
	}()
	beat := p.cfg.Clock.NewTimer(p.cfg.ProgressEvery)
	defer func() { beat.Stop() }()
	for waiting := len(planned); waiting > 0; {
		select {
		case c := <-results:
			waiting--
			p.conns = append(p.conns, c)
			b := bracketOf(p.conns)
			if b.hasDead {
				for i, d := range planned {
					if d.Seconds() >= b.deadMin {
						cancels[i]()
					}
				}
			}
			if c.End != EndSkipped {
				p.report(n, waiting, len(planned), &c)
			}
		case <-beat.C():
			p.report(n, waiting, len(planned), nil)
			beat = p.cfg.Clock.NewTimer(p.cfg.ProgressEvery)
		}
	}
}

func (p *prober) report(round, waiting, planned int, c *Connection) {
	if p.cfg.Progress == nil {
		return
	}
	b := bracketOf(p.conns)
	pr := Progress{Round: round, Elapsed: p.cfg.Clock.Now().Sub(p.start), Waiting: waiting, Planned: planned,
		AliveMax: b.aliveMax, Drop: b.drop(), Ended: c}
	if b.hasDead {
		pr.DeadMin = ptr(b.deadMin)
	}
	p.cfg.Progress(pr)
}

// runConn opens one connection, makes the opening exchange, leaves it idle
// for d and uses it.
func (p *prober) runConn(ctx context.Context, round int, d time.Duration) Connection {
	c := Connection{Round: round, PlannedSeconds: round3(d.Seconds())}
	clock := p.cfg.Clock
	octx, cancel := context.WithTimeout(ctx, p.cfg.OpenTimeout)
	conn, err := p.cfg.Opener.Open(octx)
	cancel()
	if err != nil {
		return failed(ctx, c, err)
	}
	defer conn.Close()
	if err := conn.Ask(); err != nil {
		return failed(ctx, c, fmt.Errorf("opening request: %w", err))
	}
	ev, err := p.await(ctx, conn, p.cfg.OpenTimeout)
	if err == nil && ev.Err != nil {
		err = ev.Err
	}
	if err != nil {
		return failed(ctx, c, fmt.Errorf("opening exchange: %w", err))
	}
	last := ev.At
	for idle := true; idle; {
		t := clock.NewTimer(last.Add(d).Sub(clock.Now()))
		select {
		case <-ctx.Done():
			t.Stop()
			// A reset that arrived with the one that stopped this
			// connection is evidence still: report it.
			select {
			case ev := <-conn.Events():
				if ev.Err != nil {
					return endedIdle(c, last, ev)
				}
			default:
			}
			c.IdleSeconds, c.End = round3(clock.Now().Sub(last).Seconds()), EndSkipped
			return c
		case ev := <-conn.Events():
			t.Stop()
			if ev.Err == nil {
				last = ev.At // the target spoke: the idle time starts again
				continue
			}
			return endedIdle(c, last, ev)
		case <-t.C():
			idle = false
		}
	}
	used := clock.Now()
	c.IdleSeconds, c.Detected = round3(used.Sub(last).Seconds()), DetectedUse
	if err := conn.Ask(); err != nil {
		c.End, c.Error = endOf(err), err.Error()
		return c
	}
	ev, err = p.await(ctx, conn, p.cfg.SilentWait)
	switch {
	case errors.Is(err, errNoAnswer):
		c.End = EndSilent
	case err != nil:
		c.End, c.Detected = EndSkipped, ""
	case ev.Err != nil:
		c.End, c.Error = endOf(ev.Err), ev.Err.Error()
	default:
		c.End, c.Detected, c.AnswerSeconds = EndAlive, "", round3(ev.At.Sub(used).Seconds())
	}
	return c
}

// endedIdle is a connection whose end arrived while it was idle.
func endedIdle(c Connection, last time.Time, ev Event) Connection {
	c.IdleSeconds, c.End, c.Detected, c.Error = round3(ev.At.Sub(last).Seconds()), endOf(ev.Err), DetectedIdle, ev.Err.Error()
	return c
}

var errNoAnswer = errors.New("no answer")

// await waits up to wait for the next event of conn.
func (p *prober) await(ctx context.Context, conn Conn, wait time.Duration) (Event, error) {
	t := p.cfg.Clock.NewTimer(wait)
	defer t.Stop()
	select {
	case ev := <-conn.Events():
		return ev, nil
	case <-t.C():
		return Event{}, fmt.Errorf("%w within %v", errNoAnswer, wait)
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// failed is a connection that could not be opened or made its opening
// exchange: skipped if the probe was stopped, else an error.
func failed(ctx context.Context, c Connection, err error) Connection {
	if ctx.Err() != nil {
		c.End = EndSkipped
		return c
	}
	c.End, c.Error = EndError, err.Error()
	return c
}

// evidence reports whether any of conns survived or died: connections
// that failed to open or were skipped say nothing about the path.
func evidence(conns []Connection) bool {
	for _, c := range conns {
		if c.End == EndAlive || dead(c.End) {
			return true
		}
	}
	return false
}

func firstError(conns []Connection) string {
	for _, c := range conns {
		if c.Error != "" {
			return c.Error
		}
	}
	return "every connection was stopped"
}
