package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// profilingConfig is -pprof-addr: Go's profiler (net/http/pprof) on a
// listener of its own, off by default and only on loopback — a heap or CPU
// profile of a node that holds more memory, or answers slower, than its
// data explain.
type profilingConfig struct {
	addr string
}

func (c *profilingConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "pprof-addr", envOr("IDLETRACE_PPROF_ADDR", ""), "serve Go's profiler (/debug/pprof/) on this loopback address, e.g. localhost:6060; off when empty (env IDLETRACE_PPROF_ADDR)")
}

func (c *profilingConfig) validate() error {
	if c.addr != "" && !isLoopback(c.addr) {
		return fmt.Errorf("-pprof-addr %q: the profiler listens on loopback only (e.g. localhost:6060)", c.addr)
	}
	return nil
}

// start serves the profiler until ctx ends.
func (c *profilingConfig) start(ctx context.Context, log *slog.Logger) error {
	if c.addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("-pprof-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof", "err", err)
		}
	}()
	log.Info("profiler on http://" + ln.Addr().String() + "/debug/pprof/")
	return nil
}
