package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// readXML reads Windows event XML as wevtutil prints it: concatenated
// <Event> elements with no root (/f:xml, often one per line), the same with
// <RenderingInfo> (/f:RenderedXml), or wrapped in an <Events> root
// (/e:Events). The input is cut into single <Event> elements at the byte
// level and each is decoded on its own, so memory stays bounded by
// Limits.MaxLine and a malformed event costs only itself: a warning with its
// line, then the reader resynchronises on the next <Event>.
func readXML(ctx context.Context, r io.Reader, opts Options, res *Result, emit EmitFunc) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(4096)
	if root := firstElementName(head); root != "" && root != "Event" && root != "Events" {
		return &FormatError{Format: FormatXML, Msg: fmt.Sprintf("not Windows event XML: root element <%s>, want <Event> or <Events>", root)}
	}
	source := xmlSource(head)
	sp := newXMLSplitter(br, opts.Limits.MaxLine)
	rendered := false
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		chunk, line, err := sp.next()
		if err == io.EOF {
			break
		}
		var sw splitWarning
		if errors.As(err, &sw) {
			res.warn(Warning{File: opts.Name, Line: sw.line, Msg: sw.msg})
			continue
		}
		if err != nil {
			return fmt.Errorf("read xml: %w", err)
		}
		ev, hasRendering, err := parseXMLEvent(chunk, line)
		if err != nil {
			res.warn(Warning{File: opts.Name, Line: line, Msg: err.Error()})
			continue
		}
		rendered = rendered || hasRendering
		if err := emitEvent(res, emit, ev); err != nil {
			return err
		}
	}
	switch {
	case source != "":
		res.Format = FormatXML + " (" + source + ")"
	case rendered:
		res.Format = FormatXML + " (rendered)"
	}
	return nil
}

// xmlSource names the tool that wrote an XML input, from its start:
// libevtx's evtxexport (a version banner), the Rust evtx crate's evtx_dump
// ("Record N" lines) or python-evtx's evtx_dump.py (an XML 1.1
// declaration). It returns "" for wevtutil and other XML.
func xmlSource(head []byte) string {
	t := bytes.TrimLeft(head, " \t\r\n")
	switch {
	case bytes.HasPrefix(t, []byte("evtxexport ")):
		return "evtxexport"
	case bytes.HasPrefix(t, []byte("Record ")):
		return "evtx_dump"
	case bytes.HasPrefix(t, []byte(`<?xml version="1.1"`)):
		return "python-evtx"
	}
	return ""
}

// firstElementName returns the local name of the first element in head, ""
// if head holds none yet (declarations, comments and text are skipped).
func firstElementName(head []byte) string {
	for {
		i := bytes.IndexByte(head, '<')
		if i < 0 || i+1 >= len(head) {
			return ""
		}
		head = head[i+1:]
		if head[0] == '?' || head[0] == '!' {
			continue
		}
		end := bytes.IndexAny(head, " \t\r\n/>")
		if end < 0 {
			return ""
		}
		name := string(head[:end])
		if _, local, ok := strings.Cut(name, ":"); ok {
			name = local
		}
		return name
	}
}

// splitWarning reports damage found while cutting the input into items.
type splitWarning struct {
	line int
	msg  string
}

func (w splitWarning) Error() string { return fmt.Sprintf("line %d: %s", w.line, w.msg) }

// xmlSplitter cuts a byte stream into <Event>…</Event> elements.
type xmlSplitter struct {
	r       io.Reader
	data    []byte
	lo, hi  int // data[lo:hi] is buffered and not yet consumed
	line    int // line of data[lo]
	pending int // bytes of the last returned chunk, consumed on the next call
	eof     bool
	err     error
	max     int
}

func newXMLSplitter(r io.Reader, max int) *xmlSplitter {
	return &xmlSplitter{r: r, data: make([]byte, 64<<10), line: 1, max: max}
}

func (s *xmlSplitter) buf() []byte { return s.data[s.lo:s.hi] }

func (s *xmlSplitter) drop(n int) {
	s.line += bytes.Count(s.data[s.lo:s.lo+n], []byte{'\n'})
	s.lo += n
}

// fill reads more input; it sets eof at the end.
func (s *xmlSplitter) fill() {
	if s.lo > 0 && (s.lo >= len(s.data)/2 || s.hi == len(s.data)) {
		n := copy(s.data, s.data[s.lo:s.hi])
		s.lo, s.hi = 0, n
	}
	if s.hi == len(s.data) {
		grown := make([]byte, 2*len(s.data))
		copy(grown, s.data[s.lo:s.hi])
		s.lo, s.hi, s.data = 0, s.hi-s.lo, grown
	}
	n, err := s.r.Read(s.data[s.hi:])
	s.hi += n
	if err == io.EOF {
		s.eof = true
	} else if err != nil {
		s.err = err
		s.eof = true
	}
}

// next returns the next <Event> element and its first line. Damage comes
// back as a splitWarning; the end of input as io.EOF.
func (s *xmlSplitter) next() ([]byte, int, error) {
	if s.pending > 0 {
		s.drop(s.pending)
		s.pending = 0
	}
	// Find the start of an event, discarding what lies between events
	// (the <Events> root, declarations, whitespace).
	for {
		b := s.buf()
		if i := findEventStart(b, 0); i >= 0 {
			s.drop(i)
			break
		}
		if s.eof {
			s.drop(len(b))
			if s.err != nil {
				return nil, 0, s.err
			}
			return nil, 0, io.EOF
		}
		if keep := len("<Event"); len(b) > keep {
			s.drop(len(b) - keep)
		}
		s.fill()
	}
	// Find its end.
	from := len("<Event")
	for {
		b := s.buf()
		end := findEventEnd(b, from)
		nxt := findEventStart(b, from)
		if nxt >= 0 && (end < 0 || nxt < end) {
			line := s.line
			s.drop(nxt)
			return nil, 0, splitWarning{line, "event has no </Event> before the next <Event>; skipped"}
		}
		if end > s.max {
			line := s.line
			s.drop(end)
			return nil, 0, splitWarning{line, fmt.Sprintf("event longer than %s; skipped", sizeText(s.max))}
		}
		if end >= 0 {
			s.pending = end
			return b[:end], s.line, nil
		}
		if len(b) > s.max {
			line := s.line
			s.drop(len(b) - len("</Event>"))
			return nil, 0, splitWarning{line, fmt.Sprintf("event longer than %s; skipped", sizeText(s.max))}
		}
		if s.eof {
			line := s.line
			s.drop(len(b))
			if s.err != nil {
				return nil, 0, s.err
			}
			return nil, 0, splitWarning{line, "input ends inside an event (truncated); event skipped"}
		}
		from = max(len("<Event"), len(b)-len("</Event >"))
		s.fill()
	}
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// findEventStart returns the index of the next "<Event" start tag (not
// <Events> or <EventData>) at or after from, or -1.
func findEventStart(b []byte, from int) int {
	for from < len(b) {
		i := bytes.Index(b[from:], []byte("<Event"))
		if i < 0 {
			return -1
		}
		i += from
		j := i + len("<Event")
		if j < len(b) && (b[j] == '>' || isXMLSpace(b[j])) {
			return i
		}
		from = j
	}
	return -1
}

// findEventEnd returns the index just past the next "</Event>" at or after
// from, or -1.
func findEventEnd(b []byte, from int) int {
	for from < len(b) {
		i := bytes.Index(b[from:], []byte("</Event"))
		if i < 0 {
			return -1
		}
		j := from + i + len("</Event")
		for j < len(b) && isXMLSpace(b[j]) {
			j++
		}
		if j < len(b) && b[j] == '>' {
			return j + 1
		}
		from = j
	}
	return -1
}

// xmlEvent holds the parts of the event schema idletrace uses. Element
// names match in any namespace.
type xmlEvent struct {
	System struct {
		Provider struct {
			Name string `xml:"Name,attr"`
		}
		EventID struct {
			Qualifiers string `xml:"Qualifiers,attr"`
			Value      string `xml:",chardata"`
		}
		Level       string
		TimeCreated struct {
			SystemTime string `xml:"SystemTime,attr"`
		}
		EventRecordID string
		Channel       string
		Computer      string
	}
	EventData struct {
		Data []string `xml:"Data"`
	}
	RenderingInfo *struct {
		Message string
	}
	renderedMessage string // scanXMLEventFast's RenderingInfo/Message
}

// parseXMLEvent decodes one <Event> element that starts on line.
func parseXMLEvent(chunk []byte, line int) (Event, bool, error) {
	x, ok := scanXMLEventFast(chunk)
	if !ok {
		x = xmlEvent{}
		if err := decodeXMLEvent(chunk, &x); err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return Event{}, false, fmt.Errorf("malformed event XML at line %d: %s; event skipped", line+se.Line-1, se.Msg)
			}
			return Event{}, false, fmt.Errorf("malformed event XML: %v; event skipped", err)
		}
	}
	sys := &x.System
	ev := Event{
		Computer:   strings.TrimSpace(sys.Computer),
		Channel:    strings.TrimSpace(sys.Channel),
		Provider:   strings.TrimSpace(sys.Provider.Name),
		Qualifiers: -1,
		Precision:  100 * time.Nanosecond,
	}
	if ev.Provider == "" {
		return Event{}, false, errors.New("event has no Provider Name; skipped")
	}
	id, err := strconv.ParseUint(strings.TrimSpace(sys.EventID.Value), 10, 32)
	if err != nil {
		return Event{}, false, fmt.Errorf("bad EventID %q; event skipped", clip(sys.EventID.Value))
	}
	ev.EventID, ev.Qualifiers = splitEventID(id)
	if q := strings.TrimSpace(sys.EventID.Qualifiers); q != "" {
		qv, err := strconv.ParseUint(q, 10, 16)
		if err != nil {
			return Event{}, false, fmt.Errorf("bad EventID Qualifiers %q; event skipped", clip(q))
		}
		ev.Qualifiers = int(qv)
	}
	if lv := strings.TrimSpace(sys.Level); lv != "" {
		if n, err := strconv.Atoi(lv); err == nil && n >= 0 && n < 256 {
			ev.Level = n
		}
	}
	ev.Time, ev.Precision, err = parseSystemTime(sys.TimeCreated.SystemTime)
	if err != nil {
		return Event{}, false, fmt.Errorf("bad TimeCreated SystemTime %q; event skipped", clip(sys.TimeCreated.SystemTime))
	}
	if rid := strings.TrimSpace(sys.EventRecordID); rid != "" {
		ev.RecordID, err = strconv.ParseInt(rid, 10, 64)
		if err != nil || ev.RecordID < 0 {
			return Event{}, false, fmt.Errorf("bad EventRecordID %q; event skipped", clip(rid))
		}
	}
	if x.RenderingInfo != nil && strings.TrimSpace(x.RenderingInfo.Message) != "" {
		ev.Message = strings.TrimSpace(x.RenderingInfo.Message)
	} else {
		ev.Message = joinInserts(pythonEvtxStrings(x.EventData.Data))
	}
	return ev, x.RenderingInfo != nil, nil
}

// pythonEvtxStrings undoes python-evtx's rendering of a string-array
// value (how classic sources such as Outlook store their insertion
// strings): one <Data> holding "<string>a</string>\n<string>b</string>\n".
func pythonEvtxStrings(data []string) []string {
	if len(data) != 1 || !strings.HasPrefix(data[0], "<string>") {
		return data
	}
	var out []string
	for _, part := range strings.Split(strings.TrimSpace(data[0]), "\n") {
		s, ok := strings.CutPrefix(part, "<string>")
		if !ok {
			return data
		}
		if s, ok = strings.CutSuffix(s, "</string>"); !ok {
			return data
		}
		out = append(out, s)
	}
	return out
}

// splitEventID splits a legacy 32-bit event id into its low 16 bits and its
// qualifiers (upper 16 bits, -1 when zero).
func splitEventID(id uint64) (int, int) {
	q := -1
	if id > 0xffff {
		q = int(id>>16) & 0xffff
	}
	return int(id & 0xffff), q
}

// joinInserts makes a message from insertion strings.
func joinInserts(data []string) string {
	parts := make([]string, 0, len(data))
	for _, d := range data {
		if d = strings.TrimSpace(d); d != "" {
			parts = append(parts, d)
		}
	}
	return strings.Join(parts, " ")
}

// parseSystemTime parses TimeCreated/@SystemTime and gives its precision:
// RFC 3339 in UTC with up to 9 fractional digits (wevtutil prints 7,
// evtxexport 9; Vista-era logs drop the "Z"), 100 ns as the file holds it;
// or python-evtx's "2013-10-23 16:16:29.484373", UTC with a space, 0 to 6
// digits (none when the microseconds are 0), 1 µs. python-evtx computes it
// in floating point, so it may be a few µs off the file's value.
func parseSystemTime(s string) (time.Time, time.Duration, error) {
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == ' ' {
		t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, time.UTC)
		return t, time.Microsecond, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
	}
	return t.UTC(), 100 * time.Nanosecond, err
}

// clip shortens a value quoted in a warning.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodeXMLEvent decodes one <Event> element with encoding/xml.
func decodeXMLEvent(chunk []byte, x *xmlEvent) error {
	return xml.NewDecoder(bytes.NewReader(chunk)).Decode(x)
}

// scanXMLEventFast decodes the common, plain shape of an <Event> element
// several times faster than encoding/xml. It gives up (ok false) on
// anything unusual — comments, CDATA, processing instructions, unknown
// entities, control characters, invalid UTF-8, unquoted attributes, repeated
// or nested fields — and the caller then uses encoding/xml, which also
// reports errors. Where it succeeds it yields what encoding/xml yields
// (FuzzReadXML checks this).
func scanXMLEventFast(b []byte) (x xmlEvent, ok bool) {
	if !utf8.Valid(b) {
		return x, false
	}
	var stack [8]string
	depth := 0
	seen := map[string]bool{}
	hasRendering := false
	// capture is where the text of the element being read goes.
	var capture *string
	var captureKey string
	var text []byte
	i := 0
	for i < len(b) {
		c := b[i]
		if c != '<' {
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				return x, false // text after the root
			}
			raw := b[i : i+j]
			i += j
			if depth == 0 {
				if len(bytes.TrimLeft(raw, " \t\r\n")) > 0 {
					return x, false
				}
				continue
			}
			var good bool
			text, good = appendXMLText(text[:0], raw)
			if !good {
				return x, false
			}
			if capture != nil {
				*capture += string(text)
			}
			continue
		}
		if i+1 >= len(b) {
			return x, false
		}
		switch b[i+1] {
		case '?', '!':
			return x, false
		case '/':
			end := bytes.IndexByte(b[i:], '>')
			if end < 0 || depth == 0 {
				return x, false
			}
			name := string(bytes.TrimRight(b[i+2:i+end], " \t\r\n"))
			if name != stack[depth-1] {
				return x, false
			}
			depth--
			i += end + 1
			capture = nil
			if depth == 0 {
				if len(bytes.TrimLeft(b[i:], " \t\r\n")) > 0 {
					return x, false
				}
				x.RenderingInfo = nil
				if hasRendering {
					x.RenderingInfo = &struct{ Message string }{x.renderedMessage}
				}
				return x, true
			}
			continue
		}
		// A start tag.
		j := i + 1
		for j < len(b) && !isXMLSpace(b[j]) && b[j] != '/' && b[j] != '>' {
			j++
		}
		name := string(b[i+1 : j])
		if !isXMLName(name) || strings.HasPrefix(name, "xmlns:") {
			return x, false
		}
		local := name
		if depth == len(stack) {
			return x, false
		}
		if capture != nil {
			return x, false // an element inside a field
		}
		stack[depth] = local
		depth++
		path := strings.Join(stack[:depth], "/")
		if depth == 1 && local != "Event" {
			return x, false
		}
		// Attributes.
		selfClose := false
		for {
			for j < len(b) && isXMLSpace(b[j]) {
				j++
			}
			if j >= len(b) {
				return x, false
			}
			if b[j] == '>' {
				j++
				break
			}
			if b[j] == '/' {
				if j+1 >= len(b) || b[j+1] != '>' {
					return x, false
				}
				selfClose = true
				j += 2
				break
			}
			k := j
			for k < len(b) && b[k] != '=' && !isXMLSpace(b[k]) && b[k] != '>' && b[k] != '/' {
				k++
			}
			aname := string(b[j:k])
			for k < len(b) && isXMLSpace(b[k]) {
				k++
			}
			if !isXMLName(aname) || k >= len(b) || b[k] != '=' {
				return x, false
			}
			k++
			for k < len(b) && isXMLSpace(b[k]) {
				k++
			}
			if k >= len(b) || (b[k] != '"' && b[k] != '\'') {
				return x, false
			}
			q := b[k]
			e := bytes.IndexByte(b[k+1:], q)
			if e < 0 {
				return x, false
			}
			raw := b[k+1 : k+1+e]
			if bytes.IndexByte(raw, '<') >= 0 {
				return x, false
			}
			j = k + 1 + e + 1
			if j < len(b) && !isXMLSpace(b[j]) && b[j] != '>' && b[j] != '/' {
				return x, false
			}
			var field *string
			switch path + "@" + aname {
			case "Event/System/Provider@Name":
				field = &x.System.Provider.Name
			case "Event/System/EventID@Qualifiers":
				field = &x.System.EventID.Qualifiers
			case "Event/System/TimeCreated@SystemTime":
				field = &x.System.TimeCreated.SystemTime
			default:
				// Other attributes (xmlns too) are not read, but must be
				// well-formed.
				if _, good := appendXMLText(nil, raw); !good {
					return x, false
				}
				continue
			}
			key := path + "@" + aname
			if seen[key] {
				return x, false
			}
			seen[key] = true
			v, good := appendXMLText(nil, raw)
			if !good {
				return x, false
			}
			*field = string(v)
		}
		i = j
		switch path {
		case "Event/System/EventID":
			capture = &x.System.EventID.Value
		case "Event/System/Level":
			capture = &x.System.Level
		case "Event/System/EventRecordID":
			capture = &x.System.EventRecordID
		case "Event/System/Channel":
			capture = &x.System.Channel
		case "Event/System/Computer":
			capture = &x.System.Computer
		case "Event/EventData/Data":
			x.EventData.Data = append(x.EventData.Data, "")
			capture = &x.EventData.Data[len(x.EventData.Data)-1]
		case "Event/RenderingInfo":
			hasRendering = true
		case "Event/RenderingInfo/Message":
			capture = &x.renderedMessage
		}
		captureKey = path
		if capture != nil && captureKey != "Event/EventData/Data" {
			if seen[captureKey] {
				return x, false
			}
			seen[captureKey] = true
		}
		if selfClose {
			depth--
			capture = nil
		}
		if depth == 0 {
			return x, false // <Event/>
		}
	}
	return x, false
}

// isXMLName accepts the plain ASCII names of event XML (letters, digits,
// '_', '-', '.'; no namespace prefix, except xmlns:…); others go to
// encoding/xml.
func isXMLName(s string) bool {
	if rest, ok := strings.CutPrefix(s, "xmlns:"); ok {
		s = rest
	}
	if s == "" || strings.IndexByte(s, ':') >= 0 {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// appendXMLText appends raw character data decoded as encoding/xml does:
// the five named entities and character references, line ends folded to
// \n. It reports false on anything it does not handle.
func appendXMLText(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\r':
			dst = append(dst, '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		case c < 0x20 && c != '\t' && c != '\n':
			return dst, false
		case c == '&':
			end := bytes.IndexByte(raw[i:], ';')
			if end < 0 {
				return dst, false
			}
			ent := string(raw[i+1 : i+end])
			i += end
			switch ent {
			case "lt":
				dst = append(dst, '<')
			case "gt":
				dst = append(dst, '>')
			case "amp":
				dst = append(dst, '&')
			case "quot":
				dst = append(dst, '"')
			case "apos":
				dst = append(dst, '\'')
			default:
				var n uint64
				var err error
				switch {
				case strings.HasPrefix(ent, "#x"):
					n, err = strconv.ParseUint(ent[2:], 16, 32)
				case strings.HasPrefix(ent, "#"):
					n, err = strconv.ParseUint(ent[1:], 10, 32)
				default:
					return dst, false
				}
				r := rune(n)
				if err != nil || len(ent) < 2 || ent[1] == '+' || ent[1] == '-' || !(r == 0x09 || r == 0x0a || r == 0x0d || r >= 0x20 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff) {
					return dst, false
				}
				dst = utf8.AppendRune(dst, r)
			}
		default:
			if c >= 0x80 {
				r, size := utf8.DecodeRune(raw[i:])
				if !(r >= 0x20 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff) {
					return dst, false
				}
				dst = append(dst, raw[i:i+size]...)
				i += size - 1
				continue
			}
			dst = append(dst, c)
		}
	}
	return dst, true
}
