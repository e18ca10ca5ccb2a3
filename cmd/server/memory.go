package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memoryConfig is -memory-limit: the Go runtime's soft memory limit, so
// that the collector works harder instead of letting the heap double
// (its default goal) past what the analysis holds.
type memoryConfig struct {
	limit  string
	limitB int64 // set by validate; 0 = leave the runtime's (GOMEMLIMIT)
}

// defaultMemoryLimit: the analysis of 10 M events (20 000 computers)
// holds about 390 MiB between updates and needs about as much again while
// it updates; 900 MiB for the Go heap leaves room for SQLite's caches and
// the runtime, so a node stays within 1 GiB at that size.
const defaultMemoryLimit = "900MiB"

func (c *memoryConfig) register(fs *flag.FlagSet) {
	def := envOr("IDLETRACE_MEMORY_LIMIT", defaultMemoryLimit)
	if os.Getenv("GOMEMLIMIT") != "" && os.Getenv("IDLETRACE_MEMORY_LIMIT") == "" {
		def = "" // the runtime's own setting stands
	}
	fs.StringVar(&c.limit, "memory-limit", def, "soft memory limit of the server process, e.g. 1GiB or 4GiB, or off; the garbage collector works harder near it. Raise it (or shorten -analysis-window) when the log warns the analysis is near it (env IDLETRACE_MEMORY_LIMIT; GOMEMLIMIT when set and this is not)")
}

func (c *memoryConfig) validate() error {
	switch c.limit {
	case "", "off", "0":
		c.limitB = 0
		return nil
	}
	n, err := parseSize(c.limit)
	if err != nil || n < 64<<20 {
		return fmt.Errorf("-memory-limit: bad size %q (want e.g. 1GiB, at least 64MiB, or off)", c.limit)
	}
	c.limitB = n
	return nil
}

// apply sets the limit and, until ctx ends, warns (at most hourly) when
// the live heap after a collection passes 80 % of it: the collector then
// runs often and the server slows down.
func (c *memoryConfig) apply(ctx context.Context, log *slog.Logger) {
	if c.limitB <= 0 {
		return
	}
	debug.SetMemoryLimit(c.limitB)
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		var warned time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			live := int64(sample[0].Value.Uint64())
			if live > c.limitB/10*8 && time.Since(warned) > time.Hour {
				warned = time.Now()
				log.Warn("memory: the live heap is near -memory-limit; raise it or shorten -analysis-window",
					"live_MiB", live>>20, "limit_MiB", c.limitB>>20)
			}
		}
	}()
}
