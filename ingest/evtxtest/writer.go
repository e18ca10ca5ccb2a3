// Package evtxtest writes real, valid binary Windows Event Log (.evtx) files.
//
// It exists so the project can build its own test fixtures, demo data and
// benchmark inputs without shipping Windows logs. The layout mirrors what
// Windows 10/11 writes for classic-source events (Outlook, MsiInstaller, ...):
//
//   - a 4096-byte file header followed by 64 KiB chunks;
//   - per chunk, a 64-entry common string table and a 32-entry template table;
//   - per record, a BinXML fragment holding one template instance. The
//     template ("System" part) is defined inline the first time it is used in a
//     chunk and referenced by offset afterwards. Provider, channel and computer
//     are literal text inside the template, so every distinct
//     provider/channel/computer combination gets its own template;
//   - 20 substitution values (level, opcode, task, EventID, Qualifiers,
//     keywords, time, record id, SID, ...), the last one being a nested BinXML
//     fragment (type 0x21) with <EventData><Data>(string array)</Data>
//     <Binary/></EventData>, itself a template instance.
//
// All checksums (file header, chunk header, records) are correct, so libevtx
// (evtxinfo/evtxexport), python-evtx and golang-evtx read the files as clean.
//
// A record written here is byte-identical to the one Windows (and the
// generated scenario files) hold for the same event, except for the System
// template's GUID, which is derived from an MD5 of the provider, channel and
// computer (it only has to be distinct per template).
//
// Things readers care about:
//   - record ids are contiguous within a chunk: a RecordID jump starts a new
//     chunk (libevtx reports a gap inside a chunk as corruption);
//   - a chunk is never filled to exactly 65536 bytes (libevtx then silently
//     drops its last record);
//   - a record with no Data strings gets a null string array, so <Data> is
//     omitted; Data{""} gives one empty <Data/>.
//
// Writing is streaming: memory use is bounded by one 64 KiB chunk plus the
// per-chunk string/template dictionaries.
package evtxtest

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Record is one event to write.
type Record struct {
	RecordID        uint64    // 0 = previous+1 (first = 1)
	Time            time.Time // TimeCreated, written as FILETIME (100 ns)
	Provider        string    // e.g. "Outlook"
	ProviderGUID    string    // "" for classic sources: then the template has <Provider Name="..."/> only
	EventSourceName string    // optional, "" = omit
	EventID         uint16
	Qualifiers      uint16 // classic sources: 16384; written as EventID@Qualifiers
	Level           uint8  // 4 = Information
	Task            uint16
	Opcode          uint8
	Version         uint8
	Keywords        uint64 // classic: 0x80000000000000
	Channel         string // "" = "Application"
	Computer        string
	UserSID         string   // "" = no UserID (Security element empty)
	ProcessID       uint32   // <Execution ProcessID=...>, usually 0 for classic sources
	ThreadID        uint32   // <Execution ThreadID=...>
	Data            []string // unnamed <Data> strings (classic). Empty strings are preserved.
	Binary          []byte   // optional <Binary>
}

const (
	fileHeaderSize   = 4096
	chunkSize        = 65536
	chunkHeaderSize  = 512
	recordHeaderSize = 24
	stringBuckets    = 64
	templateBuckets  = 32
	recordMagic      = 0x00002a2a

	// chunkEnd is where record data must stop. libevtx 20181227 silently
	// drops the last record of a chunk whose records end exactly at 65536
	// (free space offset 0x10000), so one 8-byte slot is always left free.
	chunkEnd = chunkSize - 8
)

// Errors returned by the writer.
var (
	ErrRecordTooLarge = errors.New("evtxtest: record does not fit in an empty 64 KiB chunk")
	ErrClosed         = errors.New("evtxtest: writer is closed")
	ErrTooManyChunks  = errors.New("evtxtest: more than 65535 chunks")
)

// BinXML tokens and value types used here.
const (
	tokEOF           = 0x00
	tokOpenStart     = 0x01
	tokOpenStartAttr = 0x41
	tokCloseStart    = 0x02
	tokCloseEmpty    = 0x03
	tokEnd           = 0x04
	tokValue         = 0x05
	tokAttr          = 0x06
	tokAttrMore      = 0x46
	tokTemplate      = 0x0c
	tokOptSubst      = 0x0e
	tokFragment      = 0x0f

	typeNull        = 0x00
	typeString      = 0x01
	typeUInt8       = 0x04
	typeUInt16      = 0x06
	typeUInt32      = 0x08
	typeUInt64      = 0x0a
	typeBinary      = 0x0e
	typeGUID        = 0x0f
	typeFileTime    = 0x11
	typeSID         = 0x13
	typeHexInt64    = 0x15
	typeBinXML      = 0x21
	typeStringArray = 0x81

	noDep = 0xffff
)

const eventNS = "http://schemas.microsoft.com/win/2004/08/events/event"

// The EventData template GUID Windows uses for classic-source events
// (EventData/Data string array + Binary).
var eventDataGUID = [16]byte{0x77, 0xd8, 0x29, 0x43, 0xd5, 0xd8, 0x2d, 0x51, 0xec, 0x99, 0x20, 0x1a, 0x0f, 0xd9, 0x2f, 0xc7}

type sysKey struct {
	provider, guid, source, channel, computer string
}

type tmplRef struct {
	off uint32
	id  uint32
}

// Writer streams records into an .evtx file. It is not safe for concurrent use.
type Writer struct {
	w      io.WriteSeeker
	base   int64
	err    error
	closed bool

	nextID  uint64
	lastID  uint64
	nchunks int
	written int64

	// current chunk
	buf      []byte // chunkSize bytes
	p        int    // write position while encoding
	over     bool   // the record being encoded overflowed the chunk
	pos      int    // free space offset (end of last complete record)
	nrec     int
	firstID  uint64
	chLastID uint64
	lastOff  int
	strTab   [stringBuckets]uint32
	tmplTab  [templateBuckets]uint32
	names    map[string]uint32
	sysTmpl  map[sysKey]tmplRef
	dataTmpl tmplRef // off == 0: not yet in this chunk

	// rollback log for the record being encoded
	addedNames []string
	addedSys   []sysKey
	saveStr    [stringBuckets]uint32
	saveTmpl   [templateBuckets]uint32
	saveData   tmplRef

	guids  map[sysKey][16]byte // GUIDs of System templates, stable across chunks
	sidStr string
	sidBin []byte
	sidErr error
}

// NewWriter starts an .evtx file at the current position of w. The file
// header is written as a placeholder and rewritten by Close.
func NewWriter(w io.WriteSeeker) (*Writer, error) {
	base, err := w.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	wr := &Writer{
		w:       w,
		base:    base,
		nextID:  1,
		buf:     make([]byte, chunkSize),
		names:   make(map[string]uint32, 64),
		sysTmpl: make(map[sysKey]tmplRef, 16),
		guids:   make(map[sysKey][16]byte, 16),
	}
	if _, err := w.Write(make([]byte, fileHeaderSize)); err != nil {
		return nil, err
	}
	wr.resetChunk()
	return wr, nil
}

// WriteFile writes recs to a new file at path (truncating an existing one).
func WriteFile(path string, recs []Record) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := NewWriter(f)
	if err != nil {
		f.Close()
		return err
	}
	for i := range recs {
		if err := w.Write(recs[i]); err != nil {
			f.Close()
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Chunks reports the number of chunks flushed so far (plus the current one
// once Close has run).
func (w *Writer) Chunks() int { return w.nchunks }

// NextRecordID is the id the next Record with RecordID 0 will get.
func (w *Writer) NextRecordID() uint64 { return w.nextID }

// Write appends one record. A record that does not fit in the current chunk
// starts a new one, and so does a RecordID that is not previous+1 (ids are
// contiguous within a chunk). A record that does not fit in an empty chunk
// returns ErrRecordTooLarge; it uses no record id and the writer stays usable.
func (w *Writer) Write(r Record) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if tooLarge(&r) {
		return ErrRecordTooLarge
	}
	id := r.RecordID
	if id == 0 {
		id = w.nextID
	}
	sid, err := w.sid(r.UserSID)
	if err != nil {
		return err
	}
	if w.nrec > 0 && id != w.chLastID+1 {
		// Record ids are contiguous within a chunk (libevtx flags a gap
		// inside a chunk as corruption); a jump starts a new chunk.
		if err := w.flushChunk(); err != nil {
			w.err = err
			return err
		}
	}
	if w.encode(&r, id, sid) {
		w.commit(id)
		return nil
	}
	w.rollback()
	if w.nrec == 0 {
		return ErrRecordTooLarge
	}
	if err := w.flushChunk(); err != nil {
		w.err = err
		return err
	}
	if w.encode(&r, id, sid) {
		w.commit(id)
		return nil
	}
	w.rollback()
	return ErrRecordTooLarge
}

// Close flushes the last chunk and rewrites the file header. It does not
// close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if w.nrec > 0 {
		if err := w.flushChunk(); err != nil {
			w.err = err
			return err
		}
	}
	var h [fileHeaderSize]byte
	copy(h[0:], "ElfFile\x00")
	le := binary.LittleEndian
	le.PutUint64(h[0x08:], 0) // first chunk number
	last := 0
	if w.nchunks > 0 {
		last = w.nchunks - 1
	}
	le.PutUint64(h[0x10:], uint64(last))
	next := w.lastID + 1
	if w.lastID == 0 {
		next = w.nextID
	}
	le.PutUint64(h[0x18:], next)
	le.PutUint32(h[0x20:], 128)  // header size
	le.PutUint16(h[0x24:], 1)    // minor version
	le.PutUint16(h[0x26:], 3)    // major version
	le.PutUint16(h[0x28:], 4096) // header block size
	le.PutUint16(h[0x2a:], uint16(w.nchunks))
	le.PutUint32(h[0x78:], 0) // flags: clean
	le.PutUint32(h[0x7c:], crc32.ChecksumIEEE(h[:120]))
	if _, err := w.w.Seek(w.base, io.SeekStart); err != nil {
		w.err = err
		return err
	}
	if _, err := w.w.Write(h[:]); err != nil {
		w.err = err
		return err
	}
	end := w.base + fileHeaderSize + int64(w.nchunks)*chunkSize
	if _, err := w.w.Seek(end, io.SeekStart); err != nil {
		w.err = err
		return err
	}
	return nil
}

func (w *Writer) commit(id uint64) {
	if w.nrec == 0 {
		w.firstID = id
	}
	w.nrec++
	w.chLastID = id
	w.lastOff = w.pos
	w.pos = w.p
	w.lastID = id
	w.nextID = id + 1
}

func (w *Writer) rollback() {
	for _, n := range w.addedNames {
		delete(w.names, n)
	}
	for _, k := range w.addedSys {
		delete(w.sysTmpl, k)
	}
	w.strTab = w.saveStr
	w.tmplTab = w.saveTmpl
	w.dataTmpl = w.saveData
	w.p = w.pos
	w.over = false
}

func (w *Writer) resetChunk() {
	clear(w.buf[:chunkHeaderSize])
	w.pos = chunkHeaderSize
	w.p = w.pos
	w.nrec = 0
	w.firstID, w.chLastID, w.lastOff = 0, 0, 0
	w.strTab = [stringBuckets]uint32{}
	w.tmplTab = [templateBuckets]uint32{}
	clear(w.names)
	clear(w.sysTmpl)
	w.dataTmpl = tmplRef{}
}

func (w *Writer) flushChunk() error {
	if w.nchunks >= 0xffff {
		return ErrTooManyChunks
	}
	b := w.buf
	clear(b[w.pos:])
	le := binary.LittleEndian
	copy(b[0:], "ElfChnk\x00")
	le.PutUint64(b[0x08:], w.firstID) // first event record number
	le.PutUint64(b[0x10:], w.chLastID)
	le.PutUint64(b[0x18:], w.firstID) // first event record identifier
	le.PutUint64(b[0x20:], w.chLastID)
	le.PutUint32(b[0x28:], 128) // header size
	le.PutUint32(b[0x2c:], uint32(w.lastOff))
	le.PutUint32(b[0x30:], uint32(w.pos))
	le.PutUint32(b[0x34:], crc32.ChecksumIEEE(b[chunkHeaderSize:w.pos]))
	le.PutUint32(b[0x78:], 1) // flags, as Windows writes
	for i, v := range w.strTab {
		le.PutUint32(b[0x80+4*i:], v)
	}
	for i, v := range w.tmplTab {
		le.PutUint32(b[0x180+4*i:], v)
	}
	crc := crc32.ChecksumIEEE(b[:120])
	crc = crc32.Update(crc, crc32.IEEETable, b[128:chunkHeaderSize])
	le.PutUint32(b[0x7c:], crc)
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	w.nchunks++
	w.resetChunk()
	return nil
}

// ---- low-level encoding into the chunk buffer --------------------------------

func (w *Writer) need(n int) bool {
	if w.over || w.p+n > chunkEnd {
		w.over = true
		return false
	}
	return true
}

func (w *Writer) u8(v byte) {
	if w.need(1) {
		w.buf[w.p] = v
		w.p++
	}
}

func (w *Writer) u16(v uint16) {
	if w.need(2) {
		binary.LittleEndian.PutUint16(w.buf[w.p:], v)
		w.p += 2
	}
}

func (w *Writer) u32(v uint32) {
	if w.need(4) {
		binary.LittleEndian.PutUint32(w.buf[w.p:], v)
		w.p += 4
	}
}

func (w *Writer) u64(v uint64) {
	if w.need(8) {
		binary.LittleEndian.PutUint64(w.buf[w.p:], v)
		w.p += 8
	}
}

func (w *Writer) raw(b []byte) {
	if w.need(len(b)) {
		copy(w.buf[w.p:], b)
		w.p += len(b)
	}
}

// reserve returns the position of n bytes to be patched later (or -1).
func (w *Writer) reserve(n int) int {
	if !w.need(n) {
		return -1
	}
	at := w.p
	w.p += n
	return at
}

func (w *Writer) patch16(at int, v uint16) {
	if at >= 0 && !w.over {
		binary.LittleEndian.PutUint16(w.buf[at:], v)
	}
}

func (w *Writer) patch32(at int, v uint32) {
	if at >= 0 && !w.over {
		binary.LittleEndian.PutUint32(w.buf[at:], v)
	}
}

// utf16 writes s as UTF-16LE (no terminator) and returns the number of
// code units written.
func (w *Writer) utf16(s string) int {
	n := 0
	// Fast path: ASCII.
	if w.over {
		return 0
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if w.p+2 > chunkEnd {
				w.over = true
				return n
			}
			w.buf[w.p] = c
			w.buf[w.p+1] = 0
			w.p += 2
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			w.u16(uint16(0xd800 + (r>>10)&0x3ff))
			w.u16(uint16(0xdc00 + r&0x3ff))
			n += 2
		} else {
			w.u16(uint16(r))
			n++
		}
		if w.over {
			return n
		}
	}
	return n
}

// nameHash is the chunk string hash: h = h*65599 + unit over UTF-16 units.
func nameHash(s string) uint16 {
	var h uint32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = h*65599 + uint32(0xd800+(r>>10)&0x3ff)
			h = h*65599 + uint32(0xdc00+r&0x3ff)
		} else {
			h = h*65599 + uint32(r)
		}
	}
	return uint16(h)
}

// name writes an element/attribute name reference: the chunk offset of the
// name, followed by the name itself when this is its first use in the chunk.
func (w *Writer) name(s string) {
	if off, ok := w.names[s]; ok {
		w.u32(off)
		return
	}
	off := uint32(w.p + 4)
	w.u32(off)
	h := nameHash(s)
	b := h % stringBuckets
	w.u32(w.strTab[b]) // next string in the same bucket
	w.u16(h)
	lenAt := w.reserve(2)
	n := w.utf16(s)
	w.u16(0)
	w.patch16(lenAt, uint16(n))
	if w.over {
		return
	}
	w.strTab[b] = off
	w.names[s] = off
	w.addedNames = append(w.addedNames, s)
}

// openElem writes an open-start-element token and returns the position of
// its data size field.
func (w *Writer) openElem(tok byte, dep uint16, name string) int {
	w.u8(tok)
	w.u16(dep)
	at := w.reserve(4)
	w.name(name)
	return at
}

// endElem patches the element data size (bytes after the size field up to
// and including the end token, which the caller has just written).
func (w *Writer) endElem(at int) {
	w.patch32(at, uint32(w.p-(at+4)))
}

func (w *Writer) attr(tok byte, name string) {
	w.u8(tok)
	w.name(name)
}

func (w *Writer) text(s string) {
	w.u8(tokValue)
	w.u8(typeString)
	lenAt := w.reserve(2)
	n := w.utf16(s)
	w.patch16(lenAt, uint16(n))
}

func (w *Writer) subst(id uint16, typ byte) {
	w.u8(tokOptSubst)
	w.u16(id)
	w.u8(typ)
}

func (w *Writer) fragHeader() {
	w.u8(tokFragment)
	w.u8(1)
	w.u8(1)
	w.u8(0)
}

// templateInstance writes the instance header and, if def is true, starts an
// inline definition. It returns the position of the definition data size.
func (w *Writer) templateInstance(ref *tmplRef, guid *[16]byte, define bool) int {
	w.u8(tokTemplate)
	w.u8(1)
	if !define {
		w.u32(ref.id)
		w.u32(ref.off)
		return -1
	}
	id := binary.LittleEndian.Uint32(guid[:4])
	off := uint32(w.p + 8)
	w.u32(id)
	w.u32(off)
	b := id % templateBuckets
	w.u32(w.tmplTab[b]) // next template in the same bucket
	w.raw(guid[:])
	at := w.reserve(4)
	ref.off, ref.id = off, id
	w.tmplTab[b] = off
	return at
}

// ---- record encoding ------------------------------------------------------------

// encode writes one record at w.pos; it returns false on chunk overflow.
func (w *Writer) encode(r *Record, id uint64, sid []byte) bool {
	w.addedNames = w.addedNames[:0]
	w.addedSys = w.addedSys[:0]
	w.saveStr = w.strTab
	w.saveTmpl = w.tmplTab
	w.saveData = w.dataTmpl
	w.over = false
	w.p = w.pos

	start := w.p
	ft := filetime(r.Time)
	w.u32(recordMagic)
	sizeAt := w.reserve(4)
	w.u64(id)
	w.u64(ft)

	w.fragHeader()
	w.systemTemplate(r)
	if w.over {
		return false
	}

	// 20 substitution values.
	const nvals = 20
	w.u32(nvals)
	desc := w.reserve(4 * nvals)
	if w.over {
		return false
	}
	type dv struct {
		size uint16
		typ  byte
	}
	var ds [nvals]dv
	ds[0] = dv{1, typeUInt8}
	w.u8(r.Level)
	ds[1] = dv{1, typeUInt8}
	w.u8(r.Opcode)
	ds[2] = dv{2, typeUInt16}
	w.u16(r.Task)
	ds[3] = dv{2, typeUInt16}
	w.u16(r.EventID)
	ds[4] = dv{2, typeUInt16}
	w.u16(r.Qualifiers)
	ds[5] = dv{8, typeHexInt64}
	w.u64(r.Keywords)
	ds[6] = dv{8, typeFileTime}
	w.u64(ft)
	// 7: ActivityID null
	ds[8] = dv{4, typeUInt32}
	w.u32(r.ProcessID)
	ds[9] = dv{4, typeUInt32}
	w.u32(r.ThreadID)
	ds[10] = dv{8, typeUInt64}
	w.u64(id)
	ds[11] = dv{1, typeUInt8}
	w.u8(r.Version)
	if len(sid) > 0 {
		ds[12] = dv{uint16(len(sid)), typeSID}
		w.raw(sid)
	}
	// 13..18 null
	edStart := w.p
	w.eventData(r)
	if w.over {
		return false
	}
	if w.p-edStart > 0xffff {
		w.over = true
		return false
	}
	ds[19] = dv{uint16(w.p - edStart), typeBinXML}
	for i, d := range ds {
		binary.LittleEndian.PutUint16(w.buf[desc+4*i:], d.size)
		w.buf[desc+4*i+2] = d.typ
		w.buf[desc+4*i+3] = 0
	}
	w.u8(tokEOF)

	// pad to 8 bytes including the trailing size copy
	size := w.p - start + 4
	if pad := (8 - size%8) % 8; pad > 0 {
		if w.need(pad) {
			clear(w.buf[w.p : w.p+pad])
			w.p += pad
		}
		size += pad
	}
	w.u32(uint32(size))
	w.patch32(sizeAt, uint32(size))
	return !w.over
}

func (w *Writer) systemTemplate(r *Record) {
	ch := r.Channel
	if ch == "" {
		ch = "Application"
	}
	guid := r.ProviderGUID
	if guid != "" && !strings.HasPrefix(guid, "{") {
		guid = "{" + strings.ToUpper(guid) + "}"
	}
	k := sysKey{r.Provider, guid, r.EventSourceName, ch, r.Computer}
	if ref, ok := w.sysTmpl[k]; ok {
		w.templateInstance(&ref, nil, false)
		return
	}
	g, ok := w.guids[k]
	if !ok {
		g = md5.Sum([]byte("idletrace/evtxtest\x00" + k.provider + "\x00" + k.guid + "\x00" + k.source + "\x00" + k.channel + "\x00" + k.computer))
		w.guids[k] = g
	}
	var ref tmplRef
	sizeAt := w.templateInstance(&ref, &g, true)
	dataStart := w.p

	w.fragHeader()
	ev := w.openElem(tokOpenStartAttr, 0x13, "Event")
	al := w.reserve(4)
	alStart := w.p
	w.attr(tokAttr, "xmlns")
	w.text(eventNS)
	w.patch32(al, uint32(w.p-alStart))
	w.u8(tokCloseStart)

	sys := w.openElem(tokOpenStart, noDep, "System")
	w.u8(tokCloseStart)

	// <Provider Name=".." [Guid=".."] [EventSourceName=".."]/>
	e := w.openElem(tokOpenStartAttr, noDep, "Provider")
	al = w.reserve(4)
	alStart = w.p
	more := func(last bool) byte {
		if last {
			return tokAttr
		}
		return tokAttrMore
	}
	w.attr(more(guid == "" && r.EventSourceName == ""), "Name")
	w.text(r.Provider)
	if guid != "" {
		w.attr(more(r.EventSourceName == ""), "Guid")
		w.text(guid)
	}
	if r.EventSourceName != "" {
		w.attr(tokAttr, "EventSourceName")
		w.text(r.EventSourceName)
	}
	w.patch32(al, uint32(w.p-alStart))
	w.u8(tokCloseEmpty)
	w.endElem(e)

	// <EventID Qualifiers="%4">%3</EventID>
	e = w.openElem(tokOpenStartAttr, 3, "EventID")
	al = w.reserve(4)
	alStart = w.p
	w.attr(tokAttr, "Qualifiers")
	w.subst(4, typeUInt16)
	w.patch32(al, uint32(w.p-alStart))
	w.u8(tokCloseStart)
	w.subst(3, typeUInt16)
	w.u8(tokEnd)
	w.endElem(e)

	simple := func(dep uint16, name string, id uint16, typ byte) {
		e := w.openElem(tokOpenStart, dep, name)
		w.u8(tokCloseStart)
		w.subst(id, typ)
		w.u8(tokEnd)
		w.endElem(e)
	}
	simple(11, "Version", 11, typeUInt8)
	simple(0, "Level", 0, typeUInt8)
	simple(2, "Task", 2, typeUInt16)
	simple(1, "Opcode", 1, typeUInt8)
	simple(5, "Keywords", 5, typeHexInt64)

	e = w.openElem(tokOpenStartAttr, noDep, "TimeCreated")
	al = w.reserve(4)
	alStart = w.p
	w.attr(tokAttr, "SystemTime")
	w.subst(6, typeFileTime)
	w.patch32(al, uint32(w.p-alStart))
	w.u8(tokCloseEmpty)
	w.endElem(e)

	simple(10, "EventRecordID", 10, typeUInt64)

	e = w.openElem(tokOpenStartAttr, noDep, "Correlation")
	al = w.reserve(4)
	alStart = w.p
	w.attr(tokAttrMore, "ActivityID")
	w.subst(7, typeGUID)
	w.attr(tokAttr, "RelatedActivityID")
	w.subst(18, typeGUID)
	w.patch32(al, uint32(w.p-alStart))
	w.u8(tokCloseEmpty)
	w.endElem(e)

	e = w.openElem(tokOpenStartAttr, noDep, "Execution")
	al = w.reserve(4)
	alStart = w.p
	w.attr(tokAttrMore, "ProcessID")
	w.subst(8, typeUInt32)
	w.attr(tokAttr, "ThreadID")
	w.subst(9, typeUInt32)
	w.patch32(al, uint32(w.p-alStart))
	w.u8(tokCloseEmpty)
	w.endElem(e)

	lit := func(name, val string) {
		e := w.openElem(tokOpenStart, noDep, name)
		w.u8(tokCloseStart)
		w.text(val)
		w.u8(tokEnd)
		w.endElem(e)
	}
	lit("Channel", ch)
	lit("Computer", r.Computer)

	e = w.openElem(tokOpenStartAttr, noDep, "Security")
	al = w.reserve(4)
	alStart = w.p
	w.attr(tokAttr, "UserID")
	w.subst(12, typeSID)
	w.patch32(al, uint32(w.p-alStart))
	w.u8(tokCloseEmpty)
	w.endElem(e)

	w.u8(tokEnd) // </System>
	w.endElem(sys)
	w.subst(19, typeBinXML)
	w.u8(tokEnd) // </Event>
	w.endElem(ev)
	w.u8(tokEOF)
	w.patch32(sizeAt, uint32(w.p-dataStart))
	if !w.over {
		w.sysTmpl[k] = ref
		w.addedSys = append(w.addedSys, k)
	}
}

// eventData writes the nested BinXML fragment for <EventData>.
func (w *Writer) eventData(r *Record) {
	w.fragHeader()
	if w.dataTmpl.off != 0 {
		w.templateInstance(&w.dataTmpl, nil, false)
	} else {
		var ref tmplRef
		g := eventDataGUID
		sizeAt := w.templateInstance(&ref, &g, true)
		dataStart := w.p
		w.fragHeader()
		ed := w.openElem(tokOpenStart, noDep, "EventData")
		w.u8(tokCloseStart)
		e := w.openElem(tokOpenStart, 0, "Data")
		w.u8(tokCloseStart)
		w.subst(0, typeStringArray)
		w.u8(tokEnd)
		w.endElem(e)
		e = w.openElem(tokOpenStart, 2, "Binary")
		w.u8(tokCloseStart)
		w.subst(2, typeBinary)
		w.u8(tokEnd)
		w.endElem(e)
		w.u8(tokEnd)
		w.endElem(ed)
		w.u8(tokEOF)
		w.patch32(sizeAt, uint32(w.p-dataStart))
		if w.over {
			return
		}
		w.dataTmpl = ref
	}
	w.u32(3)
	desc := w.reserve(12)
	strStart := w.p
	for _, s := range r.Data {
		w.utf16(s)
		w.u16(0)
	}
	if w.over {
		return
	}
	strSize := w.p - strStart
	w.u32(uint32(len(r.Binary)))
	w.raw(r.Binary)
	if w.over || strSize > 0xffff || len(r.Binary) > 0xffff {
		w.over = true
		return
	}
	le := binary.LittleEndian
	le.PutUint16(w.buf[desc:], uint16(strSize))
	w.buf[desc+2], w.buf[desc+3] = typeStringArray, 0
	if len(r.Data) == 0 {
		// No strings at all: a null value, so <Data> is left out (an
		// empty array would read back as one empty string).
		w.buf[desc+2] = typeNull
	}
	le.PutUint16(w.buf[desc+4:], 4)
	w.buf[desc+6], w.buf[desc+7] = typeUInt32, 0
	le.PutUint16(w.buf[desc+8:], uint16(len(r.Binary)))
	if len(r.Binary) > 0 {
		w.buf[desc+10] = typeBinary
	} else {
		w.buf[desc+10] = typeNull
	}
	w.buf[desc+11] = 0
	w.u8(tokEOF)
}

// ---- helpers --------------------------------------------------------------------

const filetimeEpochDelta = 116444736000000000 // 100 ns intervals 1601-01-01 .. 1970-01-01

func filetime(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(t.Unix()*10000000 + int64(t.Nanosecond()/100) + filetimeEpochDelta)
}

// FileTime converts a FILETIME (100 ns since 1601) to a UTC time.
func FileTime(ft uint64) time.Time {
	v := int64(ft) - filetimeEpochDelta
	return time.Unix(v/10000000, (v%10000000)*100).UTC()
}

func (w *Writer) sid(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if s == w.sidStr {
		return w.sidBin, w.sidErr
	}
	b, err := ParseSID(s)
	w.sidStr, w.sidBin, w.sidErr = s, b, err
	return b, err
}

// ParseSID encodes a textual SID ("S-1-5-21-...") in its binary form.
func ParseSID(s string) ([]byte, error) {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || !strings.EqualFold(parts[0], "S") {
		return nil, fmt.Errorf("evtxtest: bad SID %q", s)
	}
	rev, err := strconv.ParseUint(parts[1], 10, 8)
	if err != nil {
		return nil, fmt.Errorf("evtxtest: bad SID %q", s)
	}
	auth, err := strconv.ParseUint(parts[2], 0, 48)
	if err != nil {
		return nil, fmt.Errorf("evtxtest: bad SID %q", s)
	}
	subs := parts[3:]
	if len(subs) > 15 {
		return nil, fmt.Errorf("evtxtest: bad SID %q", s)
	}
	b := make([]byte, 8, 8+4*len(subs))
	b[0] = byte(rev)
	b[1] = byte(len(subs))
	for i := 0; i < 6; i++ {
		b[2+i] = byte(auth >> (8 * (5 - i)))
	}
	for _, p := range subs {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("evtxtest: bad SID %q", s)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b, nil
}

// Classic returns an Information record from a classic event source (the
// shape Outlook's 25/26 have): Qualifiers 16384, Level 4, keywords
// 0x80000000000000, channel Application.
func Classic(provider, computer string, t time.Time, eventID uint16, data ...string) Record {
	return Record{
		Time:       t,
		Provider:   provider,
		EventID:    eventID,
		Qualifiers: 16384,
		Level:      4,
		Keywords:   0x80000000000000,
		Computer:   computer,
		Data:       data,
	}
}

// tooLarge reports records whose payload alone cannot fit in a chunk, so
// they are rejected without closing the current chunk early.
func tooLarge(r *Record) bool {
	const room = chunkEnd - chunkHeaderSize
	n := len(r.Binary)
	for _, s := range r.Data {
		n += 2 * len(s) // upper bound of the UTF-16 size
	}
	if n <= room {
		return false
	}
	n = len(r.Binary)
	for _, s := range r.Data {
		n += 2 * (utf8.RuneCountInString(s) + 1) // lower bound
	}
	return n > room || len(r.Binary) > 0xffff
}
