package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestJSONShapes(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	restored := "Connection to Microsoft Exchange has been restored."
	for _, tc := range []struct {
		path     string
		format   string
		computer string
		ids      []int64
		t26      string // time of the 26
		prec     time.Duration
		qual     int
		level    int
	}{
		{"json-idletrace/agent.json", "json (idletrace)", "HQ-PC07.corp.example", []int64{70011, 70012}, "2024-05-02T07:41:12Z", time.Second, -1, 4},
		{"json-winlogbeat/winlogbeat.ndjson", "json (winlogbeat)", "HQ-PC01.corp.example", []int64{123455, 123456, 123457}, "2024-05-02T07:41:12.345Z", time.Millisecond, -1, 4},
		{"json-winlogbeat6/winlogbeat6.ndjson", "json (winlogbeat 6)", "PC04.contoso.com", []int64{45001, 45002}, "2019-03-11T08:15:44Z", time.Millisecond, -1, 4},
		{"json-nxlog/nxlog.ndjson", "json (nxlog)", "HQ-PC05.corp.example", []int64{3301, 3302}, "2024-05-02T07:41:12Z", time.Millisecond, -1, 4},
		{"json-fluentbit/fluentbit.json", "json (fluentbit)", "HQ-PC09.corp.example", []int64{123455, 123456}, "2024-05-02T07:41:12Z", time.Second, 16384, 4},
		{"json-powershell51/getwinevent.json", "json (powershell)", "HQ-PC11.corp.example", []int64{123455, 123456}, "2024-05-02T07:41:12.345Z", time.Millisecond, 16384, 4},
		{"json-powershell7/getwinevent.json", "json (powershell)", "HQ-PC12.corp.example", []int64{123456}, "2024-05-02T07:41:12.3456789Z", 100 * time.Nanosecond, 16384, 4},
		{"json-geteventlog/geteventlog.json", "json (powershell)", "HQ-PC13.corp.example", []int64{9001, 9002}, "2024-05-02T07:41:12Z", time.Second, 16384, 4},
	} {
		t.Run(tc.format+" "+tc.path, func(t *testing.T) {
			evs, res := readPath(t, "testdata/"+tc.path, Options{Location: berlin})
			if res.Format != tc.format || len(res.Warnings) != 0 || res.Records != len(tc.ids) {
				t.Fatalf("result %+v", res)
			}
			if got := recordIDs(evs); !slices.Equal(got, tc.ids) {
				t.Fatalf("record ids %v, want %v", got, tc.ids)
			}
			var e25, e26 *Event
			for i := range evs {
				if evs[i].IsConnectivity() && evs[i].EventID == 25 && e25 == nil {
					e25 = &evs[i]
				}
				if evs[i].IsConnectivity() && evs[i].EventID == 26 && e26 == nil {
					e26 = &evs[i]
				}
			}
			if e26 == nil || (len(tc.ids) > 1 && e25 == nil) {
				t.Fatalf("Outlook 25/26 not found in %+v", evs)
			}
			if e26.Computer != tc.computer || e26.Channel != "Application" || e26.Provider != "Outlook" {
				t.Errorf("26: %+v", e26)
			}
			if !e26.Time.Equal(mustTime(t, tc.t26)) || e26.Precision != tc.prec {
				t.Errorf("26 at %v (precision %v), want %s (%v)", e26.Time, e26.Precision, tc.t26, tc.prec)
			}
			if e26.Qualifiers != tc.qual || e26.Level != tc.level {
				t.Errorf("26 qualifiers %d level %d, want %d %d", e26.Qualifiers, e26.Level, tc.qual, tc.level)
			}
			if e26.Message != restored {
				t.Errorf("26 message %q", e26.Message)
			}
			if e25 != nil && !e25.Time.Before(e26.Time) {
				t.Errorf("25 at %v not before 26 at %v", e25.Time, e26.Time)
			}
		})
	}
}

func TestJSONWinlogbeatNoise(t *testing.T) {
	evs, _ := readPath(t, "testdata/json-winlogbeat/winlogbeat.ndjson", Options{})
	rpc := evs[2]
	if rpc.IsConnectivity() || rpc.EventID != 26 || rpc.Level != 3 || rpc.Message != "ExchangeServer Timeout" {
		t.Errorf("RPC Client Access 26: %+v", rpc)
	}
}

func TestJSONMixedShapes(t *testing.T) {
	var all bytes.Buffer
	for _, p := range []string{"json-winlogbeat/winlogbeat.ndjson", "json-nxlog/nxlog.ndjson"} {
		b, err := os.ReadFile("testdata/" + p)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	evs, res, err := readBytes(t, all.Bytes(), Options{})
	if err != nil || len(evs) != 5 || res.Format != "json (winlogbeat, nxlog)" {
		t.Errorf("err %v, %d events, format %q", err, len(evs), res.Format)
	}
}

// lines of the Winlogbeat sample, for damage tests.
func winlogbeatLines(t *testing.T) []string {
	b, err := os.ReadFile("testdata/json-winlogbeat/winlogbeat.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestJSONBadInput(t *testing.T) {
	lines := winlogbeatLines(t)
	t.Run("truncated line", func(t *testing.T) {
		bad := slices.Clone(lines)
		bad[0] = bad[0][:100] + "\n"
		evs, res, err := readBytes(t, []byte(strings.Join(bad, "")), Options{})
		if err != nil || !slices.Equal(recordIDs(evs), []int64{123456, 123457}) {
			t.Fatalf("err %v, kept %v", err, recordIDs(evs))
		}
		wantWarning(t, res, "line 1", "JSON item 0", "incomplete")
	})
	t.Run("truncated file", func(t *testing.T) {
		in := strings.Join(lines, "")
		evs, res, _ := readBytes(t, []byte(in[:len(in)-50]), Options{})
		if !slices.Equal(recordIDs(evs), []int64{123455, 123456}) {
			t.Fatalf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 3", "JSON item 2", "truncated")
	})
	t.Run("syntax error", func(t *testing.T) {
		bad := slices.Clone(lines)
		bad[1] = strings.Replace(bad[1], `"event_id":26,`, `"event_id":26,,`, 1)
		evs, res, _ := readBytes(t, []byte(strings.Join(bad, "")), Options{})
		if !slices.Equal(recordIDs(evs), []int64{123455, 123457}) {
			t.Fatalf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 2", "JSON item 1", "invalid JSON")
	})
	t.Run("bad fields", func(t *testing.T) {
		bad := slices.Clone(lines)
		bad[0] = strings.Replace(bad[0], `"event_id":"25"`, `"event_id":"twenty-five"`, 1)
		bad[1] = strings.Replace(bad[1], `"@timestamp":"2024-05-02T07:41:12.345Z"`, `"@timestamp":"soon"`, 1)
		evs, res, _ := readBytes(t, []byte(strings.Join(bad, "")), Options{})
		if !slices.Equal(recordIDs(evs), []int64{123457}) {
			t.Fatalf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 1", "winlog.event_id: want an integer")
		wantWarning(t, res, "line 2", `@timestamp: unrecognised time "soon"`)
	})
	t.Run("unknown shape", func(t *testing.T) {
		in := lines[0] + `{"name":"bob","age":3}` + "\n" + lines[1]
		evs, res, _ := readBytes(t, []byte(in), Options{})
		if !slices.Equal(recordIDs(evs), []int64{123455, 123456}) {
			t.Fatalf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 2", "unrecognised event shape (keys age, name)")
	})
	t.Run("oversized item", func(t *testing.T) {
		bad := slices.Clone(lines)
		bad[1] = strings.Replace(bad[1], `"message":"`, `"message":"`+strings.Repeat("x", 5000), 1)
		evs, res, _ := readBytes(t, []byte(strings.Join(bad, "")), Options{Limits: Limits{MaxLine: 4096}})
		if !slices.Equal(recordIDs(evs), []int64{123455, 123457}) {
			t.Fatalf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 2", "longer than 4 KiB")
	})
	t.Run("array with bad item", func(t *testing.T) {
		in := "[\n" + strings.TrimSpace(lines[0]) + ",\n42,\n{\"Id\": 26, \"ProviderName\": \"Outlook\", \"TimeCreated\": \"\\/Date(x)\\/\"},\n" + strings.TrimSpace(lines[1]) + "\n]\n"
		evs, res, _ := readBytes(t, []byte(in), Options{Name: "x.json", Computer: "PC"})
		if !slices.Equal(recordIDs(evs), []int64{123455, 123456}) {
			t.Fatalf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "x.json: line 3", "JSON item 1", "not a JSON object")
		wantWarning(t, res, "line 4", "JSON item 2", "bad date")
	})
	t.Run("truncated array", func(t *testing.T) {
		b, err := os.ReadFile("testdata/json-powershell51/getwinevent.json")
		if err != nil {
			t.Fatal(err)
		}
		evs, res, _ := readBytes(t, b[:len(b)-100], Options{})
		if !slices.Equal(recordIDs(evs), []int64{123455}) {
			t.Fatalf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "JSON item 1", "truncated")
	})
	t.Run("lone brace", func(t *testing.T) {
		evs, res, err := readBytes(t, []byte("{\n"), Options{})
		var nre *NothingReadError
		if !errors.As(err, &nre) || len(evs) != 0 {
			t.Fatalf("err %v, %d events", err, len(evs))
		}
		wantWarning(t, res, "line 1", "truncated")
	})
}

func TestJSONDecodeItems(t *testing.T) {
	in := `[
 {"computer":"PC1","channel":"Application","provider":"Outlook","event_id":25,"time":"2024-05-02T07:38:02Z","record_id":1},
 {"computer":"PC1","channel":"Application","provider":"Outlook","event_id":26,"time":"not a time","record_id":2},
 {"computer":"PC1","channel":"Application","provider":"Outlook","event_id":26,"time":"2024-05-02T07:41:12Z","record_id":3}
]`
	type item struct {
		index int
		id    int64
		err   string
	}
	var got []item
	format, err := DecodeItems(context.Background(), strings.NewReader(in), Options{}, func(i int, ev Event, err error) error {
		it := item{index: i, id: ev.RecordID}
		if err != nil {
			it.err = err.Error()
		}
		got = append(got, it)
		return nil
	})
	if err != nil || format != "json (idletrace)" {
		t.Fatalf("format %q, err %v", format, err)
	}
	want := []item{{0, 1, ""}, {1, 0, `time: unrecognised time "not a time"`}, {2, 3, ""}}
	if !slices.Equal(got, want) {
		t.Errorf("items\n got %v\nwant %v", got, want)
	}

	// The callback's error stops decoding.
	stop := errors.New("stop")
	n := 0
	_, err = DecodeItems(context.Background(), strings.NewReader(in), Options{}, func(int, Event, error) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d items", err, n)
	}

	// Not JSON at all.
	_, err = DecodeItems(context.Background(), strings.NewReader("Level,Date and Time\n"), Options{}, func(int, Event, error) error { return nil })
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Errorf("err %v, want a FormatError", err)
	}

	// Missing fields of the own schema.
	_, err = DecodeItems(context.Background(), strings.NewReader(`{"provider":"Outlook","event_id":26,"time":"2024-05-02T07:41:12Z"}`), Options{}, func(i int, ev Event, err error) error {
		if err == nil || err.Error() != "no channel" {
			t.Errorf("item %d: err %v", i, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestJSONTimes(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tc := range []struct {
		in   string
		want string
		prec time.Duration
	}{
		{`"2024-05-02T07:41:12.3456789Z"`, "2024-05-02T07:41:12.3456789Z", 100 * time.Nanosecond},
		{`"2024-05-02T09:41:12+02:00"`, "2024-05-02T07:41:12Z", time.Second},
		{`"2024-05-02 09:41:12 +0200"`, "2024-05-02T07:41:12Z", time.Second},
		{`"2024-05-02 09:41:12"`, "2024-05-02T07:41:12Z", time.Second},
		{`"2024-05-02T09:41:12.5"`, "2024-05-02T07:41:12.5Z", 100 * time.Millisecond},
		{`"\/Date(1714635672345)\/"`, "2024-05-02T07:41:12.345Z", time.Millisecond},
		{`"/Date(1714635672345+0200)/"`, "2024-05-02T07:41:12.345Z", time.Millisecond},
		{`1714635672345`, "2024-05-02T07:41:12.345Z", time.Millisecond},
		{`1714635672`, "2024-05-02T07:41:12Z", time.Second},
		{`"1714635672"`, "2024-05-02T07:41:12Z", time.Second},
		{`"2024-05-02 09:41:12 W. Europe Daylight Time"`, "2024-05-02T07:41:12Z", time.Second},
	} {
		got, prec, zoneless, err := parseJSONTime([]byte(tc.in), berlin)
		if err != nil || !got.Equal(mustTime(t, tc.want)) || prec != tc.prec {
			t.Errorf("%s: %v %v %v, want %s %v", tc.in, got, prec, err, tc.want, tc.prec)
		}
		wantZoneless := tc.in == `"2024-05-02 09:41:12"` || tc.in == `"2024-05-02T09:41:12.5"` || strings.Contains(tc.in, "Europe")
		if zoneless != wantZoneless {
			t.Errorf("%s: zoneless %v, want %v", tc.in, zoneless, wantZoneless)
		}
	}
}

func BenchmarkReadNDJSON(b *testing.B) {
	var buf bytes.Buffer
	lines, _ := os.ReadFile("testdata/json-winlogbeat/winlogbeat.ndjson")
	for buf.Len() < 4<<20 {
		buf.Write(lines)
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		_, err := Read(context.Background(), bytes.NewReader(in), int64(len(in)), Options{}, func(Event) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReadJSON(f *testing.F) {
	for _, p := range []string{
		"json-idletrace/agent.json", "json-winlogbeat/winlogbeat.ndjson", "json-winlogbeat6/winlogbeat6.ndjson",
		"json-nxlog/nxlog.ndjson", "json-fluentbit/fluentbit.json", "json-powershell51/getwinevent.json",
		"json-powershell7/getwinevent.json", "json-geteventlog/geteventlog.json",
		"json-evtxdump/evtx_dump.json", "json-evtxdump/evtx_dump.jsonl", "json-evtxdump/separate.jsonl",
		"json-evtxdump/golang-evtxdump.ndjson", "json-fluentbit-winlog/winlog.ndjson", "json-nxlog-local/nxlog.ndjson",
	} {
		b, err := os.ReadFile("testdata/" + p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)*2/3])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, append([]byte("{"), b...))
		fuzzRead(t, b)
		n := 0
		DecodeItems(context.Background(), bytes.NewReader(b), Options{Computer: "PC"}, func(i int, ev Event, err error) error {
			if i < n-1 {
				return fmt.Errorf("index %d after %d", i, n)
			}
			n = i + 1
			return nil
		})
	})
}
