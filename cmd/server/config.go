package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// envOr returns the environment variable's value, or def when unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// parseSize reads a byte count such as "2GiB", "500MB", "1048576".
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	lower := strings.ToLower(s)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10}, {"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(lower, u.suffix) {
			mult = u.m
			s = strings.TrimSpace(s[:len(s)-len(u.suffix)])
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 2GiB, 500MB or a byte count)", s)
	}
	return n * mult, nil
}

// logConfig holds the logging flags shared by subcommands.
type logConfig struct {
	level  string
	format string
}

func (lc *logConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&lc.level, "log-level", envOr("IDLETRACE_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env IDLETRACE_LOG_LEVEL)")
	fs.StringVar(&lc.format, "log-format", envOr("IDLETRACE_LOG_FORMAT", "text"), "log format: text or json (env IDLETRACE_LOG_FORMAT)")
}

func (lc *logConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.level)); err != nil {
		return nil, fmt.Errorf("bad -log-level %q", lc.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch lc.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad -log-format %q (want text or json)", lc.format)
}

// tzUsage describes the analyze and ingest -tz flag.
const tzUsage = "time zone of sources with local times and no zone (Event Viewer CSV and details as text, NXLog EventTime); without one they are read as UTC with a warning"

// loadInputZone is loadZone for the zone of the inputs' local times: an
// empty name gives nil, "not given" (ingest then reads them as UTC and
// warns).
func loadInputZone(name string) (*time.Location, error) {
	if name == "" {
		return nil, nil
	}
	return loadZone(name)
}

func loadZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "utc") {
		return time.UTC, nil
	}
	if strings.EqualFold(name, "local") {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Berlin)", name)
	}
	return loc, nil
}
