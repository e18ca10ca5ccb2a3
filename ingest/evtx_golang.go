package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	stdlog "log"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/0xrawsec/golang-evtx/evtx"
)

var quietOnce sync.Once

// quietLibraryLogs silences golang-evtx, which reports every parse problem
// (with a goroutine stack) through the standard library's global logger.
// idletrace logs with log/slog and reports those problems as warnings, so
// the global logger is sent to io.Discard once, before the first parse.
func quietLibraryLogs() {
	quietOnce.Do(func() { stdlog.SetOutput(io.Discard) })
}

// readEVTXGolang is the reference reader: it walks every 64 KiB chunk of an
// EVTX file synchronously with golang-evtx, with a recover around each
// chunk and each record (golang-evtx panics on damaged input, and its
// channel APIs do so in goroutines no caller can recover, EVTX-PARSERS.md
// §2), and emits every record it can convert. Every chunk the file holds is
// read, not only the header's ChunkCount, and a trailing partial chunk is
// read up to its end. readEVTX's fast path is tested against it, and it is
// the fallback for records the fast path cannot decide.
func readEVTXGolang(ctx context.Context, r io.ReaderAt, size int64, opts Options, res *Result, emit EmitFunc) error {
	quietLibraryLogs()
	if size < evtxHeaderSize {
		return &FormatError{Format: FormatEVTX, Msg: fmt.Sprintf("file is %d bytes, shorter than the 4096-byte EVTX header", size)}
	}
	nChunks := (size - evtxHeaderSize + evtxChunkSize - 1) / evtxChunkSize
	if tail := (size - evtxHeaderSize) % evtxChunkSize; tail != 0 {
		res.warn(Warning{File: opts.Name, Offset: size - tail, Msg: fmt.Sprintf("file ends inside a chunk (%d of 65536 bytes present): it was truncated; reading what is there", tail)})
	}
	padded := io.NewSectionReader(zeroPadded{r: r, size: size}, 0, evtxHeaderSize+nChunks*evtxChunkSize)
	ef, err := openEVTX(padded)
	if err != nil {
		return &FormatError{Format: FormatEVTX, Msg: err.Error()}
	}
	for i := int64(0); i < nChunks; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		off := evtxHeaderSize + i*evtxChunkSize
		if err := readChunk(ef, off, opts, res, emit); err != nil {
			return err
		}
	}
	return nil
}

// zeroPadded reads r and returns zeros past its size, so that a truncated
// last chunk can be handed to the parser as a whole one.
type zeroPadded struct {
	r    io.ReaderAt
	size int64
}

func (z zeroPadded) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < z.size {
		want := min(int64(len(p)), z.size-off)
		m, err := z.r.ReadAt(p[:want], off)
		n = m
		if err != nil && err != io.EOF {
			return n, err
		}
		if int64(m) < want {
			return n, io.ErrUnexpectedEOF
		}
	}
	clear(p[n:])
	return len(p), nil
}

func openEVTX(rs io.ReadSeeker) (ef *evtx.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			ef, err = nil, fmt.Errorf("unreadable file header: %v", p)
		}
	}()
	f, _ := evtx.New(rs)
	if v := f.Header.Verify(); v != nil && v != evtx.ErrDirtyFile {
		return nil, fmt.Errorf("not an EVTX file: %v", v)
	}
	return &f, nil
}

// readChunk parses the chunk at off and emits its records.
func readChunk(ef *evtx.File, off int64, opts Options, res *Result, emit EmitFunc) error {
	c, ferr, perr := fetchChunk(ef, off)
	if perr != nil {
		res.warn(Warning{File: opts.Name, Offset: off, Msg: fmt.Sprintf("chunk unreadable (%v): its records are lost", perr)})
		return nil
	}
	if string(c.Header.Magic[:]) != evtxChunkMagic {
		if !isZero(c.Data[:min(len(c.Data), evtxChunkHdrSize)]) {
			res.warn(Warning{File: opts.Name, Offset: off, Msg: "chunk has a bad signature: skipped"})
		}
		return nil
	}
	if err := c.Header.Validate(); err != nil {
		res.warn(Warning{File: opts.Name, Offset: off, Msg: fmt.Sprintf("chunk header invalid (%v): skipped", err)})
		return nil
	}
	if ferr != nil {
		res.warn(Warning{File: opts.Name, Offset: off, Msg: fmt.Sprintf("chunk damaged (%v): records after the damage are lost", ferr)})
	} else if !chunkChecksumOK(c.Data) {
		res.warn(Warning{File: opts.Name, Offset: off, Msg: "chunk fails its checksum: records read anyway"})
	}
	bad := 0
	var firstBad int64
	for _, eo := range c.EventOffsets {
		if int64(eo) > int64(c.Header.OffsetLastRec) {
			continue
		}
		e, ok, err := parseRecord(&c, int64(eo))
		if err != nil {
			if bad == 0 {
				firstBad = off + int64(eo)
			}
			bad++
			continue
		}
		if !ok {
			continue
		}
		res.Records++
		if err := emit(e); err != nil {
			return err
		}
	}
	if bad > 0 {
		res.warn(Warning{File: opts.Name, Offset: firstBad, Msg: fmt.Sprintf("%d record(s) in this chunk could not be parsed: skipped", bad)})
	}
	return nil
}

func fetchChunk(ef *evtx.File, off int64) (c evtx.Chunk, ferr, perr error) {
	defer func() {
		if p := recover(); p != nil {
			perr = fmt.Errorf("%v", p)
		}
	}()
	c, ferr = ef.FetchChunk(off)
	return c, ferr, nil
}

// chunkChecksumOK checks the CRC32 of the chunk's records against its header.
func chunkChecksumOK(data []byte) bool {
	if len(data) < evtxChunkHdrSize {
		return false
	}
	free := int(binary.LittleEndian.Uint32(data[48:52]))
	if free < evtxChunkHdrSize || free > len(data) {
		return false
	}
	return crc32.ChecksumIEEE(data[evtxChunkHdrSize:free]) == binary.LittleEndian.Uint32(data[52:56])
}

func isZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// parseRecord converts the record at off; ok is false for an offset that
// holds no record (the library lists one past the last).
func parseRecord(c *evtx.Chunk, off int64) (e Event, ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	ev := c.ParseEvent(off)
	if !ev.IsValid() {
		return e, false, nil
	}
	gem, gerr := ev.GoEvtxMap(c)
	if gem == nil {
		if gerr == nil {
			gerr = fmt.Errorf("empty record")
		}
		return e, false, gerr
	}
	return eventFromRecord(*gem, &ev.Header), true, nil
}

// eventFromRecord converts golang-evtx's map of a record, taking the record
// id and time from the record's header when the map lacks them.
func eventFromRecord(gem evtx.GoEvtxMap, h *evtx.EventHeader) Event {
	e := eventFromMap(gem)
	if e.RecordID == 0 {
		e.RecordID = h.ID
	}
	if e.Time.IsZero() {
		e.Time = time.Time(h.Timestamp.Time()).UTC()
	}
	return e
}

// systemChildren are the standard children of <System>; a classic
// provider's Name-only <Provider> arrives as an extra empty-valued key.
var systemChildren = map[string]bool{
	"Provider": true, "EventID": true, "Version": true, "Level": true, "Task": true,
	"Opcode": true, "Keywords": true, "TimeCreated": true, "EventRecordID": true,
	"Correlation": true, "Execution": true, "Channel": true, "Computer": true, "Security": true,
}

// eventFromMap reads the fields idletrace needs from golang-evtx's map,
// tolerating missing fields and the classic-provider shape.
func eventFromMap(m evtx.GoEvtxMap) Event {
	e := Event{Qualifiers: -1, Precision: 100 * time.Nanosecond}
	root, _ := asMap(m["Event"])
	sys, _ := asMap(root["System"])
	e.Channel = asString(sys["Channel"])
	e.Computer = asString(sys["Computer"])
	e.Provider = providerName(sys)
	switch id := sys["EventID"].(type) {
	case string:
		e.EventID = atoi(id) & 0xffff
	default:
		if idm, ok := asMap(id); ok {
			e.EventID = atoi(asString(idm["Value"])) & 0xffff
			if q := asString(idm["Qualifiers"]); q != "" {
				e.Qualifiers = atoi(q)
			}
		}
	}
	e.Level = atoi(asString(sys["Level"]))
	e.RecordID, _ = strconv.ParseInt(asString(sys["EventRecordID"]), 10, 64)
	if tc, ok := asMap(sys["TimeCreated"]); ok {
		switch t := tc["SystemTime"].(type) {
		case evtx.UTCTime:
			e.Time = time.Time(t).UTC()
		case time.Time:
			e.Time = t.UTC()
		case string:
			if pt, err := time.Parse(time.RFC3339Nano, t); err == nil {
				e.Time = pt.UTC()
			}
		}
	}
	e.Message = eventDataText(root)
	return e
}

func providerName(sys evtx.GoEvtxMap) string {
	if p, ok := asMap(sys["Provider"]); ok {
		if n := asString(p["Name"]); n != "" {
			return n
		}
		return asString(p["EventSourceName"])
	}
	var names []string
	for k, v := range sys {
		if s, ok := v.(string); ok && s == "" && !systemChildren[k] {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return names[0]
}

// eventDataText joins the insertion strings of <EventData> (or <UserData>).
func eventDataText(root evtx.GoEvtxMap) string {
	ed, ok := asMap(root["EventData"])
	if !ok {
		ed, ok = asMap(root["UserData"])
		if !ok {
			return ""
		}
	}
	var parts []string
	if d, ok := ed["Data"]; ok {
		parts = appendText(parts, d)
	}
	keys := make([]string, 0, len(ed))
	for k := range ed {
		if k != "Data" && k != "Binary" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = appendText(parts, ed[k])
	}
	return strings.Join(parts, "\n")
}

// appendStrings appends the non-empty strings of a string or []string
// value; ok is false for any other type.
func appendStrings(parts []string, v any) (_ []string, ok bool) {
	switch x := v.(type) {
	case string:
		if x != "" {
			parts = append(parts, x)
		}
	case []string:
		for _, s := range x {
			if s != "" {
				parts = append(parts, s)
			}
		}
	default:
		return parts, false
	}
	return parts, true
}

func appendText(parts []string, v any) []string {
	if out, ok := appendStrings(parts, v); ok {
		return out
	}
	switch x := v.(type) {
	case nil:
	default:
		if m, ok := asMap(x); ok {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				parts = appendText(parts, m[k])
			}
		} else {
			parts = append(parts, fmt.Sprint(x))
		}
	}
	return parts
}

func asMap(v any) (evtx.GoEvtxMap, bool) {
	switch m := v.(type) {
	case evtx.GoEvtxMap:
		return m, true
	case map[string]any:
		return evtx.GoEvtxMap(m), true
	}
	return nil, false
}

func asString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case nil:
		return ""
	case fmt.Stringer:
		return s.String()
	}
	return fmt.Sprint(v)
}

func atoi(s string) int {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		n, _ := strconv.ParseInt(s[2:], 16, 64)
		return int(n)
	}
	n, _ := strconv.Atoi(s)
	return n
}

// goChunk wraps a chunk already in memory for golang-evtx's record parser,
// without its string and template tables (ParseEvent and GoEvtxMap read
// names and templates by offset; a damaged table entry, which makes
// FetchChunk panic and lose the whole chunk, then costs nothing).
func goChunk(data []byte, off int64) (c *evtx.Chunk, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("%v", p)
		}
	}()
	ch := evtx.NewChunk()
	ch.Offset = off
	ch.Data = data
	ch.ParseChunkHeader(bytes.NewReader(data))
	// Record boundaries are checked by the caller; let ParseEvent read any
	// offset in the chunk.
	ch.Header.OffsetLastRec = evtxChunkSize - 1
	return &ch, nil
}

// errParseBudget stops a golang-evtx parse that is looping.
var errParseBudget = errors.New("golang-evtx parse exceeded its budget (looping template references)")

// guardReader is the reader golang-evtx parses a record from in the
// fallback. golang-evtx follows template references without a depth limit:
// a template definition that (after damage) refers to itself recurses
// until the goroutine stack overflows, which no recover can catch. The
// guard counts reads and seeks, and how often each offset is jumped to,
// and panics (recoverably) long before the stack is in danger.
type guardReader struct {
	*bytes.Reader
	ops   int
	jumps map[int64]int
}

const (
	guardMaxOps   = 1 << 20 // a 64 KiB string array is read 2 bytes at a time
	guardMaxJumps = 256     // times one offset may be jumped to
)

func (g *guardReader) tick() {
	g.ops++
	if g.ops > guardMaxOps {
		panic(errParseBudget)
	}
}

func (g *guardReader) Read(p []byte) (int, error) {
	g.tick()
	return g.Reader.Read(p)
}

func (g *guardReader) Seek(off int64, whence int) (int64, error) {
	g.tick()
	if whence == io.SeekStart {
		if g.jumps == nil {
			g.jumps = make(map[int64]int, 16)
		}
		g.jumps[off]++
		if g.jumps[off] > guardMaxJumps {
			panic(errParseBudget)
		}
	}
	return g.Reader.Seek(off, whence)
}

// parseRecordGuarded is parseRecord with golang-evtx reading through a
// guardReader (the body of evtx.Event.GoEvtxMap, which builds its own
// unguarded reader), and with the map golang-evtx would build measured
// before it is built (goMapCost): a record that would expand past
// goMapBudget fails with a *mapBudgetError instead.
func parseRecordGuarded(c *evtx.Chunk, off int64) (e Event, ok bool, err error) {
	return parseRecordBudget(c, off, goMapBudget)
}

// goMapBudget bounds the work golang-evtx's map building may do for one
// record, in goMapCost's units (about one per element, attribute, text and
// substitution rendered, counting repeats), the same bound recordMap has. Without repeated
// substitutions a record renders each token of its BinXML at most once,
// and a 64 KiB chunk holds fewer than 22,000 tokens (the shortest, a
// character reference, is 3 bytes), so only records that render one value
// many times come near it (the 110,000 records of the shared samples and
// scenarios cost 171 at most).
const goMapBudget = bxMapBudget

// goMapMaxDepth bounds substitution chains and nested template instances
// in goMapCost (recordMap allows bxMapDepth nested values; a substitution
// value that refers to itself would recurse in golang-evtx until the stack
// overflows, a fatal error no recover can catch).
const goMapMaxDepth = 4 * bxMapDepth

// mapBudgetError reports a record whose map golang-evtx would take too
// long to build.
type mapBudgetError struct{ budget int }

func (e *mapBudgetError) Error() string {
	return fmt.Sprintf("golang-evtx would expand the record past %d nodes (nested BinXML values used many times, or a substitution that refers to itself)", e.budget)
}

// parseRecordBudget is parseRecordGuarded with the map budget as a
// parameter; budget < 0 builds the map unchecked (tests only).
func parseRecordBudget(c *evtx.Chunk, off int64, budget int) (e Event, ok bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	ev := c.ParseEvent(off)
	if !ev.IsValid() {
		return e, false, nil
	}
	g := &guardReader{Reader: bytes.NewReader(c.Data)}
	if _, err := g.Reader.Seek(off+evtx.EventHeaderSize, io.SeekStart); err != nil {
		return e, false, err
	}
	element, perr := evtx.Parse(g, c, false)
	fragment, isFrag := element.(*evtx.Fragment)
	if !isFrag {
		if perr == nil {
			perr = errors.New("record is not a BinXML fragment")
		}
		return e, false, perr
	}
	if budget >= 0 {
		if _, within := goMapCost(fragment, budget); !within {
			return e, false, &mapBudgetError{budget}
		}
	}
	gem := fragment.GoEvtxMap()
	if gem == nil {
		if perr == nil || perr == io.EOF {
			perr = errors.New("empty record")
		}
		return e, false, perr
	}
	return eventFromRecord(*gem, &ev.Header), true, nil
}

// goMapCost measures the work Fragment.GoEvtxMap would do on a parsed
// record, in units of one per map and value rendered (at least one per
// element, attribute and substitution visited), without building anything: golang-evtx renders a substitution
// by rendering its value again at every use, and a value that is a nested
// template instance (BinXML value, type 0x21) renders its whole template,
// so a template that uses such a value k times, nested d deep, costs k^d.
// Here each template instance is measured once (memoized), so the walk is
// linear in what the (guarded) parse produced. It stops as soon as the
// total passes limit; within is false then, and also for substitution
// chains or nesting deeper than goMapMaxDepth.
func goMapCost(f *evtx.Fragment, limit int) (cost int, within bool) {
	ti, ok := f.BinXMLElement.(*evtx.TemplateInstance)
	if !ok {
		return 1, true // GoEvtxMap returns nil
	}
	m := goCoster{limit: limit, memo: map[*evtx.TemplateInstance]int{}}
	cost = m.instance(ti, 0)
	return cost, cost <= limit
}

type goCoster struct {
	limit int
	memo  map[*evtx.TemplateInstance]int // cost of rendering; -1 while in progress
}

// over is a cost past any limit.
func (m *goCoster) over() int { return m.limit + 1 }

// add adds costs, saturating past the limit.
func (m *goCoster) add(a, b int) int {
	if a > m.limit || b > m.limit || a+b > m.limit {
		return m.over()
	}
	return a + b
}

// instance is the cost of TemplateInstance.NodeToGoEvtx on ti's root.
func (m *goCoster) instance(ti *evtx.TemplateInstance, depth int) int {
	if depth > goMapMaxDepth {
		return m.over()
	}
	if c, ok := m.memo[ti]; ok {
		if c < 0 {
			return m.over() // a cycle: golang-evtx would not return
		}
		return c
	}
	m.memo[ti] = -1
	root := ti.Root()
	c := m.node(ti, &root, depth)
	m.memo[ti] = c
	return c
}

// node is the cost of NodeToGoEvtx on n.
func (m *goCoster) node(ti *evtx.TemplateInstance, n *evtx.Node, depth int) int {
	c := 1
	for _, k := range n.Child {
		if c = m.add(c, m.node(ti, k, depth)); c > m.limit {
			return c
		}
	}
	for _, e := range n.Element {
		c = m.add(c, m.element(ti, e, depth))
		// A rendering that is neither a map nor a string makes
		// NodeToGoEvtx render the node's first element once more.
		if !m.mapOrString(ti, e, depth) {
			c = m.add(c, m.element(ti, n.Element[0], depth))
		}
		if c > m.limit {
			return c
		}
	}
	if n.Start != nil {
		for _, a := range n.Start.AttributeList.Attributes {
			if c = m.add(c, m.element(ti, a.AttributeData, depth)); c > m.limit {
				return c
			}
		}
	}
	return c
}

// element is the cost of ti.ElementToGoEvtx(e).
func (m *goCoster) element(ti *evtx.TemplateInstance, e evtx.Element, depth int) int {
	if depth > goMapMaxDepth {
		return m.over()
	}
	switch x := e.(type) {
	case *evtx.ValueText:
		return 1
	case *evtx.OptionalSubstitution:
		return m.subst(ti, int(x.SubID), depth)
	case *evtx.NormalSubstitution:
		return m.subst(ti, int(x.SubID), depth)
	case *evtx.Fragment:
		if t, ok := x.BinXMLElement.(*evtx.TemplateInstance); ok {
			return m.instance(t, depth+1)
		}
	case *evtx.TemplateInstance:
		return m.instance(x, depth+1)
	}
	return 1 // a value, an entity reference, or something golang-evtx panics on
}

func (m *goCoster) subst(ti *evtx.TemplateInstance, id, depth int) int {
	if id < 0 || id >= len(ti.Data.Values) {
		return 1 // golang-evtx panics: "Index out of range"
	}
	return m.element(ti, ti.Data.Values[id], depth+1)
}

// mapOrString reports whether ti.ElementToGoEvtx(e) certainly gives a map
// or a string (false when unsure: the estimate is then too high, never too
// low).
func (m *goCoster) mapOrString(ti *evtx.TemplateInstance, e evtx.Element, depth int) bool {
	for range goMapMaxDepth {
		switch x := e.(type) {
		case *evtx.ValueText, *evtx.TemplateInstance:
			return true
		case *evtx.Fragment:
			_, ok := x.BinXMLElement.(*evtx.TemplateInstance)
			return ok
		case *evtx.OptionalSubstitution:
			e = goSubstValue(ti, int(x.SubID))
		case *evtx.NormalSubstitution:
			e = goSubstValue(ti, int(x.SubID))
		case *evtx.ValueString:
			return true
		default:
			return false
		}
	}
	return false
}

func goSubstValue(ti *evtx.TemplateInstance, id int) evtx.Element {
	if id < 0 || id >= len(ti.Data.Values) {
		return nil
	}
	return ti.Data.Values[id]
}
