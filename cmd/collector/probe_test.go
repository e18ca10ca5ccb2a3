package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"idletrace/cmd/server/probe"
	"idletrace/cmd/server/probe/probetest"
	"idletrace/store"
	"idletrace/web"
)

// TestScheduledProbe: the collector's probe measures a path through a
// resetting middlebox on loopback and posts the result to a real server;
// the next one is due only after -probe-every.
func TestScheduledProbe(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"))
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
	secret, _, err := db.CreateToken(context.Background(), "collector", "ingest")
	if err != nil {
		t.Fatal(err)
	}
	target, err := probe.ParseTarget("tcp://" + probetest.Middlebox(t, probetest.Echo(t), time.Second, probetest.Reset))
	if err != nil {
		t.Fatal(err)
	}
	p := &Prober{Target: target, Every: 24 * time.Hour, Server: ts.URL, Token: secret, Client: http.DefaultClient,
		StateDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
		Config: probe.Config{Max: 3 * time.Second, Resolution: 100 * time.Millisecond, Parallel: 8, Computer: "HQ-PC07.corp.example", Site: "HQ"}}
	if !p.Due(time.Now()) {
		t.Fatal("a first probe is not due")
	}
	id, err := p.RunOnce(context.Background())
	if err != nil || id != 1 {
		t.Fatalf("probe: id %d, %v", id, err)
	}
	ps, err := db.FindProbes(context.Background(), store.ProbeFilter{})
	if err != nil || len(ps) != 1 || ps[0].Computer != "HQ-PC07.corp.example" || ps[0].Drop != "reset" ||
		ps[0].TimeoutSeconds == nil || *ps[0].TimeoutSeconds < 0.9 || *ps[0].TimeoutSeconds > 1.1 {
		t.Fatalf("stored %+v, %v", ps, err)
	}
	if p.Due(time.Now()) || !p.Due(time.Now().Add(25*time.Hour)) {
		t.Error("the next probe is due at the wrong time")
	}
}
