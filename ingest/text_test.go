package ingest

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readBytes reads b as an uploaded file named name.
func readBytes(t *testing.T, b []byte, opts Options) ([]Event, Result, error) {
	t.Helper()
	var evs []Event
	res, err := Read(context.Background(), bytes.NewReader(b), int64(len(b)), opts, func(ev Event) error {
		evs = append(evs, ev)
		return nil
	})
	return evs, res, err
}

// readPath reads a testdata file.
func readPath(t *testing.T, path string, opts Options) ([]Event, Result) {
	t.Helper()
	var evs []Event
	res, err := ReadFile(context.Background(), path, opts, func(ev Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return evs, res
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// wantWarning fails unless some warning contains every part.
func wantWarning(t *testing.T, res Result, parts ...string) {
	t.Helper()
	for _, w := range res.Warnings {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(w.String(), p)
		}
		if ok {
			return
		}
	}
	t.Errorf("no warning with %q in %v", parts, res.Warnings)
}

// recordIDs lists the events' record ids.
func recordIDs(evs []Event) []int64 {
	ids := make([]int64, len(evs))
	for i, ev := range evs {
		ids[i] = ev.RecordID
	}
	return ids
}

// utf16LE encodes s as UTF-16LE with a byte-order mark.
func utf16LE(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
			out = append(out, byte(hi), byte(hi>>8), byte(lo), byte(lo>>8))
			continue
		}
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name string
		head string
		want string
	}{
		{"evtx", "ElfFile\x00\x00\x00", FormatEVTX},
		{"zip", "PK\x03\x04\x14\x00", FormatZip},
		{"empty zip", "PK\x05\x06\x00\x00", FormatZip},
		{"xml", "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>", FormatXML},
		{"xml decl", "\xef\xbb\xbf<?xml version=\"1.0\"?>\r\n<Events>", FormatXML},
		{"xml utf16", string(utf16LE("<Events><Event>")), FormatXML},
		{"ndjson", "{\"@timestamp\":\"2024-05-02T07:41:12.345Z\"}\n", FormatJSON},
		{"json array", "  [\n  {\"Id\": 26}", FormatJSON},
		{"csv en", "\xef\xbb\xbfLevel,Date and Time,Source,Event ID,Task Category\r\nInformation,3/8/2024 5:45:38 PM,Outlook,63,None,x\r\n", FormatCSV},
		{"csv de", "\xef\xbb\xbfEbene,Datum und Uhrzeit,Quelle,Ereignis-ID,Aufgabenkategorie\r\nInformationen,08.03.2024 17:45:38,Outlook,26,Keine,x\r\n", FormatCSV},
		{"csv fr", "Niveau,Date et heure,Source,ID de l’événement,Catégorie de la tâche\r\n", FormatCSV},
		{"csv utf16", string(utf16LE("Level,Date and Time,Source,Event ID,Task Category\r\nInformation,3/8/2024 5:45:38 PM,Outlook,26,None,x\r\n")), FormatCSV},
		{"csv headerless", "Information,3/8/2024 5:45:38 PM,Outlook,26,None,Connection restored.\r\n", FormatCSV},
		{"text", "Log Name: Application\r\nSource: Outlook\r\n", ""},
		{"other csv", "name,age,city,zip,phone\r\nbob,3,x,y,z\r\n", ""},
		{"empty", "", ""},
		{"binary", "\x00\x01\x02\x03", ""},
	} {
		if got := Detect([]byte(tc.head)); got != tc.want {
			t.Errorf("%s: Detect = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// fuzzRead reads b with small limits and checks the invariants every reader
// keeps: no panic, and every event it returns is usable.
func fuzzRead(t *testing.T, b []byte) {
	t.Helper()
	opts := Options{Name: "fuzz.bin", Limits: Limits{MaxLine: 1 << 16, MaxZipTotal: 1 << 22, MaxZipEntries: 64}}
	evs, res, _ := readBytes(t, b, opts)
	// An .evtx counts every record it read, also those it had to skip
	// (see ReadEVTX); the text and JSON readers emit every record counted
	// but those refused by checkFields, which one warning counts.
	refused := 0
	for _, w := range res.Warnings {
		if n, _, ok := strings.Cut(w.Msg, " event(s) skipped: "); ok && !strings.Contains(n, " ") {
			refused, _ = strconv.Atoi(n)
		}
	}
	if strings.Contains(res.Format, "evtx") && res.Records < len(evs) || !strings.Contains(res.Format, "evtx") && res.Records != len(evs)+refused {
		t.Fatalf("Records %d, emitted %d, refused %d (%s)", res.Records, len(evs), refused, res.Format)
	}
	for _, ev := range evs {
		if ev.Provider == "" || ev.Time.IsZero() || ev.EventID < 0 || ev.EventID > 0xffff {
			t.Fatalf("unusable event %+v", ev)
		}
		if ev.Time.Location() != time.UTC {
			t.Fatalf("time not UTC: %v", ev.Time)
		}
	}
}

// FuzzReadEventText feeds arbitrary text to the details-as-text reader
// (behind a Log Name line, so detection picks it): no panic, every event
// usable. Seeds: the English, German and French samples, with and without
// Event Xml, whole and cut.
func FuzzReadEventText(f *testing.F) {
	for _, p := range []string{"en-US.txt", "de-DE.txt", "fr-FR.txt", "de-DE-xml.txt"} {
		b, err := os.ReadFile("testdata/text-details/" + p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, append([]byte("Log Name: Application\nSource: Outlook\nEvent ID: 26\n"), b...))
		fuzzRead(t, b)
	})
}
