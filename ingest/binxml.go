package ingest

// The EVTX fast path: a small BinXML decoder that works on one 64 KiB chunk
// held in memory. It decides from a record's template and substitution
// values whether the record can be an Outlook 25/26 of the Application
// channel before anything is allocated, and decodes only those.
//
// Everything it decodes is defined as "what golang-evtx's map conversion
// followed by eventFromMap would give" (EVTX-PARSERS.md §2): names are
// UTF-16 with trailing NULs trimmed, numbers are compared after the same
// string round trip, a classic <Provider Name=".."/> is the provider, and
// EventData text is joined the way eventDataText joins golang-evtx's map.
// Whatever does not fit that model exactly (unknown tokens, odd value
// types, unusual element shapes) is reported as "unknown" and the caller
// parses the record with golang-evtx instead, so nothing is dropped
// silently.

import (
	"bytes"
	"encoding/binary"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/0xrawsec/golang-evtx/evtx"
)

// BinXML tokens (the 0x40 bit is the "more data" flag).
const (
	tkEOF          = 0x00
	tkOpenStart    = 0x01
	tkCloseStart   = 0x02
	tkCloseEmpty   = 0x03
	tkEnd          = 0x04
	tkValue        = 0x05
	tkAttr         = 0x06
	tkCharRef      = 0x08
	tkEntityRef    = 0x09
	tkTemplate     = 0x0c
	tkNormalSubst  = 0x0d
	tkOptSubst     = 0x0e
	tkFragment     = 0x0f
	tkMoreFlag     = 0x40
	bxMaxDepth     = 32
	bxMaxTemplates = 4096
)

// BinXML value types.
const (
	vtNull      = 0x00
	vtString    = 0x01
	vtInt8      = 0x03
	vtUInt8     = 0x04
	vtInt16     = 0x05
	vtUInt16    = 0x06
	vtInt32     = 0x07
	vtUInt32    = 0x08
	vtInt64     = 0x09
	vtUInt64    = 0x0a
	vtBinary    = 0x0e
	vtFileTime  = 0x11
	vtHexInt32  = 0x14
	vtHexInt64  = 0x15
	vtBinXML    = 0x21
	vtStringArr = 0x81
)

// bxVerdict is the fast path's answer for one record.
type bxVerdict uint8

const (
	vSkip    bxVerdict = iota // certainly not wanted: counted, not decoded
	vEmit                     // decoded into the event
	vUnknown                  // cannot decide: parse it with golang-evtx
)

var bxLE = binary.LittleEndian

// bxItem is one piece of element or attribute content: literal text or a
// substitution (or, for the extended syntax, a resolved reference).
type bxItem struct {
	sub int    // substitution index, -1 for literal text, bxRef for ref
	raw []byte // literal text, UTF-16LE (a view of the chunk)
	ref string // a character or entity reference, resolved
}

// bxRef marks an item holding a resolved character or entity reference.
const bxRef = -2

// text decodes literal text.
func (it bxItem) text() string {
	if it.sub == bxRef {
		return it.ref
	}
	return bxUTF16(it.raw)
}

type bxAttr struct {
	name string
	item bxItem
	more []bxItem // further parts of the value (extended syntax only)
}

type bxNode struct {
	name  string
	attrs []bxAttr
	items []bxItem
	kids  []*bxNode
}

func (n *bxNode) kid(name string) *bxNode {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

func (n *bxNode) attr(name string) (bxItem, bool) {
	for _, a := range n.attrs {
		if a.name == name {
			return a.item, true
		}
	}
	return bxItem{}, false
}

// bxField says where a value comes from: nowhere, literal text or a
// substitution.
type bxField struct {
	set bool
	bxItem
}

// Template filter classes.
const (
	filtNo      = iota // provider or channel is a literal that is not Outlook/Application
	filtMaybe          // check the substitution values
	filtUnknown        // a shape golang-evtx may read differently: fall back
)

// bxTemplate is what the fast path knows about one template definition.
type bxTemplate struct {
	bad    bool // the definition could not be read
	end    int  // chunk offset just past the definition
	filter int
	full   bool // every Event field can be decoded here

	provider, channel, eventID  bxField
	computer, qualifiers, level bxField
	recordID, systemTime        bxField
	eventDataSub                int     // substitution holding a nested EventData fragment, -1
	eventData                   *bxNode // <EventData> written in the template itself
	root                        *bxNode // kept for nested (EventData) templates
}

// chunkDecoder decodes the records of one chunk. It is reused from chunk to
// chunk by one goroutine.
type chunkDecoder struct {
	data   []byte
	tmpls  map[uint32]*bxTemplate
	xtmpls map[uint32]*bxTemplate // extended-syntax reads, for recordMap
	budget int                    // recordMap's work left for this record
	names  map[uint32]string
	vals   []bxValue
	vals2  []bxValue
	parts  []string
}

// bxValue is one substitution value: its type, bytes and chunk offset.
type bxValue struct {
	typ byte
	off int
	b   []byte
}

func newChunkDecoder() *chunkDecoder {
	return &chunkDecoder{tmpls: make(map[uint32]*bxTemplate, 64), xtmpls: map[uint32]*bxTemplate{}, names: make(map[uint32]string, 128)}
}

func (d *chunkDecoder) reset(data []byte) {
	d.data = data
	clear(d.tmpls)
	clear(d.xtmpls)
	clear(d.names)
}

// ---- low-level reads --------------------------------------------------------

type bxError struct{}

func (bxError) Error() string { return "malformed BinXML" }

// template returns the (cached) template defined at off.
func (d *chunkDecoder) template(off uint32) *bxTemplate {
	if t, ok := d.tmpls[off]; ok {
		return t
	}
	t := d.parseTemplate(int(off), false)
	if len(d.tmpls) < bxMaxTemplates {
		d.tmpls[off] = t
	}
	return t
}

// xtemplate returns the template defined at off for recordMap: the
// fast path's when it could read it, else one read with the extended
// syntax (cached apart).
func (d *chunkDecoder) xtemplate(off uint32) *bxTemplate {
	if t := d.template(off); !t.bad {
		return t
	}
	if t, ok := d.xtmpls[off]; ok {
		return t
	}
	t := d.parseTemplate(int(off), true)
	if len(d.xtmpls) < bxMaxTemplates {
		d.xtmpls[off] = t
	}
	return t
}

func (d *chunkDecoder) parseTemplate(off int, ext bool) *bxTemplate {
	t := &bxTemplate{eventDataSub: -1}
	data := d.data
	if off < 0 || off+28 > len(data) {
		t.bad = true
		return t
	}
	size := int(bxLE.Uint32(data[off+20:]))
	start := off + 24
	if size < 5 || size > len(data)-start || data[start] != tkFragment {
		t.bad = true
		return t
	}
	t.end = start + size
	p := &bxParser{data: data[:t.end], p: start + 4, names: d.names, ext: ext}
	root, ok := p.element(0)
	if !ok || p.p >= t.end || data[p.p] != tkEOF {
		t.bad = true
		return t
	}
	t.root = root
	bxAnalyze(t, root)
	return t
}

// bxParser reads a template definition's element tree.
type bxParser struct {
	data  []byte
	p     int
	names map[uint32]string // decoded names by chunk offset
	// noDep: element starts have no dependency identifier, as in BinXML
	// substitution values (value type 0x21) that hold bare elements; their
	// data sizes are then checked too.
	noDep bool
	// lastItem is the offset of the last item's token.
	lastItem int
	// ext accepts character and entity references and attribute values in
	// several parts, which golang-evtx cannot render (recordMap only).
	ext bool
}

func (p *bxParser) need(n int) bool { return n >= 0 && p.p+n <= len(p.data) }

// name reads the name at chunk offset off and skips it when it is inline.
func (p *bxParser) name(off int) (string, bool) {
	if off < 0 || off+8 > len(p.data) {
		return "", false
	}
	n := int(bxLE.Uint16(p.data[off+6:]))
	end := off + 8 + 2*n
	if end+2 > len(p.data) {
		return "", false
	}
	s, ok := p.names[uint32(off)]
	if !ok {
		s = bxUTF16(p.data[off+8 : end])
		p.names[uint32(off)] = s
	}
	if off == p.p {
		p.p = end + 2
	}
	return s, true
}

func (p *bxParser) element(depth int) (*bxNode, bool) {
	hdr := 11 // token, dependency id, data size, name offset
	if p.noDep {
		hdr = 9
	}
	if depth > bxMaxDepth || !p.need(hdr) {
		return nil, false
	}
	tok := p.data[p.p]
	if tok&^tkMoreFlag != tkOpenStart {
		return nil, false
	}
	if p.noDep {
		// The data size counts everything after itself up to and including
		// the end of the element.
		end := p.p + 5 + int(bxLE.Uint32(p.data[p.p+1:]))
		n, ok := p.elementBody(tok, hdr, depth)
		if !ok || p.p != end {
			return nil, false
		}
		return n, true
	}
	return p.elementBody(tok, hdr, depth)
}

// elementBody reads an element whose token tok and hdr-byte header are at p.p.
func (p *bxParser) elementBody(tok byte, hdr, depth int) (*bxNode, bool) {
	nameOff := int(bxLE.Uint32(p.data[p.p+hdr-4:]))
	p.p += hdr
	name, ok := p.name(nameOff)
	if !ok {
		return nil, false
	}
	n := &bxNode{name: name}
	if tok&tkMoreFlag != 0 {
		if !p.need(4) {
			return nil, false
		}
		listEnd := p.p + 4 + int(bxLE.Uint32(p.data[p.p:]))
		p.p += 4
		for {
			if !p.need(5) {
				return nil, false
			}
			at := p.data[p.p]
			if at&^tkMoreFlag != tkAttr {
				return nil, false
			}
			aoff := int(bxLE.Uint32(p.data[p.p+1:]))
			p.p += 5
			aname, ok := p.name(aoff)
			if !ok {
				return nil, false
			}
			it, ok := p.item()
			if !ok {
				return nil, false
			}
			a := bxAttr{name: aname, item: it}
			for p.ext && p.moreItem() {
				if it, ok = p.item(); !ok {
					return nil, false
				}
				a.more = append(a.more, it)
			}
			n.attrs = append(n.attrs, a)
			if at == tkAttr {
				break
			}
		}
		if p.p != listEnd {
			return nil, false
		}
	}
	if !p.need(1) {
		return nil, false
	}
	switch p.data[p.p] {
	case tkCloseEmpty:
		p.p++
		return n, true
	case tkCloseStart:
		p.p++
	default:
		return nil, false
	}
	for p.need(1) {
		switch t := p.data[p.p]; t {
		case tkOpenStart, tkOpenStart | tkMoreFlag:
			k, ok := p.element(depth + 1)
			if !ok {
				return nil, false
			}
			n.kids = append(n.kids, k)
		case tkValue, tkValue | tkMoreFlag, tkNormalSubst, tkOptSubst,
			tkCharRef, tkCharRef | tkMoreFlag, tkEntityRef, tkEntityRef | tkMoreFlag:
			it, ok := p.item()
			if !ok {
				return nil, false
			}
			n.items = append(n.items, it)
		case tkEnd:
			p.p++
			return n, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// moreItem reports whether the attribute value just read continues: it
// ended with the "more data" flag and another value part follows.
func (p *bxParser) moreItem() bool {
	prev := p.data[p.lastItem]
	if prev&tkMoreFlag == 0 || !p.need(1) {
		return false
	}
	switch p.data[p.p] &^ tkMoreFlag {
	case tkValue, tkCharRef, tkEntityRef:
		return true
	}
	return p.data[p.p] == tkNormalSubst || p.data[p.p] == tkOptSubst
}

// item reads a value text or a substitution token (or, with ext, a
// character or entity reference).
func (p *bxParser) item() (bxItem, bool) {
	p.lastItem = p.p
	if p.ext && p.need(3) {
		switch p.data[p.p] &^ tkMoreFlag {
		case tkCharRef:
			r := rune(bxLE.Uint16(p.data[p.p+1:]))
			p.p += 3
			return bxItem{sub: bxRef, ref: string(r)}, true
		case tkEntityRef:
			if !p.need(5) {
				return bxItem{}, false
			}
			off := int(bxLE.Uint32(p.data[p.p+1:]))
			p.p += 5
			name, ok := p.name(off)
			if !ok {
				return bxItem{}, false
			}
			r, ok := bxEntities[name]
			if !ok {
				return bxItem{}, false
			}
			return bxItem{sub: bxRef, ref: r}, true
		}
	}
	if !p.need(4) {
		return bxItem{}, false
	}
	switch p.data[p.p] {
	case tkValue, tkValue | tkMoreFlag:
		if p.data[p.p+1] != vtString {
			return bxItem{}, false
		}
		n := int(bxLE.Uint16(p.data[p.p+2:]))
		if n >= 0x8000 || !p.need(4+2*n) { // golang-evtx reads the count as int16
			return bxItem{}, false
		}
		raw := p.data[p.p+4 : p.p+4+2*n]
		p.p += 4 + 2*n
		return bxItem{sub: -1, raw: raw}, true
	case tkNormalSubst, tkOptSubst:
		id := int(bxLE.Uint16(p.data[p.p+1:]))
		if id >= 0x8000 { // golang-evtx reads the id as int16
			return bxItem{}, false
		}
		p.p += 4
		return bxItem{sub: id}, true
	}
	return bxItem{}, false
}

func dupName(kids []*bxNode, name string) bool {
	for _, k := range kids {
		if k.name == name {
			return true
		}
	}
	return false
}

// bxSystemChild lists the standard <System> children.
func bxSystemChild(name string) bool { return systemChildren[name] }

// bxAnalyze works out where the fields come from and whether golang-evtx's
// map would have the shape eventFromMap expects.
func bxAnalyze(t *bxTemplate, root *bxNode) {
	t.filter = filtUnknown
	if root.name != "Event" || len(root.kids) == 0 {
		// golang-evtx has no Event/System: the provider is "".
		t.filter = filtNo
		if root.name != "Event" {
			return
		}
	}
	sys := root.kid("System")
	if sys == nil {
		t.filter = filtNo
		return
	}
	// Shapes that golang-evtx's Name-only / Name+Value rules or its
	// renaming of repeated names could turn into another provider.
	for i, k := range root.kids {
		if dupName(root.kids[:i], k.name) {
			return
		}
		if _, has := k.attr("Name"); has {
			return
		}
	}
	var prov *bxNode
	for i, k := range sys.kids {
		if !bxSystemChild(k.name) || dupName(sys.kids[:i], k.name) {
			return
		}
		if k.name == "Provider" {
			prov = k
			continue
		}
		if _, has := k.attr("Name"); has {
			return
		}
	}
	if len(sys.items) > 0 || len(sys.attrs) > 0 {
		return
	}
	if prov == nil {
		t.filter = filtNo
		return
	}
	if len(prov.items) > 0 || len(prov.kids) > 0 {
		return
	}
	name, hasName := prov.attr("Name")
	_, hasSource := prov.attr("EventSourceName")
	switch {
	case hasName && name.sub < 0:
		t.provider = bxField{true, name}
	case hasName && !hasSource:
		t.provider = bxField{true, name}
	case !hasName && !hasSource:
		t.filter = filtNo
		return
	default:
		return // EventSourceName may become the provider
	}
	ch := sys.kid("Channel")
	if ch == nil {
		t.filter = filtNo
		return
	}
	if len(ch.attrs) > 0 || len(ch.kids) > 0 || len(ch.items) > 1 {
		return
	}
	if len(ch.items) == 0 {
		t.filter = filtNo // an empty map, not "Application"
		return
	}
	t.channel = bxField{true, ch.items[0]}
	if t.provider.sub < 0 && !utf16EqualFoldASCII(t.provider.raw, ProviderOutlook) ||
		t.channel.sub < 0 && !utf16EqualFoldASCII(t.channel.raw, ChannelApplication) {
		t.filter = filtNo
	}
	eid := sys.kid("EventID")
	if eid == nil {
		if t.filter != filtNo {
			t.filter = filtNo // EventID 0
		}
		return
	}
	if len(eid.kids) > 0 || len(eid.items) != 1 {
		if t.filter != filtNo {
			t.filter = filtUnknown
		}
		return
	}
	for _, a := range eid.attrs {
		if a.name != "Qualifiers" {
			if t.filter != filtNo {
				t.filter = filtUnknown
			}
			return
		}
	}
	t.eventID = bxField{true, eid.items[0]}
	if q, ok := eid.attr("Qualifiers"); ok {
		t.qualifiers = bxField{true, q}
	}
	if t.filter != filtNo {
		t.filter = filtMaybe
		if t.eventID.sub < 0 {
			if id := atoi(t.eventID.text()) & 0xffff; id != 25 && id != 26 {
				t.filter = filtNo
			}
		}
	}

	// Full decoding.
	simple := func(name string) (bxField, bool) {
		k := sys.kid(name)
		if k == nil {
			return bxField{}, true
		}
		if len(k.attrs) > 0 || len(k.kids) > 0 || len(k.items) != 1 {
			return bxField{}, false
		}
		return bxField{true, k.items[0]}, true
	}
	var ok1, ok2, ok3 bool
	t.computer, ok1 = simple("Computer")
	t.level, ok2 = simple("Level")
	t.recordID, ok3 = simple("EventRecordID")
	if !ok1 || !ok2 || !ok3 {
		return
	}
	if tc := sys.kid("TimeCreated"); tc != nil {
		if len(tc.kids) > 0 || len(tc.items) > 0 || len(tc.attrs) != 1 || tc.attrs[0].name != "SystemTime" || tc.attrs[0].item.sub < 0 {
			return
		}
		t.systemTime = bxField{true, tc.attrs[0].item}
	}
	for _, k := range root.kids {
		switch k.name {
		case "System":
		case "EventData":
			t.eventData = k
		default:
			return // UserData and others: let golang-evtx render them
		}
	}
	switch {
	case len(root.items) == 0:
	case len(root.items) == 1 && root.items[0].sub >= 0 && t.eventData == nil:
		t.eventDataSub = root.items[0].sub
	default:
		return
	}
	t.full = true
}

// ---- values -------------------------------------------------------------------

// values reads the substitution array at p, which must end by end.
func (d *chunkDecoder) values(vals []bxValue, p, end int) ([]bxValue, int, bool) {
	data := d.data
	if p < 0 || p+4 > end {
		return vals, p, false
	}
	n := int(bxLE.Uint32(data[p:]))
	if n > (end-p-4)/4 {
		return vals, p, false
	}
	desc := p + 4
	v := desc + 4*n
	vals = vals[:0]
	for i := 0; i < n; i++ {
		size := int(bxLE.Uint16(data[desc+4*i:]))
		typ := data[desc+4*i+2]
		if v+size > end {
			return vals, p, false
		}
		vals = append(vals, bxValue{typ, v, data[v : v+size : v+size]})
		v += size
	}
	return vals, v, true
}

// bxFixedSize is the size golang-evtx reads for a fixed-size type, whatever
// the descriptor says; 0 for variable-size types.
func bxFixedSize(typ byte) int {
	switch typ {
	case vtInt8, vtUInt8:
		return 1
	case vtInt16, vtUInt16:
		return 2
	case vtInt32, vtUInt32, vtHexInt32:
		return 4
	case vtInt64, vtUInt64, vtHexInt64, vtFileTime:
		return 8
	}
	return 0
}

// bxScalar renders a value the way golang-evtx's Repr does, for the types
// the fast path supports. isNil is true for a null value; ok is false for
// types it leaves to golang-evtx.
func bxScalar(v bxValue) (s string, isNil, ok bool) {
	if fs := bxFixedSize(v.typ); fs != 0 && len(v.b) != fs {
		return "", false, false
	}
	b := v.b
	switch v.typ {
	case vtNull:
		return "", true, true
	case vtString:
		return bxUTF16(b[:len(b)&^1]), false, true
	case vtInt8:
		return strconv.FormatInt(int64(int8(b[0])), 10), false, true
	case vtUInt8:
		return strconv.FormatUint(uint64(b[0]), 10), false, true
	case vtInt16:
		return strconv.FormatInt(int64(int16(bxLE.Uint16(b))), 10), false, true
	case vtUInt16:
		return strconv.FormatUint(uint64(bxLE.Uint16(b)), 10), false, true
	case vtInt32:
		return strconv.FormatInt(int64(int32(bxLE.Uint32(b))), 10), false, true
	case vtUInt32:
		return strconv.FormatUint(uint64(bxLE.Uint32(b)), 10), false, true
	case vtInt64:
		return strconv.FormatInt(int64(bxLE.Uint64(b)), 10), false, true
	case vtUInt64:
		return strconv.FormatUint(bxLE.Uint64(b), 10), false, true
	case vtHexInt32:
		return "0x" + bxPad0(strconv.FormatUint(uint64(bxLE.Uint32(b)), 16), 4), false, true
	case vtHexInt64:
		return "0x" + bxPad0(strconv.FormatUint(bxLE.Uint64(b), 16), 8), false, true
	}
	return "", false, false
}

func bxPad0(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}

// bxFieldString resolves a field to golang-evtx's string, through asString
// (nil is ""). ok is false when the value's type is not supported.
func bxFieldString(f bxField, vals []bxValue) (s string, isNil, ok bool) {
	if !f.set {
		return "", true, true
	}
	if f.sub < 0 {
		return f.text(), false, true
	}
	if f.sub >= len(vals) {
		return "", false, false // golang-evtx panics: "Index out of range"
	}
	return bxScalar(vals[f.sub])
}

// bxFilterID reads the low 16 bits of the event id from a value without
// allocating, for the common integer types.
func bxFilterID(f bxField, vals []bxValue) (int, bool) {
	if f.sub < 0 {
		return atoi(f.text()) & 0xffff, true
	}
	if f.sub >= len(vals) {
		return 0, false
	}
	v := vals[f.sub]
	if fs := bxFixedSize(v.typ); fs != 0 && len(v.b) != fs {
		return 0, false
	}
	switch v.typ {
	case vtUInt16, vtInt16:
		return int(bxLE.Uint16(v.b)), true
	case vtUInt32, vtInt32, vtHexInt32:
		if v.typ == vtInt32 && int32(bxLE.Uint32(v.b)) < 0 {
			break
		}
		return int(bxLE.Uint32(v.b) & 0xffff), true
	case vtNull:
		return 0, true
	}
	s, isNil, ok := bxScalar(v)
	if !ok {
		return 0, false
	}
	if isNil {
		return 0, true
	}
	return atoi(s) & 0xffff, true
}

// bxStringIs compares a provider/channel field with want (case-insensitive)
// without allocating for string values. ok is false for value types left
// to golang-evtx.
func bxStringIs(f bxField, vals []bxValue, want string) (match, ok bool) {
	if f.sub < 0 {
		return utf16EqualFoldASCII(f.raw, want), true
	}
	if f.sub >= len(vals) {
		return false, false
	}
	v := vals[f.sub]
	switch v.typ {
	case vtNull:
		return false, true
	case vtString:
		return utf16EqualFoldASCII(v.b[:len(v.b)&^1], want), true
	}
	return false, false
}

// utf16EqualFoldASCII reports whether the UTF-16LE bytes b, decoded and
// with trailing NULs trimmed, equal the ASCII string want under
// strings.EqualFold, without allocating when b is ASCII.
func utf16EqualFoldASCII(b []byte, want string) bool {
	for len(b) >= 2 && b[len(b)-2] == 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-2]
	}
	for i := 1; i < len(b); i += 2 {
		if b[i] != 0 || b[i-1] >= 0x80 {
			return strings.EqualFold(bxUTF16(b), want) // e.g. the Kelvin sign folds to k
		}
	}
	if len(b) != 2*len(want) {
		return false
	}
	for i := 0; i < len(want); i++ {
		c, w := b[2*i], want[i]
		if c == w {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= w && w <= 'Z' {
			w += 'a' - 'A'
		}
		if c != w {
			return false
		}
	}
	return true
}

// ---- records --------------------------------------------------------------------

// record runs the fast path on the record at off (header already checked;
// end is the record's end). With all set every record is decoded;
// otherwise only Outlook/Application 25/26 ones are.
func (d *chunkDecoder) record(off, end int, all bool, e *Event) bxVerdict {
	data := d.data
	p := off + 24
	if p+14 > end || data[p] != tkFragment || data[p+4] != tkTemplate {
		return vUnknown
	}
	defOff := bxLE.Uint32(data[p+10:])
	t := d.template(defOff)
	if t.bad {
		return vUnknown
	}
	vp := p + 14
	if int(defOff) == vp {
		vp = t.end
	}
	if !all {
		switch t.filter {
		case filtNo:
			return vSkip
		case filtUnknown:
			return vUnknown
		}
	} else if !t.full {
		return vUnknown
	}
	vals, _, ok := d.values(d.vals, vp, end)
	d.vals = vals
	if !ok {
		return vUnknown
	}
	if !all {
		m, ok := bxStringIs(t.provider, vals, ProviderOutlook)
		if !ok {
			return vUnknown
		}
		if !m {
			return vSkip
		}
		if m, ok = bxStringIs(t.channel, vals, ChannelApplication); !ok {
			return vUnknown
		} else if !m {
			return vSkip
		}
		id, ok := bxFilterID(t.eventID, vals)
		if !ok {
			return vUnknown
		}
		if id != 25 && id != 26 {
			return vSkip
		}
		if !t.full {
			return vUnknown
		}
	}
	if !d.decode(t, vals, off, e) {
		return vUnknown
	}
	return vEmit
}

// decode fills e from a template with full set and its values.
func (d *chunkDecoder) decode(t *bxTemplate, vals []bxValue, off int, e *Event) bool {
	*e = Event{Qualifiers: -1, Precision: 100 * time.Nanosecond}
	var ok bool
	var s string
	var isNil bool
	if e.Provider, _, ok = bxFieldString(t.provider, vals); !ok {
		return false
	}
	if e.Channel, _, ok = bxFieldString(t.channel, vals); !ok {
		return false
	}
	if e.Computer, _, ok = bxFieldString(t.computer, vals); !ok {
		return false
	}
	if s, _, ok = bxFieldString(t.eventID, vals); !ok {
		return false
	}
	e.EventID = atoi(s) & 0xffff
	if t.qualifiers.set {
		if s, isNil, ok = bxFieldString(t.qualifiers, vals); !ok {
			return false
		}
		if !isNil && s != "" {
			e.Qualifiers = atoi(s)
		}
	}
	if s, _, ok = bxFieldString(t.level, vals); !ok {
		return false
	}
	e.Level = atoi(s)
	if s, _, ok = bxFieldString(t.recordID, vals); !ok {
		return false
	}
	e.RecordID, _ = strconv.ParseInt(s, 10, 64)
	if t.systemTime.set {
		if t.systemTime.sub >= len(vals) {
			return false
		}
		switch v := vals[t.systemTime.sub]; v.typ {
		case vtNull:
		case vtFileTime:
			if len(v.b) != 8 {
				return false
			}
			e.Time = bxFileTime(bxLE.Uint64(v.b))
		default:
			return false
		}
	}
	data := d.data
	if e.RecordID == 0 {
		e.RecordID = int64(bxLE.Uint64(data[off+8:]))
	}
	if e.Time.IsZero() {
		e.Time = bxFileTime(bxLE.Uint64(data[off+16:]))
	}
	switch {
	case t.eventData != nil:
		msg, ok := d.eventDataText(t.eventData, vals)
		if !ok {
			return false
		}
		e.Message = msg
	case t.eventDataSub >= 0:
		if t.eventDataSub >= len(vals) {
			return false
		}
		v := vals[t.eventDataSub]
		if v.typ != vtBinXML {
			return v.typ == vtNull || v.typ == vtString || bxFixedSize(v.typ) == len(v.b) && bxFixedSize(v.typ) != 0
		}
		msg, ok := d.nestedEventData(v)
		if !ok {
			return false
		}
		e.Message = msg
	}
	return true
}

// nestedEventData renders a BinXML value (a fragment holding a template
// instance whose root is <EventData>).
func (d *chunkDecoder) nestedEventData(v bxValue) (string, bool) {
	b, off := v.b, v.off
	end := off + len(b)
	if len(b) < 14 || b[0] != tkFragment || b[4] != tkTemplate {
		return "", false
	}
	defOff := bxLE.Uint32(b[10:])
	t := d.template(defOff)
	if t.bad || t.root == nil || t.root.name != "EventData" {
		return "", false
	}
	vp := off + 14
	if int(defOff) == vp {
		vp = t.end
	}
	vals, _, ok := d.values(d.vals2, vp, end)
	d.vals2 = vals
	if !ok {
		return "", false
	}
	return d.eventDataText(t.root, vals)
}

// bxEDEntry is one key of golang-evtx's EventData map.
type bxEDEntry struct {
	key  string
	val  any // nil, string or []string
	skip bool
}

// eventDataText emulates golang-evtx's map for <EventData> and then
// eventDataText on it.
func (d *chunkDecoder) eventDataText(ed *bxNode, vals []bxValue) (string, bool) {
	if len(ed.attrs) > 0 || len(ed.items) > 0 {
		return "", false
	}
	var entries []bxEDEntry
	set := func(key string, v any) {
		for i := range entries {
			if entries[i].key == key {
				entries[i].val = v
				return
			}
		}
		entries = append(entries, bxEDEntry{key: key, val: v})
	}
	has := func(key string) bool {
		for i := range entries {
			if entries[i].key == key {
				return true
			}
		}
		return false
	}
	for i, k := range ed.kids {
		if len(k.kids) > 0 || len(k.items) > 1 {
			return "", false
		}
		var name string
		hasName := false
		for _, a := range k.attrs {
			if a.name != "Name" {
				return "", false
			}
			var ok bool
			var isNil bool
			if a.item.sub < 0 {
				name = a.item.text()
			} else {
				if a.item.sub >= len(vals) || vals[a.item.sub].typ != vtString && vals[a.item.sub].typ != vtNull {
					return "", false
				}
				name, isNil, ok = bxScalar(vals[a.item.sub])
				if !ok {
					return "", false
				}
			}
			hasName = !isNil
		}
		var val any
		hasVal := len(k.items) == 1
		if hasVal {
			it := k.items[0]
			if it.sub < 0 {
				val = it.text()
			} else {
				if it.sub >= len(vals) {
					return "", false
				}
				v := vals[it.sub]
				switch v.typ {
				case vtStringArr:
					val = bxStringArray(v.b)
				case vtBinary:
					if hasName || k.name != "Binary" || has("Binary") {
						return "", false
					}
					val = nil // skipped by eventDataText
				default:
					s, isNil, ok := bxScalar(v)
					if !ok {
						return "", false
					}
					if !isNil {
						val = s
					}
				}
			}
		}
		switch {
		case hasName && !hasVal:
			set(name, "")
		case hasName:
			set(name, val)
		case !hasVal:
			key := k.name
			if has(key) {
				key = k.name + strconv.Itoa(i)
			}
			set(key, nil) // an empty map: no text
		default:
			key := k.name
			if has(key) {
				key = k.name + strconv.Itoa(i)
			}
			set(key, val)
		}
	}
	parts := d.parts[:0]
	add := func(v any) { parts, _ = appendStrings(parts, v) }
	for _, en := range entries {
		if en.key == "Data" {
			add(en.val)
		}
	}
	var keys []string
	for _, en := range entries {
		if en.key != "Data" && en.key != "Binary" {
			keys = append(keys, en.key)
		}
	}
	if len(keys) > 1 {
		sort.Strings(keys)
	}
	for _, k := range keys {
		for _, en := range entries {
			if en.key == k {
				add(en.val)
			}
		}
	}
	d.parts = parts[:0]
	return strings.Join(parts, "\n"), true
}

// bxStringArray splits a UTF-16 string array like golang-evtx does: on NUL,
// dropping empty strings.
func bxStringArray(b []byte) []string {
	var out []string
	b = b[:len(b)&^1]
	start := 0
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			if i > start {
				out = append(out, bxUTF16(b[start:i]))
			}
			start = i + 2
		}
	}
	if start < len(b) {
		out = append(out, bxUTF16(b[start:]))
	}
	return out
}

// bxUTF16 decodes UTF-16LE like golang-evtx's UTF16String.ToString:
// invalid surrogates become U+FFFD and trailing NULs are trimmed.
func bxUTF16(b []byte) string {
	n := len(b) / 2
	ascii := true
	for i := 0; i < n; i++ {
		if b[2*i+1] != 0 || b[2*i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = b[2*i]
		}
		for len(buf) > 0 && buf[len(buf)-1] == 0 {
			buf = buf[:len(buf)-1]
		}
		return string(buf)
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = bxLE.Uint16(b[2*i:])
	}
	return strings.TrimRight(string(utf16.Decode(u)), "\u0000")
}

// bxFileTime converts a FILETIME (100 ns since 1601) exactly, as golang-evtx
// does (its float step is compensated by the nanosecond part).
func bxFileTime(ft uint64) time.Time {
	const nano = 10000000
	v := int64(ft)
	sec := v/nano - 11644473600
	nsec := (v % nano) * 100
	return time.Unix(sec, nsec).UTC()
}

// ---- the golang-evtx map, for records golang-evtx cannot read ------------------
//
// Some records hold constructs golang-evtx cannot parse although they are
// valid BinXML: a substitution value of type BinXML (0x21) that is a bare
// element instead of a fragment. Such elements have no dependency
// identifier (libevtx's format documentation, "Element start"); golang-evtx
// reads one anyway and fails the whole record (CAPI2/Operational logs put
// their <UserData> there, with attribute values in several parts joined
// by entity references, e.g. eTag="&quot;...&quot;", which libevtx
// 20181227 rejects). For records golang-evtx fails on, recordMap
// builds the map golang-evtx's NodeToGoEvtx would have built, with values
// rendered by golang-evtx itself, so that eventFromMap reads them like any
// other record. A bare element becomes what golang-evtx makes of a
// fragment holding an element: {name: element}.

// bxEntities are the XML entities an entity reference may name.
var bxEntities = map[string]string{"amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'"}

// bxMapDepth bounds nested BinXML values; bxMapBudget bounds the nodes
// and items recordMap renders for one record (a template may use one
// substitution many times, and nested values multiply that).
const (
	bxMapDepth  = 8
	bxMapBudget = 1 << 16
)

// recordMap builds golang-evtx's map of the record at off (header already
// checked; end is the record's end). ok is false when the record is not
// well-formed BinXML of the shapes handled here.
func (d *chunkDecoder) recordMap(off, end int) (m evtx.GoEvtxMap, ok bool) {
	data := d.data
	p := off + evtxRecHdrSize
	if p+14 > end || data[p] != tkFragment || data[p+4] != tkTemplate {
		return nil, false
	}
	d.budget = bxMapBudget
	m, _, ok = d.instanceMap(p+4, end-4, 0)
	if !ok {
		return nil, false
	}
	if ev, isMap := m["Event"].(evtx.GoEvtxMap); isMap {
		delete(ev, "xmlns")
	}
	return m, true
}

// instanceMap renders the template instance whose token is at p and whose
// values must end by end; it returns the offset after the values.
func (d *chunkDecoder) instanceMap(p, end, depth int) (evtx.GoEvtxMap, int, bool) {
	data := d.data
	if depth > bxMapDepth || p+10 > end || data[p] != tkTemplate {
		return nil, 0, false
	}
	defOff := bxLE.Uint32(data[p+6:])
	t := d.xtemplate(defOff)
	if t.bad || t.root == nil {
		return nil, 0, false
	}
	vp := p + 10
	if int(defOff) == vp {
		vp = t.end
	}
	vals, next, ok := d.values(nil, vp, end)
	if !ok {
		return nil, 0, false
	}
	n, ok := d.nodeMap(t.root, vals, depth)
	if !ok {
		return nil, 0, false
	}
	return evtx.GoEvtxMap{t.root.name: n}, next, true
}

// nodeMap is golang-evtx's NodeToGoEvtx for one element.
func (d *chunkDecoder) nodeMap(n *bxNode, vals []bxValue, depth int) (evtx.GoEvtxMap, bool) {
	if d.budget -= 1 + len(n.items) + len(n.attrs); d.budget < 0 {
		return nil, false
	}
	m := make(evtx.GoEvtxMap, len(n.kids)+len(n.attrs))
	for i, k := range n.kids {
		km, ok := d.nodeMap(k, vals, depth)
		if !ok {
			return nil, false
		}
		nameV, hasName := km["Name"]
		_, hasValue := km["Value"]
		switch {
		case hasName && len(km) == 1, hasName && hasValue && len(km) == 2:
			s, isStr := nameV.(string)
			if !isStr {
				return nil, false // golang-evtx panics
			}
			if len(km) == 1 {
				m[s] = ""
			} else {
				m[s] = km["Value"]
			}
		default:
			name := k.name
			if _, dup := m[name]; dup {
				name += strconv.Itoa(i)
			}
			if v, only := km["Value"]; only && len(km) == 1 {
				m[name] = v
			} else {
				m[name] = km
			}
		}
	}
	for _, it := range n.items {
		v, ok := d.itemMap(it, vals, depth)
		if !ok {
			return nil, false
		}
		switch x := v.(type) {
		case evtx.GoEvtxMap:
			for k, kv := range x {
				if _, dup := m[k]; dup {
					return nil, false // golang-evtx panics
				}
				m[k] = kv
			}
		case string:
			switch old := m["Value"].(type) {
			case nil:
				m["Value"] = x
			case string:
				m["Value"] = old + x
			default:
				return nil, false // golang-evtx panics
			}
		default:
			if m["Value"], ok = d.itemMap(n.items[0], vals, depth); !ok {
				return nil, false
			}
		}
	}
	for _, a := range n.attrs {
		v, ok := d.itemMap(a.item, vals, depth)
		if !ok {
			return nil, false
		}
		if len(a.more) > 0 {
			// A value in parts: their text, joined.
			var sb strings.Builder
			for i := -1; i < len(a.more); i++ {
				if i >= 0 {
					if v, ok = d.itemMap(a.more[i], vals, depth); !ok {
						return nil, false
					}
				}
				switch x := v.(type) {
				case nil:
				case string:
					sb.WriteString(x)
				case evtx.GoEvtxMap:
					return nil, false
				default:
					sb.WriteString(asString(x))
				}
			}
			v = sb.String()
		}
		if v != nil {
			m[a.name] = v
		}
	}
	return m, true
}

// itemMap is golang-evtx's ElementToGoEvtx for text or a substitution.
func (d *chunkDecoder) itemMap(it bxItem, vals []bxValue, depth int) (any, bool) {
	if it.sub < 0 {
		return it.text(), true
	}
	if it.sub >= len(vals) {
		return nil, false // golang-evtx panics: "Index out of range"
	}
	v := vals[it.sub]
	switch v.typ {
	case vtNull:
		return nil, true
	case vtBinXML:
		return d.binXMLMap(v, depth+1)
	}
	if fs := bxFixedSize(v.typ); fs != 0 && len(v.b) != fs {
		return nil, false
	}
	return bxGolangValue(v)
}

// bxGolangValue renders a value with golang-evtx's own value types.
func bxGolangValue(v bxValue) (r any, ok bool) {
	defer func() {
		if recover() != nil {
			r, ok = nil, false
		}
	}()
	elt, err := evtx.ParseValueReader(evtx.ValueDescriptor{Size: uint16(len(v.b)), ValType: evtx.ValueType(v.typ)}, bytes.NewReader(v.b))
	if err != nil {
		return nil, false
	}
	switch x := elt.(type) {
	case *evtx.UnkVal:
		return nil, true // a type golang-evtx does not know: left out
	case evtx.Value:
		return x.Repr(), true
	}
	return nil, false
}

// binXMLMap renders a BinXML substitution value: a fragment or a template
// instance (as golang-evtx does), or a bare element without dependency
// identifiers.
func (d *chunkDecoder) binXMLMap(v bxValue, depth int) (any, bool) {
	if depth > bxMapDepth || len(v.b) == 0 {
		return nil, false
	}
	p, end := v.off, v.off+len(v.b)
	data := d.data
	if data[p] == tkFragment {
		if p+4 >= end || data[p+4] != tkTemplate {
			return nil, false // a fragment holding an element: not seen, not handled
		}
		p += 4
	}
	switch data[p] {
	case tkTemplate:
		m, _, ok := d.instanceMap(p, end, depth)
		return m, ok
	case tkOpenStart, tkOpenStart | tkMoreFlag:
		bp := &bxParser{data: data[:end], p: p, names: d.names, noDep: true, ext: true}
		root, ok := bp.element(0)
		if !ok || bp.p < end && data[bp.p] != tkEOF {
			return nil, false
		}
		n, ok := d.nodeMap(root, nil, depth)
		if !ok {
			return nil, false
		}
		return evtx.GoEvtxMap{root.name: n}, true
	}
	return nil, false
}
