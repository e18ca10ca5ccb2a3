package evtxtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"testing"
	"time"
)

var le = binary.LittleEndian

type rawRecord struct {
	chunk, off int
	id         uint64
	size       int
	inlineSys  bool // the System template is defined inline in this record
}

// checkLayout verifies the binary layout of an .evtx file byte by byte:
// header fields and CRCs, chunk headers, record framing, zeroed slack.
func checkLayout(t *testing.T, d []byte, wantRecs int) []rawRecord {
	t.Helper()
	if len(d) < fileHeaderSize || (len(d)-fileHeaderSize)%chunkSize != 0 {
		t.Fatalf("file size %d is not 4096 + n*65536", len(d))
	}
	nch := (len(d) - fileHeaderSize) / chunkSize
	h := d[:fileHeaderSize]
	if string(h[:8]) != "ElfFile\x00" {
		t.Fatalf("file magic %q", h[:8])
	}
	if v := le.Uint64(h[0x08:]); v != 0 {
		t.Errorf("first chunk number %d", v)
	}
	if v := le.Uint64(h[0x10:]); nch > 0 && v != uint64(nch-1) {
		t.Errorf("last chunk number %d, want %d", v, nch-1)
	}
	if le.Uint32(h[0x20:]) != 128 || le.Uint16(h[0x24:]) != 1 || le.Uint16(h[0x26:]) != 3 || le.Uint16(h[0x28:]) != 4096 {
		t.Errorf("header size/version/block size: % x", h[0x20:0x2a])
	}
	if v := le.Uint16(h[0x2a:]); int(v) != nch {
		t.Errorf("chunk count %d, file has %d", v, nch)
	}
	if v := le.Uint32(h[0x78:]); v != 0 {
		t.Errorf("file flags %#x", v)
	}
	if got, want := le.Uint32(h[0x7c:]), crc32.ChecksumIEEE(h[:120]); got != want {
		t.Errorf("file header CRC %#x, want %#x", got, want)
	}
	if !allZero(h[128:]) || !allZero(h[0x2c:0x78]) {
		t.Errorf("file header padding not zero")
	}

	var recs []rawRecord
	var lastID uint64
	for ci := 0; ci < nch; ci++ {
		c := d[fileHeaderSize+ci*chunkSize : fileHeaderSize+(ci+1)*chunkSize]
		if string(c[:8]) != "ElfChnk\x00" {
			t.Fatalf("chunk %d magic %q", ci, c[:8])
		}
		first, last := le.Uint64(c[0x08:]), le.Uint64(c[0x10:])
		if le.Uint64(c[0x18:]) != first || le.Uint64(c[0x20:]) != last {
			t.Errorf("chunk %d: record numbers and ids differ", ci)
		}
		if le.Uint32(c[0x28:]) != 128 {
			t.Errorf("chunk %d header size", ci)
		}
		lastOff, free := int(le.Uint32(c[0x2c:])), int(le.Uint32(c[0x30:]))
		if free > chunkEnd || free < chunkHeaderSize {
			t.Fatalf("chunk %d free space offset %#x", ci, free)
		}
		if got, want := le.Uint32(c[0x34:]), crc32.ChecksumIEEE(c[chunkHeaderSize:free]); got != want {
			t.Errorf("chunk %d records CRC %#x, want %#x", ci, got, want)
		}
		if le.Uint32(c[0x78:]) != 1 {
			t.Errorf("chunk %d flags %#x", ci, le.Uint32(c[0x78:]))
		}
		crc := crc32.Update(crc32.ChecksumIEEE(c[:120]), crc32.IEEETable, c[128:512])
		if got := le.Uint32(c[0x7c:]); got != crc {
			t.Errorf("chunk %d header CRC %#x, want %#x", ci, got, crc)
		}
		if !allZero(c[free:]) {
			t.Errorf("chunk %d: bytes after free space offset are not zero", ci)
		}
		// string and template tables point inside the record area
		for i := 0; i < stringBuckets+templateBuckets; i++ {
			if v := int(le.Uint32(c[0x80+4*i:])); v != 0 && (v < chunkHeaderSize || v >= free) {
				t.Errorf("chunk %d: table entry %d = %#x outside records", ci, i, v)
			}
		}
		p, n := chunkHeaderSize, 0
		var prevOff int
		for p < free {
			if le.Uint32(c[p:]) != recordMagic {
				t.Fatalf("chunk %d offset %#x: record magic % x", ci, p, c[p:p+4])
			}
			size := int(le.Uint32(c[p+4:]))
			if size%8 != 0 || size < 32 || p+size > free {
				t.Fatalf("chunk %d offset %#x: record size %d", ci, p, size)
			}
			if int(le.Uint32(c[p+size-4:])) != size {
				t.Errorf("chunk %d offset %#x: trailing size copy", ci, p)
			}
			id := le.Uint64(c[p+8:])
			if n == 0 && id != first {
				t.Errorf("chunk %d: first record id %d, header says %d", ci, id, first)
			}
			if n > 0 && id != lastID+1 {
				t.Errorf("chunk %d: record id %d after %d (ids must be contiguous in a chunk)", ci, id, lastID)
			}
			if len(recs) > 0 && id <= lastID {
				t.Errorf("chunk %d: record id %d not increasing", ci, id)
			}
			bx := c[p+24:]
			if !bytes.Equal(bx[:6], []byte{0x0f, 1, 1, 0, 0x0c, 1}) {
				t.Errorf("chunk %d record %d: BinXML starts % x", ci, id, bx[:6])
			}
			defOff := int(le.Uint32(bx[10:]))
			recs = append(recs, rawRecord{chunk: ci, off: p, id: id, size: size, inlineSys: defOff == p+24+14})
			lastID = id
			prevOff = p
			p += size
			n++
		}
		if p != free {
			t.Errorf("chunk %d: records end at %#x, free space offset %#x", ci, p, free)
		}
		if prevOff != lastOff {
			t.Errorf("chunk %d: last record offset %#x, header says %#x", ci, prevOff, lastOff)
		}
		if lastID != last {
			t.Errorf("chunk %d: last record id %d, header says %d", ci, lastID, last)
		}
	}
	if len(recs) != wantRecs {
		t.Errorf("%d records in file, want %d", len(recs), wantRecs)
	}
	next := le.Uint64(h[0x18:])
	if len(recs) > 0 && next != recs[len(recs)-1].id+1 {
		t.Errorf("header next record id %d, last record %d", next, recs[len(recs)-1].id)
	}
	return recs
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	d, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLayoutManyChunks(t *testing.T) {
	recs := genRecords(5000, 3)
	path := writeTemp(t, "many.evtx", recs)
	raw := checkLayout(t, readFile(t, path), len(recs))
	chunks := raw[len(raw)-1].chunk + 1
	if chunks < 5 {
		t.Errorf("only %d chunks for 5000 records", chunks)
	}
	// Each distinct System template is defined once per chunk, inline in the
	// first record that uses it, and referenced afterwards.
	seen := map[[2]any]bool{}
	ids := expectedIDs(recs)
	for i, rr := range raw {
		if rr.id != ids[i] {
			t.Fatalf("record %d: id %d, want %d", i, rr.id, ids[i])
		}
		r := recs[i]
		k := [2]any{rr.chunk, sysKey{r.Provider, r.ProviderGUID, r.EventSourceName, channelOf(r), r.Computer}}
		if rr.inlineSys == seen[k] {
			t.Errorf("record %d (chunk %d): inline template = %v, already defined in chunk = %v", i, rr.chunk, rr.inlineSys, seen[k])
		}
		seen[k] = true
	}
	t.Logf("%d records, %d chunks, %d template definitions", len(raw), chunks, len(seen))
}

func TestTemplateReuseShrinksRecords(t *testing.T) {
	base := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	var recs []Record
	for i := 0; i < 3; i++ {
		recs = append(recs, Classic("Outlook", "HQ-PC01.contoso.local", base.Add(time.Duration(i)*time.Minute), 25, "msg"))
	}
	path := writeTemp(t, "reuse.evtx", recs)
	raw := checkLayout(t, readFile(t, path), 3)
	if !raw[0].inlineSys || raw[1].inlineSys || raw[2].inlineSys {
		t.Errorf("inline flags %v %v %v", raw[0].inlineSys, raw[1].inlineSys, raw[2].inlineSys)
	}
	if raw[1].size != raw[2].size || raw[1].size*3 > raw[0].size {
		t.Errorf("record sizes %d %d %d: the reference should be much smaller than the definition", raw[0].size, raw[1].size, raw[2].size)
	}
	// The names are in the chunk's common string table.
	d := readFile(t, path)
	c := d[fileHeaderSize:]
	for _, name := range []string{"Event", "System", "Provider", "EventData", "Data", "Binary"} {
		h := nameHash(name)
		found := false
		for off := int(le.Uint32(c[0x80+4*int(h%64):])); off != 0; off = int(le.Uint32(c[off:])) {
			if le.Uint16(c[off+4:]) == h && int(le.Uint16(c[off+6:])) == len(name) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("name %q not reachable from the string table", name)
		}
	}
}

func TestLongRecordsAndOverflow(t *testing.T) {
	base := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	long := func(n int, c string) string { return strings.Repeat(c, n) }
	recs := []Record{
		Classic("Outlook", "PC1", base, 25, "small"),
		Classic("Outlook", "PC1", base.Add(time.Second), 26, long(20000, "a")),                 // 40 KB
		Classic("Outlook", "PC1", base.Add(2*time.Second), 25, long(15000, "b"), "", "tail"),   // 30 KB: new chunk
		Classic("Outlook", "PC1", base.Add(3*time.Second), 26, long(31000, "ü")),               // 62 KB: new chunk, alone
		Classic("Outlook", "PC1", base.Add(4*time.Second), 25, "", "after <script>x</script>"), // new chunk
	}
	path := tempPath(t, "long.evtx")
	w, f := newFileWriter(t, path)
	for i, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	// Too big for any chunk: error, and the writer stays usable.
	huge := Classic("Outlook", "PC1", base.Add(5*time.Second), 25, long(40000, "x"))
	if err := w.Write(huge); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("huge record: err = %v, want ErrRecordTooLarge", err)
	}
	hugeBin := Classic("Outlook", "PC1", base.Add(5*time.Second), 25, "x")
	hugeBin.Binary = make([]byte, 70000)
	if err := w.Write(hugeBin); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("huge binary: err = %v, want ErrRecordTooLarge", err)
	}
	last := Classic("Outlook", "PC1", base.Add(6*time.Second), 26, "last")
	if err := w.Write(last); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, last)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	raw := checkLayout(t, readFile(t, path), len(recs))
	var chunkOf []int
	for _, r := range raw {
		chunkOf = append(chunkOf, r.chunk)
	}
	// 40 KB then 30 KB: the second starts chunk 1; the 62 KB one starts
	// chunk 2; the rejected records must not close chunk 2 early.
	if chunkOf[0] != 0 || chunkOf[1] != 0 || chunkOf[2] != 1 || chunkOf[3] != 2 || chunkOf[4] != 2 || chunkOf[5] != 2 {
		t.Errorf("records per chunk %v, want [0 0 1 2 2 2]", chunkOf)
	}
	maps := readGolang(t, path)
	if len(maps) != len(recs) {
		t.Fatalf("golang-evtx: %d records", len(maps))
	}
	ids := expectedIDs(recs)
	for i, m := range maps {
		checkGolang(t, i, m, recs[i], ids[i])
	}
	crossCheckLibevtx(t, path, recs)
}

func TestHugeFirstRecord(t *testing.T) {
	path := tempPath(t, "huge.evtx")
	w, f := newFileWriter(t, path)
	defer f.Close()
	if err := w.Write(Classic("Outlook", "PC", time.Now(), 25, strings.Repeat("x", 33000))); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkLayout(t, readFile(t, path), 0)
}

func TestRecordIDs(t *testing.T) {
	base := time.Date(2024, 3, 4, 9, 0, 0, 0, time.UTC)
	recs := []Record{
		Classic("Outlook", "PC", base, 25, "a"),
		Classic("Outlook", "PC", base, 26, "b"),
	}
	recs = append(recs, Classic("Outlook", "PC", base, 25, "c"), Classic("Outlook", "PC", base, 26, "d"), Classic("Outlook", "PC", base, 26, "e"))
	recs[2].RecordID = 18936 // jump: new chunk
	recs[4].RecordID = 18938 // == previous+1: same chunk
	path := writeTemp(t, "ids.evtx", recs)
	raw := checkLayout(t, readFile(t, path), len(recs))
	got := ""
	for _, r := range raw {
		got += fmt.Sprintf("%d/%d ", r.chunk, r.id)
	}
	if want := "0/1 0/2 1/18936 1/18937 1/18938 "; got != want {
		t.Errorf("chunk/id = %s, want %s", got, want)
	}
	crossCheckLibevtx(t, path, recs)
}

func TestEmptyFile(t *testing.T) {
	path := writeTemp(t, "empty.evtx", nil)
	d := readFile(t, path)
	if len(d) != fileHeaderSize {
		t.Fatalf("size %d", len(d))
	}
	checkLayout(t, d, 0)
	if n := len(readGolang(t, path)); n != 0 {
		t.Errorf("golang-evtx read %d records", n)
	}
}

func TestDeterministicAndWriterState(t *testing.T) {
	recs := genRecords(800, 4)
	a := readFile(t, writeTemp(t, "a.evtx", recs))
	b := readFile(t, writeTemp(t, "b.evtx", recs))
	if !bytes.Equal(a, b) {
		t.Error("same records gave different files")
	}
	path := tempPath(t, "c.evtx")
	w, f := newFileWriter(t, path)
	defer f.Close()
	if err := w.Write(Record{Provider: "x", UserSID: "not-a-sid"}); err == nil {
		t.Error("bad SID accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Record{Provider: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
}

func TestParseSID(t *testing.T) {
	b, err := ParseSID("S-1-5-21-3623811015-3361044348-30300820-1013")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0xc7, 0xf7, 0xfe, 0xd7, 0x7c, 0x77, 0x55, 0xc8, 0x94, 0x5a, 0xce, 0x01, 0xf5, 0x03, 0, 0}
	if !bytes.Equal(b, want) {
		t.Errorf("% x\nwant % x", b, want)
	}
	for _, bad := range []string{"", "S-1", "X-1-5", "S-1-5-abc", "S-1-5-99999999999"} {
		if _, err := ParseSID(bad); err == nil {
			t.Errorf("ParseSID(%q) accepted", bad)
		}
	}
}

func TestFileTime(t *testing.T) {
	tm := time.Date(2024, 3, 4, 9, 6, 44, 819893400, time.UTC)
	ft := filetime(tm)
	if ft != 0x01da6e1347c24516 {
		t.Errorf("filetime = %#x", ft)
	}
	if !FileTime(ft).Equal(tm) {
		t.Errorf("FileTime round trip %v", FileTime(ft))
	}
}

// TestThroughput writes ~64 MB and reports the generation speed.
func TestThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	recs := genRecords(2000, 5)
	path := tempPath(t, "speed.evtx")
	w, f := newFileWriter(t, path)
	defer f.Close()
	start := time.Now()
	n := 0
	for w.Chunks() < 1000 {
		r := recs[n%len(recs)]
		r.RecordID = 0
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	st, _ := f.Stat()
	mb := float64(st.Size()) / 1e6
	t.Logf("%d records, %.1f MB in %v: %.0f MB/s, %.0f records/s", n, mb, el, mb/el.Seconds(), float64(n)/el.Seconds())
}

func BenchmarkWrite(b *testing.B) {
	recs := genRecords(2000, 6)
	f, err := os.CreateTemp(b.TempDir(), "bench*.evtx")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w, err := NewWriter(f)
	if err != nil {
		b.Fatal(err)
	}
	var bytesPer int64
	for _, r := range recs {
		bytesPer += int64(24 + 40)
		for _, s := range r.Data {
			bytesPer += int64(2 * len(s))
		}
	}
	b.SetBytes(bytesPer / int64(len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[i%len(recs)]
		r.RecordID = 0
		if err := w.Write(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
