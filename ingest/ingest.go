package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Format names reported in Result.Format.
const (
	FormatEVTX = "evtx"
	FormatXML  = "xml"
	FormatCSV  = "csv"
	FormatJSON = "json"
	FormatZip  = "zip"
)

// Options tell the readers what the input itself may not say.
type Options struct {
	// Name is the input's file name (no directories are trusted). It labels
	// warnings and gives the default computer name for Event Viewer CSV.
	Name string
	// Computer overrides the computer name for sources that carry none (CSV).
	Computer string
	// Location is the zone of sources that carry local times without an
	// offset (Event Viewer CSV, NXLog EventTime). Nil means UTC.
	Location *time.Location
	// Limits bound what an input may make the reader do.
	Limits Limits
	// AllRecords makes the .evtx reader decode and emit every record. By
	// default it decodes and emits only Outlook 25/26 records of the
	// Application channel (all idletrace uses) and skips the others
	// undecoded, which is many times faster; Result.Records still counts
	// every record. The text readers always emit every record.
	AllRecords bool
}

// Limits guard against hostile input. Zero fields take the defaults.
type Limits struct {
	// MaxZipEntries is the most entries a zip may have.
	MaxZipEntries int
	// MaxZipTotal is the most bytes all entries of a zip may inflate to.
	MaxZipTotal int64
	// MaxZipRatio is the highest compression ratio an entry may have.
	MaxZipRatio int64
	// MaxLine is the longest line or JSON item a text reader accepts.
	MaxLine int
}

// DefaultLimits are generous for real help-desk data and small for bombs.
var DefaultLimits = Limits{
	MaxZipEntries: 10000,
	MaxZipTotal:   8 << 30,
	MaxZipRatio:   200,
	MaxLine:       4 << 20,
}

func (l Limits) withDefaults() Limits {
	if l.MaxZipEntries <= 0 {
		l.MaxZipEntries = DefaultLimits.MaxZipEntries
	}
	if l.MaxZipTotal <= 0 {
		l.MaxZipTotal = DefaultLimits.MaxZipTotal
	}
	if l.MaxZipRatio <= 0 {
		l.MaxZipRatio = DefaultLimits.MaxZipRatio
	}
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultLimits.MaxLine
	}
	return l
}

func (o Options) location() *time.Location {
	if o.Location == nil {
		return time.UTC
	}
	return o.Location
}

// Result summarises one read.
type Result struct {
	// Format is the detected format, e.g. "evtx" or "json (winlogbeat)".
	Format string `json:"format"`
	// Bytes is the size of the input.
	Bytes int64 `json:"bytes"`
	// Records counts the records read, of every provider (for .evtx: decoded
	// or skipped undecoded by the fast path).
	Records int `json:"records"`
	// Warnings lists what could not be read in full.
	Warnings []Warning `json:"warnings"`
}

func (r *Result) warn(w Warning) {
	const maxWarnings = 1000
	if len(r.Warnings) < maxWarnings {
		r.Warnings = append(r.Warnings, w)
	} else if len(r.Warnings) == maxWarnings {
		r.Warnings = append(r.Warnings, Warning{Msg: "too many warnings; the rest are not listed"})
	}
}

// EmitFunc receives each record read. Returning an error stops the read and
// the error is returned by the reader.
type EmitFunc func(Event) error

// ReadFile reads the file at path in whichever supported format its content
// has. Records go to emit as they are read; the file is streamed, never held
// whole in memory.
func ReadFile(ctx context.Context, path string, opts Options, emit EmitFunc) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, fmt.Errorf("open input: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("stat input: %w", err)
	}
	if st.IsDir() {
		return Result{}, &FormatError{Msg: path + " is a directory"}
	}
	if opts.Name == "" {
		opts.Name = filepath.Base(path)
	}
	return Read(ctx, f, st.Size(), opts, emit)
}

// Read reads size bytes from r in whichever supported format they hold,
// detected by content (magic bytes, first non-space characters, CSV header).
func Read(ctx context.Context, r io.ReaderAt, size int64, opts Options, emit EmitFunc) (Result, error) {
	opts.Limits = opts.Limits.withDefaults()
	head := make([]byte, 4096)
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return Result{Bytes: size}, fmt.Errorf("read input: %w", err)
	}
	head = head[:n]
	format := Detect(head)
	res := Result{Format: format, Bytes: size}
	switch format {
	case FormatEVTX:
		err = readEVTX(ctx, r, size, opts, &res, emit)
	case "":
		return res, &FormatError{Msg: "unrecognized input: not EVTX, XML, CSV, JSON or zip (" + describeHead(head) + ")"}
	default:
		err = readText(ctx, format, r, size, opts, &res, emit)
	}
	return res, err
}

// Detect names the format of an input from its first bytes, or returns ""
// when it is none of the supported formats.
func Detect(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte(evtxFileMagic)):
		return FormatEVTX
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return FormatZip
	}
	t := bytes.TrimLeft(decodeHead(head), " \t\r\n")
	switch {
	case len(t) == 0:
		return ""
	case t[0] == '<':
		return FormatXML
	case t[0] == '{' || t[0] == '[':
		return FormatJSON
	case looksLikeEventViewerCSV(t):
		return FormatCSV
	}
	return ""
}

func trimBOM(b []byte) []byte {
	return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
}

// looksLikeEventViewerCSV accepts the Event Viewer CSV shape (see
// looksLikeEventViewerCSVHead in csv.go). Headers are localized, so the
// check is on shape, not on exact English words.
func looksLikeEventViewerCSV(t []byte) bool { return looksLikeEventViewerCSVHead(t) }

func describeHead(head []byte) string {
	if len(head) == 0 {
		return "empty input"
	}
	n := min(len(head), 8)
	return fmt.Sprintf("starts with % x", head[:n])
}
