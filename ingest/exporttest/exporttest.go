// Package exporttest makes, for tests, the exports of one Windows log that
// other tools write: it runs the real tools where Debian has them
// (python-evtx's evtx_dump.py, libevtx's evtxexport) on an .evtx file,
// and renders the others from each tool's documented field list (the Rust
// evtx crate's evtx_dump JSON, golang-evtx's evtxdump JSON, Fluent Bit's
// older winlog input, NXLog with local times, Get-EventLog |
// ConvertTo-Json, Event Viewer's "Copy details as text" in several
// languages). The tests read every shape back and expect the same Outlook
// events as from the .evtx.
package exporttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"idletrace/ingest"
)

// Shape is one export of a log.
type Shape struct {
	// Name labels the shape in test output, e.g. "python-evtx".
	Name string
	// Format is what ingest reports in Result.Format for it.
	Format string
	// Tool is the program that writes it (run on the .evtx), with its
	// Debian package; empty for rendered shapes.
	Tool, Package string
	Args          []string
	// Render writes the shape of evs (every record of the log) with local
	// times in loc; nil for tool shapes.
	Render func(w io.Writer, evs []ingest.Event, loc *time.Location) error
	// Precision is the resolution of its times; Tolerance how far from the
	// .evtx's time (truncated to Precision) they may be.
	Precision, Tolerance time.Duration
	// RecordIDs is true when the shape carries record ids.
	RecordIDs bool
	// Local is true when its times are local without a zone: reading it
	// needs the zone (Options.Location), else a warning says UTC was used.
	Local bool
	// ApplicationOnly is true when the shape names no log (Get-EventLog
	// -LogName Application): only the Application log's records are in it.
	ApplicationOnly bool
}

// Shapes lists every shape.
func Shapes() []Shape {
	return []Shape{
		{Name: "python-evtx", Format: "xml (python-evtx)", Tool: "evtx_dump.py", Package: "python3-evtx",
			Precision: time.Microsecond, Tolerance: 8 * time.Microsecond, RecordIDs: true},
		{Name: "evtxexport", Format: "xml (evtxexport)", Tool: "evtxexport", Package: "libevtx-utils", Args: []string{"-f", "xml"},
			Precision: 100 * time.Nanosecond, RecordIDs: true},
		{Name: "evtx_dump json", Format: "json (evtx_dump)", Render: evtxDumpJSON,
			Precision: 100 * time.Nanosecond, RecordIDs: true},
		{Name: "evtx_dump jsonl", Format: "json (evtx_dump)", Render: evtxDumpJSONL,
			Precision: time.Microsecond, RecordIDs: true},
		{Name: "evtx_dump separate attributes", Format: "json (evtx_dump)", Render: evtxDumpSeparate,
			Precision: 100 * time.Nanosecond, RecordIDs: true},
		{Name: "golang-evtx evtxdump", Format: "json (evtx_dump)", Render: goEvtxDump,
			Precision: time.Second, RecordIDs: true},
		{Name: "fluent bit winlog", Format: "json (fluentbit winlog)", Render: fluentBitWinlog,
			Precision: time.Second, RecordIDs: true},
		{Name: "nxlog local time", Format: "json (nxlog)", Render: nxlogLocal,
			Precision: time.Second, RecordIDs: true, Local: true},
		{Name: "get-eventlog", Format: "json (powershell)", Render: getEventLog,
			Precision: time.Second, RecordIDs: true, ApplicationOnly: true},
		{Name: "details text en-US", Format: "text", Render: detailsText(english, false),
			Precision: time.Second, Local: true},
		{Name: "details text de-DE", Format: "text", Render: detailsText(german, false),
			Precision: time.Second, Local: true},
		{Name: "details text fr-FR", Format: "text", Render: detailsText(french, false),
			Precision: time.Second, Local: true},
		{Name: "details text with Event Xml", Format: "text", Render: detailsText(german, true),
			Precision: 100 * time.Nanosecond, RecordIDs: true},
	}
}

// NeedTool returns the path of a tool, skipping the test with a message
// when it is not installed, or failing it under CI=true (CI installs it).
func NeedTool(t testing.TB, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not on PATH under CI (.ci/run installs Debian package %s)", tool, pkg)
	}
	t.Skipf("%s not on PATH (Debian: apt-get install %s); skipping the %s shape", tool, pkg, tool)
	return ""
}

// Make writes shape s of the log at evtxPath (whose records are evs) to
// out.
func Make(t testing.TB, s Shape, evtxPath string, evs []ingest.Event, loc *time.Location, out string) {
	t.Helper()
	var buf bytes.Buffer
	if s.Render != nil {
		if err := s.Render(&buf, evs, loc); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	} else {
		tool := NeedTool(t, s.Tool, s.Package)
		cmd := exec.Command(tool, append(append([]string(nil), s.Args...), evtxPath)...)
		cmd.Stdout = &buf
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v: %s", s.Tool, filepath.Base(evtxPath), err, stderr.Bytes())
		}
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// evtxNode is an element as the Rust evtx crate renders it: attributes
// under "#attributes", text under "#text".
func evtxNode(attrs map[string]any, text any) any {
	if len(attrs) == 0 {
		return text
	}
	n := map[string]any{"#attributes": attrs}
	if text != nil {
		n["#text"] = text
	}
	return n
}

// evtxDumpTree renders one event as evtx_dump's JSON tree; asText makes
// numbers strings (evtx_dump prints substitution values as they are
// typed; classic events often come out as strings).
func evtxDumpTree(e ingest.Event, asText bool, timeLayout string) map[string]any {
	num := func(n int64) any {
		if asText {
			return strconv.FormatInt(n, 10)
		}
		return n
	}
	var idAttrs map[string]any
	if e.Qualifiers >= 0 {
		idAttrs = map[string]any{"Qualifiers": num(int64(e.Qualifiers))}
	}
	return map[string]any{"Event": map[string]any{
		"#attributes": map[string]any{"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
		"System": map[string]any{
			"Provider":      evtxNode(map[string]any{"Name": e.Provider}, nil),
			"EventID":       evtxNode(idAttrs, num(int64(e.EventID))),
			"Level":         num(int64(e.Level)),
			"Task":          num(0),
			"Keywords":      "0x80000000000000",
			"TimeCreated":   evtxNode(map[string]any{"SystemTime": e.Time.UTC().Format(timeLayout)}, nil),
			"EventRecordID": num(e.RecordID),
			"Channel":       e.Channel,
			"Computer":      e.Computer,
			"Security":      nil,
		},
		"EventData": map[string]any{"Data": map[string]any{"#text": []string{e.Message}}, "Binary": nil},
	}}
}

func evtxDumpJSON(w io.Writer, evs []ingest.Event, _ *time.Location) error {
	for _, e := range evs {
		b, err := json.MarshalIndent(evtxDumpTree(e, false, "2006-01-02T15:04:05.000000000Z"), "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "Record %d\n%s\n", e.RecordID, b)
	}
	return nil
}

func evtxDumpJSONL(w io.Writer, evs []ingest.Event, _ *time.Location) error {
	enc := json.NewEncoder(w)
	for _, e := range evs {
		if err := enc.Encode(evtxDumpTree(e, true, "2006-01-02T15:04:05.000000Z")); err != nil {
			return err
		}
	}
	return nil
}

// evtxDumpSeparate renders evtx_dump --separate-json-attributes.
func evtxDumpSeparate(w io.Writer, evs []ingest.Event, _ *time.Location) error {
	enc := json.NewEncoder(w)
	for _, e := range evs {
		sys := map[string]any{
			"Provider_attributes":    map[string]any{"Name": e.Provider},
			"EventID":                e.EventID,
			"Level":                  e.Level,
			"TimeCreated_attributes": map[string]any{"SystemTime": e.Time.UTC().Format("2006-01-02T15:04:05.0000000Z")},
			"EventRecordID":          e.RecordID,
			"Channel":                e.Channel,
			"Computer":               e.Computer,
			"Correlation":            nil,
		}
		if e.Qualifiers >= 0 {
			sys["EventID_attributes"] = map[string]any{"Qualifiers": e.Qualifiers}
		}
		v := map[string]any{
			"Event":            map[string]any{"System": sys, "EventData": map[string]any{"param1": e.Message}},
			"Event_attributes": map[string]any{"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// goEvtxDump renders golang-evtx's evtxdump: attributes as plain keys,
// text beside them under "Value", every value a string, whole seconds.
func goEvtxDump(w io.Writer, evs []ingest.Event, _ *time.Location) error {
	enc := json.NewEncoder(w)
	for _, e := range evs {
		var id any = strconv.Itoa(e.EventID)
		if e.Qualifiers >= 0 {
			id = map[string]any{"Qualifiers": strconv.Itoa(e.Qualifiers), "Value": strconv.Itoa(e.EventID)}
		}
		v := map[string]any{"Event": map[string]any{
			"EventData": map[string]any{"Binary": nil, "Data": []string{e.Message}},
			"System": map[string]any{
				"Channel": e.Channel, "Computer": e.Computer, "EventID": id, "EventLog": "",
				"EventRecordID": strconv.FormatInt(e.RecordID, 10), "Keywords": "0x80000000000000",
				"Level": strconv.Itoa(e.Level), "Security": map[string]any{}, "Task": "0",
				"Provider":    map[string]any{"Name": e.Provider},
				"TimeCreated": map[string]any{"SystemTime": e.Time.UTC().Format("2006-01-02T15:04:05Z")},
			},
		}}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// levelName is the event type name classic tools print.
func levelName(l int) string {
	switch l {
	case 1, 2:
		return "Error"
	case 3:
		return "Warning"
	}
	return "Information"
}

// fluentBitWinlog renders the records of Fluent Bit's winlog input
// (plugins/in_winlog/pack.c) as its http output's json_lines, which adds
// "date".
func fluentBitWinlog(w io.Writer, evs []ingest.Event, loc *time.Location) error {
	enc := json.NewEncoder(w)
	for _, e := range evs {
		local := e.Time.In(loc).Format("2006-01-02 15:04:05 -0700")
		q := max(e.Qualifiers, 0)
		v := map[string]any{
			"date": float64(e.Time.UnixNano()) / 1e9, "RecordNumber": e.RecordID,
			"TimeGenerated": local, "TimeWritten": local, "EventId": e.EventID, "Qualifiers": q,
			"EventType": levelName(e.Level), "EventCategory": 0, "Channel": e.Channel,
			"SourceName": e.Provider, "ComputerName": e.Computer, "Data": "", "Sid": "",
			"Message": "", "StringInserts": []string{e.Message},
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// nxlogLocal renders NXLog's to_json() of im_msvistalog records, EventTime
// in local time without a zone (its default).
func nxlogLocal(w io.Writer, evs []ingest.Event, loc *time.Location) error {
	enc := json.NewEncoder(w)
	for _, e := range evs {
		t := e.Time.In(loc).Format("2006-01-02 15:04:05")
		v := map[string]any{
			"EventTime": t, "EventReceivedTime": t, "Hostname": e.Computer, "SourceName": e.Provider,
			"EventID": e.EventID, "EventType": "INFO", "SeverityValue": 2, "Severity": "INFO",
			"Channel": e.Channel, "RecordNumber": e.RecordID, "Message": e.Message,
			"SourceModuleName": "eventlog", "SourceModuleType": "im_msvistalog", "Keywords": -9187343239835811840,
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// getEventLog renders Windows PowerShell 5.1's Get-EventLog Application |
// ConvertTo-Json: EventLogEntry objects, times as "\/Date(ms)\/" of whole
// seconds, InstanceId with the qualifiers in its upper bits.
func getEventLog(w io.Writer, evs []ingest.Event, _ *time.Location) error {
	items := make([]map[string]any, 0, len(evs))
	for _, e := range evs {
		if !strings.EqualFold(e.Channel, ingest.ChannelApplication) {
			continue
		}
		ms := fmt.Sprintf(`\/Date(%d)\/`, e.Time.Unix()*1000)
		entryType := map[int]int{1: 1, 2: 1, 3: 2}[e.Level]
		if entryType == 0 {
			entryType = 4
		}
		items = append(items, map[string]any{
			"EventID": e.EventID, "MachineName": e.Computer, "Data": []int{}, "Index": e.RecordID,
			"Category": "(0)", "CategoryNumber": 0, "EntryType": entryType, "Message": e.Message,
			"Source": e.Provider, "ReplacementStrings": []string{e.Message},
			"InstanceId":    int64(max(e.Qualifiers, 0))<<16 | int64(e.EventID),
			"TimeGenerated": ms, "TimeWritten": ms, "UserName": nil, "Site": nil, "Container": nil,
		})
	}
	b, err := json.MarshalIndent(items, "", "    ")
	if err != nil {
		return err
	}
	// ConvertTo-Json escapes the slashes of "\/Date(…)\/".
	_, err = w.Write(bytes.ReplaceAll(b, []byte(`\\/`), []byte(`\/`)))
	return err
}

// language holds Event Viewer's labels and date format in one display
// language.
type language struct {
	labels [12]string // Log Name … Event Xml, in textOrder
	date   string     // Go layout of the Date line
	levels [3]string  // Error, Warning, Information
	none   string     // Task Category "None"
	na     string     // User "N/A"
	pad    int        // alignment column of values
}

var (
	english = language{
		labels: [12]string{"Log Name:", "Source:", "Date:", "Event ID:", "Task Category:", "Level:", "Keywords:", "User:", "Computer:", "Description:", "Event Xml:", "Classic"},
		date:   "1/2/2006 3:04:05 PM", levels: [3]string{"Error", "Warning", "Information"}, none: "None", na: "N/A", pad: 15,
	}
	german = language{
		labels: [12]string{"Protokollname:", "Quelle:", "Datum:", "Ereignis-ID:", "Aufgabenkategorie:", "Ebene:", "Schlüsselwörter:", "Benutzer:", "Computer:", "Beschreibung:", "Ereignis-XML:", "Klassisch"},
		date:   "02.01.2006 15:04:05", levels: [3]string{"Fehler", "Warnung", "Informationen"}, none: "Keine", na: "Nicht zutreffend", pad: 15,
	}
	french = language{
		labels: [12]string{"Nom du journal :", "Source :", "Date :", "ID de l’événement :", "Catégorie de la tâche :", "Niveau :", "Mots clés :", "Utilisateur :", "Ordinateur :", "Description :", "XML de l’événement :", "Classique"},
		date:   "02/01/2006 15:04:05", levels: [3]string{"Erreur", "Avertissement", "Information"}, none: "Aucun", na: "N/A", pad: 17,
	}
)

// detailsText renders the events as Event Viewer's "Copy details as text"
// blocks pasted one after another, in language lang, with the "Event Xml"
// part when withXML.
func detailsText(lang language, withXML bool) func(io.Writer, []ingest.Event, *time.Location) error {
	return func(w io.Writer, evs []ingest.Event, loc *time.Location) error {
		var b strings.Builder
		b.WriteString("Hi, the events below keep coming back:\r\n\r\n")
		for _, e := range evs {
			level := lang.levels[2]
			switch e.Level {
			case 1, 2:
				level = lang.levels[0]
			case 3:
				level = lang.levels[1]
			}
			line := func(label, value string) {
				b.WriteString(label)
				if n := lang.pad - len([]rune(label)); n > 0 {
					b.WriteString(strings.Repeat(" ", n))
				}
				b.WriteString(value)
				b.WriteString("\r\n")
			}
			l := lang.labels
			line(l[0], e.Channel)
			line(l[1], e.Provider)
			line(l[2], e.Time.In(loc).Format(lang.date))
			line(l[3], strconv.Itoa(e.EventID))
			line(l[4], lang.none)
			line(l[5], level)
			line(l[6], l[11])
			line(l[7], lang.na)
			line(l[8], e.Computer)
			b.WriteString(l[9] + "\r\n")
			b.WriteString(e.Message + "\r\n")
			if withXML {
				b.WriteString(l[10] + "\r\n")
				b.WriteString(eventXML(e))
			}
			b.WriteString("\r\n")
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
}

// eventXML renders an event as Event Viewer shows it under "Event Xml".
func eventXML(e ingest.Event) string {
	var q string
	if e.Qualifiers >= 0 {
		q = fmt.Sprintf(` Qualifiers="%d"`, e.Qualifiers)
	}
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace
	return fmt.Sprintf(`<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
  <System>
    <Provider Name="%s" />
    <EventID%s>%d</EventID>
    <Level>%d</Level>
    <Task>0</Task>
    <Keywords>0x80000000000000</Keywords>
    <TimeCreated SystemTime="%s" />
    <EventRecordID>%d</EventRecordID>
    <Channel>%s</Channel>
    <Computer>%s</Computer>
    <Security />
  </System>
  <EventData>
    <Data>%s</Data>
  </EventData>
</Event>
`, esc(e.Provider), q, e.EventID, e.Level, e.Time.UTC().Format("2006-01-02T15:04:05.0000000Z"), e.RecordID,
		esc(e.Channel), esc(e.Computer), esc(e.Message))
}

// Shared returns the directory sub of the shared test data that lies beside
// the repository (../shared/sub from the module root), skipping the test
// with a message when it is absent, or failing it under CI=true (CI lays
// it out beside the clone).
func Shared(t testing.TB, sub string) string {
	t.Helper()
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(root)
		if up == root {
			t.Fatalf("no go.mod above %s", root)
		}
		root = up
	}
	dir := filepath.Join(filepath.Dir(root), "shared", sub)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found under CI (the shared test data must lie beside the clone): %v", dir, err)
		}
		t.Skipf("skipping: %s not found (the shared test data sits beside the repository, outside it)", dir)
	}
	return dir
}
