package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"idletrace/store"
	"idletrace/store/pg"
	"idletrace/web"
)

// openStore opens the database a -db value names: a postgres:// or
// postgresql:// URL is PostgreSQL (store/pg; PG* environment variables
// fill what the URL leaves out), anything else a SQLite file. Every
// command opens its database here. node names this node on PostgreSQL
// ("" = the host name).
func openStore(ctx context.Context, dsn string, opts store.Options, node string) (store.Store, error) {
	if !pg.IsURL(dsn) {
		return store.OpenWithOptions(ctx, dsn, opts)
	}
	if opts.MaxBytes > 0 {
		return nil, usagef("-db-max-size applies to a SQLite file only; cap a PostgreSQL database with its own quotas")
	}
	return pg.Open(ctx, dsn, pg.Options{ReadOnly: opts.ReadOnly, Node: node})
}

// dbName is a -db value fit for logs: a URL without its password.
func dbName(dsn string) string {
	if !pg.IsURL(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}

// clusterConfig holds the flags of running several nodes on one database,
// of how long data are kept and of how much of them is analysed.
type clusterConfig struct {
	node      string
	retention string
	window    string

	retentionD time.Duration // set by validate
	windowD    time.Duration
}

func (c *clusterConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.node, "node", envOr("IDLETRACE_NODE", ""), "this node's name on a shared PostgreSQL database; it owns the uploads it runs, and must stay the same across restarts (env IDLETRACE_NODE; default host name and -addr port)")
	fs.StringVar(&c.retention, "retention", envOr("IDLETRACE_RETENTION", ""), "delete events older than this, e.g. 90d or 2160h, in batches, hourly, on the leader node (env IDLETRACE_RETENTION; default keep everything)")
	fs.StringVar(&c.window, "analysis-window", envOr("IDLETRACE_ANALYSIS_WINDOW", "30d"), "analyse the newest this much of the data, e.g. 30d or 720h, or \"all\"; older events stay stored but are not analysed, which bounds the server's memory (env IDLETRACE_ANALYSIS_WINDOW)")
}

// validate parses the retention and completes the node name from addr.
func (c *clusterConfig) validate(addr string) error {
	if c.retention != "" {
		d, err := parseDays(c.retention)
		if err != nil || d <= 0 {
			return fmt.Errorf("-retention: bad duration %q (want e.g. 90d or 2160h)", c.retention)
		}
		c.retentionD = d
	}
	switch c.window {
	case "all", "0", "":
		c.windowD = 0
	default:
		d, err := parseDays(c.window)
		if err != nil || d <= 0 {
			return fmt.Errorf("-analysis-window: bad duration %q (want e.g. 30d or 720h, or all)", c.window)
		}
		c.windowD = d
	}
	if c.node == "" {
		host, _ := os.Hostname()
		c.node = host + addrPort(addr)
	}
	return nil
}

func (c *clusterConfig) apply(w *web.Config) {
	w.Retention, w.AnalysisWindow = c.retentionD, c.windowD
}

// addrPort is ":PORT" of a listen address, or "".
func addrPort(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i:]
		}
	}
	return ""
}

// parseDays reads a Go duration or a whole number of days ("90d").
func parseDays(s string) (time.Duration, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && fmt.Sprintf("%dd", n) == s {
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
