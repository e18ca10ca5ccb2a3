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

// Event Viewer "Copy → Copy details as text" puts one event on the
// clipboard as labelled lines, the block users paste into tickets:
//
//	Log Name:      Application
//	Source:        Outlook
//	Date:          5/2/2024 9:41:12 AM
//	Event ID:      26
//	Task Category: None
//	Level:         Information
//	Keywords:      Classic
//	User:          N/A
//	Computer:      HQ-PC01.corp.example
//	Description:
//	Connection to Microsoft Exchange has been restored.
//	Event Xml:
//	<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">…</Event>
//
// Several pasted one after the other are several events (a "Log Name"
// line starts the next). Labels are in the display language of the
// exporting Windows (English, German, French, Spanish, Italian,
// Portuguese are known); a label longer than the alignment column is
// followed by its value without a space ("Aufgabenkategorie:Keine"), and
// French puts a space before the colon. When the "Event Xml" part is there
// the event is read from it (UTC, 100 ns, record id); otherwise from the
// labels: the Date is local time in the exporter's format, read like the
// Event Viewer CSV (day/month order settled once per file, Options.Location
// or UTC with a warning), 1 s precision, no record id.

// textField names the labelled fields idletrace reads.
type textField int

const (
	tfNone textField = iota
	tfLogName
	tfSource
	tfDate
	tfEventID
	tfLevel
	tfComputer
	tfDescription
	tfEventXML
	tfOther // a known label whose value is not used
)

// textLabels maps the lower-case labels of the details text, in every
// language known, to their fields.
var textLabels = map[string]textField{
	// English
	"log name": tfLogName, "source": tfSource, "date": tfDate, "event id": tfEventID,
	"task category": tfOther, "level": tfLevel, "keywords": tfOther, "user": tfOther,
	"computer": tfComputer, "opcode": tfOther, "description": tfDescription, "event xml": tfEventXML,
	// German
	"protokollname": tfLogName, "quelle": tfSource, "datum": tfDate, "ereignis-id": tfEventID,
	"aufgabenkategorie": tfOther, "ebene": tfLevel, "schlüsselwörter": tfOther, "benutzer": tfOther,
	"vorgangscode": tfOther, "beschreibung": tfDescription, "ereignis-xml": tfEventXML,
	// French
	"nom du journal": tfLogName, "id de l’événement": tfEventID, "id de l'événement": tfEventID,
	"catégorie de la tâche": tfOther, "niveau": tfLevel, "mots clés": tfOther, "mots-clés": tfOther,
	"utilisateur": tfOther, "ordinateur": tfComputer, "code opération": tfOther,
	"xml de l’événement": tfEventXML, "xml de l'événement": tfEventXML, "xml de l’évènement": tfEventXML,
	// Spanish
	"nombre de registro": tfLogName, "origen": tfSource, "fecha": tfDate, "id. del evento": tfEventID,
	"id del evento": tfEventID, "categoría de la tarea": tfOther, "nivel": tfLevel, "palabras clave": tfOther,
	"usuario": tfOther, "equipo": tfComputer, "descripción": tfDescription, "xml de evento": tfEventXML,
	// Italian
	"nome registro": tfLogName, "origine": tfSource, "data": tfDate, "id evento": tfEventID,
	"categoria attività": tfOther, "livello": tfLevel, "parole chiave": tfOther, "utente": tfOther,
	"descrizione": tfDescription, "xml evento": tfEventXML,
	// Portuguese (Brazil)
	"nome do log": tfLogName, "fonte": tfSource, "identificação do evento": tfEventID,
	"categoria da tarefa": tfOther, "palavras-chave": tfOther, "usuário": tfOther,
	"computador": tfComputer, "descrição": tfDescription, "xml do evento": tfEventXML,
}

// textLabel splits a line into its label's field and its value; tfNone
// when the line does not start with a known label.
func textLabel(line string) (textField, string) {
	i := strings.IndexByte(line, ':')
	if i <= 0 || i > 40 {
		return tfNone, ""
	}
	label := strings.Map(func(r rune) rune {
		if r == '\u00a0' || r == '\u202f' {
			return ' '
		}
		return r
	}, line[:i])
	f, ok := textLabels[strings.ToLower(strings.TrimSpace(label))]
	if !ok || label != strings.TrimLeft(label, " \t") {
		return tfNone, ""
	}
	return f, strings.TrimSpace(line[i+1:])
}

// looksLikeEventText reports whether t (the start of an input, as UTF-8)
// holds Event Viewer details as text: among its first lines, labelled
// lines of at least three known fields, with an Event ID and a Log Name
// or Source.
func looksLikeEventText(t []byte) bool {
	seen := map[textField]bool{}
	for n := 0; n < 40 && len(t) > 0; n++ {
		var line []byte
		line, t, _ = bytes.Cut(t, []byte("\n"))
		if f, _ := textLabel(string(bytes.TrimRight(line, "\r"))); f != tfNone && f != tfOther {
			seen[f] = true
		}
	}
	return len(seen) >= 3 && seen[tfEventID] && (seen[tfLogName] || seen[tfSource])
}

// textBlock is one event's lines as read.
type textBlock struct {
	line   int // first line
	fields map[textField]string
	desc   []string
	xml    []byte
	inDesc bool
	inXML  bool
	size   int
	long   bool
}

func (b *textBlock) empty() bool { return len(b.fields) == 0 && len(b.xml) == 0 }

// textLines reads lines of at most max bytes; a longer line is returned
// cut, with long set.
type textLines struct {
	r    *bufio.Reader
	max  int
	line int
}

func (l *textLines) next() (string, bool, error) {
	var out []byte
	long := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if len(out)+len(chunk) > l.max {
			long = true
		} else {
			out = append(out, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && (len(out) > 0 || long) {
			err = nil
		}
		if err != nil {
			return "", false, err
		}
		l.line++
		return strings.TrimRight(string(out), "\r\n"), long, nil
	}
}

// eachTextBlock calls fn with every event block of the input.
func eachTextBlock(ctx context.Context, r io.Reader, opts Options, fn func(*textBlock) error) error {
	lr := &textLines{r: bufio.NewReaderSize(r, 64<<10), max: opts.Limits.MaxLine}
	cur := &textBlock{}
	flush := func() error {
		if cur.empty() {
			cur = &textBlock{}
			return nil
		}
		err := fn(cur)
		cur = &textBlock{}
		return err
	}
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, long, err := lr.next()
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return fmt.Errorf("read text: %w", err)
		}
		f, val := textLabel(line)
		if f == tfLogName && !cur.empty() && (!cur.inXML || bytes.Contains(cur.xml, []byte("</Event"))) {
			if err := flush(); err != nil {
				return err
			}
		}
		if cur.empty() && f == tfNone {
			continue // text around the pasted events
		}
		if cur.line == 0 {
			cur.line = lr.line
		}
		cur.size += len(line) + 1
		cur.long = cur.long || long || cur.size > opts.Limits.MaxLine
		if cur.long {
			continue
		}
		switch {
		case f == tfEventXML:
			cur.inDesc, cur.inXML = false, true
			cur.xml = append(cur.xml, val...)
		case cur.inXML:
			cur.xml = append(append(cur.xml, '\n'), line...)
		case f == tfDescription && !cur.inDesc:
			cur.inDesc = true
			if val != "" {
				cur.desc = append(cur.desc, val)
			}
		case cur.inDesc:
			cur.desc = append(cur.desc, line)
		case f != tfNone:
			if cur.fields == nil {
				cur.fields = map[textField]string{}
			}
			if _, dup := cur.fields[f]; !dup {
				cur.fields[f] = val
			}
		}
	}
}

// readEventText reads Event Viewer details as text in two passes: the
// first settles the date order, the second reads the events.
func readEventText(ctx context.Context, open opener, opts Options, res *Result, emit EmitFunc) error {
	r, err := open()
	if err != nil {
		return err
	}
	var v orderVote
	errSettled := errors.New("settled")
	err = eachTextBlock(ctx, r, opts, func(b *textBlock) error {
		if d, ok := b.fields[tfDate]; ok && len(b.xml) == 0 && v.see(d) {
			return errSettled
		}
		return nil
	})
	if err != nil && err != errSettled {
		return err
	}
	order, sure := v.result()
	if !sure {
		res.warn(Warning{File: opts.Name, Msg: fmt.Sprintf("no date settles the day/month order; assumed %s", order)})
	}
	if r, err = open(); err != nil {
		return err
	}
	return eachTextBlock(ctx, r, opts, func(b *textBlock) error {
		ev, fromLabels, err := textEvent(b, order, opts)
		if err != nil {
			res.warn(Warning{File: opts.Name, Line: b.line, Msg: err.Error() + "; event skipped"})
			return nil
		}
		if fromLabels {
			res.noteLocalTime(opts, "Date")
		}
		return emitEvent(res, emit, ev)
	})
}

// textEvent makes an event of one block: from its Event Xml when that is
// there and readable, else from its labels (fromLabels true).
func textEvent(b *textBlock, order dateOrder, opts Options) (ev Event, fromLabels bool, err error) {
	if b.long {
		return Event{}, false, fmt.Errorf("event longer than %s", sizeText(opts.Limits.MaxLine))
	}
	desc := strings.TrimSpace(strings.Join(b.desc, "\n"))
	if len(b.xml) > 0 {
		x := bytes.TrimSpace(b.xml)
		if end := findEventEnd(x, 0); end > 0 {
			x = x[:end]
		}
		ev, _, err := parseXMLEvent(x, b.line)
		if err == nil {
			if desc != "" {
				ev.Message = desc
			}
			return ev, false, nil
		}
		if _, ok := b.fields[tfDate]; !ok {
			return Event{}, false, fmt.Errorf("Event Xml: %v", err)
		}
	}
	f := b.fields
	ev = Event{
		Computer:   f[tfComputer],
		Channel:    f[tfLogName],
		Provider:   f[tfSource],
		Qualifiers: -1,
		Level:      levelFromName(f[tfLevel]),
		Precision:  time.Second,
		Message:    desc,
	}
	if ev.Computer == "" {
		ev.Computer = opts.defaultComputer()
	}
	idText, ok := f[tfEventID]
	if !ok {
		return Event{}, false, errors.New("no Event ID")
	}
	id, err := strconv.ParseUint(idText, 10, 32)
	if err != nil {
		return Event{}, false, fmt.Errorf("bad Event ID %q", clip(idText))
	}
	ev.EventID, ev.Qualifiers = splitEventID(id)
	date, ok := f[tfDate]
	if !ok {
		return Event{}, false, errors.New("no Date")
	}
	if ev.Time, err = parseCSVTime(date, order, opts.location()); err != nil {
		return Event{}, false, err
	}
	switch {
	case ev.Provider == "":
		return Event{}, false, errors.New("no Source")
	case ev.Computer == "":
		return Event{}, false, errors.New("no Computer")
	}
	return ev, true, nil
}
