package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"idletrace/cmd/server/probe"
)

// Prober measures the idle timeout of the path to a target now and then
// (server probe's engine) and posts each result to the server's
// POST /api/v1/probes, where it shows beside the diagnosis it confirms or
// contradicts. It is off unless -probe names a target.
type Prober struct {
	Target   probe.Target
	Config   probe.Config
	Every    time.Duration // between probes
	Server   string
	Token    string
	Client   *http.Client
	StateDir string // holds the time of the last probe
	Log      interface {
		Info(msg string, args ...any)
		Error(msg string, args ...any)
	}
}

func (p *Prober) lastPath() string { return p.StateDir + string(os.PathSeparator) + "last-probe" }

// Due reports whether Every has passed since the last probe.
func (p *Prober) Due(now time.Time) bool {
	b, err := os.ReadFile(p.lastPath())
	if err != nil {
		return true
	}
	last, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	return err != nil || now.Sub(last) >= p.Every
}

// RunOnce probes the path and posts the result; it returns the result's id
// on the server.
func (p *Prober) RunOnce(ctx context.Context) (int64, error) {
	r, err := probe.Run(ctx, p.Target, p.Config)
	if err != nil {
		return 0, fmt.Errorf("probe %s: %w", p.Target, err)
	}
	os.WriteFile(p.lastPath(), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600)
	id, err := probe.Post(ctx, p.Client, p.Server, p.Token, r)
	if err != nil {
		return 0, fmt.Errorf("post probe: %w", err)
	}
	p.Log.Info("probe posted", "id", id, "target", p.Target.String(), "drop", r.Drop)
	return id, nil
}

// Loop probes whenever one is due until ctx ends; it runs beside the event
// cycles, which a probe of up to -probe-max must not hold up.
func (p *Prober) Loop(ctx context.Context) {
	for {
		if p.Due(time.Now()) {
			if _, err := p.RunOnce(ctx); err != nil && ctx.Err() == nil {
				p.Log.Error("probe", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}
