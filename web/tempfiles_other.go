//go:build !unix

package web

import (
	"os"
	"time"
)

// lockSpool does nothing where flock is not available.
func lockSpool(*os.File) {}

// spoolIsStale reports whether the spooled file at p is older than
// staleAge (no lock tells a live one apart here).
func spoolIsStale(p string) bool {
	info, err := os.Stat(p)
	return err == nil && time.Since(info.ModTime()) > staleAge
}
