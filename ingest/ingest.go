package ingest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"
)

// Format names reported in Result.Format.
const (
	FormatEVTX = "evtx"
	FormatXML  = "xml"
	FormatCSV  = "csv"
	FormatJSON = "json"
	FormatZip  = "zip"
	// FormatText is Event Viewer's "Copy details as text": the labelled
	// block ("Log Name:", "Source:", "Date:", …) a user pastes into a
	// ticket, one or many events, in any of several display languages.
	FormatText = "text"
)

// Options tell the readers what the input itself may not say.
type Options struct {
	// Name is the input's file name (no directories are trusted). It labels
	// warnings and gives the default computer name for Event Viewer CSV.
	Name string
	// Computer overrides the computer name for sources that carry none (CSV).
	Computer string
	// Location is the zone of sources that carry local times without an
	// offset (Event Viewer CSV and details as text, NXLog EventTime). Nil
	// means not given: such times are read as UTC and the file gets one
	// warning saying so.
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
	// LooksLike says, for an input whose records hold no Outlook event,
	// what the input looks like instead, e.g. "this is the System log;
	// Outlook events are in the Application log". Empty otherwise.
	LooksLike string `json:"looks_like,omitempty"`

	seen      tally  // what the records look like, for LooksLike
	localTime string // the field whose zoneless times were read as UTC
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
	emit, flush := checkedEmit(emit, &res, opts.Name)
	switch format {
	case FormatEVTX:
		err = readEVTX(ctx, r, size, opts, &res, emit)
	case "":
		return res, &FormatError{Msg: unrecognized(head)}
	default:
		err = readText(ctx, format, r, size, opts, &res, emit)
	}
	flush()
	res.LooksLike = res.seen.looksLike()
	if err == nil && res.Records == 0 && len(res.Warnings) > 0 {
		err = newNothingReadError(&res)
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
	t := skipToolBanners(bytes.TrimLeft(decodeHead(head), " \t\r\n"))
	switch {
	case len(t) == 0:
		return ""
	case t[0] == '<':
		return FormatXML
	case t[0] == '{' || t[0] == '[':
		return FormatJSON
	case looksLikeEventViewerCSV(t):
		return FormatCSV
	case looksLikeEventText(t):
		return FormatText
	}
	return ""
}

// skipToolBanners drops the lines other tools print before their events:
// libevtx's "evtxexport 20181227" and the "Record 1" that the Rust evtx
// crate's evtx_dump prints before each record (XML and -o json).
func skipToolBanners(t []byte) []byte {
	for range 2 {
		line, rest, _ := bytes.Cut(t, []byte("\n"))
		if !isToolBanner(line) {
			break
		}
		t = bytes.TrimLeft(rest, " \t\r\n")
	}
	return t
}

// isToolBanner reports whether line (with or without its line end) is
// "evtxexport <version>" or "Record <number>".
func isToolBanner(line []byte) bool {
	line = bytes.TrimRight(line, " \t\r\n")
	var rest []byte
	if r, ok := bytes.CutPrefix(line, []byte("evtxexport ")); ok {
		rest = r
	} else if r, ok := bytes.CutPrefix(line, []byte("Record ")); ok {
		rest = r
	} else {
		return false
	}
	return len(rest) > 0 && len(rest) <= 20 && isDigits(rest)
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func trimBOM(b []byte) []byte {
	return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
}

// looksLikeEventViewerCSV accepts the Event Viewer CSV shape (see
// looksLikeEventViewerCSVHead in csv.go). Headers are localized, so the
// check is on shape, not on exact English words.
func looksLikeEventViewerCSV(t []byte) bool { return looksLikeEventViewerCSVHead(t) }

// ReadableExports says in words which exports idletrace reads and how to
// make one; the unrecognized-input error ends with it, and a page or a
// help text may show it too.
const ReadableExports = "idletrace reads a Windows Application log as .evtx " +
	"(Event Viewer: right-click Application, Save All Events As…, or wevtutil epl Application app.evtx), " +
	"as XML (wevtutil qe Application /f:xml, python-evtx evtx_dump.py, evtxexport -f xml), " +
	"as Event Viewer CSV (Save All Events As…, type CSV), " +
	"as event details pasted from Event Viewer (Copy, Copy details as text), " +
	"as JSON or NDJSON (Winlogbeat, NXLog, Fluent Bit, Get-WinEvent | ConvertTo-Json, evtx_dump -o json), " +
	"or as a zip of those; the simplest is the .evtx"

// unrecognized is the message for an input of no supported format.
func unrecognized(head []byte) string {
	return "unrecognized input (" + describeHead(head) + "): " + ReadableExports
}

// describeHead says what an unrecognized input starts with: its first line
// when it is text, else its first bytes.
func describeHead(head []byte) string {
	if len(head) == 0 {
		return "it is empty"
	}
	t := bytes.TrimLeft(decodeHead(head), " \t\r\n")
	line, _, _ := bytes.Cut(t, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	if len(line) > 0 && utf8.Valid(line) && !bytes.ContainsFunc(line, func(r rune) bool { return r < ' ' && r != '\t' }) {
		return fmt.Sprintf("it starts with %q", clip(string(line)))
	}
	n := min(len(head), 8)
	return fmt.Sprintf("it starts with the bytes % x", head[:n])
}
