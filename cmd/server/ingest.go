package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"idletrace/ingest"
	"idletrace/intake"
	"idletrace/store"
)

// runIngest loads files into the database without a server, as uploads do
// (Outlook 25/26 events only, deduplicated), and prints one line per file
// with its counts and the time it took. Benchmarks use it (BENCHMARKS.md).
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("db", envOr("IDLETRACE_DB", "./idletrace.db"), "SQLite database file, created if missing (env IDLETRACE_DB)")
	tzName := fs.String("tz", envOr("IDLETRACE_TZ", ""), tzUsage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: server ingest [-db FILE] [-tz ZONE] FILE...")
		fs.PrintDefaults()
	}
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if len(paths) == 0 {
		fs.Usage()
		return 2
	}
	loc, err := loadInputZone(*tzName)
	if err != nil {
		fmt.Fprintln(stderr, "ingest: -tz:", err)
		return 2
	}
	db, err := openStore(ctx, *dbPath, store.Options{}, "")
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return 1
	}
	defer db.Close()
	pipe := intake.New(db, nil, nil)
	failed, records := 0, 0
	var reasons []string
	for _, p := range paths {
		n, err := ingestOne(ctx, pipe, p, loc, stdout, stderr)
		records += n
		if err != nil {
			fmt.Fprintf(stderr, "ingest: %s: %v\n", p, err)
			failed++
			if len(reasons) < maxReasons {
				reasons = append(reasons, p+": "+err.Error())
			}
		}
	}
	if failed == len(paths) || records == 0 {
		fmt.Fprintf(stderr, "ingest: no record could be read from any input (%d file(s) tried)%s\n", len(paths), quoteReasons(reasons))
		return 1
	}
	return 0
}

// ingestOne loads one file as one upload; it returns the records read.
func ingestOne(ctx context.Context, pipe *intake.Pipeline, path string, loc *time.Location, stdout, stderr io.Writer) (int, error) {
	start := time.Now()
	in, err := intake.OpenFile(path, path, intake.SourceCLI, false)
	if err != nil {
		return 0, err
	}
	u, err := pipe.Ingest(ctx, in, intake.Options{Read: ingest.Options{Location: loc, Name: filepath.Base(path)}})
	if u == nil {
		return 0, err
	}
	for _, w := range u.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "%s: %s, %d bytes, %d records, %d Outlook 25/26, %d new, %d duplicates, %d warnings, %.3f s (%.1f MB/s)\n",
		path, u.Format, u.Bytes, u.Records, u.OutlookEvents, u.NewEvents, u.DuplicateEvents, len(u.Warnings),
		el.Seconds(), float64(u.Bytes)/1e6/el.Seconds())
	if u.LooksLike != "" {
		fmt.Fprintf(stdout, "%s: no Outlook event: %s\n", path, u.LooksLike)
	}
	return u.Records, err
}
