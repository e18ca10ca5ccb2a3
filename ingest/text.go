package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// readText reads the text formats (XML, CSV, JSON/NDJSON) and zip archives.
func readText(ctx context.Context, format string, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc) error {
	if format == FormatZip {
		return readZip(ctx, r, size, opts, res, emit, 0)
	}
	open := func() (io.Reader, error) { return io.NewSectionReader(r, 0, size), nil }
	return readTextStream(ctx, format, open, opts, res, emit)
}

// opener returns a fresh reader over the same input each time it is called,
// so a reader that needs two passes (CSV: day/month order) can take them.
type opener func() (io.Reader, error)

// readTextStream reads one text input (XML, CSV, JSON or details as text)
// in UTF-8 or in UTF-16 with a byte-order mark. Local times read without a
// zone given (Options.Location nil) earn the input one warning at the end.
func readTextStream(ctx context.Context, format string, open opener, opts Options, res *Result, emit EmitFunc) error {
	err := readTextFormat(ctx, format, open, opts, res, emit)
	if res.localTime != "" && res.Records > 0 {
		res.warn(Warning{File: opts.Name, Msg: fmt.Sprintf("%s has local times without a time zone and no zone was given: read as UTC; "+
			"if the computer's clock was not on UTC, read it again with its zone (tz, e.g. Europe/Berlin)", res.localTime)})
	}
	return err
}

// noteLocalTime records that field held a zoneless local time, read in
// UTC because no zone was given.
func (res *Result) noteLocalTime(opts Options, field string) {
	if opts.Location == nil && res.localTime == "" {
		res.localTime = field
	}
}

func readTextFormat(ctx context.Context, format string, open opener, opts Options, res *Result, emit EmitFunc) error {
	decoded := func() (io.Reader, error) {
		r, err := open()
		if err != nil {
			return nil, err
		}
		return newTextDecoder(r), nil
	}
	switch format {
	case FormatXML:
		r, err := decoded()
		if err != nil {
			return err
		}
		return readXML(ctx, r, opts, res, emit)
	case FormatJSON:
		r, err := decoded()
		if err != nil {
			return err
		}
		return readJSON(ctx, r, opts, res, emit)
	case FormatCSV:
		return readCSV(ctx, decoded, opts, res, emit)
	case FormatText:
		return readEventText(ctx, decoded, opts, res, emit)
	}
	return &FormatError{Format: format, Msg: "not a text format"}
}

// newTextDecoder returns r as UTF-8: a UTF-8 byte-order mark is dropped and
// UTF-16 (LE or BE, with a byte-order mark, as PowerShell's ">" and
// Event Viewer write it) is transcoded.
func newTextDecoder(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		br.Discard(3)
		return br
	case bytes.HasPrefix(head, []byte("\xff\xfe")):
		br.Discard(2)
		return &utf16Reader{r: br, le: true}
	case bytes.HasPrefix(head, []byte("\xfe\xff")):
		br.Discard(2)
		return &utf16Reader{r: br}
	}
	return br
}

// utf16Reader transcodes UTF-16 to UTF-8. Unpaired surrogates become U+FFFD.
type utf16Reader struct {
	r   *bufio.Reader
	le  bool
	out []byte // transcoded bytes not yet returned
	hi  rune   // pending high surrogate, 0 if none
	err error
}

func (u *utf16Reader) Read(p []byte) (int, error) {
	for len(u.out) == 0 {
		if u.err != nil {
			if u.hi != 0 {
				u.out = utf8.AppendRune(u.out, utf8.RuneError)
				u.hi = 0
				continue
			}
			return 0, u.err
		}
		u.fill()
	}
	n := copy(p, u.out)
	u.out = u.out[n:]
	return n, nil
}

func (u *utf16Reader) fill() {
	var buf [4096]byte
	n, err := io.ReadFull(u.r, buf[:])
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = io.EOF
	}
	u.err = err
	if n%2 == 1 { // a dangling odd byte at the end
		n--
	}
	u.out = u.out[:0]
	for i := 0; i < n; i += 2 {
		var c rune
		if u.le {
			c = rune(buf[i]) | rune(buf[i+1])<<8
		} else {
			c = rune(buf[i])<<8 | rune(buf[i+1])
		}
		switch {
		case u.hi != 0 && utf16.IsSurrogate(c) && c >= 0xdc00:
			u.out = utf8.AppendRune(u.out, utf16.DecodeRune(u.hi, c))
			u.hi = 0
			continue
		case u.hi != 0:
			u.out = utf8.AppendRune(u.out, utf8.RuneError)
			u.hi = 0
		}
		switch {
		case c >= 0xd800 && c < 0xdc00:
			u.hi = c
		case utf16.IsSurrogate(c):
			u.out = utf8.AppendRune(u.out, utf8.RuneError)
		default:
			u.out = utf8.AppendRune(u.out, c)
		}
	}
}

// decodeHead returns the start of an input as UTF-8 text for detection.
func decodeHead(head []byte) []byte {
	if bytes.HasPrefix(head, []byte("\xff\xfe")) || bytes.HasPrefix(head, []byte("\xfe\xff")) {
		out, _ := io.ReadAll(newTextDecoder(bytes.NewReader(head)))
		return out
	}
	return trimBOM(head)
}

// errOversize marks an item longer than Limits.MaxLine.
var errOversize = errors.New("too long")

// baseName returns the last element of a name that may use / or \ as
// separator. Names from archives are labels, never paths.
func baseName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	b := path.Base(name)
	if b == "." || b == "/" {
		return ""
	}
	return b
}

// stem returns the base name without its extension: "HQ-PC01.csv" → "HQ-PC01".
func stem(name string) string {
	b := baseName(name)
	if i := strings.LastIndexByte(b, '.'); i > 0 {
		b = b[:i]
	}
	return b
}

// defaultComputer is the computer name for sources that carry none.
func (o Options) defaultComputer() string {
	if o.Computer != "" {
		return o.Computer
	}
	return stem(o.Name)
}

// lineCounter tracks the 1-based line of a position in a stream.
type lineCounter struct{ line int }

func (c *lineCounter) advance(b []byte) { c.line += bytes.Count(b, []byte{'\n'}) }

func sizeText(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// emitEvent counts a record and hands it on.
func emitEvent(res *Result, emit EmitFunc, ev Event) error {
	res.Records++
	res.seen.add(&ev)
	if emit == nil {
		return nil
	}
	return emit(ev)
}
