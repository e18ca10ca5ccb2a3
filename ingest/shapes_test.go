package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"idletrace/bench/applog"
	"idletrace/ingest"
	"idletrace/ingest/evtxtest"
	"idletrace/ingest/exporttest"
)

// readAll reads path and returns every event emitted.
func readAll(t testing.TB, path string, opts ingest.Options) ([]ingest.Event, ingest.Result, error) {
	t.Helper()
	var evs []ingest.Event
	res, err := ingest.ReadFile(context.Background(), path, opts, func(e ingest.Event) error {
		evs = append(evs, e)
		return nil
	})
	return evs, res, err
}

// connectivity keeps the Outlook 25/26 events.
func connectivity(evs []ingest.Event) []ingest.Event {
	var out []ingest.Event
	for _, e := range evs {
		if e.IsConnectivity() {
			out = append(out, e)
		}
	}
	return out
}

// applogFixture writes an Application log with Outlook 25/26 among many
// other sources with the project's EVTX writer, and returns its path and
// every record.
func applogFixture(t testing.TB) (string, []ingest.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "HQ-PC01.evtx")
	st, err := applog.WriteFile(path, applog.Options{Seed: 12, TargetBytes: 192 << 10, OutlookShare: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	all, _, err := readAll(t, path, ingest.Options{AllRecords: true})
	if err != nil || len(all) != st.Records || len(connectivity(all)) != st.Outlook25+st.Outlook26 || st.Outlook25 == 0 {
		t.Fatalf("fixture: err %v, %d records (%+v)", err, len(all), st)
	}
	return path, all
}

// sameOutlookEvents compares the Outlook 25/26 events read from one shape
// with those of the .evtx.
func sameOutlookEvents(t *testing.T, s exporttest.Shape, got, want []ingest.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d Outlook 25/26 events, the .evtx has %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		wt := w.Time.Truncate(s.Precision)
		d := g.Time.Sub(wt)
		if d < 0 {
			d = -d
		}
		switch {
		case g.Computer != w.Computer || !strings.EqualFold(g.Channel, w.Channel) || g.Provider != w.Provider || g.EventID != w.EventID:
			t.Fatalf("event %d: %+v, want %+v", i, g, w)
		case s.RecordIDs && g.RecordID != w.RecordID:
			t.Fatalf("event %d: record id %d, want %d", i, g.RecordID, w.RecordID)
		case !s.RecordIDs && g.RecordID != 0:
			t.Fatalf("event %d: record id %d from a shape without them", i, g.RecordID)
		case d > s.Tolerance:
			t.Fatalf("event %d: time %v, want %v (±%v)", i, g.Time, wt, s.Tolerance)
		case g.Precision != s.Precision:
			t.Fatalf("event %d: precision %v, want %v", i, g.Precision, s.Precision)
		case g.Time.Location() != time.UTC:
			t.Fatalf("event %d: time not in UTC", i)
		}
	}
}

// TestEveryShapeSameOutlookEvents makes every export shape of one log —
// python-evtx and evtxexport run on the .evtx, the others rendered from
// their tools' field lists — and reads each back: the same Outlook 25/26
// events as the .evtx (within each shape's precision), no warning when
// the zone is given, one naming UTC when a shape with local times is read
// without it.
func TestEveryShapeSameOutlookEvents(t *testing.T) {
	path, all := applogFixture(t)
	want := connectivity(all)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range exporttest.Shapes() {
		t.Run(s.Name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "HQ-PC01.export")
			exporttest.Make(t, s, path, all, berlin, out)
			evs, res, err := readAll(t, out, ingest.Options{Location: berlin})
			if err != nil {
				t.Fatal(err)
			}
			records := len(all)
			if s.ApplicationOnly {
				records = 0
				for _, e := range all {
					if strings.EqualFold(e.Channel, ingest.ChannelApplication) {
						records++
					}
				}
			}
			if res.Format != s.Format || len(res.Warnings) != 0 || res.Records != records || res.LooksLike != "" {
				t.Fatalf("format %q, %d records (want %d), warnings %v, looks like %q", res.Format, res.Records, records, res.Warnings, res.LooksLike)
			}
			sameOutlookEvents(t, s, connectivity(evs), want)
			if !s.Local {
				return
			}
			_, res, err = readAll(t, out, ingest.Options{})
			if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Msg, "read as UTC") {
				t.Fatalf("without a zone: err %v, warnings %v; want one saying UTC was assumed", err, res.Warnings)
			}
		})
	}
}

// TestLooksLikeOtherLog: a System or Security log gives no Outlook event
// and says what it is, in every shape.
func TestLooksLikeOtherLog(t *testing.T) {
	t0 := time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		channel, provider string
		want              string
	}{
		{"System", "Service Control Manager", "this is the System log; Outlook events are in the Application log"},
		{"Security", "Microsoft-Windows-Security-Auditing", "this is the Security log; Outlook events are in the Application log"},
		{"Application", "MsiInstaller", "this Application log holds no event from Outlook"},
	} {
		var recs []evtxtest.Record
		for i := range 3000 {
			r := evtxtest.Classic(tc.provider, "HQ-PC01.corp.example", t0.Add(time.Duration(i)*time.Minute), uint16(7036+i%3), "x")
			r.Channel = tc.channel
			if i%100 == 0 { // Application Popup 26 is not Outlook's
				r = evtxtest.Classic("Application Popup", "HQ-PC01.corp.example", t0.Add(time.Duration(i)*time.Minute), 26, "popup")
				r.Channel = tc.channel
			}
			recs = append(recs, r)
		}
		path := filepath.Join(t.TempDir(), tc.channel+".evtx")
		if err := evtxtest.WriteFile(path, recs); err != nil {
			t.Fatal(err)
		}
		evs, res, err := readAll(t, path, ingest.Options{})
		if err != nil || len(evs) != 0 || res.Records != len(recs) || !strings.HasPrefix(res.LooksLike, tc.want) {
			t.Errorf("%s: err %v, %d events, %d records, looks like %q", tc.channel, err, len(evs), res.Records, res.LooksLike)
		}
		all, _, _ := readAll(t, path, ingest.Options{AllRecords: true})
		for _, s := range exporttest.Shapes() {
			if s.Tool != "" || s.ApplicationOnly && tc.channel != ingest.ChannelApplication {
				continue
			}
			out := filepath.Join(t.TempDir(), "export")
			exporttest.Make(t, s, path, all, time.UTC, out)
			_, res, err := readAll(t, out, ingest.Options{Location: time.UTC})
			if err != nil || !strings.HasPrefix(res.LooksLike, tc.want) {
				t.Errorf("%s as %s: err %v, looks like %q", tc.channel, s.Name, err, res.LooksLike)
			}
		}
	}
}

// TestNothingRead: an input of a known format where every item is
// rejected is an error that quotes the first reasons, and unwraps to a
// FormatError.
func TestNothingRead(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, body, reason string
	}{
		{"nxlog.json", `{"SourceName":"Outlook","Hostname":"PC1","EventID":26}` + "\n" + `{"SourceName":"Outlook","Hostname":"PC1","EventID":25}` + "\n", "no EventTime"},
		{"python.xml", "<Events>\n<Event><System><Provider Name=\"Outlook\"/><EventID>26</EventID><TimeCreated SystemTime=\"yesterday\"/></System></Event>\n</Events>\n", "bad TimeCreated"},
		{"pasted.txt", "Log Name: Application\nSource: Outlook\nDate: someday\nEvent ID: 26\nComputer: PC1\n", "bad Date"},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, []byte(tc.body), 0o644)
		_, res, err := readAll(t, p, ingest.Options{})
		var nre *ingest.NothingReadError
		var fe *ingest.FormatError
		if !errors.As(err, &nre) || !errors.As(err, &fe) || res.Records != 0 || !strings.Contains(err.Error(), tc.reason) || len(nre.Reasons) == 0 {
			t.Errorf("%s: err %v (%T), records %d", tc.name, err, err, res.Records)
		}
	}
}

// TestUnrecognizedSaysWhatIsRead: the message names the exports idletrace
// reads and how to make one, and quotes the input's first line.
func TestUnrecognizedSaysWhatIsRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(p, []byte("Outlook keeps disconnecting since Monday\r\n"), 0o644)
	_, _, err := readAll(t, p, ingest.Options{})
	var fe *ingest.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("err %v", err)
	}
	for _, want := range []string{`"Outlook keeps disconnecting since Monday"`, "Save All Events As", "wevtutil", "Copy details as text", "Winlogbeat", "zip"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
}

// TestEventTextPasted covers what users paste: text around the blocks,
// Windows line ends, a block without a Description, German labels longer
// than their column, a truncated last block.
func TestEventTextPasted(t *testing.T) {
	in := "Hello,\r\nhere is what Event Viewer shows:\r\n\r\n" +
		"Protokollname: Application\r\nQuelle:        Outlook\r\nDatum:         02.05.2024 09:41:12\r\nEreignis-ID:   26\r\n" +
		"Aufgabenkategorie:Keine\r\nEbene:         Informationen\r\nSchlüsselwörter:Klassisch\r\nBenutzer:      Nicht zutreffend\r\n" +
		"Computer:      PC-MUENCHEN.corp.example\r\nBeschreibung:\r\nDie Verbindung zu Microsoft Exchange wurde wiederhergestellt.\r\n\r\n" +
		"Protokollname: Application\r\nQuelle:        Outlook\r\nDatum:         02.05.2024 09:26:10\r\nEreignis-ID:   25\r\n" +
		"Computer:      PC-MUENCHEN.corp.example\r\n\r\nThanks, Eva\r\n" +
		"Protokollname: Application\r\nQuelle:        Outlook\r\nDatum:         02.05.20"
	p := filepath.Join(t.TempDir(), "ticket.txt")
	os.WriteFile(p, []byte(in), 0o644)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	evs, res, err := readAll(t, p, ingest.Options{Location: berlin})
	if err != nil || res.Format != "text" || len(evs) != 2 || len(res.Warnings) != 1 {
		t.Fatalf("err %v, format %q, %d events, warnings %v", err, res.Format, len(evs), res.Warnings)
	}
	if res.Warnings[0].Line != 23 {
		t.Errorf("warning %v, want it at line 23", res.Warnings[0])
	}
	want := []string{"26 2024-05-02T07:41:12Z Die Verbindung zu Microsoft Exchange wurde wiederhergestellt.", "25 2024-05-02T07:26:10Z "}
	var got []string
	for _, e := range evs {
		if !e.IsConnectivity() || e.Computer != "PC-MUENCHEN.corp.example" || e.Level != 4 && e.EventID == 26 {
			t.Errorf("event %+v", e)
		}
		got = append(got, fmt.Sprintf("%d %s %s", e.EventID, e.Time.Format(time.RFC3339), e.Message))
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
