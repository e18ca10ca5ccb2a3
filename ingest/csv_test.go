package ingest

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// eventTimes lists events as "id@time" in UTC to the second.
func eventTimes(evs []Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Provider + " " + strconv.Itoa(ev.EventID) + " @ " + ev.Time.Format(time.RFC3339)
	}
	return out
}

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCSVEnglishUS(t *testing.T) {
	evs, res := readPath(t, "testdata/csv-enus/HQ-PC01.csv", Options{Location: mustLoc(t, "America/New_York")})
	if res.Format != "csv (M/D/Y)" || len(res.Warnings) != 0 || res.Records != 6 {
		t.Fatalf("result %+v", res)
	}
	want := []string{
		"Outlook 63 @ 2024-05-02T13:46:10Z",
		"MSExchange RPC Client Access 26 @ 2024-05-02T13:45:00Z",
		"Outlook 26 @ 2024-05-02T13:41:12Z",
		"Outlook 25 @ 2024-05-02T13:38:02Z",
		"Application Error 1000 @ 2024-05-02T04:05:31Z",
		"Security-SPP 16384 @ 2024-04-30T16:30:01Z",
	}
	if got := eventTimes(evs); !slices.Equal(got, want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	e25 := evs[3]
	wantEv := Event{
		Computer: "HQ-PC01", Channel: "Application", Provider: "Outlook", EventID: 25, Qualifiers: -1, Level: 4,
		Time: mustTime(t, "2024-05-02T13:38:02Z"), Precision: time.Second,
		Message: "Could not perform the desired operation.\nThe connection to Microsoft Exchange is unavailable. Outlook must be online or connected to complete this action..",
	}
	if e25 != wantEv {
		t.Errorf("25\n got %+v\nwant %+v", e25, wantEv)
	}
	if !e25.IsConnectivity() || evs[1].IsConnectivity() || evs[1].Level != 3 || evs[1].Message != "ExchangeServer, Timeout" {
		t.Errorf("connectivity: %+v / %+v", e25, evs[1])
	}
	if evs[4].Level != 2 || !strings.HasSuffix(evs[4].Message, "Exception code: 0xc0000005") {
		t.Errorf("Application Error: %+v", evs[4])
	}
}

func TestCSVComputerAndZone(t *testing.T) {
	evs, _ := readPath(t, "testdata/csv-enus/HQ-PC01.csv", Options{Computer: "HQ-PC01.corp.example"})
	if evs[2].Computer != "HQ-PC01.corp.example" || !evs[2].Time.Equal(mustTime(t, "2024-05-02T09:41:12Z")) {
		t.Errorf("override/UTC default: %+v", evs[2])
	}
	b, err := os.ReadFile("testdata/csv-enus/HQ-PC01.csv")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = readBytes(t, b, Options{})
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "no computer name") {
		t.Errorf("no name: err %v", err)
	}
}

func TestCSVGerman(t *testing.T) {
	evs, res := readPath(t, "testdata/csv-dede/PC-MUENCHEN.csv", Options{Location: mustLoc(t, "Europe/Berlin")})
	if res.Format != "csv (D/M/Y)" || len(res.Warnings) != 0 {
		t.Fatalf("result %+v", res)
	}
	want := []string{"Outlook 26 @ 2024-05-02T07:41:12Z", "Outlook 25 @ 2024-05-02T07:38:02Z", "Outlook 32 @ 2024-05-01T15:02:44Z"}
	if got := eventTimes(evs); !slices.Equal(got, want) {
		t.Fatalf("events\n got %q\nwant %q", got, want)
	}
	if evs[0].Computer != "PC-MUENCHEN" || evs[0].Level != 4 || evs[2].Level != 3 || evs[2].Message != `Outlook hat festgestellt, dass "Cached Exchange Mode" aktiv ist.` {
		t.Errorf("events %+v", evs)
	}
}

// The first two dates read either way; the third settles D/M/Y for all.
func TestCSVEnglishUK(t *testing.T) {
	evs, res := readPath(t, "testdata/csv-engb/LON-PC02.csv", Options{Location: mustLoc(t, "Europe/London")})
	want := []string{"Outlook 26 @ 2024-05-02T08:41:12Z", "Outlook 25 @ 2024-05-02T08:38:02Z", "Outlook 26 @ 2024-04-29T16:00:00Z"}
	if got := eventTimes(evs); res.Format != "csv (D/M/Y)" || !slices.Equal(got, want) {
		t.Fatalf("format %q, events\n got %q\nwant %q", res.Format, got, want)
	}
}

func TestCSVUTF16(t *testing.T) {
	b, err := os.ReadFile("testdata/csv-dede/PC-MUENCHEN.csv")
	if err != nil {
		t.Fatal(err)
	}
	evs, res, err := readBytes(t, utf16LE(strings.TrimPrefix(string(b), "\ufeff")), Options{Name: "PC-MUENCHEN.csv", Location: mustLoc(t, "Europe/Berlin")})
	if err != nil || len(evs) != 3 || len(res.Warnings) != 0 {
		t.Fatalf("err %v, %d events, %v", err, len(evs), res.Warnings)
	}
	if !strings.Contains(evs[1].Message, "gewünschte") {
		t.Errorf("message %q", evs[1].Message)
	}
}

func TestCSVTimes(t *testing.T) {
	utc := time.UTC
	for _, tc := range []struct {
		in    string
		order dateOrder
		want  string
	}{
		{"3/8/2024 4:34:10 PM", orderMDY, "2024-03-08T16:34:10Z"},
		{"3/8/2024 12:05:01 AM", orderMDY, "2024-03-08T00:05:01Z"},
		{"3/8/2024 12:05:01 PM", orderMDY, "2024-03-08T12:05:01Z"},
		{"08/03/2024 16:34:10", orderDMY, "2024-03-08T16:34:10Z"},
		{"08.03.2024 16:34:10", orderDMY, "2024-03-08T16:34:10Z"},
		{"2024/03/08 16:34:10", orderMDY, "2024-03-08T16:34:10Z"},
		{"2024-03-08T16:34:10", orderDMY, "2024-03-08T16:34:10Z"},
		{"\u200e08\u200e/\u200e03\u200e/\u200e2024 16:34:10", orderDMY, "2024-03-08T16:34:10Z"},
		{"3/8/2024 4:34:10\u202fPM", orderMDY, "2024-03-08T16:34:10Z"},
		{"2024/03/08 午後 4:34:10", orderYMD, "2024-03-08T16:34:10Z"},
		{"8.3.2024 16.34.10", orderDMY, "2024-03-08T16:34:10Z"},
	} {
		got, err := parseCSVTime(tc.in, tc.order, utc)
		if err != nil || !got.Equal(mustTime(t, tc.want)) {
			t.Errorf("%q: %v %v, want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"13/13/2024 10:00:00", "2/30/2024 10:00:00 AM", "3/8/2024 13:00:00 PM", "yesterday", "3/8/2024"} {
		if got, err := parseCSVTime(bad, orderMDY, utc); err == nil {
			t.Errorf("%q: %v, want an error", bad, got)
		}
	}
}

func TestCSVBadInput(t *testing.T) {
	b, err := os.ReadFile("testdata/csv-enus/HQ-PC01.csv")
	if err != nil {
		t.Fatal(err)
	}
	in := string(b)
	opts := Options{Name: "HQ-PC01.csv", Location: time.UTC}
	ids := func(evs []Event) []int {
		var out []int
		for _, ev := range evs {
			out = append(out, ev.EventID)
		}
		return out
	}
	t.Run("truncated", func(t *testing.T) {
		cut := in[:strings.Index(in, "Faulting module")]
		evs, res, err := readBytes(t, []byte(cut), opts)
		if err != nil || !slices.Equal(ids(evs), []int{63, 26, 26, 25}) {
			t.Fatalf("err %v, kept %v", err, ids(evs))
		}
		wantWarning(t, res, "HQ-PC01.csv: line 7", "truncated")
	})
	t.Run("bad records", func(t *testing.T) {
		bad := strings.Replace(in, "5/2/2024 9:41:12 AM", "5/2/2024 9:61:12 AM", 1)
		bad = strings.Replace(bad, ",Outlook,63,", ",Outlook,6x3,", 1)
		bad = strings.Replace(bad, "Security-SPP,16384,None,", "Security-SPP;16384;None;", 1)
		evs, res, _ := readBytes(t, []byte(bad), opts)
		if !slices.Equal(ids(evs), []int{26, 25, 1000}) {
			t.Fatalf("kept %v", ids(evs))
		}
		wantWarning(t, res, "line 2", `bad Event ID "6x3"`)
		wantWarning(t, res, "line 4", `bad Date and Time "5/2/2024 9:61:12 AM"`)
		wantWarning(t, res, "line 10", "3 fields, want at least 5")
	})
	t.Run("oversized record", func(t *testing.T) {
		long := strings.Repeat("stack frame 0x00007ff8 in mso.dll\r\n", 200)
		bad := strings.Replace(in, "Faulting module name", long+"Faulting module name", 1)
		evs, res, _ := readBytes(t, []byte(bad), Options{Name: "HQ-PC01.csv", Limits: Limits{MaxLine: 4096}})
		if !slices.Equal(ids(evs), []int{63, 26, 26, 25, 16384}) {
			t.Fatalf("kept %v", ids(evs))
		}
		wantWarning(t, res, "line 7", "record longer than 4 KiB")
	})
	t.Run("other csv", func(t *testing.T) {
		_, _, err := readBytes(t, []byte("name,age,city,zip,phone\r\nbob,3,x,y,z\r\n"), opts)
		if err == nil || !strings.Contains(err.Error(), "unrecognized input") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("headerless", func(t *testing.T) {
		body := in[strings.Index(in, "\n")+1:]
		evs, res, err := readBytes(t, []byte(body), opts)
		if err != nil || len(evs) != 6 || len(res.Warnings) != 0 {
			t.Errorf("err %v, %d events, %v", err, len(evs), res.Warnings)
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	for _, p := range []string{"csv-enus/HQ-PC01.csv", "csv-dede/PC-MUENCHEN.csv", "csv-engb/LON-PC02.csv"} {
		b, err := os.ReadFile("testdata/" + p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, append([]byte("Level,Date and Time,Source,Event ID,Task Category\r\n"), b...))
		fuzzRead(t, b)
	})
}
