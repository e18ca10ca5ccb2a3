package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"idletrace/store"
	"idletrace/web"
)

// serveConfig is the serve subcommand's configuration: parsed once from
// flags and environment (parseServeFlags), checked and completed by
// Validate, then read by serve.
type serveConfig struct {
	addr      string
	db        string
	maxUpload string
	dbMaxSize string
	dbRO      bool
	displayTZ string
	noAuth    bool
	sec       securityConfig // TLS, rate limit, push (serve_security.go)
	demo      bool
	beats     beatsConfig     // Winlogbeat output.logstash listener (beats.go)
	cluster   clusterConfig   // -node, -retention, -analysis-window (store.go)
	memory    memoryConfig    // -memory-limit (memory.go)
	profiling profilingConfig // -pprof-addr (profiling.go)
	log       logConfig

	// Set by Validate from the strings above.
	maxUploadBytes int64
	dbOptions      store.Options
	tz             *time.Location
}

// usageError is a configuration the command refuses before doing
// anything: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// Validate checks the configuration and fills in the parsed values; every
// error is a *usageError.
func (c *serveConfig) Validate() error {
	if _, err := c.log.logger(io.Discard); err != nil {
		return usagef("%v", err)
	}
	var err error
	if c.maxUploadBytes, err = parseSize(c.maxUpload); err != nil {
		return usagef("-max-upload: %v", err)
	}
	if c.tz, err = loadZone(c.displayTZ); err != nil {
		return usagef("-display-tz: %v", err)
	}
	if err := c.sec.validate(); err != nil {
		return usagef("%v", err)
	}
	c.dbOptions = store.Options{ReadOnly: c.dbRO}
	if c.dbMaxSize != "" {
		if c.dbOptions.MaxBytes, err = parseSize(c.dbMaxSize); err != nil {
			return usagef("-db-max-size: %v", err)
		}
	}
	if err := c.cluster.validate(c.addr); err != nil {
		return usagef("%v", err)
	}
	if err := c.memory.validate(); err != nil {
		return usagef("%v", err)
	}
	if err := c.profiling.validate(); err != nil {
		return usagef("%v", err)
	}
	c.beats.inheritTLS(c.sec.tlsCert, c.sec.tlsKey)
	if err := c.beats.check(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

func parseServeFlags(args []string, stderr io.Writer) (*serveConfig, error) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", envOr("IDLETRACE_ADDR", "localhost:8080"), "listen address (env IDLETRACE_ADDR)")
	fs.StringVar(&c.db, "db", envOr("IDLETRACE_DB", "./idletrace.db"), "SQLite database file, created if missing, or a postgres:// URL (PG* variables fill what it leaves out) (env IDLETRACE_DB)")
	fs.StringVar(&c.dbMaxSize, "db-max-size", envOr("IDLETRACE_DB_MAX_SIZE", ""), "cap on the database file's size, e.g. 50GiB; writes past it answer 507 (env IDLETRACE_DB_MAX_SIZE; default none)")
	fs.BoolVar(&c.dbRO, "db-read-only", envOr("IDLETRACE_DB_READ_ONLY", "") == "1", "serve the database read-only, e.g. an archive: uploads answer 503 (env IDLETRACE_DB_READ_ONLY=1)")
	fs.StringVar(&c.maxUpload, "max-upload", envOr("IDLETRACE_MAX_UPLOAD", "2GiB"), "largest upload request body (env IDLETRACE_MAX_UPLOAD)")
	fs.StringVar(&c.displayTZ, "display-tz", envOr("IDLETRACE_DISPLAY_TZ", "UTC"), "time zone for pages, e.g. Europe/Berlin or Local (env IDLETRACE_DISPLAY_TZ)")
	fs.BoolVar(&c.noAuth, "no-auth", envOr("IDLETRACE_NO_AUTH", "") == "1", "allow listening on a non-loopback address without authentication (env IDLETRACE_NO_AUTH=1)")
	fs.BoolVar(&c.demo, "demo", false, "load generated demo data (a fleet of 33 computers) into the database at start")
	c.log.register(fs)
	c.beats.register(fs)
	c.cluster.register(fs)
	c.memory.register(fs)
	c.profiling.register(fs)
	c.sec.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	return c, c.Validate()
}

// isLoopback reports whether addr listens only on the loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = serve(ctx, c, stdout, stderr)
	}
	return exitCode(err, stderr)
}

// exitCode reports err on stderr and turns it into the exit status: 0,
// 2 for a *usageError, else 1.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "server:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// serve runs the server with c (validated) until ctx ends.
func serve(ctx context.Context, c *serveConfig, stdout, stderr io.Writer) error {
	logger, err := c.log.logger(stderr)
	if err != nil {
		return usagef("%v", err)
	}
	c.memory.apply(ctx, logger)
	if err := c.profiling.start(ctx, logger); err != nil {
		return err
	}
	db, err := openStore(ctx, c.db, c.dbOptions, c.cluster.node)
	if err != nil {
		return err
	}
	defer db.Close()
	// Uploads still "running" were cut off when a previous server died:
	// never show them as complete.
	if c.dbRO {
		logger.Info("database opened read-only: uploads and agent batches will be refused")
	} else if n, err := db.FailRunningUploads(ctx); err != nil {
		return err
	} else if n > 0 {
		logger.Warn("marked uploads interrupted by a previous stop as failed", "uploads", n)
	}
	// Off loopback, refuse to serve open: a token must exist (then every
	// request authenticates), or -no-auth must say the risk is accepted.
	if !isLoopback(c.addr) && !c.noAuth {
		if n, err := db.CountTokens(ctx); err != nil {
			return err
		} else if n == 0 {
			return usagef("refusing to listen on %s without authentication: anyone on the network could read and upload data.\n"+
				"Create a token first (server token create --name NAME --scope admin -db %s), listen on localhost, or pass -no-auth to accept the risk.", c.addr, dbName(c.db))
		}
	}
	wcfg := web.Config{Addr: c.addr, MaxUpload: c.maxUploadBytes, DisplayTZ: c.tz, NoAuth: c.noAuth}
	c.sec.apply(&wcfg)
	c.cluster.apply(&wcfg)
	srv, err := web.NewServer(wcfg, db, logger)
	if err != nil {
		return err
	}
	if c.demo {
		n, err := srv.LoadDemo(ctx)
		if err != nil {
			return fmt.Errorf("-demo: %w", err)
		}
		fmt.Fprintf(stdout, "idletrace: demo data loaded (%d new events)\n", n)
	}
	if err := srv.Open(); err != nil {
		return err
	}
	stopBeats, err := startBeats(&c.beats, srv, logger)
	if err != nil {
		srv.Close(context.Background())
		return err
	}
	defer stopBeats() // runs before the deferred db.Close
	logger.Info("idletrace listening", "url", srv.URL(), "db", dbName(c.db))
	fmt.Fprintf(stdout, "idletrace: dashboard on %s (database %s)\n", srv.URL(), dbName(c.db))
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Close(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
