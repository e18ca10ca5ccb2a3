package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"idletrace/analysis"
	"idletrace/ingest"
	"idletrace/store"
)

// analyzeInput collects the Outlook 25/26 events of every input, without
// duplicates (the same dedup key as the store), and says what it read.
type analyzeInput struct {
	events  []analysis.Event
	seen    map[[16]byte]struct{}
	files   int
	failed  int
	records int      // records read, of every provider
	reasons []string // the first reasons a file could not be read
}

// maxReasons is how many reasons the no-input message quotes.
const maxReasons = 3

func (in *analyzeInput) reason(path string, err error) {
	if len(in.reasons) < maxReasons {
		in.reasons = append(in.reasons, path+": "+err.Error())
	}
}

func (in *analyzeInput) add(e ingest.Event) {
	var k [16]byte
	copy(k[:], store.DedupKey(&e))
	if _, dup := in.seen[k]; dup {
		return
	}
	in.seen[k] = struct{}{}
	in.events = append(in.events, analysis.Event{Computer: e.Computer, EventID: e.EventID, Time: e.Time, RecordID: e.RecordID})
}

// parseInterleaved parses flags that may come before or after the paths.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return paths, nil
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the Report JSON instead of text")
	tzName := fs.String("tz", envOr("IDLETRACE_TZ", ""), tzUsage)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: server analyze [--json] [--tz ZONE] PATH...")
		fs.PrintDefaults()
	}
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "analyze: no input: give one or more files or directories")
		return 1
	}
	loc, err := loadInputZone(*tzName)
	if err != nil {
		fmt.Fprintln(stderr, "analyze: --tz:", err)
		return 2
	}
	in := &analyzeInput{seen: map[[16]byte]struct{}{}}
	for _, p := range paths {
		if err := in.readPath(ctx, p, loc, stderr); err != nil {
			fmt.Fprintln(stderr, "analyze:", err)
			return 1
		}
	}
	if in.files == 0 || in.failed == in.files || in.records == 0 {
		fmt.Fprintf(stderr, "analyze: no record could be read from any input (%d file(s) tried)%s\n", in.files, quoteReasons(in.reasons))
		return 1
	}
	res := analysis.Analyze(in.events, analysis.Options{})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res.Report); err != nil {
			fmt.Fprintln(stderr, "analyze:", err)
			return 1
		}
		return 0
	}
	writeTextReport(stdout, res)
	return 0
}

// readPath reads a file, or every regular file under a directory.
func (in *analyzeInput) readPath(ctx context.Context, p string, loc *time.Location, stderr io.Writer) error {
	st, err := os.Stat(p)
	if err != nil {
		in.files++
		in.failed++
		in.reason(p, err)
		fmt.Fprintf(stderr, "analyze: %v\n", err)
		return nil
	}
	if !st.IsDir() {
		in.readFile(ctx, p, loc, stderr)
		return nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(stderr, "analyze: %v\n", err)
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		in.readFile(ctx, f, loc, stderr)
	}
	return nil
}

func (in *analyzeInput) readFile(ctx context.Context, path string, loc *time.Location, stderr io.Writer) {
	in.files++
	res, err := ingest.ReadFile(ctx, path, ingest.Options{Location: loc}, func(e ingest.Event) error {
		if e.IsConnectivity() {
			in.add(e)
		}
		return nil
	})
	in.records += res.Records
	for _, w := range res.Warnings {
		if w.File == "" {
			w.File = path
		}
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if res.LooksLike != "" {
		fmt.Fprintf(stderr, "analyze: %s: no Outlook event: %s\n", path, res.LooksLike)
	}
	if err != nil {
		in.failed++
		in.reason(path, err)
		fmt.Fprintf(stderr, "analyze: %s: %v\n", path, err)
	}
}

// quoteReasons appends the first reasons to a one-line message.
func quoteReasons(reasons []string) string {
	if len(reasons) == 0 {
		return ""
	}
	return ": " + strings.Join(reasons, "; ")
}

// writeTextReport prints the report for people.
func writeTextReport(w io.Writer, res *analysis.Result) {
	r := &res.Report
	fmt.Fprintf(w, "idletrace: %d computers, %d disconnects (25), %d reconnects (26), %d pairs\n\n",
		r.Computers, r.Events.Disconnects, r.Events.Reconnects, r.Pairs)
	if len(r.Diagnoses) == 0 {
		fmt.Fprintln(w, "No diagnosis: the disconnects do not recur at an interval many computers share, and no shared outage was found.")
	}
	for _, d := range r.Diagnoses {
		fmt.Fprintf(w, "DIAGNOSIS %s  [%s, confidence %.0f%%]\n", d.ID, d.Kind, d.Confidence*100)
		fmt.Fprintf(w, "  %s\n", d.Summary)
		if d.Kind == analysis.KindIdleTimeout {
			switch {
			case d.TimeoutSeconds != nil:
				fmt.Fprintf(w, "  Device idle timeout: ≈ %.0f s (drop: %s)\n", *d.TimeoutSeconds, d.Drop)
			case d.TimeoutMaxSeconds != nil:
				fmt.Fprintf(w, "  Device idle timeout: below %.0f s (drop: %s)\n", *d.TimeoutMaxSeconds, d.Drop)
			}
		}
		if d.Start != nil && d.End != nil {
			fmt.Fprintf(w, "  Window: %s – %s\n", d.Start.UTC().Format("2006-01-02 15:04:05Z"), d.End.UTC().Format("2006-01-02 15:04:05Z"))
		}
		if len(d.Matches) > 0 {
			var m []string
			for _, x := range d.Matches {
				m = append(m, fmt.Sprintf("%s (%s, default %.0f s)", x.Device, x.Setting, x.DefaultSeconds))
			}
			fmt.Fprintf(w, "  Consistent with: %s\n", strings.Join(m, "; "))
		}
		for i, rec := range d.Recommendations {
			fmt.Fprintf(w, "  %d. %s\n", i+1, rec)
		}
		fmt.Fprintf(w, "  Computers (%d): %s\n\n", len(d.Computers), strings.Join(d.Computers, ", "))
	}
	if len(r.Clusters) > 0 {
		fmt.Fprintln(w, "Interval clusters:")
		for _, c := range r.Clusters {
			fmt.Fprintf(w, "  %-8s center %7.0f s  range %.0f–%.0f s  %d intervals on %d computers\n",
				c.Kind, c.CenterSeconds, c.LowSeconds, c.HighSeconds, c.Intervals, len(c.Computers))
		}
	}
	for _, o := range r.Outages {
		fmt.Fprintf(w, "Shared outage %s – %s on %d computers\n", o.Start.UTC().Format("2006-01-02 15:04:05Z"), o.End.UTC().Format("2006-01-02 15:04:05Z"), len(o.Computers))
	}
}
