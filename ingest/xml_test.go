package ingest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestXMLWevtutil(t *testing.T) {
	evs, res := readPath(t, "testdata/xml-wevtutil/HQ-PC01.xml", Options{})
	if res.Format != FormatXML || res.Records != 5 || len(res.Warnings) != 0 {
		t.Fatalf("result %+v", res)
	}
	if got := recordIDs(evs); !slices.Equal(got, []int64{123450, 123455, 123456, 123457, 123458}) {
		t.Fatalf("record ids %v", got)
	}
	want := Event{
		Computer: "HQ-PC01.corp.example", Channel: "Application", Provider: "Outlook",
		EventID: 26, Qualifiers: 16384, Level: 4, RecordID: 123456,
		Time:      mustTime(t, "2024-05-02T07:41:12.3456789Z"),
		Precision: 100 * time.Nanosecond,
		Message:   "Connection to Microsoft Exchange has been restored.",
	}
	if evs[2] != want {
		t.Errorf("event\n got %+v\nwant %+v", evs[2], want)
	}
	if !evs[1].IsConnectivity() || evs[1].EventID != 25 {
		t.Errorf("25 not read: %+v", evs[1])
	}
	if evs[3].IsConnectivity() || evs[3].Provider != "MSExchange RPC Client Access" || evs[3].Message != "ExchangeServer Timeout" {
		t.Errorf("RPC Client Access 26: %+v", evs[3])
	}
	if evs[0].Provider != "Microsoft-Windows-Security-SPP" || evs[0].EventID != 16384 || evs[0].Qualifiers != 16384 {
		t.Errorf("SPP: %+v", evs[0])
	}
}

func TestXMLRendered(t *testing.T) {
	evs, res := readPath(t, "testdata/xml-rendered/PC02.xml", Options{})
	if res.Format != "xml (rendered)" || len(evs) != 2 || len(res.Warnings) != 0 {
		t.Fatalf("result %+v, %d events", res, len(evs))
	}
	if !strings.HasPrefix(evs[0].Message, "Der gewünschte Vorgang") || !strings.Contains(evs[0].Message, "\nDie Verbindung") {
		t.Errorf("message not from RenderingInfo: %q", evs[0].Message)
	}
	if evs[0].Channel != "Application" || !evs[0].IsConnectivity() || evs[1].EventID != 26 || evs[1].RecordID != 88002 {
		t.Errorf("events %+v", evs)
	}
}

func TestXMLEventsRoot(t *testing.T) {
	evs, res := readPath(t, "testdata/xml-events-root/PC03.xml", Options{})
	if len(evs) != 3 || len(res.Warnings) != 0 {
		t.Fatalf("result %+v, %d events", res, len(evs))
	}
	if evs[2].Provider != "Application Error" || evs[2].Qualifiers != 0 || evs[2].Level != 2 || evs[2].Message != "OUTLOOK.EXE 16.0.17328.20162 c0000005" {
		t.Errorf("event %+v", evs[2])
	}
	if !evs[1].Time.Equal(mustTime(t, "2024-05-03T12:15:31.2Z")) {
		t.Errorf("time %v", evs[1].Time)
	}
}

// PowerShell's "wevtutil qe … > out.xml" writes UTF-16LE with a BOM.
func TestXMLUTF16(t *testing.T) {
	b, err := os.ReadFile("testdata/xml-rendered/PC02.xml")
	if err != nil {
		t.Fatal(err)
	}
	evs, res, err := readBytes(t, utf16LE(string(b)), Options{})
	if err != nil || len(evs) != 2 || len(res.Warnings) != 0 {
		t.Fatalf("err %v, result %+v, %d events", err, res, len(evs))
	}
	if !strings.Contains(evs[0].Message, "gewünschte") {
		t.Errorf("message %q", evs[0].Message)
	}
}

func TestXMLBadInput(t *testing.T) {
	b, err := os.ReadFile("testdata/xml-wevtutil/HQ-PC01.xml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines = lines[:len(lines)-1] // the last is empty

	t.Run("truncated", func(t *testing.T) {
		in := string(b[:len(b)-200])
		evs, res, err := readBytes(t, []byte(in), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recordIDs(evs), []int64{123450, 123455, 123456, 123457}) {
			t.Errorf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 5", "truncated")
	})
	t.Run("malformed event", func(t *testing.T) {
		bad := slices.Clone(lines)
		bad[1] = strings.Replace(bad[1], "</Level>", "</Levl>", 1)
		evs, res, _ := readBytes(t, []byte(strings.Join(bad, "")), Options{})
		if !slices.Equal(recordIDs(evs), []int64{123450, 123456, 123457, 123458}) {
			t.Errorf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 2", "malformed event XML")
	})
	t.Run("unclosed event", func(t *testing.T) {
		bad := slices.Clone(lines)
		bad[2] = bad[2][:len(bad[2])/2] + "\n"
		evs, res, _ := readBytes(t, []byte(strings.Join(bad, "")), Options{})
		if !slices.Equal(recordIDs(evs), []int64{123450, 123455, 123457, 123458}) {
			t.Errorf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 3", "no </Event>")
	})
	t.Run("bad fields", func(t *testing.T) {
		bad := slices.Clone(lines)
		bad[1] = strings.Replace(bad[1], ">25<", ">2x5<", 1)
		bad[2] = strings.Replace(bad[2], "SystemTime='2024", "SystemTime='yesterday", 1)
		evs, res, _ := readBytes(t, []byte(strings.Join(bad, "")), Options{})
		if !slices.Equal(recordIDs(evs), []int64{123450, 123457, 123458}) {
			t.Errorf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 2", `bad EventID "2x5"`)
		wantWarning(t, res, "line 3", "bad TimeCreated")
	})
	t.Run("oversized event", func(t *testing.T) {
		bad := slices.Clone(lines)
		bad[1] = strings.Replace(bad[1], "<Data>", "<Data>"+strings.Repeat("x", 5000), 1)
		evs, res, _ := readBytes(t, []byte(strings.Join(bad, "")), Options{Limits: Limits{MaxLine: 4096}})
		if !slices.Equal(recordIDs(evs), []int64{123450, 123456, 123457, 123458}) {
			t.Errorf("kept %v", recordIDs(evs))
		}
		wantWarning(t, res, "line 2", "longer than 4 KiB")
	})
	t.Run("other xml", func(t *testing.T) {
		_, _, err := readBytes(t, []byte(`<?xml version="1.0"?><rss version="2.0"><channel/></rss>`), Options{})
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "root element <rss>") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("not a log", func(t *testing.T) {
		_, _, err := readBytes(t, []byte("Log Name:      Application\r\nSource:        Outlook\r\n"), Options{})
		if err == nil || !strings.Contains(err.Error(), "unrecognized input") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("empty events root", func(t *testing.T) {
		evs, res, err := readBytes(t, []byte("<Events></Events>\r\n"), Options{})
		if err != nil || len(evs) != 0 || len(res.Warnings) != 0 {
			t.Errorf("err %v, %d events, %v", err, len(evs), res.Warnings)
		}
	})
}

func FuzzReadXML(f *testing.F) {
	for _, p := range []string{"testdata/xml-wevtutil/HQ-PC01.xml", "testdata/xml-rendered/PC02.xml", "testdata/xml-events-root/PC03.xml",
		"testdata/xml-python-evtx/HQ-PC21.xml", "testdata/xml-evtxexport/HQ-PC21.xml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte("<Event><System><Provider Name='a&amp;b &#x41;'/><EventID Qualifiers='1'>7</EventID><TimeCreated SystemTime='2024-05-02T07:41:12Z'/></System><EventData><Data/><Data>x\r\ny</Data></EventData><RenderingInfo/></Event>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzRead(t, append([]byte("<Event "), b...))
		fuzzRead(t, b)
		// The fast scanner agrees with encoding/xml wherever it answers.
		sp := newXMLSplitter(bytes.NewReader(b), 1<<16)
		for {
			chunk, _, err := sp.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				continue
			}
			if fast, ok := scanXMLEventFast(chunk); ok {
				var slow xmlEvent
				if err := decodeXMLEvent(chunk, &slow); err != nil {
					t.Fatalf("fast scan accepted what encoding/xml rejects: %v\n%q", err, chunk)
				}
				fast.renderedMessage = ""
				if !reflect.DeepEqual(fast, slow) {
					t.Fatalf("fast scan\n%#v\nencoding/xml\n%#v\n%q", fast, slow, chunk)
				}
			}
		}
	})
}
