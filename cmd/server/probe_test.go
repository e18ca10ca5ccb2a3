package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"idletrace/cmd/server/probe/probetest"
	"idletrace/store"
	"idletrace/web"
	"net/http/httptest"
	"path/filepath"
)

func TestProbeUsageErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"NoTarget", nil, "want one TARGET, got 0"},
		{"TwoTargets", []string{"tcp://127.0.0.1:7", "tcp://127.0.0.1:9"}, "want one TARGET, got 2"},
		{"BadScheme", []string{"http://127.0.0.1/"}, "scheme must be tcp or https"},
		{"TCPNoPort", []string{"tcp://127.0.0.1"}, "needs a port"},
		{"TCPPath", []string{"tcp://127.0.0.1:7/x"}, "has no path"},
		{"BadPort", []string{"tcp://127.0.0.1:99999"}, "bad port"},
		{"NoHost", []string{"https:///owa"}, "want tcp://HOST:PORT"},
		{"BadDuration", []string{"--max", "soon", "tcp://127.0.0.1:7"}, "invalid value"},
		{"MaxZero", []string{"--max", "0s", "tcp://127.0.0.1:7"}, "--max must be positive"},
		{"ResolutionOverMax", []string{"--max", "10s", "--resolution", "10s", "tcp://127.0.0.1:7"}, "--resolution must be"},
		{"ParallelOne", []string{"--parallel", "1", "tcp://127.0.0.1:7"}, "--parallel must be between 2 and 256"},
		{"SilentZero", []string{"--silent-wait", "0s", "tcp://127.0.0.1:7"}, "--silent-wait must be positive"},
		{"UnknownFlag", []string{"--push", "http://x", "tcp://127.0.0.1:7"}, "flag provided but not defined: -push"},
		{"PostNotURL", []string{"--post", "idletrace.local", "tcp://127.0.0.1:7"}, "--post wants the server's http:// or https:// URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, stderr := runCmd(t, append([]string{"probe"}, c.args...)...)
			if code != 2 || out != "" || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "usage: server probe") {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q with the usage", code, out, stderr, c.want)
			}
		})
	}
	t.Run("Help", func(t *testing.T) {
		code, _, stderr := runCmd(t, "probe", "-h")
		if code != 0 || !strings.Contains(stderr, "-resolution") || !strings.Contains(stderr, "-insecure") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestProbeUnreachable(t *testing.T) {
	s := probetest.Listen(t)
	addr := s.Addr()
	s.Close()
	code, out, stderr := runCmd(t, "probe", "--max", "1s", "--resolution", "100ms", "tcp://"+addr)
	if code != 1 || out != "" || !strings.Contains(stderr, "no connection could be used") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestProbeJSON checks the --json shape through a resetting middlebox: the
// body a probe will be posted with.
func TestProbeJSON(t *testing.T) {
	t.Parallel()
	target := "tcp://" + probetest.Middlebox(t, probetest.Echo(t), time.Second, probetest.Reset)
	code, out, stderr := runCmd(t, "probe", "--json", "--max", "3s", "--resolution", "100ms", "--parallel", "8", "--site", "HQ", target)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, k := range []string{"target", "computer", "site", "started_at", "finished_at", "complete", "alive_max_seconds",
		"dead_min_seconds", "timeout_seconds", "plus_minus_seconds", "drop", "matches", "notes", "connections"} {
		if _, ok := r[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	ts, _ := r["timeout_seconds"].(float64)
	if r["target"] != target || r["site"] != "HQ" || r["drop"] != "reset" || r["complete"] != true || ts < 0.9 || ts > 1.1 {
		t.Errorf("target %v site %v drop %v complete %v timeout %v", r["target"], r["site"], r["drop"], r["complete"], r["timeout_seconds"])
	}
	if m, ok := r["matches"].([]any); !ok || len(m) != 0 {
		t.Errorf("matches %v, want [] (no device defaults to 1 s)", r["matches"])
	}
	conns, _ := r["connections"].([]any)
	if len(conns) == 0 {
		t.Fatal("no connections")
	}
	for _, k := range []string{"round", "planned_seconds", "idle_seconds", "end"} {
		if _, ok := conns[0].(map[string]any)[k]; !ok {
			t.Errorf("connection has no %q: %v", k, conns[0])
		}
	}
	if !strings.Contains(stderr, "probe: round 1:") || !strings.Contains(stderr, "dead after") {
		t.Errorf("progress on stderr: %q", stderr)
	}
}

// TestProbeNoneJSON: a clean path gives nulls and "none".
func TestProbeNoneJSON(t *testing.T) {
	t.Parallel()
	code, out, stderr := runCmd(t, "probe", "--json", "--max", "1s", "--resolution", "100ms", "tcp://"+probetest.Echo(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`"timeout_seconds": null`, `"dead_min_seconds": null`, `"drop": "none"`, `"matches": []`, `"alive_max_seconds": 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in %s", want, out)
		}
	}
}

// TestProbeInterruptedText: Ctrl-C prints the bracket so far, exit 130.
func TestProbeInterruptedText(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"probe", "--max", "5s", "--resolution", "100ms", "tcp://" + probetest.Echo(t)}, &out, &errb)
	if code != exitInterrupted {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"INTERRUPTED", "Idle timeout: none found up to 5.00 s", "skipped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}

// TestProbePost: --post sends the result to a real idletrace server, which
// stores it (GET /api/v1/probes lists it); a wrong token fails the command.
func TestProbePost(t *testing.T) {
	t.Parallel()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "probe.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir(), RateLimit: -1}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer srv.Close(context.Background())
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	secret, _, err := db.CreateToken(context.Background(), "probe-agent", "ingest")
	if err != nil {
		t.Fatal(err)
	}
	target := "tcp://" + probetest.Middlebox(t, probetest.Echo(t), time.Second, probetest.Reset)
	code, _, stderr := runCmd(t, "probe", "--max", "3s", "--resolution", "100ms", "--parallel", "8", "--site", "HQ",
		"--post", ts.URL, "--token", secret, target)
	if code != 0 || !strings.Contains(stderr, "posted to "+ts.URL+" as probe 1") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ps, err := db.FindProbes(context.Background(), store.ProbeFilter{})
	if err != nil || len(ps) != 1 || ps[0].Site != "HQ" || ps[0].Drop != "reset" || ps[0].TimeoutSeconds == nil || ps[0].Token != "probe-agent" {
		t.Fatalf("stored: %+v, %v", ps, err)
	}
	code, _, stderr = runCmd(t, "probe", "--max", "2s", "--resolution", "100ms", "--parallel", "4", "--post", ts.URL, "--token", "itk_wrong", target)
	if code != 1 || !strings.Contains(stderr, "probe: post: 401") {
		t.Errorf("wrong token: exit %d: %s", code, stderr)
	}
}
