package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JSON input: an array of objects, one object, or NDJSON (one object per
// line; concatenated objects work too). Each object's shape is detected on
// its own, so one file may mix shippers. Recognised shapes (the name in
// parentheses is what Result.Format reports, e.g. "json (winlogbeat)"):
//
// idletrace — idletrace's own event schema, what agents should send:
//
//	{
//	  "computer":   "HQ-PC01.corp.example",        // required
//	  "channel":    "Application",                 // required
//	  "provider":   "Outlook",                     // required
//	  "event_id":   26,                            // required; low 16 bits kept
//	  "qualifiers": 16384,                         // optional; null or absent = unknown
//	  "level":      4,                             // optional
//	  "record_id":  123456,                        // optional; EventRecordID
//	  "time":       "2024-05-02T07:41:12.3456789Z", // required; RFC 3339 with zone
//	  "message":    "Connection to Microsoft Exchange has been restored."
//	}
//
// Numbers may also be sent as strings. The precision of "time" is that of
// its fraction (none: 1 s; 3 digits: 1 ms; 7 digits: 100 ns).
//
// winlogbeat — Winlogbeat ECS: @timestamp, winlog.computer_name,
// winlog.channel, winlog.provider_name, winlog.event_id (string or number),
// winlog.record_id, message (else winlog.event_data values); host.name and
// event.provider/event.code as fallbacks.
//
// winlogbeat 6 — Winlogbeat 6.x: @timestamp, event_id, source_name,
// computer_name, log_name, record_number, level, message.
//
// nxlog — NXLog to_json(): EventTime (local "YYYY-MM-DD HH:MM:SS" in
// Options.Location, UTC with a warning when none is given; or epoch ms),
// Hostname, SourceName, EventID, Channel, RecordNumber, SeverityValue,
// Message.
//
// fluentbit — Fluent Bit winevtlog: ProviderName, EventID, Qualifiers,
// Level, TimeCreated ("2024-05-02 09:41:12 +0200", 1 s), Computer, Channel,
// EventRecordID, Message (else StringInserts).
//
// fluentbit winlog — Fluent Bit's older winlog input (plugins/in_winlog,
// used by Google's Ops Agent): RecordNumber, TimeGenerated ("2024-05-02
// 09:41:12 +0200", 1 s), TimeWritten, EventID (also spelt EventId; low 16
// bits), Qualifiers, EventType ("Information"), EventCategory, Channel,
// SourceName, ComputerName, Data, Sid, Message (else StringInserts).
//
// evtx_dump — the event as a JSON tree, {"Event": {"System": {…},
// "EventData": {…}}}, as the Rust evtx crate's evtx_dump -o json / jsonl
// (the parser under Hayabusa and Chainsaw) and golang-evtx's evtxdump
// print it. Attributes may be under "#attributes" with the element's text
// under "#text" (evtx_dump), in a sibling "<Name>_attributes" object
// (evtx_dump --separate-json-attributes), or plain keys beside "Value"
// (evtxdump). System/TimeCreated/SystemTime is UTC; EventData/Data may be
// a string, a list, or named values. evtx_dump -o json prints "Record N"
// before each event; such lines are skipped.
//
// powershell — Get-WinEvent | ConvertTo-Json: Id, ProviderName, LogName,
// TimeCreated ("\/Date(ms)\/" from Windows PowerShell, ISO 8601 with offset
// from PowerShell 7), MachineName, RecordId, Level, Qualifiers, Message; and
// Get-EventLog | ConvertTo-Json: Source, InstanceId (low 16 bits) or EventID,
// TimeGenerated (1 s: the classic event log keeps whole seconds),
// MachineName, Index, EntryType, Message. Get-EventLog carries no log
// name; "Application" is assumed.
//
// Elasticsearch hits ({"_source": {...}}) are unwrapped first.

// DecodeItems decodes JSON events (array, single object or NDJSON) from r
// for a batch API: fn gets every item in order with its 0-based index and
// either the event or the reason it is unusable, so a caller can reject one
// bad item alone. Returning an error from fn stops decoding and returns it.
// The format names the shapes seen, e.g. "json (winlogbeat)". An error is
// returned only when r is not JSON at all or cannot be read.
func DecodeItems(ctx context.Context, r io.Reader, opts Options, fn func(index int, ev Event, err error) error) (format string, err error) {
	opts.Limits = opts.Limits.withDefaults()
	shapes, err := iterJSON(ctx, newTextDecoder(r), opts, func(it jsonItemResult) error {
		return fn(it.index, it.ev, it.err)
	})
	return jsonFormat(shapes), err
}

// DecodeItem decodes one JSON object of any shape DecodeItems recognises,
// for callers that already hold one event's JSON (the Beats listener). The
// format names its shape, e.g. "json (winlogbeat)", when recognised.
func DecodeItem(raw []byte, opts Options) (ev Event, format string, err error) {
	ev, shape, err := decodeJSONItem(raw, opts)
	if shape.name == "" {
		return ev, FormatJSON, err
	}
	return ev, jsonFormat([]string{shape.name}), err
}

// readJSON reads JSON events; unusable items become warnings.
func readJSON(ctx context.Context, r io.Reader, opts Options, res *Result, emit EmitFunc) error {
	shapes, err := iterJSON(ctx, r, opts, func(it jsonItemResult) error {
		if it.err != nil {
			res.warn(Warning{File: opts.Name, Line: it.line, Msg: fmt.Sprintf("JSON item %d: %v", it.index, it.err)})
			return nil
		}
		if it.localTime != "" {
			res.noteLocalTime(opts, it.localTime)
		}
		return emitEvent(res, emit, it.ev)
	})
	res.Format = jsonFormat(shapes)
	return err
}

func jsonFormat(shapes []string) string {
	if len(shapes) == 0 {
		return FormatJSON
	}
	return FormatJSON + " (" + strings.Join(shapes, ", ") + ")"
}

type jsonItemResult struct {
	index int // 0-based position in the input
	line  int // 1-based line where the item starts
	ev    Event
	err   error
	// localTime names the field whose zoneless time was read in UTC
	// because no zone was given.
	localTime string
}

// iterJSON splits r into items and decodes each. It returns the shapes seen
// in order of first appearance.
func iterJSON(ctx context.Context, r io.Reader, opts Options, fn func(jsonItemResult) error) ([]string, error) {
	sp := &jsonSplitter{r: bufio.NewReaderSize(r, 64<<10), max: opts.Limits.MaxLine, line: 1}
	var shapes []string
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return shapes, err
			}
		}
		raw, line, index, err := sp.next()
		if err == io.EOF {
			return shapes, nil
		}
		it := jsonItemResult{index: index, line: line}
		var sw splitWarning
		switch {
		case errors.As(err, &sw):
			if index < 0 { // damage between items, not an item of its own
				it.index = 0
			}
			it.err = errors.New(sw.msg)
		case err != nil:
			return shapes, err
		default:
			var shape jsonShape
			it.ev, shape, it.err = decodeJSONItem(raw, opts)
			it.localTime = shape.localTime
			if shape.name != "" && !slices.Contains(shapes, shape.name) {
				shapes = append(shapes, shape.name)
			}
		}
		if err := fn(it); err != nil {
			return shapes, err
		}
	}
}

// jsonSplitter cuts a stream into top-level JSON values (or the elements
// of top-level arrays) without decoding them. When the input is NDJSON (the
// first item ends on its line) a line break inside an unclosed item ends
// it, so a damaged line costs only itself.
type jsonSplitter struct {
	r       *bufio.Reader
	max     int
	line    int
	index   int
	inArray bool
	started bool
	ndjson  bool
	buf     []byte
}

func (s *jsonSplitter) readByte() (byte, error) {
	c, err := s.r.ReadByte()
	if c == '\n' && err == nil {
		s.line++
	}
	return c, err
}

func (s *jsonSplitter) unread(c byte) {
	s.r.UnreadByte()
	if c == '\n' {
		s.line--
	}
}

// next returns the next item, its line and index. Damage (an oversized or
// unterminated item) comes back as a splitWarning with the item's index.
func (s *jsonSplitter) next() ([]byte, int, int, error) {
	var c byte
	var err error
	for {
		c, err = s.readByte()
		if err != nil {
			if err != io.EOF {
				return nil, s.line, -1, err
			}
			if s.inArray {
				s.inArray = false
				return nil, s.line, s.index, splitWarning{s.line, "input ends inside the JSON array (truncated)"}
			}
			return nil, 0, 0, io.EOF
		}
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c == 'R' && !s.inArray && s.skipBanner():
			continue
		case c == ',' && s.inArray:
			continue
		case c == ']' && s.inArray:
			s.inArray = false
			continue
		case c == '[' && !s.inArray:
			if !s.started && !s.ndjson {
				s.inArray = true
				s.started = true
				continue
			}
		case !s.started && c != '{':
			return nil, 0, 0, &FormatError{Format: FormatJSON, Msg: fmt.Sprintf("line %d: want a JSON object or array, found %q", s.line, c)}
		}
		break
	}
	first := !s.started
	s.started = true
	line, index := s.line, s.index
	s.index++
	s.unread(c) // the scan below starts at the item's first byte
	s.buf = s.buf[:0]
	oversize := false
	keep := func(b []byte) {
		switch {
		case oversize:
		case len(s.buf)+len(b) > s.max:
			oversize = true
			s.buf = s.buf[:0]
		default:
			s.buf = append(s.buf, b...)
		}
	}
	// consume moves n bytes of the window into the item.
	consume := func(win []byte, n int) {
		keep(win[:n])
		s.line += bytes.Count(win[:n], []byte{'\n'})
		s.r.Discard(n)
	}
	depth, itemLen := 0, 0
	inStr, esc, multiline := false, false, false
	for {
		if _, err := s.r.Peek(1); err != nil {
			if err != io.EOF {
				return nil, line, index, err
			}
			return nil, line, index, splitWarning{line, "input ends inside a JSON item (truncated); item skipped"}
		}
		win, _ := s.r.Peek(s.r.Buffered())
		for i := 0; i < len(win); i++ {
			c := win[i]
			end := -1 // the item ends before win[end]
			switch {
			case inStr:
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
					if depth == 0 {
						end = i + 1
					}
				}
			case c == '"':
				inStr = true
			case c == '{' || c == '[':
				depth++
			case (c == '}' || c == ']') && depth > 0:
				depth--
				if depth == 0 {
					end = i + 1
				}
			case depth == 0 && (c == '}' || c == ']' || c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'):
				// The end of a bare value (a stray closer, or the end of
				// the array). It starts the next item unless it is all
				// there is.
				if itemLen+i > 0 {
					consume(win, i)
					return s.finish(line, index, oversize)
				}
				consume(win, 1)
				return s.finish(line, index, oversize)
			}
			if c == '\n' && end < 0 {
				// In NDJSON a value never spans lines; in any JSON a "{" at
				// the start of a line inside a value means the value was cut
				// off. (A raw line break inside a string is invalid JSON.)
				if i+1 >= len(win) {
					if p, _ := s.r.Peek(i + 2); len(p) > i+1 {
						win = p
					}
				}
				if (s.ndjson && !s.inArray) || (i+1 < len(win) && win[i+1] == '{') {
					consume(win, i)
					return nil, line, index, splitWarning{line, "incomplete JSON item (the line ends before the value does); item skipped"}
				}
				multiline = true
			}
			if end >= 0 {
				consume(win, end)
				if first && !s.inArray && !multiline {
					s.ndjson = true
				}
				return s.finish(line, index, oversize)
			}
		}
		itemLen += len(win)
		consume(win, len(win))
	}
}

// skipBanner discards the rest of a "Record N" line (evtx_dump -o json
// prints one before each event) whose "R" was just read.
func (s *jsonSplitter) skipBanner() bool {
	p, _ := s.r.Peek(32)
	line, _, _ := bytes.Cut(p, []byte("\n"))
	if !isToolBanner(append([]byte("R"), line...)) {
		return false
	}
	s.r.Discard(len(line))
	return true
}

func (s *jsonSplitter) finish(line, index int, oversize bool) ([]byte, int, int, error) {
	if oversize {
		return nil, line, index, splitWarning{line, fmt.Sprintf("JSON item longer than %s; item skipped", sizeText(s.max))}
	}
	return s.buf, line, index, nil
}

// jsonItem holds every field any recognised shape uses. Values stay raw so
// that a field of an unexpected type fails only its own shape's check.
// encoding/json matches keys case-insensitively, which merges the same
// names across shapes ("Computer"/"computer", "Channel"/"channel",
// "Message"/"message", "Level"/"level", "Qualifiers"/"qualifiers").
type jsonItem struct {
	// idletrace (and shared spellings)
	Computer   json.RawMessage `json:"computer"`
	Channel    json.RawMessage `json:"channel"`
	Provider   json.RawMessage `json:"provider"`
	EventIDLow json.RawMessage `json:"event_id"` // also Winlogbeat 6
	Qualifiers json.RawMessage `json:"qualifiers"`
	Level      json.RawMessage `json:"level"`
	RecordID   json.RawMessage `json:"record_id"`
	Time       json.RawMessage `json:"time"`
	Message    json.RawMessage `json:"message"`
	// Winlogbeat
	Timestamp json.RawMessage `json:"@timestamp"`
	Winlog    json.RawMessage `json:"winlog"`
	ECSEvent  json.RawMessage `json:"event"`
	Host      json.RawMessage `json:"host"`
	Log       json.RawMessage `json:"log"`
	// Winlogbeat 6
	SourceName6   json.RawMessage `json:"source_name"`
	ComputerName6 json.RawMessage `json:"computer_name"`
	LogName6      json.RawMessage `json:"log_name"`
	RecordNumber6 json.RawMessage `json:"record_number"`
	// NXLog
	EventTime     json.RawMessage `json:"EventTime"`
	Hostname      json.RawMessage `json:"Hostname"`
	SourceName    json.RawMessage `json:"SourceName"`
	EventID       json.RawMessage `json:"EventID"` // also Fluent Bit, Get-EventLog
	RecordNumber  json.RawMessage `json:"RecordNumber"`
	SeverityValue json.RawMessage `json:"SeverityValue"`
	// Fluent Bit
	ProviderName  json.RawMessage `json:"ProviderName"` // also Get-WinEvent
	TimeCreated   json.RawMessage `json:"TimeCreated"`  // also Get-WinEvent
	EventRecordID json.RawMessage `json:"EventRecordID"`
	StringInserts json.RawMessage `json:"StringInserts"`
	// Fluent Bit winlog
	ComputerName json.RawMessage `json:"ComputerName"`
	EventType    json.RawMessage `json:"EventType"`
	// evtx_dump (Rust evtx, golang-evtx): {"Event": {...}}; an exact match
	// wins over ECS "event" above.
	EvtxEvent json.RawMessage `json:"Event"`
	// PowerShell
	ID            json.RawMessage `json:"Id"`
	LogName       json.RawMessage `json:"LogName"`
	MachineName   json.RawMessage `json:"MachineName"`
	RecordIDPS    json.RawMessage `json:"RecordId"`
	Source        json.RawMessage `json:"Source"`
	TimeGenerated json.RawMessage `json:"TimeGenerated"`
	InstanceID    json.RawMessage `json:"InstanceId"`
	Index         json.RawMessage `json:"Index"`
	EntryType     json.RawMessage `json:"EntryType"`
	// Elasticsearch hit
	ESSource json.RawMessage `json:"_source"`
}

type winlogFields struct {
	ComputerName json.RawMessage `json:"computer_name"`
	Channel      json.RawMessage `json:"channel"`
	ProviderName json.RawMessage `json:"provider_name"`
	EventID      json.RawMessage `json:"event_id"`
	RecordID     json.RawMessage `json:"record_id"`
	EventData    json.RawMessage `json:"event_data"`
}

func has(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// jsonShape is what decodeJSONItem found out about an item besides its
// event: the name of its shape when recognised, and the field whose
// zoneless time was read in UTC because no zone was given.
type jsonShape struct {
	name      string
	localTime string
}

// decodeJSONItem turns one JSON value into an Event. It returns the shape
// name when the shape was recognised, even if the item is unusable.
func decodeJSONItem(raw []byte, opts Options) (Event, jsonShape, error) {
	var it jsonItem
	if err := json.Unmarshal(raw, &it); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Event{}, jsonShape{}, errors.New("not a JSON object")
		}
		return Event{}, jsonShape{}, fmt.Errorf("invalid JSON: %v", err)
	}
	if has(it.ESSource) {
		var inner jsonItem
		if err := json.Unmarshal(it.ESSource, &inner); err != nil {
			return Event{}, jsonShape{}, errors.New("_source is not a JSON object")
		}
		it = inner
	}
	d := &jsonDecoder{opts: opts, ev: Event{Qualifiers: -1}}
	ev, shape, err := d.decode(&it, raw)
	if err == nil {
		err = checkFields(&ev)
	}
	return ev, jsonShape{shape, d.localTime}, err
}

// decode fills d.ev from an item of whichever shape it has.
func (d *jsonDecoder) decode(it *jsonItem, raw []byte) (Event, string, error) {
	opts := d.opts
	var shape string
	switch {
	case has(it.EvtxEvent):
		shape = "evtx_dump"
		d.evtxDump(it)
	case has(it.Winlog):
		shape = "winlogbeat"
		d.winlogbeat(it)
	case has(it.SourceName6) || has(it.LogName6) || has(it.RecordNumber6) || has(it.ComputerName6):
		shape = "winlogbeat 6"
		d.winlogbeat6(it)
	case has(it.Provider) && has(it.EventIDLow):
		shape = "idletrace"
		d.idletrace(it)
	case has(it.SourceName) && (has(it.TimeGenerated) || has(it.ComputerName)) && !has(it.EventTime):
		shape = "fluentbit winlog"
		d.fluentbitWinlog(it)
	case has(it.EventTime) || has(it.SourceName) || has(it.Hostname):
		shape = "nxlog"
		d.nxlog(it)
	case has(it.ProviderName) && has(it.EventID):
		shape = "fluentbit"
		d.fluentbit(it)
	case has(it.ID) && (has(it.ProviderName) || has(it.LogName)):
		shape = "powershell"
		d.getWinEvent(it)
	case has(it.Source) && (has(it.InstanceID) || has(it.EventID)):
		shape = "powershell"
		d.getEventLog(it)
	default:
		return Event{}, "", fmt.Errorf("unrecognised event shape (keys %s)", objectKeys(raw))
	}
	if d.err != nil {
		return Event{}, shape, d.err
	}
	ev := &d.ev
	if ev.Computer == "" {
		ev.Computer = opts.defaultComputer()
	}
	switch {
	case ev.Computer == "":
		return Event{}, shape, errors.New("no computer name")
	case ev.Provider == "":
		return Event{}, shape, errors.New("no provider name")
	case ev.Time.IsZero():
		return Event{}, shape, errors.New("no time")
	}
	return *ev, shape, nil
}

// objectKeys lists the first keys of a JSON object for an error message.
func objectKeys(raw []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return "?"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > 8 {
		keys = append(keys[:8], "…")
	}
	return strings.Join(keys, ", ")
}

// jsonDecoder fills an Event field by field, keeping the first error.
type jsonDecoder struct {
	opts Options
	ev   Event
	err  error
	// localTime names the field whose zoneless time was read in UTC
	// because no zone was given.
	localTime string
}

func (d *jsonDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

// str reads a string (or a number's text); null and absent give "".
func (d *jsonDecoder) str(name string, raw json.RawMessage) string {
	if !has(raw) {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			d.fail("%s: %v", name, err)
		}
		return strings.TrimSpace(s)
	}
	if raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9' {
		return string(raw)
	}
	d.fail("%s: want a string, found %s", name, clip(string(raw)))
	return ""
}

// num reads an integer sent as a number or a numeric string; ok is false
// when absent or null.
func (d *jsonDecoder) num(name string, raw json.RawMessage) (int64, bool) {
	if !has(raw) {
		return 0, false
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			d.fail("%s: %v", name, err)
			return 0, false
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			d.fail("%s: want an integer, found %s", name, clip(string(raw)))
			return 0, false
		}
		n = int64(f)
	}
	return n, true
}

// eventID sets EventID (low 16 bits) and the qualifiers an id above 0xffff
// carries.
func (d *jsonDecoder) eventID(name string, raw json.RawMessage) {
	n, ok := d.num(name, raw)
	switch {
	case d.err != nil:
	case !ok:
		d.fail("no %s", name)
	case n < 0 || n > 0xffffffff:
		d.fail("%s %d out of range", name, n)
	default:
		d.ev.EventID, d.ev.Qualifiers = splitEventID(uint64(n))
	}
}

func (d *jsonDecoder) qualifiers(name string, raw json.RawMessage) {
	if n, ok := d.num(name, raw); ok {
		if n < 0 || n > 0xffff {
			d.fail("%s %d out of range", name, n)
			return
		}
		d.ev.Qualifiers = int(n)
	}
}

func (d *jsonDecoder) recordID(name string, raw json.RawMessage) {
	if n, ok := d.num(name, raw); ok {
		if n < 0 {
			d.fail("%s %d is negative", name, n)
			return
		}
		d.ev.RecordID = n
	}
}

// level accepts a number or a level name.
func (d *jsonDecoder) level(raw json.RawMessage) {
	if !has(raw) {
		return
	}
	if raw[0] != '"' {
		saved := d.err
		if n, ok := d.num("level", raw); ok && n >= 0 && n < 256 {
			d.ev.Level = int(n)
		}
		d.err = saved // a bad level never costs the event
		return
	}
	var s string
	json.Unmarshal(raw, &s)
	d.ev.Level = levelFromName(s)
}

// levelFromName maps level names (English, and the common localized ones
// of Event Viewer) to numbers; unknown names give 0.
func levelFromName(s string) int {
	s = strings.ToLower(strings.TrimSpace(s))
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 256 {
		return n
	}
	switch s {
	case "critical", "crit", "kritisch", "critique", "crítico", "critico":
		return 1
	case "error", "err", "fehler", "erreur", "errore":
		return 2
	case "warning", "warn", "warnung", "avertissement", "advertencia", "avviso":
		return 3
	case "information", "informational", "info", "informationen", "información", "informazioni":
		return 4
	case "verbose", "debug", "ausführlich", "détaillé", "detallado":
		return 5
	}
	return 0
}

func (d *jsonDecoder) time(name string, raw json.RawMessage, loc *time.Location) {
	if !has(raw) {
		d.fail("no %s", name)
		return
	}
	d.parseTime(name, raw, loc)
}

// local reads a time that shippers write in the computer's local time,
// with or without an offset; zoneless ones are read in Options.Location,
// else in UTC and noted for the file's warning.
func (d *jsonDecoder) local(name string, raw json.RawMessage) {
	if !has(raw) {
		d.fail("no %s", name)
		return
	}
	if d.parseTime(name, raw, d.opts.location()) && d.opts.Location == nil {
		d.localTime = name
	}
}

// parseTime sets the event's time; it reports whether the text had no zone.
func (d *jsonDecoder) parseTime(name string, raw json.RawMessage, loc *time.Location) (zoneless bool) {
	t, prec, zoneless, err := parseJSONTime(raw, loc)
	if err != nil {
		d.fail("%s: %v", name, err)
		return false
	}
	d.ev.Time, d.ev.Precision = t, prec
	return zoneless
}

func (d *jsonDecoder) idletrace(it *jsonItem) {
	e := &d.ev
	e.Computer = d.str("computer", it.Computer)
	e.Channel = d.str("channel", it.Channel)
	e.Provider = d.str("provider", it.Provider)
	d.eventID("event_id", it.EventIDLow)
	d.qualifiers("qualifiers", it.Qualifiers)
	d.level(it.Level)
	d.recordID("record_id", it.RecordID)
	if has(it.Time) && it.Time[0] != '"' {
		d.fail("time: want an RFC 3339 string")
		return
	}
	d.time("time", it.Time, time.UTC)
	e.Message = d.str("message", it.Message)
	if e.Channel == "" {
		d.fail("no channel")
	}
}

func (d *jsonDecoder) winlogbeat(it *jsonItem) {
	var w winlogFields
	if err := json.Unmarshal(it.Winlog, &w); err != nil {
		d.fail("winlog: not an object with the expected fields: %v", err)
		return
	}
	e := &d.ev
	e.Computer = d.str("winlog.computer_name", w.ComputerName)
	e.Channel = d.str("winlog.channel", w.Channel)
	e.Provider = d.str("winlog.provider_name", w.ProviderName)
	var ecs struct {
		Code     json.RawMessage `json:"code"`
		Provider json.RawMessage `json:"provider"`
	}
	if (e.Provider == "" || !has(w.EventID)) && has(it.ECSEvent) {
		json.Unmarshal(it.ECSEvent, &ecs)
	}
	if e.Provider == "" {
		e.Provider = d.str("event.provider", ecs.Provider)
	}
	if has(w.EventID) {
		d.eventID("winlog.event_id", w.EventID)
	} else {
		d.eventID("winlog.event_id", ecs.Code)
	}
	d.recordID("winlog.record_id", w.RecordID)
	if e.Computer == "" && has(it.Host) {
		var host struct {
			Name json.RawMessage `json:"name"`
		}
		json.Unmarshal(it.Host, &host)
		e.Computer = d.str("host.name", host.Name)
	}
	if has(it.Log) {
		var log struct {
			Level json.RawMessage `json:"level"`
		}
		json.Unmarshal(it.Log, &log)
		d.level(log.Level)
	}
	d.time("@timestamp", it.Timestamp, time.UTC)
	e.Message = d.str("message", it.Message)
	if e.Message == "" && has(w.EventData) {
		var m map[string]json.RawMessage
		if json.Unmarshal(w.EventData, &m) == nil {
			e.Message = joinEventData(m)
		}
	}
}

// joinEventData joins winlog.event_data values, param1, param2, … in order.
func joinEventData(m map[string]json.RawMessage) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "Binary" {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	vals := make([]string, 0, len(keys))
	for _, k := range keys {
		var s string
		if json.Unmarshal(m[k], &s) == nil {
			vals = append(vals, s)
		}
	}
	return joinInserts(vals)
}

func (d *jsonDecoder) winlogbeat6(it *jsonItem) {
	e := &d.ev
	e.Computer = d.str("computer_name", it.ComputerName6)
	e.Channel = d.str("log_name", it.LogName6)
	e.Provider = d.str("source_name", it.SourceName6)
	d.eventID("event_id", it.EventIDLow)
	d.recordID("record_number", it.RecordNumber6)
	d.level(it.Level)
	d.time("@timestamp", it.Timestamp, time.UTC)
	e.Message = d.str("message", it.Message)
}

func (d *jsonDecoder) nxlog(it *jsonItem) {
	e := &d.ev
	e.Computer = d.str("Hostname", it.Hostname)
	e.Channel = d.str("Channel", it.Channel)
	e.Provider = d.str("SourceName", it.SourceName)
	d.eventID("EventID", it.EventID)
	d.recordID("RecordNumber", it.RecordNumber)
	if has(it.SeverityValue) {
		// NXLog severities: 1 DEBUG, 2 INFO, 3 WARNING, 4 ERROR, 5 CRITICAL.
		saved := d.err
		if n, ok := d.num("SeverityValue", it.SeverityValue); ok && n >= 1 && n <= 5 {
			e.Level = []int{5, 4, 3, 2, 1}[n-1]
		}
		d.err = saved
	}
	d.local("EventTime", it.EventTime)
	e.Message = d.str("Message", it.Message)
}

func (d *jsonDecoder) fluentbit(it *jsonItem) {
	e := &d.ev
	e.Computer = d.str("Computer", it.Computer)
	e.Channel = d.str("Channel", it.Channel)
	e.Provider = d.str("ProviderName", it.ProviderName)
	d.eventID("EventID", it.EventID)
	d.qualifiers("Qualifiers", it.Qualifiers)
	d.level(it.Level)
	d.recordID("EventRecordID", it.EventRecordID)
	d.local("TimeCreated", it.TimeCreated)
	d.messageOrInserts(it)
}

// messageOrInserts sets the message from Message, else from the
// StringInserts array (Fluent Bit's inputs).
func (d *jsonDecoder) messageOrInserts(it *jsonItem) {
	e := &d.ev
	e.Message = d.str("Message", it.Message)
	if e.Message == "" && has(it.StringInserts) {
		var ins []any
		if json.Unmarshal(it.StringInserts, &ins) == nil {
			vals := make([]string, 0, len(ins))
			for _, v := range ins {
				vals = append(vals, fmt.Sprint(v))
			}
			e.Message = joinInserts(vals)
		}
	}
}

func (d *jsonDecoder) fluentbitWinlog(it *jsonItem) {
	e := &d.ev
	e.Computer = d.str("ComputerName", it.ComputerName)
	e.Channel = d.str("Channel", it.Channel)
	e.Provider = d.str("SourceName", it.SourceName)
	d.eventID("EventID", it.EventID)
	d.qualifiers("Qualifiers", it.Qualifiers)
	d.recordID("RecordNumber", it.RecordNumber)
	d.level(it.EventType)
	d.local("TimeGenerated", it.TimeGenerated)
	e.Precision = time.Second // EVENTLOGRECORD keeps whole seconds
	d.messageOrInserts(it)
}

// evtxDump reads {"Event": {"System": …, "EventData": …}} in the JSON
// conventions of evtx_dump and evtxdump (see the package comment above).
func (d *jsonDecoder) evtxDump(it *jsonItem) {
	var ev struct {
		System        map[string]json.RawMessage `json:"System"`
		EventData     json.RawMessage            `json:"EventData"`
		RenderingInfo json.RawMessage            `json:"RenderingInfo"`
	}
	if err := json.Unmarshal(it.EvtxEvent, &ev); err != nil || ev.System == nil {
		d.fail("Event: want an object with a System object")
		return
	}
	e := &d.ev
	sys := ev.System
	_, prov := xmlJSONNode(sys, "Provider")
	e.Provider = d.str("Provider Name", prov["Name"])
	if e.Provider == "" {
		e.Provider = d.str("Provider EventSourceName", prov["EventSourceName"])
	}
	id, idAttrs := xmlJSONNode(sys, "EventID")
	d.eventID("EventID", id)
	d.qualifiers("EventID Qualifiers", idAttrs["Qualifiers"])
	lv, _ := xmlJSONNode(sys, "Level")
	d.level(lv)
	rid, _ := xmlJSONNode(sys, "EventRecordID")
	d.recordID("EventRecordID", rid)
	ch, _ := xmlJSONNode(sys, "Channel")
	e.Channel = d.str("Channel", ch)
	comp, _ := xmlJSONNode(sys, "Computer")
	e.Computer = d.str("Computer", comp)
	_, tc := xmlJSONNode(sys, "TimeCreated")
	d.time("TimeCreated SystemTime", tc["SystemTime"], time.UTC)
	e.Precision = max(e.Precision, 100*time.Nanosecond)
	if has(ev.RenderingInfo) {
		var ri map[string]json.RawMessage
		if json.Unmarshal(ev.RenderingInfo, &ri) == nil {
			msg, _ := xmlJSONNode(ri, "Message")
			e.Message = d.str("RenderingInfo Message", msg)
		}
	}
	if e.Message == "" && has(ev.EventData) {
		e.Message = joinInserts(eventDataValues(ev.EventData))
	}
}

// xmlJSONNode returns the text and attributes of element name of an XML
// tree rendered as JSON: a plain value; {"#attributes": {…}, "#text": v};
// a value with a sibling "<name>_attributes" object; or an object of
// attributes with the text under "Value" (golang-evtx).
func xmlJSONNode(parent map[string]json.RawMessage, name string) (text json.RawMessage, attrs map[string]json.RawMessage) {
	v := parent[name]
	if a, ok := parent[name+"_attributes"]; ok {
		json.Unmarshal(a, &attrs)
	}
	if len(v) == 0 || v[0] != '{' {
		return v, attrs
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		return nil, attrs
	}
	if a, ok := obj["#attributes"]; ok {
		json.Unmarshal(a, &attrs)
		return obj["#text"], attrs
	}
	if attrs == nil {
		attrs = obj
	}
	if t, ok := obj["#text"]; ok {
		return t, attrs
	}
	return obj["Value"], attrs
}

// eventDataValues lists the insertion strings of an EventData element
// rendered as JSON: Data as a string, a list (of strings or of
// {"#text": …} objects), {"#text": string or list}; or named values.
func eventDataValues(raw json.RawMessage) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	data, ok := m["Data"]
	if !ok {
		return []string{joinEventData(m)}
	}
	if text, _ := xmlJSONNode(m, "Data"); text != nil {
		data = text
	}
	var out []string
	var add func(v json.RawMessage)
	add = func(v json.RawMessage) {
		switch {
		case !has(v):
		case v[0] == '[':
			var items []json.RawMessage
			json.Unmarshal(v, &items)
			for _, item := range items {
				add(item)
			}
		case v[0] == '{':
			var obj map[string]json.RawMessage
			if json.Unmarshal(v, &obj) == nil {
				add(obj["#text"])
			}
		case v[0] == '"':
			var s string
			json.Unmarshal(v, &s)
			out = append(out, s)
		default:
			out = append(out, string(v))
		}
	}
	add(data)
	return out
}

func (d *jsonDecoder) getWinEvent(it *jsonItem) {
	e := &d.ev
	e.Computer = d.str("MachineName", it.MachineName)
	e.Channel = d.str("LogName", it.LogName)
	e.Provider = d.str("ProviderName", it.ProviderName)
	d.eventID("Id", it.ID)
	d.qualifiers("Qualifiers", it.Qualifiers)
	d.level(it.Level)
	d.recordID("RecordId", it.RecordIDPS)
	d.local("TimeCreated", it.TimeCreated)
	e.Message = d.str("Message", it.Message)
}

func (d *jsonDecoder) getEventLog(it *jsonItem) {
	e := &d.ev
	e.Computer = d.str("MachineName", it.MachineName)
	e.Channel = ChannelApplication
	e.Provider = d.str("Source", it.Source)
	if has(it.InstanceID) {
		d.eventID("InstanceId", it.InstanceID)
	} else {
		d.eventID("EventID", it.EventID)
	}
	d.recordID("Index", it.Index)
	if has(it.EntryType) {
		// EntryType: 1 Error, 2 Warning, 4 Information, or the names.
		saved := d.err
		if n, ok := d.num("EntryType", it.EntryType); ok {
			e.Level = map[int64]int{1: 2, 2: 3, 4: 4}[n]
		} else {
			d.level(it.EntryType)
		}
		d.err = saved
	}
	d.local("TimeGenerated", it.TimeGenerated)
	e.Time, e.Precision = e.Time.Truncate(time.Second), time.Second
	e.Message = d.str("Message", it.Message)
}

// parseJSONTime reads the time forms shippers send: RFC 3339 / ISO 8601
// with or without zone ("T" or space), Fluent Bit's "2006-01-02 15:04:05
// -0700", .NET's "/Date(ms)/", and epoch seconds or milliseconds as numbers
// or numeric strings. Times without a zone are in loc, and zoneless is
// true; so is a time followed by a zone name instead of an offset (older
// Windows C runtimes print one for "%z"). The precision is that of the
// text.
func parseJSONTime(raw json.RawMessage, loc *time.Location) (t time.Time, prec time.Duration, zoneless bool, err error) {
	if raw[0] != '"' {
		t, prec, err = parseEpoch(string(raw))
		return t, prec, false, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, 0, false, err
	}
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "/Date("); ok {
		body, ok := strings.CutSuffix(rest, ")/")
		if !ok {
			return time.Time{}, 0, false, fmt.Errorf("bad date %q", clip(s))
		}
		// "/Date(1714635672345)/" or "/Date(1714635672345+0200)/": the
		// milliseconds are UTC; the offset only says how it was displayed.
		if i := strings.LastIndexAny(body, "+-"); i > 0 {
			body = body[:i]
		}
		ms, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return time.Time{}, 0, false, fmt.Errorf("bad date %q", clip(s))
		}
		return time.UnixMilli(ms).UTC(), time.Millisecond, false, nil
	}
	if s != "" && strings.Trim(s, "0123456789.") == "" {
		t, prec, err = parseEpoch(s)
		return t, prec, false, err
	}
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999 -0700",
		"2006-01-02 15:04:05.999999999 Z0700",
		"2006-01-02T15:04:05.999999999Z0700",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), fracPrecision(s), false, nil
		}
	}
	local := s
	if len(s) > 20 && s[19] == ' ' && strings.Trim(s[20:], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .") == "" {
		local = s[:19] // "2024-05-02 09:41:12 W. Europe Daylight Time"
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.ParseInLocation(layout, local, loc); err == nil {
			return t.UTC(), fracPrecision(local), true, nil
		}
	}
	return time.Time{}, 0, false, fmt.Errorf("unrecognised time %q", clip(s))
}

// parseEpoch reads epoch seconds or, above 1e11, milliseconds.
func parseEpoch(s string) (time.Time, time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e14 {
		return time.Time{}, 0, fmt.Errorf("bad epoch time %q", clip(s))
	}
	if f > 1e11 {
		return time.UnixMilli(int64(f)).UTC(), time.Millisecond, nil
	}
	sec := int64(f)
	if f != float64(sec) {
		return time.Unix(sec, int64((f-float64(sec))*1e6)*1e3).UTC(), time.Microsecond, nil
	}
	return time.Unix(sec, 0).UTC(), time.Second, nil
}

// fracPrecision returns the resolution of a timestamp's seconds fraction.
func fracPrecision(s string) time.Duration {
	// The fraction follows the second colon of the time part.
	i := strings.IndexByte(s, ':')
	if i < 0 {
		return time.Second
	}
	j := strings.IndexByte(s[i+1:], ':')
	if j < 0 {
		return time.Second
	}
	k := i + 1 + j + 3 // past ":SS"
	if k >= len(s) || (s[k] != '.' && s[k] != ',') {
		return time.Second
	}
	n := 0
	for k++; k < len(s) && s[k] >= '0' && s[k] <= '9'; k++ {
		n++
	}
	p := time.Second
	for ; n > 0 && p > time.Nanosecond; n-- {
		p /= 10
	}
	return p
}
