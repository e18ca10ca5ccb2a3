package ingest

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// A help desk collects logs into a .zip. Every entry is read as the format
// its content has (nested zips one level deep); entry names are labels and
// the default computer name of CSV entries, never paths. Limits guard
// against zip bombs: Limits.MaxZipEntries entries at most, MaxZipTotal
// inflated bytes over the whole archive (nested zips included; and never
// more than MaxZipRatio times the archive's own size, at least 16 MiB),
// no two entries sharing compressed bytes, and per
// entry a compression ratio of MaxZipRatio (checked on the sizes the entry
// declares and enforced on the bytes it really inflates to; the first MiB
// of an entry is always allowed). An entry over a limit is cut off with a
// warning; what was read before the limit is kept.

// minZipAllowance is what any entry may inflate to whatever its ratio:
// tiny entries compress very well without being bombs.
const minZipAllowance = 1 << 20

// errZipLimit stops an entry that inflates beyond a limit.
type errZipLimit struct{ msg string }

func (e *errZipLimit) Error() string { return e.msg }

// zipBudget is what the whole archive may still inflate to.
type zipBudget struct{ left, total int64 }

// minZipBudget is what any archive may inflate to in all, whatever its
// size.
const minZipBudget = 16 << 20

// zipTotalBudget is what an archive of size bytes may inflate to in all
// (nested zips and temp files included): MaxZipTotal, and no more than
// MaxZipRatio times the archive itself. Per-entry checks alone let many
// tiny entries (each within the 1 MiB any entry may inflate to) or
// entries sharing their bytes multiply an archive far past its ratio.
func zipTotalBudget(size int64, lim Limits) int64 {
	byRatio := int64(minZipBudget)
	if size > 0 && size < (1<<62)/max(lim.MaxZipRatio, 1) {
		byRatio = max(size*lim.MaxZipRatio, minZipBudget)
	}
	return min(lim.MaxZipTotal, byRatio)
}

func newZipBudget(n int64) *zipBudget { return &zipBudget{left: n, total: n} }

func readZip(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc, depth int) error {
	return readZipBudget(ctx, r, size, opts, res, emit, depth, newZipBudget(zipTotalBudget(size, opts.Limits)))
}

func readZipBudget(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc, depth int, budget *zipBudget) error {
	var files []zipEntryInfo
	zr, err := zip.NewReader(r, size)
	if err == nil {
		overlapping := overlappingEntries(zr.File)
		for i, f := range zr.File {
			if overlapping[i] {
				res.warn(Warning{File: opts.Name, Msg: fmt.Sprintf("entry %q overlaps the data of another entry (a zip bomb?); skipped", baseName(f.Name))})
				continue
			}
			files = append(files, zipEntryInfo{
				name: f.Name, dir: f.FileInfo().IsDir(), known: true,
				comp: f.CompressedSize64, uncomp: f.UncompressedSize64, open: f.Open,
			})
		}
	} else {
		// A cut-off download has no central directory: recover the entries
		// from their local headers.
		files = scanLocalEntries(r, size)
		if len(files) == 0 {
			return &FormatError{Format: FormatZip, Msg: "not a readable zip archive: " + err.Error()}
		}
		res.warn(Warning{File: opts.Name, Msg: fmt.Sprintf("zip has no readable central directory (%v; truncated?): %d entries recovered from their local headers", err, len(files))})
	}
	if max := opts.Limits.MaxZipEntries; len(files) > max {
		res.warn(Warning{File: opts.Name, Msg: fmt.Sprintf("zip has %d entries, more than the limit of %d; only the first %d are read", len(files), max, max)})
		files = files[:max]
	}
	// Entries' emit errors stop the whole read; everything else about an
	// entry is a warning.
	var stop error
	entryEmit := func(ev Event) error {
		if emit == nil {
			return nil
		}
		if err := emit(ev); err != nil {
			stop = err
			return err
		}
		return nil
	}
	var formats []string
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.dir || baseName(f.name) == "" {
			continue
		}
		label := baseName(f.name)
		if opts.Name != "" {
			label = opts.Name + "/" + label
		}
		sub := Result{}
		err := readZipEntry(ctx, &f, label, opts, &sub, entryEmit, depth, budget)
		res.Records += sub.Records
		res.seen.merge(&sub.seen)
		for _, w := range sub.Warnings {
			if w.File == "" {
				w.File = label
			}
			res.warn(w)
		}
		if sub.Format != "" && !slices.Contains(formats, sub.Format) {
			formats = append(formats, sub.Format)
		}
		switch {
		case stop != nil:
			return stop
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			res.warn(Warning{File: label, Msg: entryErrorText(err)})
		}
	}
	res.Format = FormatZip
	if len(formats) > 0 {
		res.Format += " (" + strings.Join(formats, ", ") + ")"
	}
	return nil
}

// overlappingEntries marks the entries whose data share bytes with an
// entry before them in the archive: a real archive never does, an
// overlapping bomb inflates the same compressed bytes once per entry.
func overlappingEntries(files []*zip.File) []bool {
	type span struct {
		start, end int64
		i          int
	}
	var spans []span
	for i, f := range files {
		off, err := f.DataOffset()
		if err != nil || f.CompressedSize64 == 0 {
			continue
		}
		spans = append(spans, span{off, off + int64(min(f.CompressedSize64, 1<<62)), i})
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return cmp.Compare(a.start, b.start)
		}
		return cmp.Compare(a.i, b.i)
	})
	out := make([]bool, len(files))
	end := int64(-1)
	for _, s := range spans {
		if s.start < end {
			out[s.i] = true
			continue
		}
		end = s.end
	}
	return out
}

func entryErrorText(err error) string {
	var le *errZipLimit
	switch {
	case errors.As(err, &le):
		return le.msg
	case errors.Is(err, zip.ErrChecksum):
		return "entry is damaged (checksum mismatch); records before the damage are kept"
	case errors.Is(err, zip.ErrAlgorithm):
		return "entry uses an unsupported compression method or encryption; skipped"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "entry is cut short (truncated archive); records before the cut are kept"
	case errors.Is(err, zip.ErrFormat), errors.Is(err, flate.CorruptInputError(0)):
		return "entry is damaged or inflates beyond its declared size (" + err.Error() + "); records before the damage are kept"
	}
	return err.Error()
}

// readZipEntry reads one entry into res.
func readZipEntry(ctx context.Context, f *zipEntryInfo, label string, opts Options, res *Result, emit EmitFunc, depth int, budget *zipBudget) error {
	lim := opts.Limits
	if c, u := f.comp, f.uncomp; f.known && u > minZipAllowance && (c == 0 || u/c > uint64(lim.MaxZipRatio)) {
		return &errZipLimit{fmt.Sprintf("entry declares %d bytes from %d compressed, a ratio above the limit of %d:1 (a zip bomb?); skipped", u, c, lim.MaxZipRatio)}
	}
	if f.known && f.uncomp > uint64(max(budget.left, 0)) {
		return &errZipLimit{fmt.Sprintf("entry declares %d bytes, more than the %d the archive may still inflate to (limit %d in all); skipped", f.uncomp, max(budget.left, 0), budget.total)}
	}
	open := func() (io.Reader, io.Closer, error) {
		rc, err := f.open()
		if err != nil {
			return nil, nil, err
		}
		allowed := max(int64(min(f.comp, 1<<40))*lim.MaxZipRatio, minZipAllowance)
		return &zipLimitReader{r: rc, left: allowed, budget: budget, ratio: lim.MaxZipRatio, total: budget.total}, rc, nil
	}
	r, c, err := open()
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 4096)
	head, err := br.Peek(4096)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		c.Close()
		return err
	}
	format := Detect(head)
	res.Format = format
	entryOpts := opts
	entryOpts.Name = label
	switch format {
	case "":
		c.Close()
		return fmt.Errorf("unrecognized entry (%s): not a log export idletrace reads; skipped", describeHead(head))
	case FormatEVTX, FormatZip:
		if format == FormatZip && depth >= 1 {
			c.Close()
			return errors.New("zip inside a nested zip: only one level of nesting is read; skipped")
		}
		tmp, n, err := spool(br, format)
		c.Close()
		if err != nil {
			return err
		}
		defer func() {
			tmp.Close()
			os.Remove(tmp.Name())
		}()
		if format == FormatEVTX {
			return readEVTX(ctx, tmp, n, entryOpts, res, emit)
		}
		return readZipBudget(ctx, tmp, n, entryOpts, res, emit, depth+1, budget)
	}
	// Text entries are streamed; CSV opens its entry a second time.
	first := true
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	closers = append(closers, c)
	err = readTextStream(ctx, format, func() (io.Reader, error) {
		if first {
			first = false
			return br, nil
		}
		r, c, err := open()
		if err != nil {
			return nil, err
		}
		closers = append(closers, c)
		return r, nil
	}, entryOpts, res, emit)
	return err
}

// spool copies an entry to a temporary file, for readers that need an
// io.ReaderAt. The caller closes and removes it.
func spool(r io.Reader, format string) (*os.File, int64, error) {
	tmp, err := os.CreateTemp("", "idletrace-*."+format)
	if err != nil {
		return nil, 0, fmt.Errorf("spool entry: %w", err)
	}
	n, err := io.Copy(tmp, r)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		var le *errZipLimit
		if errors.As(err, &le) {
			return nil, 0, le
		}
		return nil, 0, fmt.Errorf("spool entry: %w", err)
	}
	return tmp, n, nil
}

// zipLimitReader stops an entry at its ratio allowance or at the archive's
// remaining budget.
type zipLimitReader struct {
	r      io.Reader
	left   int64 // this entry's allowance
	budget *zipBudget
	ratio  int64
	total  int64
}

func (z *zipLimitReader) Read(p []byte) (int, error) {
	if z.left <= 0 || z.budget.left <= 0 {
		// At the limit: fine if the entry ends here.
		var one [1]byte
		if n, err := z.r.Read(one[:]); n == 0 && err == io.EOF {
			return 0, io.EOF
		}
	}
	if z.left <= 0 {
		return 0, &errZipLimit{fmt.Sprintf("entry inflates beyond %d:1 of its compressed size (a zip bomb?); the rest is skipped", z.ratio)}
	}
	if z.budget.left <= 0 {
		return 0, &errZipLimit{fmt.Sprintf("archive inflates beyond the limit of %d bytes in all; the rest is skipped", z.total)}
	}
	p = p[:min(int64(len(p)), z.left, z.budget.left)]
	n, err := z.r.Read(p)
	z.left -= int64(n)
	z.budget.left -= int64(n)
	return n, err
}

// zipEntryInfo is an entry from the central directory or, for a truncated
// archive, from its local header.
type zipEntryInfo struct {
	name   string
	dir    bool
	known  bool   // sizes come from the archive (else comp is an upper bound)
	comp   uint64 // compressed size
	uncomp uint64 // declared uncompressed size
	open   func() (io.ReadCloser, error)
}

// scanLocalEntries walks the local file headers from the start of an
// archive whose central directory is missing. An entry whose size the
// header does not give (data descriptor) ends at the next header
// signature; the last entry may end with the input.
func scanLocalEntries(r io.ReaderAt, size int64) []zipEntryInfo {
	var out []zipEntryInfo
	off := int64(0)
	for off+30 <= size && len(out) < 1<<20 {
		var h [30]byte
		if _, err := r.ReadAt(h[:], off); err != nil || string(h[:4]) != "PK\x03\x04" {
			break
		}
		flags := binary.LittleEndian.Uint16(h[6:])
		method := binary.LittleEndian.Uint16(h[8:])
		csize := int64(binary.LittleEndian.Uint32(h[18:]))
		usize := uint64(binary.LittleEndian.Uint32(h[22:]))
		nameLen := int64(binary.LittleEndian.Uint16(h[26:]))
		extraLen := int64(binary.LittleEndian.Uint16(h[28:]))
		name := make([]byte, min(nameLen, max(size-off-30, 0)))
		r.ReadAt(name, off+30)
		data := off + 30 + nameLen + extraLen
		if data > size {
			break
		}
		end := size
		known := false
		switch {
		case flags&8 == 0 && csize != 0xffffffff:
			end = min(data+csize, size)
			known = data+csize <= size
		default:
			if next := nextLocalHeader(r, data, size); next >= 0 {
				end = next
			}
		}
		e := zipEntryInfo{
			name:   string(name),
			dir:    bytes.HasSuffix(name, []byte("/")),
			known:  known && flags&8 == 0,
			comp:   uint64(end - data),
			uncomp: usize,
		}
		sec := io.NewSectionReader(r, data, end-data)
		switch {
		case flags&1 != 0:
			e.open = func() (io.ReadCloser, error) { return nil, zip.ErrAlgorithm }
		case method == zip.Store:
			e.open = func() (io.ReadCloser, error) {
				return io.NopCloser(io.NewSectionReader(sec, 0, sec.Size())), nil
			}
		case method == zip.Deflate:
			e.open = func() (io.ReadCloser, error) {
				return flate.NewReader(io.NewSectionReader(sec, 0, sec.Size())), nil
			}
		default:
			e.open = func() (io.ReadCloser, error) { return nil, zip.ErrAlgorithm }
		}
		out = append(out, e)
		if end <= off {
			break
		}
		off = end
		if flags&8 != 0 || csize == 0xffffffff {
			continue // end is the next header already
		}
		// Skip a data descriptor if one follows.
		if next := nextLocalHeader(r, off, min(off+24, size)); next >= 0 {
			off = next
		}
	}
	return out
}

// nextLocalHeader returns the offset of the next local file header or
// central directory signature in [from, to), or -1.
func nextLocalHeader(r io.ReaderAt, from, to int64) int64 {
	buf := make([]byte, 64<<10)
	for from < to {
		n, _ := r.ReadAt(buf[:min(int64(len(buf)), to-from)], from)
		if n < 4 {
			return -1
		}
		b := buf[:n]
		for i := 0; i+4 <= len(b); i++ {
			if b[i] == 'P' && b[i+1] == 'K' && (b[i+2] == 3 && b[i+3] == 4 || b[i+2] == 1 && b[i+3] == 2) {
				return from + int64(i)
			}
		}
		from += int64(n - 3)
	}
	return -1
}
