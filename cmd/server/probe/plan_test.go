package probe

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSpread(t *testing.T) {
	got := spread(firstIdle(DefaultMax, 0, DefaultParallel), DefaultMax, DefaultParallel)
	if len(got) != DefaultParallel || got[0] != 7200*time.Millisecond || got[len(got)-1] != DefaultMax {
		t.Fatalf("spread for Exchange defaults = %v", got)
	}
	for i := 1; i < len(got); i++ {
		if r := float64(got[i]) / float64(got[i-1]); math.Abs(r-math.Pow(1000, 1/float64(DefaultParallel-1))) > 1e-6 {
			t.Errorf("ratio %d = %v, not geometric", i, r)
		}
	}
	if got := spread(time.Second, time.Second, 4); len(got) != 1 || got[0] != time.Second {
		t.Errorf("spread with first = max: %v", got)
	}
}

func TestFirstIdle(t *testing.T) {
	for _, c := range []struct {
		max, res time.Duration
		n        int
		want     time.Duration
	}{
		{2 * time.Hour, 0, 16, 7200 * time.Millisecond}, // a thousandth of max
		{time.Hour, 0, 16, 5 * time.Second},             // the 5 s floor of the auto resolution
		{4 * time.Second, 100 * time.Millisecond, 12, 100 * time.Millisecond},
		{4 * time.Second, 0, 8, 500 * time.Millisecond}, // 5 s floor over half of max: max/n
	} {
		if got := firstIdle(c.max, c.res, c.n); got != c.want {
			t.Errorf("firstIdle(%v, %v, %d) = %v, want %v", c.max, c.res, c.n, got, c.want)
		}
	}
}

func TestRefine(t *testing.T) {
	for _, c := range []struct {
		a, b, res float64
		n         int
		want      []float64
	}{
		{285.9, 300, 5, 16, []float64{289.425, 292.95, 296.475}}, // as few as leave gaps within 90 % of 5 s
		{100, 200, 1, 4, []float64{120, 140, 160, 180}},          // at most n
		{1, 1.05, 0.1, 8, []float64{1.025}},                      // already narrow: one point
		{0, 1, 0.25, 16, []float64{0.2, 0.4, 0.6, 0.8}},          // no survivor: from 0
		{180.3, 285.9, 5, 16, nil},                               // checked by count below
	} {
		got := refine(c.a, c.b, c.res, c.n)
		if c.want == nil {
			if len(got) != c.n || (c.b-c.a)/float64(len(got)+1) > 6.3 {
				t.Errorf("refine(%v, %v) = %v", c.a, c.b, got)
			}
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("refine(%v, %v, %v, %d) = %v, want %v", c.a, c.b, c.res, c.n, got, c.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i].Seconds()-c.want[i]) > 0.05 {
				t.Errorf("refine(%v, %v, %v, %d) = %v, want %v", c.a, c.b, c.res, c.n, got, c.want)
				break
			}
		}
	}
}

func TestResolutionAt(t *testing.T) {
	for _, c := range []struct {
		fixed time.Duration
		alive float64
		want  float64
	}{{0, 300, 5}, {0, 3600, 36}, {0, 0, 5}, {time.Second, 3600, 1}} {
		if got := resolutionAt(c.fixed, c.alive); got != c.want {
			t.Errorf("resolutionAt(%v, %v) = %v, want %v", c.fixed, c.alive, got, c.want)
		}
	}
}

func TestBracketOf(t *testing.T) {
	conns := []Connection{
		{IdleSeconds: 100, End: EndAlive},
		{IdleSeconds: 250, End: EndAlive},
		{IdleSeconds: 310, End: EndSilent},
		{IdleSeconds: 300, End: EndReset},
		{IdleSeconds: 400, End: EndAlive}, // contrary
		{IdleSeconds: 50, End: EndError},  // not evidence
		{IdleSeconds: 20, End: EndSkipped},
	}
	b := bracketOf(conns)
	if b.aliveMax != 250 || b.deadMin != 300 || b.deadEnd != EndReset || b.contrary != 1 || b.drop() != DropReset || b.width() != 50 {
		t.Errorf("bracket %+v", b)
	}
	if b := bracketOf(conns[:2]); b.hasDead || b.aliveMax != 250 || b.drop() != DropNone {
		t.Errorf("all alive: %+v", b)
	}
	if b := bracketOf([]Connection{{IdleSeconds: 5, End: EndSilent}}); b.aliveMax != 0 || b.drop() != DropSilent {
		t.Errorf("no survivor: %+v", b)
	}
	if b := bracketOf([]Connection{{IdleSeconds: 5, End: EndClosed}}); b.drop() != DropReset {
		t.Errorf("closed: %+v", b)
	}
}

func TestEndOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{io.EOF, EndClosed},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), EndClosed},
		{fmt.Errorf("read tcp: %w", syscall.ECONNRESET), EndReset},
		{fmt.Errorf("write: %w", syscall.EPIPE), EndReset},
		{errors.New("tls: bad record MAC"), EndError},
	} {
		if got := endOf(c.err); got != c.want {
			t.Errorf("endOf(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		in, want, path string
	}{
		{"tcp://127.0.0.1:7", "tcp://127.0.0.1:7", ""},
		{"tcp://mail.example.com:25/", "tcp://mail.example.com:25", ""},
		{"https://mail.example.com", "https://mail.example.com:443/", "/"},
		{"HTTPS://mail.example.com:8443/owa/healthcheck.htm?x=1", "https://mail.example.com:8443/owa/healthcheck.htm?x=1", "/owa/healthcheck.htm?x=1"},
		{"https://[::1]/owa", "https://[::1]:443/owa", "/owa"},
	} {
		tg, err := ParseTarget(c.in)
		if err != nil || tg.String() != c.want || tg.Path != c.path {
			t.Errorf("ParseTarget(%q) = %v (path %q), %v; want %s", c.in, tg, tg.Path, err, c.want)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:7", "http://x/", "tcp://x", "tcp://x:0", "tcp://x:7/path", "https://:443/", "udp://x:53"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q): no error", bad)
		}
	}
}

func TestHTTPRequest(t *testing.T) {
	tg, _ := ParseTarget("https://mail.example.com/owa/healthcheck.htm")
	want := "GET /owa/healthcheck.htm HTTP/1.1\r\nHost: mail.example.com\r\nUser-Agent: idletrace-probe\r\nAccept: */*\r\n\r\n"
	if got := string(httpRequest(tg)); got != want {
		t.Errorf("request %q", got)
	}
	tg, _ = ParseTarget("https://127.0.0.1:8443/")
	if got := string(httpRequest(tg)); !strings.HasPrefix(got, "GET / HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n") {
		t.Errorf("request %q", got)
	}
}

func TestProgressString(t *testing.T) {
	p := Progress{Round: 2, Elapsed: 1234 * time.Millisecond, Waiting: 3, Planned: 7, AliveMax: 295.3, DeadMin: ptr(300), Drop: DropReset,
		Ended: &Connection{PlannedSeconds: 320, IdleSeconds: 300.01, End: EndReset, Detected: DetectedIdle}}
	want := "round 2: 3 of 7 connections waiting; alive after 295 s (4m55s), dead after 300 s (5m0s) (reset); 1.2s elapsed [planned 320 s (5m20s): reset on idle after 300 s (5m0s) idle]"
	if got := p.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
