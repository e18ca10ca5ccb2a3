package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Event Viewer "Save All Events As… CSV" (Vista and later): a header
//
//	Level,Date and Time,Source,Event ID,Task Category
//
// (localized on non-English Windows, so it is recognised by shape) and one
// record per event with a sixth, unnamed column holding the message, quoted
// and often spanning lines. Files are UTF-8 with a BOM (UTF-16 with a BOM is
// accepted too). Times are local, without zone, in the exporter's locale
// format: "3/8/2024 4:34:10 PM" (en-US), "08/03/2024 16:34:10" (en-GB,
// fr-FR), "08.03.2024 16:34:10" (de-DE), "2024/03/08 16:34:10" (ja-JP),
// "2024-03-08 16:34:10" (sv-SE, ISO). They are read in Options.Location with
// a 1 s precision. Day/month order is chosen once per file: the first date
// with a field above 12 decides; failing that, AM/PM marks mean M/D/Y
// (en-US), "." means D.M.Y, and "/" with a 24-hour clock means D/M/Y. The
// CSV has no computer column (Options.Computer, else the file name's stem),
// no channel (it is an export of the Application log) and no record id.

// dateOrder is the order of a date's day, month and year fields.
type dateOrder int

const (
	orderUnknown dateOrder = iota
	orderMDY
	orderDMY
	orderYMD
)

func (o dateOrder) String() string {
	return [...]string{"?", "M/D/Y", "D/M/Y", "Y/M/D"}[o]
}

// readCSV reads an Event Viewer CSV export in two passes over the input:
// the first settles the date order, the second reads the records.
func readCSV(ctx context.Context, open opener, opts Options, res *Result, emit EmitFunc) error {
	computer := opts.defaultComputer()
	if computer == "" {
		return &FormatError{Format: FormatCSV, Msg: "Event Viewer CSV carries no computer name: give one (by default the file name's stem is used)"}
	}
	r, err := open()
	if err != nil {
		return err
	}
	order, evidence, err := csvDateOrder(ctx, r, opts)
	if err != nil {
		return err
	}
	res.Format = FormatCSV + " (" + order.String() + ")"
	if !evidence {
		res.warn(Warning{File: opts.Name, Msg: fmt.Sprintf("no date settles the day/month order; assumed %s", order)})
	}
	if r, err = open(); err != nil {
		return err
	}
	loc := opts.location()
	sp := newCSVSplitter(r, opts.Limits.MaxLine)
	var header []string
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, line, err := sp.next()
		if err == io.EOF {
			return nil
		}
		var sw splitWarning
		if errors.As(err, &sw) {
			res.warn(Warning{File: opts.Name, Line: sw.line, Msg: sw.msg})
			continue
		}
		if err != nil {
			return fmt.Errorf("read csv: %w", err)
		}
		fields := splitCSVRecord(rec, sp.delim)
		if len(fields) == 1 && strings.TrimSpace(fields[0]) == "" {
			continue // a blank line
		}
		if header == nil && n == 0 && !isEventID(field(fields, 3)) {
			header = fields
			continue
		}
		if header != nil && len(fields) == len(header) && fields[3] == header[3] {
			continue // the header again: exports pasted together
		}
		ev, err := csvEvent(fields, order, loc)
		if err != nil {
			res.warn(Warning{File: opts.Name, Line: line, Msg: err.Error() + "; record skipped"})
			continue
		}
		ev.Computer = computer
		res.noteLocalTime(opts, "Date and Time")
		if err := emitEvent(res, emit, ev); err != nil {
			return err
		}
	}
}

func field(f []string, i int) string {
	if i < len(f) {
		return f[i]
	}
	return ""
}

// csvEvent makes an event of one data record.
func csvEvent(f []string, order dateOrder, loc *time.Location) (Event, error) {
	if len(f) < 5 {
		return Event{}, fmt.Errorf("%d fields, want at least 5 (Level, Date and Time, Source, Event ID, Task Category)", len(f))
	}
	t, err := parseCSVTime(f[1], order, loc)
	if err != nil {
		return Event{}, err
	}
	idText := strings.TrimSpace(f[3])
	id, err := strconv.ParseUint(idText, 10, 32)
	if err != nil {
		return Event{}, fmt.Errorf("bad Event ID %q", clip(idText))
	}
	provider := strings.TrimSpace(f[2])
	if provider == "" {
		return Event{}, errors.New("no Source")
	}
	ev := Event{
		Channel:   ChannelApplication,
		Provider:  provider,
		Level:     levelFromName(f[0]),
		Time:      t,
		Precision: time.Second,
	}
	ev.EventID, ev.Qualifiers = splitEventID(id)
	if len(f) > 5 {
		// Event Viewer quotes messages; a stray unquoted comma splits one.
		ev.Message = strings.TrimSpace(strings.Join(f[5:], ","))
	}
	return ev, nil
}

func isEventID(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// csvDateOrder reads the date column until a date settles the order.
// evidence is false when the order is a real guess (see csvDate.guess).
func csvDateOrder(ctx context.Context, r io.Reader, opts Options) (dateOrder, bool, error) {
	sp := newCSVSplitter(r, opts.Limits.MaxLine)
	var v orderVote
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, false, err
			}
		}
		rec, _, err := sp.next()
		if err == io.EOF {
			break
		}
		var sw splitWarning
		if errors.As(err, &sw) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("read csv: %w", err)
		}
		fields := splitCSVRecord(rec, sp.delim)
		if len(fields) < 5 || !isEventID(fields[3]) {
			continue
		}
		if v.see(fields[1]) {
			break
		}
	}
	order, sure := v.result()
	return order, sure, nil
}

// orderVote settles the day/month order of a file's localized dates: the
// first date with a field above 12 decides; failing that, the first date's
// format gives a guess (csvDate.guess).
type orderVote struct {
	decided dateOrder
	guess   dateOrder
	unsure  bool
}

// see takes one date; it reports true once the order is settled.
func (v *orderVote) see(s string) bool {
	d, ok := scanCSVDate(s)
	if !ok || v.decided != orderUnknown {
		return v.decided != orderUnknown
	}
	if o := d.decisive(); o != orderUnknown {
		v.decided = o
		return true
	}
	if v.guess == orderUnknown {
		var sure bool
		v.guess, sure = d.guess()
		v.unsure = !sure
	}
	return false
}

// result returns the order and whether it rests on evidence.
func (v *orderVote) result() (dateOrder, bool) {
	switch {
	case v.decided != orderUnknown:
		return v.decided, true
	case v.guess == orderUnknown:
		return orderMDY, true // no dates at all: it does not matter
	}
	return v.guess, !v.unsure
}

// csvDate is a date-time split into its numbers, before the order is known.
type csvDate struct {
	f      [3]int // date fields in written order
	wide0  bool   // the first field has 4 digits (a year)
	sep    byte   // date separator
	clock  [3]int // hour, minute, second
	ampm   int    // 0 none, 1 AM, 2 PM
	hasSec bool
}

func (d csvDate) decisive() dateOrder {
	switch {
	case d.wide0:
		return orderYMD
	case d.f[0] > 12 && d.f[1] <= 12:
		return orderDMY
	case d.f[1] > 12 && d.f[0] <= 12:
		return orderMDY
	}
	return orderUnknown
}

// guess infers the order from the format when no field is above 12:
// AM/PM marks mean en-US (M/D/Y; en-AU and en-IN, D/M/Y with AM/PM, are
// rare enough to lose), "." means D.M.Y (de-DE, ru-RU, …), "/" with a
// 24-hour clock means D/M/Y (en-GB, fr-FR, es-ES, …). Only "-" without a
// leading year (nl-NL "8-3-2024") is a real guess; sure is false then.
func (d csvDate) guess() (order dateOrder, sure bool) {
	switch {
	case d.wide0:
		return orderYMD, true
	case d.ampm != 0:
		return orderMDY, true
	case d.sep == '-':
		return orderDMY, false
	}
	return orderDMY, true
}

// scanCSVDate splits a localized date-time into numbers.
func scanCSVDate(s string) (csvDate, bool) {
	var d csvDate
	// Drop the direction marks and odd spaces some locales put in dates.
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\u200e', '\u200f', '\u202a', '\u202b', '\u202c':
			return -1
		case '\u00a0', '\u202f', '\t':
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	datePart, timePart, ok := strings.Cut(s, " ")
	if !ok {
		datePart, timePart, ok = strings.Cut(s, "T")
	}
	if !ok {
		return d, false
	}
	datePart = strings.TrimSuffix(datePart, ".")
	i := strings.IndexAny(datePart, "/.-")
	if i <= 0 {
		return d, false
	}
	d.sep = datePart[i]
	parts := strings.Split(datePart, string(d.sep))
	if len(parts) != 3 {
		return d, false
	}
	for k, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || len(p) > 4 {
			return d, false
		}
		d.f[k] = n
	}
	d.wide0 = len(parts[0]) == 4
	timePart = strings.TrimSpace(timePart)
	upper := strings.ToUpper(timePart)
	for _, m := range []struct {
		mark string
		v    int
	}{{"AM", 1}, {"A.M.", 1}, {"PM", 2}, {"P.M.", 2}, {"午前", 1}, {"午後", 2}, {"오전", 1}, {"오후", 2}, {"上午", 1}, {"下午", 2}} {
		if rest, ok := strings.CutSuffix(upper, m.mark); ok {
			timePart, d.ampm = strings.TrimSpace(timePart[:len(rest)]), m.v
			break
		}
		if rest, ok := strings.CutPrefix(upper, m.mark); ok {
			timePart, d.ampm = strings.TrimSpace(timePart[len(timePart)-len(rest):]), m.v
			break
		}
	}
	sep := ":"
	if !strings.Contains(timePart, ":") {
		sep = "." // fi-FI "16.34.10"
	}
	tp := strings.Split(timePart, sep)
	if len(tp) < 2 || len(tp) > 3 {
		return d, false
	}
	for k, p := range tp {
		if k == 2 {
			p, _, _ = strings.Cut(p, ".")
			p, _, _ = strings.Cut(p, ",")
			d.hasSec = true
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || len(p) > 2 {
			return d, false
		}
		d.clock[k] = n
	}
	return d, true
}

// parseCSVTime parses a localized date-time in loc and returns it in UTC.
func parseCSVTime(s string, order dateOrder, loc *time.Location) (time.Time, error) {
	d, ok := scanCSVDate(s)
	if !ok {
		return time.Time{}, fmt.Errorf("bad Date and Time %q", clip(s))
	}
	if d.wide0 {
		order = orderYMD
	}
	var y, m, day int
	switch order {
	case orderYMD:
		y, m, day = d.f[0], d.f[1], d.f[2]
	case orderDMY:
		day, m, y = d.f[0], d.f[1], d.f[2]
	default:
		m, day, y = d.f[0], d.f[1], d.f[2]
	}
	if y < 100 {
		y += 2000
	}
	h := d.clock[0]
	switch d.ampm {
	case 1:
		if h == 12 {
			h = 0
		}
	case 2:
		if h < 12 {
			h += 12
		}
	}
	if m < 1 || m > 12 || day < 1 || day > 31 || h > 23 || d.clock[1] > 59 || d.clock[2] > 60 || (d.ampm != 0 && d.clock[0] > 12) {
		return time.Time{}, fmt.Errorf("bad Date and Time %q (read as %s)", clip(s), order)
	}
	t := time.Date(y, time.Month(m), day, h, d.clock[1], d.clock[2], 0, loc)
	if t.Day() != day {
		return time.Time{}, fmt.Errorf("bad Date and Time %q (read as %s): no such day", clip(s), order)
	}
	return t.UTC(), nil
}

// csvSplitter cuts a CSV stream into records: lines, joined while a quoted
// field is open. A record longer than the limit is skipped, and reading
// resumes at the next line that starts like a record.
type csvSplitter struct {
	r     *bufio.Reader
	max   int
	line  int // line of the next record
	delim byte
	buf   []byte
}

func newCSVSplitter(r io.Reader, max int) *csvSplitter {
	return &csvSplitter{r: bufio.NewReaderSize(r, 64<<10), max: max, line: 1}
}

// readLine appends the next line, with its newline, to dst. A line longer
// than room is consumed whole but kept cut, with long set; nl reports
// whether the line ended with a newline.
func (s *csvSplitter) readLine(dst []byte, room int) (out []byte, long, nl bool, err error) {
	out = dst
	for {
		chunk, err := s.r.ReadSlice('\n')
		nl = err == nil
		if len(chunk) > room {
			long = true
			chunk = chunk[:max(room, 0)]
		}
		room -= len(chunk)
		out = append(out, chunk...)
		if err != bufio.ErrBufferFull {
			if err == io.EOF && (len(out) > len(dst) || long) {
				err = nil
			}
			return out, long, nl, err
		}
	}
}

func (s *csvSplitter) next() ([]byte, int, error) {
	s.buf = s.buf[:0]
	start := s.line
	inQuote := false
	for {
		n0 := len(s.buf)
		var long, nl bool
		var err error
		s.buf, long, nl, err = s.readLine(s.buf, s.max-n0)
		if err == io.EOF {
			if len(s.buf) > 0 {
				return nil, start, splitWarning{start, "input ends inside a quoted field (truncated); record skipped"}
			}
			return nil, 0, io.EOF
		}
		if err != nil {
			return nil, start, err
		}
		if nl {
			s.line++
		}
		ln := s.buf[n0:]
		if s.delim == 0 {
			s.delim = guessDelim(ln)
		}
		if bytes.Count(ln, []byte{'"'})%2 == 1 {
			inQuote = !inQuote
		}
		if long {
			if inQuote {
				s.skipToRecord()
			}
			return nil, start, splitWarning{start, fmt.Sprintf("record longer than %s; skipped", sizeText(s.max))}
		}
		if !inQuote {
			return bytes.TrimRight(s.buf, "\r\n"), start, nil
		}
	}
}

// skipToRecord discards lines up to the next one that starts like an
// Event Viewer record (a short level name, the delimiter, a digit).
func (s *csvSplitter) skipToRecord() {
	for {
		head, _ := s.r.Peek(64)
		if len(head) == 0 || looksLikeRecordStart(head, s.delim) {
			return
		}
		for {
			_, err := s.r.ReadSlice('\n')
			if err == nil {
				s.line++
				break
			}
			if err != bufio.ErrBufferFull {
				return
			}
		}
	}
}

func looksLikeRecordStart(b []byte, delim byte) bool {
	i := bytes.IndexByte(b, delim)
	if i <= 0 || i > 40 || i+1 >= len(b) || bytes.ContainsAny(b[:i], "\"\r\n") {
		return false
	}
	c := b[i+1]
	if c == '"' && i+2 < len(b) {
		c = b[i+2]
	}
	return c >= '0' && c <= '9'
}

// guessDelim picks the delimiter of a header or first line: Event Viewer
// writes commas; a list separator of ";" or tab is accepted.
func guessDelim(line []byte) byte {
	best, n := byte(','), bytes.Count(line, []byte{','})
	for _, c := range []byte{';', '\t'} {
		if k := bytes.Count(line, []byte{c}); k > n && k >= 4 {
			best, n = c, k
		}
	}
	return best
}

// splitCSVRecord splits one record into fields: RFC 4180 quoting with ""
// for a quote, and lenient about quotes inside unquoted fields.
func splitCSVRecord(rec []byte, delim byte) []string {
	var fields []string
	var f []byte
	i := 0
	for {
		f = f[:0]
		if i < len(rec) && rec[i] == '"' {
			i++
			for i < len(rec) {
				c := rec[i]
				if c == '"' {
					if i+1 < len(rec) && rec[i+1] == '"' {
						f = append(f, '"')
						i += 2
						continue
					}
					i++
					break
				}
				f = append(f, c)
				i++
			}
			// Text after the closing quote belongs to the field.
			for i < len(rec) && rec[i] != delim {
				f = append(f, rec[i])
				i++
			}
		} else {
			j := bytes.IndexByte(rec[i:], delim)
			if j < 0 {
				j = len(rec) - i
			}
			f = append(f, rec[i:i+j]...)
			i += j
		}
		fields = append(fields, strings.ReplaceAll(string(f), "\r\n", "\n"))
		if i >= len(rec) {
			return fields
		}
		i++ // the delimiter
	}
}

// looksLikeEventViewerCSVHead reports whether t (the start of an input, as
// UTF-8) has the shape of an Event Viewer CSV export: a header of five or
// six names (localized, so not matched by word) followed by a record, or a
// record straight away.
func looksLikeEventViewerCSVHead(t []byte) bool {
	first, rest, _ := bytes.Cut(t, []byte("\n"))
	first = bytes.TrimRight(first, "\r")
	delim := guessDelim(first)
	h := splitCSVRecord(first, delim)
	if isCSVDataRecord(h) {
		return true
	}
	if len(h) < 5 || len(h) > 7 {
		return false
	}
	for _, name := range h {
		if len(name) > 60 || strings.ContainsAny(name, "{}<>") {
			return false
		}
	}
	level := strings.ToLower(strings.TrimSpace(h[0]))
	date := strings.ToLower(h[1])
	if level == "level" || level == "ebene" || level == "niveau" || level == "nivel" || level == "livello" ||
		strings.Contains(date, "date") || strings.Contains(date, "datum") || strings.Contains(date, "fecha") || strings.Contains(date, "data") {
		return true
	}
	// Other languages: the next line must be a record.
	second, _, _ := bytes.Cut(rest, []byte("\n"))
	second = bytes.TrimRight(second, "\r")
	return isCSVDataRecord(splitCSVRecord(second, delim))
}

func isCSVDataRecord(f []string) bool {
	if len(f) < 5 || !isEventID(f[3]) || strings.TrimSpace(f[2]) == "" {
		return false
	}
	_, ok := scanCSVDate(f[1])
	return ok
}
