package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"idletrace/store"
	"idletrace/web"
)

// serveConfig is the serve subcommand's configuration.
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
	beats     beatsConfig // Winlogbeat output.logstash listener (beats.go)
	log       logConfig
}

func parseServeFlags(args []string, stderr io.Writer) (*serveConfig, error) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", envOr("IDLETRACE_ADDR", "localhost:8080"), "listen address (env IDLETRACE_ADDR)")
	fs.StringVar(&c.db, "db", envOr("IDLETRACE_DB", "./idletrace.db"), "SQLite database file, created if missing (env IDLETRACE_DB)")
	fs.StringVar(&c.dbMaxSize, "db-max-size", envOr("IDLETRACE_DB_MAX_SIZE", ""), "cap on the database file's size, e.g. 50GiB; writes past it answer 507 (env IDLETRACE_DB_MAX_SIZE; default none)")
	fs.BoolVar(&c.dbRO, "db-read-only", envOr("IDLETRACE_DB_READ_ONLY", "") == "1", "serve the database read-only, e.g. an archive: uploads answer 503 (env IDLETRACE_DB_READ_ONLY=1)")
	fs.StringVar(&c.maxUpload, "max-upload", envOr("IDLETRACE_MAX_UPLOAD", "2GiB"), "largest upload request body (env IDLETRACE_MAX_UPLOAD)")
	fs.StringVar(&c.displayTZ, "display-tz", envOr("IDLETRACE_DISPLAY_TZ", "UTC"), "time zone for pages, e.g. Europe/Berlin or Local (env IDLETRACE_DISPLAY_TZ)")
	fs.BoolVar(&c.noAuth, "no-auth", envOr("IDLETRACE_NO_AUTH", "") == "1", "allow listening on a non-loopback address without authentication (env IDLETRACE_NO_AUTH=1)")
	fs.BoolVar(&c.demo, "demo", false, "load generated demo data (a fleet of 33 computers) into the database at start")
	c.log.register(fs)
	c.beats.register(fs)
	c.sec.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c.beats.inheritTLS(c.sec.tlsCert, c.sec.tlsKey)
	if err := c.beats.check(); err != nil {
		return nil, err
	}
	return c, nil
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
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "server:", err)
		return 2
	}
	logger, err := c.log.logger(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 2
	}
	maxUpload, err := parseSize(c.maxUpload)
	if err != nil {
		fmt.Fprintln(stderr, "server: -max-upload:", err)
		return 2
	}
	tz, err := loadZone(c.displayTZ)
	if err != nil {
		fmt.Fprintln(stderr, "server: -display-tz:", err)
		return 2
	}
	if err := c.sec.validate(); err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 2
	}
	dbOpts := store.Options{ReadOnly: c.dbRO}
	if c.dbMaxSize != "" {
		if dbOpts.MaxBytes, err = parseSize(c.dbMaxSize); err != nil {
			fmt.Fprintln(stderr, "server: -db-max-size:", err)
			return 2
		}
	}
	db, err := store.OpenWithOptions(ctx, c.db, dbOpts)
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 1
	}
	defer db.Close()
	// Uploads still "running" were cut off when a previous server died:
	// never show them as complete.
	if c.dbRO {
		logger.Info("database opened read-only: uploads and agent batches will be refused")
	} else if n, err := db.FailRunningUploads(ctx); err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 1
	} else if n > 0 {
		logger.Warn("marked uploads interrupted by a previous stop as failed", "uploads", n)
	}
	// Off loopback, refuse to serve open: a token must exist (then every
	// request authenticates), or -no-auth must say the risk is accepted.
	if !isLoopback(c.addr) && !c.noAuth {
		if n, err := db.CountTokens(ctx); err != nil {
			fmt.Fprintln(stderr, "server:", err)
			return 1
		} else if n == 0 {
			fmt.Fprintf(stderr, "server: refusing to listen on %s without authentication: anyone on the network could read and upload data.\n"+
				"Create a token first (server token create --name NAME --scope admin -db %s), listen on localhost, or pass -no-auth to accept the risk.\n", c.addr, c.db)
			return 2
		}
	}
	wcfg := web.Config{Addr: c.addr, MaxUpload: maxUpload, DisplayTZ: tz, NoAuth: c.noAuth}
	c.sec.apply(&wcfg)
	srv, err := web.NewServer(wcfg, db, logger)
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 1
	}
	if c.demo {
		n, err := srv.LoadDemo(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "server: -demo:", err)
			return 1
		}
		fmt.Fprintf(stdout, "idletrace: demo data loaded (%d new events)\n", n)
	}
	if err := srv.Open(); err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 1
	}
	stopBeats, err := startBeats(&c.beats, srv, logger)
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		srv.Close(context.Background())
		return 1
	}
	defer stopBeats() // runs before the deferred db.Close
	logger.Info("idletrace listening", "url", srv.URL(), "db", c.db)
	fmt.Fprintf(stdout, "idletrace: dashboard on %s (database %s)\n", srv.URL(), c.db)
	<-ctx.Done()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Close(sctx); err != nil {
		logger.Error("shutdown", "err", err)
		return 1
	}
	return 0
}
