// Command collector ships the Outlook 25/26 events of a Windows client's
// Application log to idletrace, for computers without a log shipper.
//
//	collector -server https://idletrace.corp.example -token-file C:\ProgramData\idletrace-collector\token -once
//
// It reads the log with wevtutil (no cgo, no services to install), sends
// the events as batches to POST /api/v1/events with a token of scope
// ingest, remembers the last record id it took in a state file, and spools
// batches to disk while the server cannot be reached. Run it every few
// minutes from the Task Scheduler with -once, or as a service without
// -once. See README.md, "Collector for Windows clients".
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"idletrace/cmd/server/probe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func defaultStateDir() string {
	if pd := os.Getenv("ProgramData"); pd != "" {
		return filepath.Join(pd, "idletrace-collector")
	}
	return "idletrace-collector"
}

type config struct {
	server, token, tokenFile, stateDir, caFile, wevtutil string
	interval                                             time.Duration
	once                                                 bool
	spoolMax                                             int64
	batch                                                int
	verbose                                              bool
	// The scheduled probe (off unless probeTarget is set).
	probeTarget, probeSite string
	probeEvery, probeMax   time.Duration
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("collector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.server, "server", envOr("IDLETRACE_SERVER", ""), "idletrace base URL, e.g. https://idletrace.corp.example (env IDLETRACE_SERVER)")
	fs.StringVar(&c.token, "token", envOr("IDLETRACE_TOKEN", ""), "token of scope ingest (env IDLETRACE_TOKEN; prefer -token-file: flags show in the task's settings)")
	fs.StringVar(&c.tokenFile, "token-file", envOr("IDLETRACE_TOKEN_FILE", ""), "file holding the token (env IDLETRACE_TOKEN_FILE)")
	fs.StringVar(&c.stateDir, "state-dir", envOr("IDLETRACE_STATE_DIR", defaultStateDir()), "directory for the state file and the spool (env IDLETRACE_STATE_DIR)")
	fs.StringVar(&c.caFile, "ca-file", envOr("IDLETRACE_CA_FILE", ""), "PEM CA bundle to trust for the server's certificate, besides the system's (env IDLETRACE_CA_FILE)")
	fs.StringVar(&c.wevtutil, "wevtutil", "wevtutil", "the wevtutil command")
	fs.DurationVar(&c.interval, "interval", 5*time.Minute, "time between cycles when running without -once")
	fs.BoolVar(&c.once, "once", false, "run one cycle and exit (for the Task Scheduler): exit 0 when everything was delivered, 1 when something stays spooled")
	fs.Int64Var(&c.spoolMax, "spool-max", 64<<20, "most bytes of undelivered batches kept on disk; past it new events wait in the event log")
	fs.IntVar(&c.batch, "batch", 2000, "most events per batch")
	fs.BoolVar(&c.verbose, "v", false, "log every batch")
	fs.StringVar(&c.probeTarget, "probe", "", "also measure the idle timeout of the path to this target now and then and post it (https://EXCHANGE/owa/healthcheck.htm or tcp://HOST:PORT; off by default)")
	fs.DurationVar(&c.probeEvery, "probe-every", 7*24*time.Hour, "time between probes")
	fs.DurationVar(&c.probeMax, "probe-max", probe.DefaultMax, "longest idle time a probe tries")
	fs.StringVar(&c.probeSite, "probe-site", "", "where this computer is (e.g. HQ), recorded with the probe")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	col, err := c.collector(log)
	if err != nil {
		fmt.Fprintln(stderr, "collector:", err)
		return 2
	}
	unlock, err := lock(c.stateDir)
	if err != nil {
		fmt.Fprintln(stderr, "collector:", err)
		return 1
	}
	defer unlock()
	prober, err := c.prober(col, log)
	if err != nil {
		fmt.Fprintln(stderr, "collector:", err)
		return 2
	}
	if prober != nil {
		if c.once {
			// A scheduled run probes when one is due; the probe's own
			// timeout bounds how long that holds the run up.
			if prober.Due(time.Now()) {
				if _, err := prober.RunOnce(ctx); err != nil {
					log.Error("probe", "err", err)
				}
			}
		} else {
			go prober.Loop(ctx)
		}
	}
	for {
		sum, err := col.RunOnce(ctx)
		if err != nil {
			log.Error("cycle incomplete", "err", err, "spooled_batches", sum.Spooled)
		} else {
			log.Info("cycle done", "read", sum.Read, "sent_batches", sum.Sent, "new", sum.New, "duplicates", sum.Dups, "last_record_id", sum.LastRecID)
		}
		if c.once {
			if err != nil || sum.Spooled > 0 {
				fmt.Fprintf(stderr, "collector: %d batches stay spooled for the next run: %v\n", sum.Spooled, err)
				return 1
			}
			return 0
		}
		now := time.Now()
		os.Chtimes(filepath.Join(c.stateDir, "lock"), now, now) // still alive
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(c.interval):
		}
	}
}

func (c *config) collector(log *slog.Logger) (*Collector, error) {
	if c.server == "" {
		return nil, errors.New("-server is required, e.g. -server https://idletrace.corp.example")
	}
	if !strings.HasPrefix(c.server, "http://") && !strings.HasPrefix(c.server, "https://") {
		return nil, fmt.Errorf("-server %q: want an http:// or https:// URL", c.server)
	}
	token := c.token
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("-token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if c.caFile != "" {
		pem, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("-ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-file: no PEM certificate in %s", c.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if c.batch <= 0 || c.batch > 50000 {
		return nil, errors.New("-batch must be between 1 and 50000")
	}
	return &Collector{
		Source:   wevtutil{path: c.wevtutil, channel: "Application"},
		Server:   c.server,
		Token:    token,
		Client:   &http.Client{Transport: tr, Timeout: 2 * time.Minute},
		StateDir: c.stateDir,
		SpoolMax: c.spoolMax,
		BatchMax: c.batch,
		Retry:    Retry{Attempts: 5, Base: 2 * time.Second, Max: 5 * time.Minute},
		Log:      log,
	}, nil
}

// prober builds the scheduled probe, or nil when -probe is not set.
func (c *config) prober(col *Collector, log *slog.Logger) (*Prober, error) {
	if c.probeTarget == "" {
		return nil, nil
	}
	t, err := probe.ParseTarget(c.probeTarget)
	if err != nil {
		return nil, fmt.Errorf("-probe: %w", err)
	}
	if c.probeEvery < time.Hour || c.probeMax <= 0 {
		return nil, errors.New("-probe-every must be at least 1h and -probe-max positive")
	}
	host, _ := os.Hostname()
	return &Prober{Target: t, Every: c.probeEvery, Server: col.Server, Token: col.Token,
		Client:   &http.Client{Transport: col.Client.Transport, Timeout: time.Minute},
		StateDir: c.stateDir, Log: log,
		Config: probe.Config{Max: c.probeMax, Computer: host, Site: c.probeSite}}, nil
}

// lock keeps two collectors off one state directory (a scheduled run that
// overlaps a slow one). A lock older than a day is taken to be left over
// from a crash.
func lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "lock")
	for range 2 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if fi, serr := os.Stat(path); serr == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			os.Remove(path)
			continue
		}
		return nil, fmt.Errorf("another collector is running on %s (remove %s if it is not)", dir, path)
	}
	return nil, fmt.Errorf("cannot take the lock %s", path)
}
