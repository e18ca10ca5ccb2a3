package probe

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// pipeOpener connects each probe connection through net.Pipe to a
// simulated path: an echo service behind a device that ends flows idle for
// idle (0: never). Inside a synctest bubble its timers run on the fake
// clock, so a probe with Exchange's 2 h default takes milliseconds.
type pipeOpener struct {
	idle   time.Duration
	silent bool
}

func (o pipeOpener) Open(ctx context.Context) (Conn, error) {
	client, far := net.Pipe()
	go o.device(far)
	return newStreamConn(client, tcpPayload, readChunk, systemClock{}), nil
}

// device echoes until the flow has been idle for o.idle, then closes it
// (a pipe cannot send a reset; the probe sees a close) or, when silent,
// goes on reading and answers nothing.
func (o pipeOpener) device(c net.Conn) {
	defer c.Close()
	var mu sync.Mutex
	forgotten := false
	var timer *time.Timer
	if o.idle > 0 {
		timer = time.AfterFunc(o.idle, func() {
			mu.Lock()
			defer mu.Unlock()
			forgotten = true
			if !o.silent {
				c.Close()
			}
		})
		defer timer.Stop()
	}
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		mu.Lock()
		f := forgotten
		if !f && timer != nil {
			timer.Reset(o.idle)
		}
		mu.Unlock()
		if f {
			continue
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// TestExchangeDefaults runs the probe with its Exchange defaults (2 h,
// 16 connections, resolution max(1 %, 5 s), 20 s silent window) against
// simulated devices of DOMAIN §2, on synctest's fake clock: the bracket,
// the device match, the rounds and the (virtual) wall time. synctest also
// fails the test if any goroutine outlives Run.
func TestExchangeDefaults(t *testing.T) {
	for _, c := range []struct {
		name     string
		idle     time.Duration
		silent   bool
		drop     string
		device   string
		maxWall  time.Duration
		maxRound int
	}{
		{"F5Reset300", 300 * time.Second, false, DropReset, "F5 BIG-IP LTM", 11 * time.Minute, 2},
		{"AzureSilent240", 240 * time.Second, true, DropSilent, "Azure Load Balancer", 10 * time.Minute, 2},
		{"KempSilent660", 660 * time.Second, true, DropSilent, "Kemp LoadMaster", 26 * time.Minute, 2},
		{"Firewall3600", time.Hour, false, DropReset, "Cisco ASA", 2*time.Hour + 5*time.Minute, 2},
		{"Clean", 0, false, DropNone, "", DefaultMax + time.Minute, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				tg, _ := ParseTarget("tcp://exchange.test:443")
				r, err := Run(t.Context(), tg, Config{Opener: pipeOpener{idle: c.idle, silent: c.silent}})
				if err != nil {
					t.Fatal(err)
				}
				wall := time.Since(start)
				if r.Drop != c.drop || r.Rounds > c.maxRound || wall > c.maxWall {
					t.Errorf("drop %s in %d rounds, %v; want %s in ≤ %d rounds, ≤ %v", r.Drop, r.Rounds, wall, c.drop, c.maxRound, c.maxWall)
				}
				if c.idle == 0 {
					if r.TimeoutSeconds != nil || r.AliveMaxSeconds != DefaultMax.Seconds() {
						t.Errorf("clean path: timeout %v, alive_max %v", r.TimeoutSeconds, r.AliveMaxSeconds)
					}
					return
				}
				T := c.idle.Seconds()
				t.Logf("T %v: bracket (%.3f, %.3f], timeout %.2f ± %.2f s, %d rounds, %d connections, virtual wall %v",
					c.idle, r.AliveMaxSeconds, *r.DeadMinSeconds, *r.TimeoutSeconds, *r.PlusMinusSeconds, r.Rounds, len(r.Connections), wall.Round(time.Second))
				if r.AliveMaxSeconds >= T || *r.DeadMinSeconds < T {
					t.Errorf("bracket (%v, %v] does not contain %v", r.AliveMaxSeconds, *r.DeadMinSeconds, T)
				}
				if w, res := *r.DeadMinSeconds-r.AliveMaxSeconds, r.ResolutionSeconds; w > res+0.001 || res > math.Max(0.01*T, 5) {
					t.Errorf("bracket width %.2f s over the resolution %.2f s", w, res)
				}
				found := false
				for _, m := range r.Matches {
					found = found || m.Device == c.device
				}
				if !found {
					t.Errorf("matches %v, want %s", r.Matches, c.device)
				}
			})
		})
	}
}

// TestInterruptVirtual stops a 2 h probe after 10 minutes: Run returns at
// once with the bracket so far.
func TestInterruptVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
		defer cancel()
		tg, _ := ParseTarget("tcp://exchange.test:443")
		r, err := Run(ctx, tg, Config{Opener: pipeOpener{}})
		if err == nil || r.Complete || r.AliveMaxSeconds < 400 || r.AliveMaxSeconds > 600 {
			t.Fatalf("err %v, result %+v", err, r)
		}
		if took := time.Since(r.StartedAt); took > 10*time.Minute+time.Second {
			t.Errorf("Run returned %v after start", took)
		}
	})
}

// failingOpener works for the first round and then cannot connect: the
// probe stops with a note rather than retrying the same round.
type failingOpener struct {
	pipeOpener
	opens, limit int
	mu           sync.Mutex
}

func (o *failingOpener) Open(ctx context.Context) (Conn, error) {
	o.mu.Lock()
	o.opens++
	n := o.opens
	o.mu.Unlock()
	if n > o.limit {
		return nil, errors.New("connect: connection refused")
	}
	return o.pipeOpener.Open(ctx)
}

func TestTargetGoesAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tg, _ := ParseTarget("tcp://exchange.test:443")
		o := &failingOpener{pipeOpener: pipeOpener{idle: 300 * time.Second}, limit: DefaultParallel}
		r, err := Run(t.Context(), tg, Config{Opener: o})
		if err != nil {
			t.Fatal(err)
		}
		if r.Rounds != 2 || r.TimeoutSeconds == nil || !strings.Contains(strings.Join(r.Notes, "\n"), "no connection of round 2 could be used (connect: connection refused)") {
			t.Errorf("rounds %d, timeout %v, notes %q", r.Rounds, r.TimeoutSeconds, r.Notes)
		}
	})
}
