package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestProfiling: -pprof-addr takes loopback addresses only, and serves
// the profiler's index there.
func TestProfiling(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "192.0.2.1:6060"} {
		if err := (&profilingConfig{addr: addr}).validate(); err == nil {
			t.Errorf("-pprof-addr %s accepted", addr)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logged strings.Builder
	c := &profilingConfig{addr: "127.0.0.1:0"}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if err := c.start(ctx, slog.New(slog.NewTextHandler(&logged, nil))); err != nil {
		t.Fatal(err)
	}
	_, url, ok := strings.Cut(logged.String(), "http://")
	if !ok {
		t.Fatalf("no address logged: %s", logged.String())
	}
	url = "http://" + strings.Fields(strings.Trim(url, `"`))[0]
	url = strings.TrimRight(url, `"`)
	resp, err := http.Get(url + "heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("heap profile: %d %.200s", resp.StatusCode, body)
	}
}
