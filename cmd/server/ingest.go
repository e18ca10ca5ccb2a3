package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"idletrace/ingest"
	"idletrace/store"
)

// runIngest loads files into the database without a server, as uploads do
// (Outlook 25/26 events only, deduplicated), and prints one line per file
// with its counts and the time it took. Benchmarks use it (BENCHMARKS.md).
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("db", envOr("IDLETRACE_DB", "./idletrace.db"), "SQLite database file, created if missing (env IDLETRACE_DB)")
	tzName := fs.String("tz", envOr("IDLETRACE_TZ", "UTC"), "time zone of sources with local times and no zone (Event Viewer CSV)")
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
	loc, err := loadZone(*tzName)
	if err != nil {
		fmt.Fprintln(stderr, "ingest: -tz:", err)
		return 2
	}
	db, err := store.Open(ctx, *dbPath)
	if err != nil {
		fmt.Fprintln(stderr, "ingest:", err)
		return 1
	}
	defer db.Close()
	failed := 0
	for _, p := range paths {
		if err := ingestOne(ctx, db, p, loc, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "ingest: %s: %v\n", p, err)
			failed++
		}
	}
	if failed == len(paths) {
		return 1
	}
	return 0
}

func ingestOne(ctx context.Context, db *store.DB, path string, loc *time.Location, stdout, stderr io.Writer) error {
	start := time.Now()
	u := &store.Upload{Name: path, Source: "cli"}
	if err := db.CreateUpload(ctx, u); err != nil {
		return err
	}
	sink := db.NewUploadSink(ctx, u)
	res, err := ingest.ReadFile(ctx, path, ingest.Options{Location: loc}, sink.Add)
	err = sink.Finish(res, err, func(err error) string { return err.Error() })
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "%s: %s, %d bytes, %d records, %d Outlook 25/26, %d new, %d duplicates, %d warnings, %.3f s (%.1f MB/s)\n",
		path, res.Format, res.Bytes, res.Records, u.OutlookEvents, u.NewEvents, u.DuplicateEvents, len(res.Warnings),
		el.Seconds(), float64(res.Bytes)/1e6/el.Seconds())
	return err
}
