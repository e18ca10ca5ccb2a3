package main

import (
	"errors"
	"io"
	"testing"
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
