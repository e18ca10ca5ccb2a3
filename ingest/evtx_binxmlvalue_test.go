package ingest

import (
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"testing"
	"time"
	"unicode/utf16"
)

// A hand-built .evtx reproducing what CAPI2/Operational logs write and
// golang-evtx cannot read: <UserData> is a substitution value of type
// BinXML (0x21) holding a bare element, whose element starts have no
// dependency identifier (libevtx's format documentation, "Element start"),
// with an attribute value in several parts joined by entity references
// (&quot;) and an entity reference in element content (&amp;).

// bxb builds BinXML into a chunk buffer; offsets are chunk offsets.
type bxb struct {
	b     []byte // the whole chunk
	p     int
	names map[string]int
}

func (w *bxb) u8(v byte)    { w.b[w.p] = v; w.p++ }
func (w *bxb) u16(v uint16) { binary.LittleEndian.PutUint16(w.b[w.p:], v); w.p += 2 }
func (w *bxb) u32(v uint32) { binary.LittleEndian.PutUint32(w.b[w.p:], v); w.p += 4 }
func (w *bxb) u64(v uint64) { binary.LittleEndian.PutUint64(w.b[w.p:], v); w.p += 8 }
func (w *bxb) utf16(s string) {
	for _, u := range utf16.Encode([]rune(s)) {
		w.u16(u)
	}
}

// name writes a name reference: inline the first time, by offset after.
func (w *bxb) name(s string) {
	if off, ok := w.names[s]; ok {
		w.u32(uint32(off))
		return
	}
	w.u32(uint32(w.p + 4))
	w.names[s] = w.p
	w.u32(0) // next name in the hash bucket
	w.u16(0) // hash (not checked by readers)
	w.u16(uint16(len([]rune(s))))
	w.utf16(s)
	w.u16(0)
}

// text writes a value text token; more sets the "more data" flag.
func (w *bxb) text(s string, more bool) {
	tok := byte(tkValue)
	if more {
		tok |= tkMoreFlag
	}
	w.u8(tok)
	w.u8(vtString)
	w.u16(uint16(len([]rune(s))))
	w.utf16(s)
}

func (w *bxb) entity(name string, more bool) {
	tok := byte(tkEntityRef)
	if more {
		tok |= tkMoreFlag
	}
	w.u8(tok)
	w.name(name)
}

func (w *bxb) subst(id uint16, typ byte) {
	w.u8(tkOptSubst)
	w.u16(id)
	w.u8(typ)
}

// bxAttrW is one attribute: its value is written by val.
type bxAttrW struct {
	name string
	val  func()
}

// elem writes an element; dep says whether it has a dependency identifier
// (template definitions) or not (bare elements in BinXML values). content
// nil makes an empty element.
func (w *bxb) elem(name string, dep bool, attrs []bxAttrW, content func()) {
	tok := byte(tkOpenStart)
	if len(attrs) > 0 {
		tok |= tkMoreFlag
	}
	w.u8(tok)
	if dep {
		w.u16(0xffff)
	}
	sizeAt := w.p
	w.u32(0)
	w.name(name)
	if len(attrs) > 0 {
		listAt := w.p
		w.u32(0)
		for i, a := range attrs {
			at := byte(tkAttr)
			if i < len(attrs)-1 {
				at |= tkMoreFlag
			}
			w.u8(at)
			w.name(a.name)
			a.val()
		}
		binary.LittleEndian.PutUint32(w.b[listAt:], uint32(w.p-listAt-4))
	}
	if content == nil {
		w.u8(tkCloseEmpty)
	} else {
		w.u8(tkCloseStart)
		content()
		w.u8(tkEnd)
	}
	binary.LittleEndian.PutUint32(w.b[sizeAt:], uint32(w.p-sizeAt-4))
}

// capiUserData writes the CAPI2-like UserData value: a bare element;
// badSize spoils the root element's data size.
func capiUserData(w *bxb, seq string, badSize bool) {
	root := w.p
	attr := func(name, v string) bxAttrW {
		return bxAttrW{name, func() { w.text(v, false) }}
	}
	w.elem("WinVerifyTrustStart", false, nil, func() {
		w.elem("EventAuxInfo", false, []bxAttrW{attr("ProcessName", "Setup.exe")}, nil)
		w.elem("CorrelationAuxInfo", false, []bxAttrW{attr("TaskId", "{1CB1FE4B-D685-48FC-A3FA-42893E4C1717}"), attr("SeqNumber", seq)}, nil)
		w.elem("Response", false, []bxAttrW{{"eTag", func() {
			w.entity("quot", true)
			w.text("ea9ee7b1bc43d21:0", true)
			w.entity("quot", true)
			w.text("", false)
		}}}, nil)
		w.elem("Url", false, nil, func() {
			w.text("http://crl.example/a?x=1", true)
			w.entity("amp", true)
			w.text("y=2", false)
		})
	})
	if badSize {
		binary.LittleEndian.PutUint32(w.b[root+1:], binary.LittleEndian.Uint32(w.b[root+1:])+2)
	}
	w.u8(tkEOF)
}

// capiMessage is what the UserData above gives: golang-evtx's map rules
// (keys sorted, names and values of attributes) applied to the element.
func capiMessage(seq string) string {
	return seq + "\n{1CB1FE4B-D685-48FC-A3FA-42893E4C1717}\nSetup.exe\n\"ea9ee7b1bc43d21:0\"\nhttp://crl.example/a?x=1&y=2"
}

var capiT0 = time.Date(2017, 5, 19, 2, 2, 36, 187500000, time.UTC)

// capiEventIDs are the fixture's event ids, one per record.
var capiEventIDs = []uint16{80, 10, 11}

func filetime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100 + 116444736000000000)
}

// capiFixture builds a one-chunk .evtx with len(capiEventIDs) records
// sharing one template; badSize spoils the last record's UserData.
func capiFixture(badSize bool) []byte {
	le := binary.LittleEndian
	n := len(capiEventIDs)
	file, w := newFixture(n)
	chunk := w.b
	tmpl, last := 0, 0
	for i, id := range capiEventIDs {
		rid := uint64(i + 1)
		last = w.p
		sizeAt := w.recordStart(rid, capiT0.Add(time.Duration(i)*time.Second))
		if i == 0 {
			tmpl = w.p + 4
			w.u32(uint32(tmpl))
			w.u32(0)  // next template
			w.p += 16 // template GUID
			defSize := w.p
			w.u32(0)
			w.u8(tkFragment)
			w.u8(1)
			w.u8(1)
			w.u8(0)
			text := func(s string) func() { return func() { w.text(s, false) } }
			sub := func(id uint16, typ byte) func() { return func() { w.subst(id, typ) } }
			w.elem("Event", true, nil, func() {
				w.elem("System", true, nil, func() {
					w.elem("Provider", true, []bxAttrW{{"Name", text("Microsoft-Windows-CAPI2")}}, nil)
					w.elem("EventID", true, nil, sub(0, vtUInt16))
					w.elem("Level", true, nil, sub(1, vtUInt8))
					w.elem("TimeCreated", true, []bxAttrW{{"SystemTime", sub(2, vtFileTime)}}, nil)
					w.elem("EventRecordID", true, nil, sub(3, vtUInt64))
					w.elem("Channel", true, nil, text("Microsoft-Windows-CAPI2/Operational"))
					w.elem("Computer", true, nil, sub(4, vtString))
				})
				w.elem("UserData", true, nil, sub(5, vtBinXML))
			})
			w.u8(tkEOF)
			le.PutUint32(chunk[defSize:], uint32(w.p-defSize-4))
		} else {
			w.u32(uint32(tmpl))
		}
		computer := "WIN-M5327EF98B9"
		w.u32(6)
		for _, d := range [][2]int{{2, vtUInt16}, {1, vtUInt8}, {8, vtFileTime}, {8, vtUInt64}, {2 * len(computer), vtString}, {0, vtBinXML}} {
			w.u16(uint16(d[0]))
			w.u8(byte(d[1]))
			w.u8(0)
		}
		bxSizeAt := w.p - 4
		w.u16(id)
		w.u8(4)
		w.u64(filetime(capiT0.Add(time.Duration(i) * time.Second)))
		w.u64(rid)
		w.utf16(computer)
		v := w.p
		capiUserData(w, strconv.Itoa(i+1), badSize && i == n-1)
		le.PutUint16(chunk[bxSizeAt:], uint16(w.p-v))
		w.recordEnd(sizeAt)
	}
	finishFixture(w, n, last)
	return file
}

// newFixture makes a one-chunk file for n records; the chunk is w.b.
func newFixture(n int) ([]byte, *bxb) {
	file := make([]byte, evtxHeaderSize+evtxChunkSize)
	le := binary.LittleEndian
	copy(file, evtxFileMagic)
	le.PutUint64(file[24:], uint64(n+1)) // next record id
	le.PutUint32(file[32:], 128)         // header size
	le.PutUint16(file[36:], 1)           // minor version
	le.PutUint16(file[38:], 3)           // major version
	le.PutUint16(file[40:], evtxHeaderSize)
	le.PutUint16(file[42:], 1) // chunks
	le.PutUint32(file[124:], crc32.ChecksumIEEE(file[:120]))
	chunk := file[evtxHeaderSize:]
	copy(chunk, evtxChunkMagic)
	return file, &bxb{b: chunk, p: evtxChunkHdrSize, names: map[string]int{}}
}

// recordStart writes a record header, a fragment header and a template
// instance token; it returns the offset of the record's size field.
func (w *bxb) recordStart(id uint64, t time.Time) int {
	w.u32(0x2a2a)
	sizeAt := w.p
	w.u32(0)
	w.u64(id)
	w.u64(filetime(t))
	w.u8(tkFragment)
	w.u8(1)
	w.u8(1)
	w.u8(0)
	w.u8(tkTemplate)
	w.u8(1)
	w.u32(0x2174_7175) // template id
	return sizeAt
}

// recordEnd closes the record whose size field is at sizeAt.
func (w *bxb) recordEnd(sizeAt int) {
	w.u8(tkEOF)
	w.u32(0)
	binary.LittleEndian.PutUint32(w.b[sizeAt:], uint32(w.p-sizeAt+4))
	binary.LittleEndian.PutUint32(w.b[w.p-4:], uint32(w.p-sizeAt+4))
}

// finishFixture writes the chunk header: n records, the last at last.
func finishFixture(w *bxb, n, last int) {
	le := binary.LittleEndian
	chunk := w.b
	le.PutUint64(chunk[8:], 1)
	le.PutUint64(chunk[16:], uint64(n))
	le.PutUint64(chunk[24:], 1)
	le.PutUint64(chunk[32:], uint64(n))
	le.PutUint32(chunk[40:], 128)
	le.PutUint32(chunk[44:], uint32(last))
	le.PutUint32(chunk[48:], uint32(w.p))
	le.PutUint32(chunk[52:], crc32.ChecksumIEEE(chunk[evtxChunkHdrSize:w.p]))
	h := crc32.NewIEEE()
	h.Write(chunk[:120])
	h.Write(chunk[128:evtxChunkHdrSize])
	le.PutUint32(chunk[124:], h.Sum32())
}

// TestEVTXBareElementBinXMLValue reads records whose UserData is a bare
// BinXML element: every field, in both modes.
func TestEVTXBareElementBinXMLValue(t *testing.T) {
	data := capiFixture(false)
	got, res := readEvents(t, fastRead, data, Options{AllRecords: true}, anyEvent)
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %+v", res.Warnings)
	}
	if res.Records != len(capiEventIDs) || len(got) != len(capiEventIDs) {
		t.Fatalf("records %d, events %d, want %d", res.Records, len(got), len(capiEventIDs))
	}
	for i, e := range got {
		want := Event{
			Computer: "WIN-M5327EF98B9", Channel: "Microsoft-Windows-CAPI2/Operational", Provider: "Microsoft-Windows-CAPI2",
			EventID: int(capiEventIDs[i]), Qualifiers: -1, Level: 4, RecordID: int64(i + 1),
			Time: capiT0.Add(time.Duration(i) * time.Second), Precision: 100 * time.Nanosecond,
			Message: capiMessage(strconv.Itoa(i + 1)),
		}
		if !sameEvent(e, want) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i+1, e, want)
		}
	}
	// Not AllRecords: counted, not emitted (not Outlook).
	got, res = readEvents(t, fastRead, data, Options{}, anyEvent)
	if res.Records != len(capiEventIDs) || len(got) != 0 {
		t.Errorf("Outlook filter: records %d, events %d", res.Records, len(got))
	}
	// golang-evtx reads a dependency identifier that is not there.
	ref, _ := readEvents(t, refRead, data, Options{AllRecords: true}, anyEvent)
	t.Logf("golang-evtx reads %d of the %d records", len(ref), len(capiEventIDs))
}

// TestEVTXBareElementBadSize: a bare element whose data size disagrees
// with its content is not guessed at.
func TestEVTXBareElementBadSize(t *testing.T) {
	got, res := readEvents(t, fastRead, capiFixture(true), Options{AllRecords: true}, anyEvent)
	if len(got) != len(capiEventIDs)-1 || res.Records != len(got) || len(res.Warnings) != 1 {
		t.Fatalf("events %d, records %d, warnings %+v; want %d events and one warning", len(got), res.Records, res.Warnings, len(capiEventIDs)-1)
	}
}

// TestEVTXBinXMLValueBomb: a template that uses one BinXML value many
// times, nested, would take 200^8 steps to render; recordMap gives up
// within its budget. (The record also holds a bare element, which makes
// golang-evtx fail before it renders anything; TestEVTXGolangMapBomb has
// one golang-evtx would render.)
func TestEVTXBinXMLValueBomb(t *testing.T) {
	file, w := newFixture(1)
	sizeAt := w.recordStart(1, capiT0)
	def := w.p + 4
	w.u32(uint32(def))
	w.u32(0)
	w.p += 16
	defSize := w.p
	w.u32(0)
	w.u8(tkFragment)
	w.u8(1)
	w.u8(1)
	w.u8(0)
	w.elem("R", true, nil, func() {
		w.elem("U", true, nil, func() { w.subst(1, vtBinXML) })
		for range 200 {
			w.elem("K", true, nil, func() { w.subst(0, vtBinXML) })
		}
	})
	w.u8(tkEOF)
	binary.LittleEndian.PutUint32(w.b[defSize:], uint32(w.p-defSize-4))
	// Value 0: instances of the same template, nested 8 deep.
	var inner []byte
	innerType := byte(vtNull)
	le := binary.LittleEndian
	for range 8 {
		b := []byte{tkFragment, 1, 1, 0, tkTemplate, 1, 0, 0, 0, 0}
		b = le.AppendUint32(b, uint32(def))
		b = le.AppendUint32(b, 2)
		b = le.AppendUint16(b, uint16(len(inner)))
		b = append(b, innerType, 0, 0, 0, vtNull, 0) // value 1: null
		inner, innerType = append(b, inner...), vtBinXML
	}
	w.u32(2)
	w.u16(uint16(len(inner)))
	w.u8(vtBinXML)
	w.u8(0)
	descAt := w.p
	w.u32(0)
	copy(w.b[w.p:], inner)
	w.p += len(inner)
	v := w.p
	capiUserData(w, "1", false)
	le.PutUint16(w.b[descAt:], uint16(w.p-v))
	w.b[descAt+2] = vtBinXML
	w.recordEnd(sizeAt)
	finishFixture(w, 1, evtxChunkHdrSize)

	done := make(chan int, 1)
	go func() {
		got, _ := readEvents(t, fastRead, file, Options{AllRecords: true}, anyEvent)
		done <- len(got)
	}()
	select {
	case n := <-done:
		if n != 0 {
			t.Errorf("%d events from the bomb", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("reading the bomb takes too long")
	}
}
