package web

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// staleAge is how old an unlockable leftover must be before it is removed
// where files cannot be locked (see sweepStaleSpools).
const staleAge = 24 * time.Hour

// sweepStaleSpools removes the spooled uploads and demo directories that a
// server killed mid-upload left in dir (SIGKILL, a crash, a power cut: no
// defer ran). A file a live server is spooling or ingesting is locked
// (lockSpool) and kept; where locks are not available only leftovers
// older than staleAge go. It returns how many it removed.
func sweepStaleSpools(dir string, log *slog.Logger) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Warn("cannot look for stale spooled uploads", "dir", dir, "err", err)
		return 0
	}
	removed := 0
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case strings.HasPrefix(name, "idletrace-upload-") && e.Type().IsRegular():
			if !spoolIsStale(p) {
				continue
			}
			if err := os.Remove(p); err == nil {
				removed++
			}
		case strings.HasPrefix(name, "idletrace-demo-") && e.IsDir():
			// A demo being generated lives minutes at most.
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
				if err := os.RemoveAll(p); err == nil {
					removed++
				}
			}
		}
	}
	if removed > 0 {
		log.Warn("removed spooled uploads left by a server that stopped without cleaning up", "dir", dir, "files", removed)
	}
	return removed
}
