package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/0xrawsec/golang-evtx/evtx"
)

// EVTX layout constants (see the libevtx format documentation).
const (
	evtxFileMagic    = "ElfFile\x00"
	evtxChunkMagic   = "ElfChnk\x00"
	evtxRecordMagic  = "\x2a\x2a\x00\x00"
	evtxHeaderSize   = 4096
	evtxChunkSize    = evtx.ChunkSize
	evtxChunkHdrSize = 512
	evtxRecHdrSize   = 24
)

// Bounds on the work one file may cause.
const (
	// evtxMaxWorkers caps the goroutines decoding chunks.
	evtxMaxWorkers = 4
	// evtxBaseDeadline plus evtxDeadlinePerMB per MB of input is the longest
	// one .evtx read may take before it stops with an error (a safety net
	// against a parser loop: healthy input reads at 100+ MB/s, and even the
	// golang-evtx fallback reads at about 8 MB/s).
	evtxBaseDeadline  = 2 * time.Minute
	evtxDeadlinePerMB = time.Second
)

// ErrEVTXDeadline is returned (wrapped) when reading one .evtx file took
// longer than its deadline; the records read until then were emitted.
var ErrEVTXDeadline = errors.New("evtx: reading the file took too long")

// readEVTX reads an EVTX file chunk by chunk, chunks in parallel, and emits
// records in file order from the calling goroutine.
//
// Each record goes through the fast path (binxml.go) first: from its
// template and substitution values it is either skipped undecoded (not an
// Outlook 25/26 of the Application channel, unless opts.AllRecords), or
// decoded directly. Records the fast path cannot decide are parsed with
// golang-evtx, with a recover around each. Damaged chunks are salvaged
// record by record: a bad record header or size makes the reader scan for
// the next record signature instead of giving up the rest of the chunk.
// res.Records counts every record read (decoded or skipped).
//
// When the fast path found no Outlook event, the first chunks are decoded
// in full to see which log this is (Result.LooksLike).
func readEVTX(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc) error {
	before := res.seen.outlook
	err := readEVTXChunks(ctx, r, size, opts, res, emit)
	if err == nil && !opts.AllRecords && res.Records > 0 && res.seen.outlook == before {
		sampleEVTX(ctx, r, size, opts, res)
	}
	return err
}

// evtxSampleChunks is how many chunks sampleEVTX decodes.
const evtxSampleChunks = 4

// sampleEVTX decodes every record of the first chunks into res.seen, not
// emitted: what a file without Outlook events holds instead.
func sampleEVTX(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result) {
	opts.AllRecords = true
	w := newEVTXWorker(ctx, r, size, opts)
	n := min((size-evtxHeaderSize+evtxChunkSize-1)/evtxChunkSize, evtxSampleChunks)
	for i := int64(0); i < n && ctx.Err() == nil; i++ {
		cr := w.chunk(i)
		for j := range cr.events {
			res.seen.add(&cr.events[j])
		}
	}
}

func readEVTXChunks(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc) error {
	quietLibraryLogs()
	if size < evtxHeaderSize {
		return &FormatError{Format: FormatEVTX, Msg: fmt.Sprintf("file is %d bytes, shorter than the 4096-byte EVTX header", size)}
	}
	var magic [8]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	if string(magic[:]) != evtxFileMagic {
		return &FormatError{Format: FormatEVTX, Msg: "not an EVTX file: bad file signature"}
	}
	nChunks := (size - evtxHeaderSize + evtxChunkSize - 1) / evtxChunkSize
	if tail := (size - evtxHeaderSize) % evtxChunkSize; tail != 0 {
		res.warn(Warning{File: opts.Name, Offset: size - tail, Msg: fmt.Sprintf("file ends inside a chunk (%d of 65536 bytes present): it was truncated; reading what is there", tail)})
	}
	deadline := evtxBaseDeadline + time.Duration(size>>20)*evtxDeadlinePerMB
	ctx, cancel := context.WithTimeoutCause(ctx, deadline, ErrEVTXDeadline)
	defer cancel()

	workers := min(runtime.GOMAXPROCS(0), evtxMaxWorkers, int(nChunks))
	if workers <= 1 {
		w := newEVTXWorker(ctx, r, size, opts)
		for i := int64(0); i < nChunks; i++ {
			if err := ctx.Err(); err != nil {
				return evtxCtxErr(ctx, res, opts, i)
			}
			cr := w.chunk(i)
			if err := ctx.Err(); err != nil {
				// The chunk may have stopped part way: not delivered.
				return evtxCtxErr(ctx, res, opts, i)
			}
			if err := cr.deliver(res, emit); err != nil {
				return err
			}
		}
		return nil
	}

	// Chunks are handed out in order; each has its own result channel, and
	// the channels are queued in order so that records are emitted in file
	// order. The queue bounds how far decoding may run ahead.
	type job struct {
		idx int64
		out chan *chunkResult
	}
	jobs := make(chan job)
	pending := make(chan job, 2*workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		defer close(pending)
		for i := int64(0); i < nChunks; i++ {
			j := job{i, make(chan *chunkResult, 1)}
			select {
			case pending <- j:
			case <-stop:
				return
			}
			select {
			case jobs <- j:
			case <-stop:
				return
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newEVTXWorker(ctx, r, size, opts)
			for j := range jobs {
				if ctx.Err() != nil {
					j.out <- &chunkResult{}
					continue
				}
				j.out <- w.chunk(j.idx)
			}
		}()
	}
	defer func() {
		close(stop)
		for range pending { // let the producer see stop
		}
		wg.Wait()
	}()
	for j := range pending {
		cr := <-j.out
		if err := ctx.Err(); err != nil {
			return evtxCtxErr(ctx, res, opts, j.idx)
		}
		if err := cr.deliver(res, emit); err != nil {
			return err
		}
	}
	return nil
}

// evtxCtxErr reports a cancelled or timed-out read.
func evtxCtxErr(ctx context.Context, res *Result, opts Options, idx int64) error {
	off := evtxHeaderSize + idx*evtxChunkSize
	if errors.Is(context.Cause(ctx), ErrEVTXDeadline) {
		res.warn(Warning{File: opts.Name, Offset: off, Msg: "reading stopped here: the file took too long to read"})
		return fmt.Errorf("%w (stopped at offset %d)", ErrEVTXDeadline, off)
	}
	return ctx.Err()
}

// chunkResult is what one chunk yields.
type chunkResult struct {
	records  int
	events   []Event
	warnings []Warning
}

func (cr *chunkResult) deliver(res *Result, emit EmitFunc) error {
	res.Records += cr.records
	for _, w := range cr.warnings {
		res.warn(w)
	}
	for i := range cr.events {
		res.seen.add(&cr.events[i])
		if emit == nil {
			continue
		}
		if err := emit(cr.events[i]); err != nil {
			return err
		}
	}
	return nil
}

// evtxCtxEvery is how many records a chunk decodes between checks of the
// read's context (besides one before every golang-evtx fallback, the slow
// path), so that a slow chunk stops soon after the file's deadline.
const evtxCtxEvery = 64

// evtxWorker decodes chunks; each goroutine has its own.
type evtxWorker struct {
	ctx  context.Context
	r    io.ReaderAt
	size int64
	opts Options
	all  bool
	buf  []byte
	dec  *chunkDecoder
	goc  *evtx.Chunk // golang-evtx view of buf, made on first need
	gerr error
	off  int64
}

func newEVTXWorker(ctx context.Context, r io.ReaderAt, size int64, opts Options) *evtxWorker {
	return &evtxWorker{ctx: ctx, r: r, size: size, opts: opts, all: opts.AllRecords, buf: make([]byte, evtxChunkSize), dec: newChunkDecoder()}
}

func (w *evtxWorker) warn(cr *chunkResult, off int64, msg string) {
	cr.warnings = append(cr.warnings, Warning{File: w.opts.Name, Offset: off, Msg: msg})
}

// chunk reads and decodes chunk idx. It stops early when the read's
// context ends (the caller then discards the result).
func (w *evtxWorker) chunk(idx int64) *chunkResult {
	cr := &chunkResult{}
	off := evtxHeaderSize + idx*evtxChunkSize
	buf := w.buf
	n, err := w.r.ReadAt(buf, off)
	if err != nil && err != io.EOF && n < len(buf) {
		w.warn(cr, off, fmt.Sprintf("chunk unreadable (%v): its records are lost", err))
		return cr
	}
	clear(buf[n:])
	w.dec.reset(buf)
	w.goc, w.gerr, w.off = nil, nil, off

	magicOK := string(buf[:8]) == evtxChunkMagic
	crcOK := magicOK && chunkHeaderChecksumOK(buf)
	switch {
	case !magicOK:
		if isZero(buf) {
			return cr // never-used chunk
		}
		w.warn(cr, off, "chunk has a bad signature: salvaging its records one by one")
	case !crcOK:
		w.warn(cr, off, "chunk header fails its checksum: salvaging its records one by one")
	case !chunkChecksumOK(buf):
		w.warn(cr, off, "chunk fails its checksum: records read anyway")
	}

	// Records run from 512 to the last record's offset. That offset is
	// trusted when the header checksum holds, or when a record starts there
	// and ends at the header's free-space offset; otherwise the whole chunk
	// is searched (and deleted records past the end may be found too).
	limit := evtxChunkSize - evtxRecHdrSize
	last := int(bxLE.Uint32(buf[44:]))
	free := int(bxLE.Uint32(buf[48:]))
	trusted := false
	switch {
	case crcOK:
		limit, trusted = min(last, limit), true
	case last >= evtxChunkHdrSize && last <= limit:
		if s := recordSizeAt(buf, last); s != 0 && last+s == free {
			limit, trusted = last, true
		}
	}
	bad, salvaged := 0, 0
	var firstBad int64
	noteBad := func(p int) {
		if bad == 0 {
			firstBad = off + int64(p)
		}
		bad++
	}
	p := evtxChunkHdrSize
	resync := false
	for n := 1; p <= limit; n++ {
		if n%evtxCtxEvery == 0 && w.ctx.Err() != nil {
			return cr
		}
		size := recordSizeAt(buf, p)
		if size == 0 {
			// Not a record header here: find the next one.
			q := findRecord(buf, p+1, limit)
			if trusted {
				noteBad(p)
			}
			if q < 0 {
				break
			}
			p, resync = q, true
			continue
		}
		ok, reported := w.record(cr, p, p+size)
		if !ok {
			if !reported {
				noteBad(p)
			}
		} else if resync || !crcOK {
			salvaged++
		}
		if trailingSizeOK(buf, p, size) {
			p += size
			continue
		}
		// The size field or its copy is damaged: look for the next record
		// right after this one's header.
		q := findRecord(buf, p+evtxRecHdrSize, limit)
		if q < 0 {
			break
		}
		p, resync = q, true
	}
	if bad > 0 {
		w.warn(cr, firstBad, fmt.Sprintf("%d damaged record(s) in this chunk could not be read: skipped", bad))
	}
	if salvaged > 0 {
		w.warn(cr, off, fmt.Sprintf("%d record(s) salvaged from the damaged chunk", salvaged))
	}
	return cr
}

// record decodes the record at [p, end) into cr; false if it is unreadable
// (reported: a warning about it is already in cr).
func (w *evtxWorker) record(cr *chunkResult, p, end int) (ok, reported bool) {
	var e Event
	v := w.fast(p, end, &e)
	switch v {
	case vSkip:
		cr.records++
		return true, false
	case vEmit:
		cr.records++
		cr.events = append(cr.events, e)
		return true, false
	}
	if w.ctx.Err() != nil {
		return false, true // the read is over; the chunk is discarded
	}
	if w.goc == nil && w.gerr == nil {
		w.goc, w.gerr = goChunk(w.buf, w.off)
	}
	ok = false
	var err error
	if w.goc != nil {
		e, ok, err = parseRecordGuarded(w.goc, int64(p))
		ok = ok && err == nil
	}
	if !ok {
		// Valid BinXML golang-evtx cannot read (binxml.go, recordMap).
		if e, ok = w.mapped(p, end); !ok {
			var be *mapBudgetError
			if errors.As(err, &be) {
				w.warn(cr, w.off+int64(p), fmt.Sprintf("record too costly to read: %v; skipped", err))
				return false, true
			}
			return false, false
		}
	}
	cr.records++
	if w.all || e.IsConnectivity() {
		cr.events = append(cr.events, e)
	}
	return true, false
}

// fast runs the fast path with a recover: a decoder bug on hostile input
// must cost one record at most.
func (w *evtxWorker) fast(p, end int, e *Event) (v bxVerdict) {
	defer func() {
		if recover() != nil {
			v = vUnknown
		}
	}()
	return w.dec.record(p, end, w.all, e)
}

// mapped decodes the record at [p, end) through recordMap and eventFromMap,
// with a recover.
func (w *evtxWorker) mapped(p, end int) (e Event, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	m, ok := w.dec.recordMap(p, end)
	if !ok {
		return e, false
	}
	e = eventFromMap(m)
	if e.RecordID == 0 {
		e.RecordID = int64(bxLE.Uint64(w.buf[p+8:]))
	}
	if e.Time.IsZero() {
		e.Time = bxFileTime(bxLE.Uint64(w.buf[p+16:]))
	}
	return e, true
}

// recordSizeAt returns the size of the record whose header is at p, or 0
// when there is none (golang-evtx's checks: signature, 24 <= size < 65536,
// and the record must end inside the chunk).
func recordSizeAt(buf []byte, p int) int {
	if p < 0 || p+evtxRecHdrSize > len(buf) || string(buf[p:p+4]) != evtxRecordMagic {
		return 0
	}
	size := int(bxLE.Uint32(buf[p+4:]))
	if size < evtxRecHdrSize+4 || size > len(buf)-p {
		return 0
	}
	return size
}

// trailingSizeOK checks the copy of the size that ends every record.
func trailingSizeOK(buf []byte, p, size int) bool {
	return int(bxLE.Uint32(buf[p+size-4:])) == size
}

// findRecord returns the offset of the next plausible record (signature,
// size and trailing size copy agree) at or after from, up to limit; -1 if
// there is none.
func findRecord(buf []byte, from, limit int) int {
	for from <= limit {
		i := bytes.Index(buf[from:], []byte(evtxRecordMagic))
		if i < 0 {
			return -1
		}
		q := from + i
		if q > limit {
			return -1
		}
		if size := recordSizeAt(buf, q); size != 0 && trailingSizeOK(buf, q, size) {
			return q
		}
		from = q + 1
	}
	return -1
}

// chunkHeaderChecksumOK checks the CRC32 of the chunk header (bytes 0–120
// and 128–512) against the value at 124.
func chunkHeaderChecksumOK(data []byte) bool {
	h := crc32.NewIEEE()
	h.Write(data[:120])
	h.Write(data[128:evtxChunkHdrSize])
	return h.Sum32() == bxLE.Uint32(data[124:])
}
