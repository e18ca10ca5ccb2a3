package evtxtest

import (
	"fmt"
	"io"
	stdlog "log"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/0xrawsec/golang-evtx/evtx"
)

// readGolang parses path with golang-evtx's synchronous chunk API
// (New / FetchChunk / ParseEvent / GoEvtxMap) and returns every event map in
// file order.
func readGolang(t testing.TB, path string) []*evtx.GoEvtxMap {
	t.Helper()
	stdlog.SetOutput(io.Discard) // golang-evtx logs through the std logger
	defer stdlog.SetOutput(os.Stderr)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ef, _ := evtx.New(f)
	if err := ef.Header.Verify(); err != nil {
		t.Fatalf("golang-evtx header verify: %v", err)
	}
	var out []*evtx.GoEvtxMap
	for i := 0; i < int(ef.Header.ChunkCount); i++ {
		off := int64(ef.Header.ChunkDataOffset) + int64(i)*evtx.ChunkSize
		c, err := ef.FetchChunk(off)
		if err != nil {
			t.Fatalf("chunk %d: FetchChunk: %v", i, err)
		}
		if err := c.Header.Validate(); err != nil {
			t.Fatalf("chunk %d: header: %v", i, err)
		}
		for _, eo := range c.EventOffsets {
			ev := c.ParseEvent(int64(eo))
			if !ev.IsValid() {
				continue
			}
			m, err := ev.GoEvtxMap(&c)
			if err != nil {
				t.Fatalf("chunk %d offset %d: %v", i, eo, err)
			}
			out = append(out, m)
		}
	}
	return out
}

// get walks nested golang-evtx maps.
func get(m *evtx.GoEvtxMap, keys ...string) (any, bool) {
	var cur any = map[string]any(*m)
	for _, k := range keys {
		var mm map[string]any
		switch v := cur.(type) {
		case evtx.GoEvtxMap:
			mm = v
		case map[string]any:
			mm = v
		default:
			return nil, false
		}
		x, ok := mm[k]
		if !ok {
			return nil, false
		}
		cur = x
	}
	return cur, true
}

func getStr(m *evtx.GoEvtxMap, keys ...string) string {
	v, ok := get(m, keys...)
	if !ok {
		return "<missing>"
	}
	return fmt.Sprint(v)
}

// checkGolang compares one golang-evtx map with the record written, in
// golang-evtx's classic-source shape.
func checkGolang(t *testing.T, i int, m *evtx.GoEvtxMap, r Record, id uint64) {
	t.Helper()
	errf := func(format string, a ...any) {
		t.Helper()
		t.Errorf("record %d (id %d): "+format, append([]any{i, id}, a...)...)
	}
	sys := func(k ...string) string { return getStr(m, append([]string{"Event", "System"}, k...)...) }

	if r.ProviderGUID == "" {
		if v, ok := get(m, "Event", "System", r.Provider); !ok || v != "" {
			errf("classic provider key System[%q] = %v, %v", r.Provider, v, ok)
		}
		if _, ok := get(m, "Event", "System", "Provider"); ok {
			errf("unexpected Provider key for a classic source")
		}
	} else {
		if got := sys("Provider", "Name"); got != r.Provider {
			errf("Provider.Name = %q, want %q", got, r.Provider)
		}
		if got := sys("Provider", "Guid"); got != r.ProviderGUID {
			errf("Provider.Guid = %q, want %q", got, r.ProviderGUID)
		}
		if r.EventSourceName != "" {
			if got := sys("Provider", "EventSourceName"); got != r.EventSourceName {
				errf("EventSourceName = %q, want %q", got, r.EventSourceName)
			}
		}
	}
	if got, want := sys("EventID", "Value"), fmt.Sprint(r.EventID); got != want {
		errf("EventID.Value = %s, want %s", got, want)
	}
	if got, want := sys("EventID", "Qualifiers"), fmt.Sprint(r.Qualifiers); got != want {
		errf("EventID.Qualifiers = %s, want %s", got, want)
	}
	for _, f := range []struct {
		key  []string
		want string
	}{
		{[]string{"EventRecordID"}, fmt.Sprint(id)},
		{[]string{"Level"}, fmt.Sprint(r.Level)},
		{[]string{"Task"}, fmt.Sprint(r.Task)},
		{[]string{"Opcode"}, fmt.Sprint(r.Opcode)},
		{[]string{"Version"}, fmt.Sprint(r.Version)},
		{[]string{"Keywords"}, fmt.Sprintf("0x%x", r.Keywords)},
		{[]string{"Channel"}, channelOf(r)},
		{[]string{"Computer"}, r.Computer},
		{[]string{"Execution", "ProcessID"}, fmt.Sprint(r.ProcessID)},
		{[]string{"Execution", "ThreadID"}, fmt.Sprint(r.ThreadID)},
	} {
		if got := sys(f.key...); got != f.want {
			errf("%s = %q, want %q", strings.Join(f.key, "."), got, f.want)
		}
	}
	if r.UserSID != "" {
		if got := sys("Security", "UserID"); got != r.UserSID {
			errf("Security.UserID = %q, want %q", got, r.UserSID)
		}
	} else if _, ok := get(m, "Event", "System", "Security", "UserID"); ok {
		errf("unexpected UserID")
	}
	tv, _ := get(m, "Event", "System", "TimeCreated", "SystemTime")
	ut, ok := tv.(evtx.UTCTime)
	if !ok {
		errf("TimeCreated.SystemTime is %T", tv)
	} else if want := r.Time.Truncate(100 * time.Nanosecond); !time.Time(ut).Equal(want) {
		errf("TimeCreated = %v, want %v", time.Time(ut), want)
	}

	// golang-evtx drops empty strings from the Data array; nil if none left.
	var want []string
	for _, s := range r.Data {
		if s != "" {
			want = append(want, s)
		}
	}
	dv, _ := get(m, "Event", "EventData", "Data")
	var got []string
	switch v := dv.(type) {
	case nil:
	case []string:
		got = v
	case string:
		got = []string{v}
	default:
		errf("EventData.Data is %T", dv)
	}
	if len(got) == 0 {
		got = nil
	}
	if !reflect.DeepEqual(got, want) {
		errf("EventData.Data = %q, want %q", got, want)
	}
	bv, _ := get(m, "Event", "EventData", "Binary")
	if len(r.Binary) == 0 {
		if bv != nil {
			errf("EventData.Binary = %v, want nil", bv)
		}
	} else if s, _ := bv.(string); !strings.EqualFold(s, fmt.Sprintf("%X", r.Binary)) {
		errf("EventData.Binary = %v, want %X", bv, r.Binary)
	}
}

func TestRoundTripGolangEvtx(t *testing.T) {
	recs := genRecords(5000, 1)
	path := writeTemp(t, "many.evtx", recs)
	maps := readGolang(t, path)
	if len(maps) != len(recs) {
		t.Fatalf("golang-evtx read %d records, wrote %d", len(maps), len(recs))
	}
	ids := expectedIDs(recs)
	for i, m := range maps {
		checkGolang(t, i, m, recs[i], ids[i])
		if t.Failed() && i > 20 {
			t.FailNow()
		}
	}
}

func TestRoundTripGolangEvtxOutlook(t *testing.T) {
	base := time.Date(2024, 3, 4, 8, 53, 3, 484642400, time.UTC)
	recs := []Record{
		{Time: base, Provider: "Outlook", EventID: 25, Qualifiers: 16384, Level: 4, Keywords: 0x80000000000000,
			Computer: "HQ-PC01.contoso.local", Data: []string{"The connection to Microsoft Exchange is unavailable."}},
		{Time: base.Add(900 * time.Second), Provider: "Outlook", EventID: 26, Qualifiers: 16384, Level: 4, Keywords: 0x80000000000000,
			Computer: "HQ-PC01.contoso.local", Data: []string{"", "Connection to Microsoft Exchange has been restored.", ""}},
		{Time: base.Add(901 * time.Second), Provider: "Outlook", EventID: 63, Qualifiers: 16384, Level: 4, Keywords: 0x80000000000000,
			Computer: "HQ-PC01.contoso.local"},
		{RecordID: 18941, Time: base.Add(902 * time.Second), Provider: "MSExchange RPC Client Access", EventID: 26, Qualifiers: 16384,
			Level: 3, Keywords: 0x80000000000000, Computer: "HQ-PC01.contoso.local", Data: []string{"x"}, Binary: []byte{0xd9, 6, 0, 0}},
		{Time: base.Add(903 * time.Second), Provider: "Outlook", EventID: 25, Qualifiers: 16384, Level: 4, Keywords: 0x80000000000000,
			Computer: "HQ-PC01.contoso.local", Data: []string{""}},
	}
	path := writeTemp(t, "outlook.evtx", recs)
	maps := readGolang(t, path)
	if len(maps) != len(recs) {
		t.Fatalf("read %d, wrote %d", len(maps), len(recs))
	}
	ids := expectedIDs(recs)
	if ids[4] != 18942 {
		t.Fatalf("ids = %v", ids)
	}
	for i, m := range maps {
		checkGolang(t, i, m, recs[i], ids[i])
	}
	// The ingest path relies on these accessors working on our files.
	if got := maps[0].EventID(); got != 25 {
		t.Errorf("EventID() = %d", got)
	}
	if got := maps[3].EventRecordID(); got != 18941 {
		t.Errorf("EventRecordID() = %d", got)
	}
}
