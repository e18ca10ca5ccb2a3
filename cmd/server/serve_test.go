package main

import (
	"errors"
	"io"
	"testing"

	"idletrace/web"
)

// TestServeConfigValidate: every bad value is a *usageError (exit 2),
// found before anything is opened; a good configuration is completed.
func TestServeConfigValidate(t *testing.T) {
	for _, args := range [][]string{
		{"-max-upload", "lots"},
		{"-display-tz", "Mars/Olympus"},
		{"-db-max-size", "-1"},
		{"-log-level", "loud"},
		{"-beats-addr", "0.0.0.0:5044"},
		{"-public-url", "idletrace.corp.example"},
		{"-allowed-hosts", "http://x.example/"},
		{"-body-timeout", "1ms"},
		{"-max-conns", "0"},
		{"-max-concurrent-reads", "-1"},
		{"-max-concurrent-reads", "many"},
		{"stray"},
		{"-no-such-flag"},
	} {
		_, err := parseServeFlags(args, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
		if code := exitCode(err, io.Discard); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	c, err := parseServeFlags([]string{"-max-upload", "1MiB", "-display-tz", "Europe/Berlin"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.maxUploadBytes != 1<<20 || c.tz == nil || c.tz.String() != "Europe/Berlin" {
		t.Errorf("parsed %d %v", c.maxUploadBytes, c.tz)
	}
}

// TestServeMaxConcurrentReads: -max-concurrent-reads defaults to twice
// GOMAXPROCS, takes the environment's value, and 0 lifts the bound.
func TestServeMaxConcurrentReads(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  string
		want int
	}{
		{nil, "", web.DefaultMaxConcurrentReads()},
		{[]string{"-max-concurrent-reads", "3"}, "", 3},
		{[]string{"-max-concurrent-reads", "0"}, "", -1},
		{nil, "5", 5},
		{[]string{"-max-concurrent-reads", "7"}, "5", 7},
	} {
		if tc.env != "" {
			t.Setenv("IDLETRACE_MAX_CONCURRENT_READS", tc.env)
		}
		c, err := parseServeFlags(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		var w web.Config
		c.sec.apply(&w)
		if w.MaxConcurrentReads != tc.want {
			t.Errorf("%q (env %q): MaxConcurrentReads %d, want %d", tc.args, tc.env, w.MaxConcurrentReads, tc.want)
		}
	}
}
