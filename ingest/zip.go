package ingest

import (
	"archive/zip"
	"bufio"
	"context"
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
// inflated bytes over the whole archive (nested zips included), and per
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
type zipBudget struct{ left int64 }

func readZip(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc, depth int) error {
	return readZipBudget(ctx, r, size, opts, res, emit, depth, &zipBudget{left: opts.Limits.MaxZipTotal})
}

func readZipBudget(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc, depth int, budget *zipBudget) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return &FormatError{Format: FormatZip, Msg: "not a readable zip archive: " + err.Error()}
	}
	files := zr.File
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
		if f.FileInfo().IsDir() || baseName(f.Name) == "" {
			continue
		}
		label := baseName(f.Name)
		if opts.Name != "" {
			label = opts.Name + "/" + label
		}
		sub := Result{}
		err := readZipEntry(ctx, f, label, opts, &sub, entryEmit, depth, budget)
		res.Records += sub.Records
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

func entryErrorText(err error) string {
	var le *errZipLimit
	switch {
	case errors.As(err, &le):
		return le.msg
	case errors.Is(err, zip.ErrChecksum):
		return "entry is damaged (checksum mismatch); records before the damage are kept"
	case errors.Is(err, zip.ErrAlgorithm):
		return "entry uses an unsupported compression method or encryption; skipped"
	case errors.Is(err, zip.ErrFormat):
		return "entry is damaged or inflates beyond its declared size (" + err.Error() + "); records before the damage are kept"
	}
	return err.Error()
}

// readZipEntry reads one entry into res.
func readZipEntry(ctx context.Context, f *zip.File, label string, opts Options, res *Result, emit EmitFunc, depth int, budget *zipBudget) error {
	lim := opts.Limits
	if c, u := f.CompressedSize64, f.UncompressedSize64; u > minZipAllowance && (c == 0 || u/c > uint64(lim.MaxZipRatio)) {
		return &errZipLimit{fmt.Sprintf("entry declares %d bytes from %d compressed, a ratio above the limit of %d:1 (a zip bomb?); skipped", u, c, lim.MaxZipRatio)}
	}
	if f.UncompressedSize64 > uint64(max(budget.left, 0)) {
		return &errZipLimit{fmt.Sprintf("entry declares %d bytes, more than the %d the archive may still inflate to (limit %d in all); skipped", f.UncompressedSize64, max(budget.left, 0), lim.MaxZipTotal)}
	}
	open := func() (io.Reader, io.Closer, error) {
		rc, err := f.Open()
		if err != nil {
			return nil, nil, err
		}
		allowed := max(int64(f.CompressedSize64)*lim.MaxZipRatio, minZipAllowance)
		return &zipLimitReader{r: rc, left: allowed, budget: budget, ratio: lim.MaxZipRatio, total: lim.MaxZipTotal}, rc, nil
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
		return fmt.Errorf("not EVTX, XML, CSV, JSON or zip (%s); skipped", describeHead(head))
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
