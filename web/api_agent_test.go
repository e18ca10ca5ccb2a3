package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"idletrace/ingest/beats"
	"idletrace/store"
	"idletrace/web"
)

type agentResponse struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	web.AgentResult
}

// postEvents sends one batch to POST /api/v1/events.
func postEvents(t testing.TB, url string, body []byte, contentType string, hdr map[string]string) (int, agentResponse, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out agentResponse
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, raw)
		}
	}
	return resp.StatusCode, out, string(raw)
}

func countEvents(t testing.TB, db *store.DB) int {
	t.Helper()
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Events
}

func readTestdata(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "ingest", "testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each shipper's JSON, as the shipper sends it, goes in through the API.
func TestAgentEventsShipperShapes(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	cases := []struct {
		file, contentType, query string
		format                   string
		accepted, outlook        int
		computer                 string
		first                    time.Time // time of the lowest record id stored
	}{
		{"json-winlogbeat/winlogbeat.ndjson", "application/x-ndjson", "", "json (winlogbeat)", 0, 2, "HQ-PC01.corp.example", time.Date(2024, 5, 2, 7, 38, 2, 1e6, time.UTC)},
		{"json-winlogbeat6/winlogbeat6.ndjson", "application/x-ndjson", "", "json (winlogbeat 6)", 2, 2, "PC04.contoso.com", time.Date(2019, 3, 11, 8, 14, 59, 0, time.UTC)},
		// NXLog EventTime is local time without a zone: tz says which.
		{"json-nxlog/nxlog.ndjson", "application/x-ndjson", "?tz=Europe/Berlin", "json (nxlog)", 2, 2, "HQ-PC05.corp.example", time.Date(2024, 5, 2, 7, 38, 2, 0, time.UTC)},
		{"json-fluentbit/fluentbit.json", "application/json", "", "json (fluentbit)", 0, 2, "HQ-PC09.corp.example", time.Date(2024, 5, 2, 7, 38, 2, 0, time.UTC)},
		{"json-powershell51/getwinevent.json", "application/json", "", "json (powershell)", 0, 2, "HQ-PC11.corp.example", time.Date(2024, 5, 2, 7, 38, 2, 1e6, time.UTC)},
		{"json-powershell7/getwinevent.json", "application/json; charset=utf-8", "", "json (powershell)", 1, 1, "HQ-PC12.corp.example", time.Date(2024, 5, 2, 7, 41, 12, 345678900, time.UTC)},
		{"json-geteventlog/geteventlog.json", "application/json", "", "json (powershell)", 0, 2, "HQ-PC13.corp.example", time.Date(2024, 5, 2, 7, 38, 2, 0, time.UTC)},
		{"json-idletrace/agent.json", "application/json", "", "json (idletrace)", 2, 2, "HQ-PC07.corp.example", time.Date(2024, 5, 2, 7, 38, 2, 1234500, time.UTC)},
	}
	for _, c := range cases {
		t.Run(filepath.Dir(c.file), func(t *testing.T) {
			body := readTestdata(t, c.file)
			status, res, raw := postEvents(t, ts.URL+"/api/v1/events"+c.query, body, c.contentType, nil)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, raw)
			}
			if res.Format != c.format || res.New != c.outlook || res.Duplicates != 0 || res.RejectedCount != 0 {
				t.Fatalf("got %+v, want format %q and %d new", res.AgentResult, c.format, c.outlook)
			}
			if c.accepted > 0 && res.Accepted != c.accepted {
				t.Errorf("accepted %d, want %d", res.Accepted, c.accepted)
			}
			evs, err := ts.db.FindEvents(context.Background(), store.EventFilter{Computer: c.computer})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != c.outlook {
				t.Fatalf("%d events stored for %s, want %d", len(evs), c.computer, c.outlook)
			}
			first := evs[0]
			for _, e := range evs {
				if e.RecordID < first.RecordID {
					first = e
				}
				if !e.IsConnectivity() || e.UploadID != res.UploadID {
					t.Errorf("stored %+v (upload %d)", e.Event, res.UploadID)
				}
			}
			if !first.Time.Equal(c.first) {
				t.Errorf("first event at %s, want %s", first.Time, c.first)
			}
		})
	}
	// All batches of the day are counted on one upload row of the agent.
	ups, err := ts.db.FindUploads(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 1 || ups[0].Source != web.SourceAgent || ups[0].NewEvents != countEvents(t, ts.db) || ups[0].Status != store.UploadDone {
		t.Fatalf("uploads %+v", ups)
	}
}

// A bad item is rejected alone, with its index and reason; the good items
// beside it are stored.
func TestAgentEventsBadItemAlone(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	good := func(rec int, id int) string {
		return fmt.Sprintf(`{"computer":"PC01.corp.example","channel":"Application","provider":"Outlook","event_id":%d,"record_id":%d,"time":"2024-05-02T07:%02d:00Z","message":"m"}`, id, rec, rec%60)
	}
	lines := []string{
		good(1, 25),
		`{"computer":"PC01.corp.example","channel":"Application","provider":"Outlook","event_id":26,"record_id":2,`, // cut off
		good(3, 26),
		`{"computer":"PC01.corp.example","channel":"Application","provider":"Outlook","event_id":25,"record_id":4}`, // no time
		`{"hello":"world"}`, // no known shape
		`{"computer":"PC01.corp.example","channel":"Application","provider":"Outlook","event_id":"x","time":"2024-05-02T07:05:00Z"}`,
		`{"computer":"PC01.corp.example","channel":"Application","provider":"Outlook","event_id":26,"time":"yesterday"}`,
		good(8, 25),
		`{"computer":"PC01.corp.example","channel":"Application","provider":"MSExchange RPC Client Access","event_id":26,"record_id":9,"time":"2024-05-02T07:09:00Z"}`, // valid, not Outlook
		`{"computer":"PC01.corp.example","channel":"Application","provider":"Outlook","event_id":26,"record_id":10,"time":"2024-05-02T07:10:00Z","deep":` +
			strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, // nested past encoding/json's depth limit
		good(11, 26),
	}
	status, res, raw := postEvents(t, ts.URL+"/api/v1/events", []byte(strings.Join(lines, "\n")+"\n"), "application/x-ndjson", nil)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, raw)
	}
	if res.Accepted != 5 || res.New != 4 || res.Ignored != 1 || res.RejectedCount != 6 {
		t.Fatalf("got %+v", res.AgentResult)
	}
	wantIdx := []int{1, 3, 4, 5, 6, 9}
	wantWords := []string{"incomplete", "no time", "unrecognised", "event_id", "time", "depth"}
	for i, rj := range res.Rejected {
		if rj.Index != wantIdx[i] || !strings.Contains(rj.Error, wantWords[i]) {
			t.Errorf("rejected[%d] = %+v, want index %d mentioning %q", i, rj, wantIdx[i], wantWords[i])
		}
	}
	if n := countEvents(t, ts.db); n != 4 {
		t.Fatalf("%d events stored, want 4", n)
	}
	// The rejections are kept as warnings on the agent's upload row.
	u, err := ts.db.FindUploadByID(context.Background(), res.UploadID)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Warnings) != 6 || u.Records != len(lines) || u.NewEvents != 4 {
		t.Fatalf("upload row %+v", u)
	}

	// The same in a JSON array, broken between items: the damage is one
	// rejected item, the rest is stored.
	arr := "[" + good(20, 25) + ",\n" + good(21, 26) + ",\n{\"computer\": {\"name\": 5}, \"channel\":\"Application\",\"provider\":\"Outlook\",\"event_id\":25,\"time\":\"2024-05-02T07:22:00Z\"}\n]"
	status, res, raw = postEvents(t, ts.URL+"/api/v1/events", []byte(arr), "application/json", nil)
	if status != http.StatusOK || res.New != 2 || res.RejectedCount != 1 || res.Rejected[0].Index != 2 {
		t.Fatalf("array: status %d: %s", status, raw)
	}

	// Every item bad: 422, with the reasons.
	status, res, raw = postEvents(t, ts.URL+"/api/v1/events", []byte(lines[3]+"\n"+lines[4]+"\n"), "application/x-ndjson", nil)
	if status != http.StatusUnprocessableEntity || res.Error == nil || res.Error.Code != "no_valid_items" || res.RejectedCount != 2 || res.Rejected[1].Index != 1 {
		t.Fatalf("all bad: status %d: %s", status, raw)
	}
	// Every item valid but none relevant: 200, nothing stored.
	status, res, raw = postEvents(t, ts.URL+"/api/v1/events", []byte(lines[8]), "application/json", nil)
	if status != http.StatusOK || res.Accepted != 1 || res.Ignored != 1 || res.New != 0 {
		t.Fatalf("irrelevant: status %d: %s", status, raw)
	}
	if n := countEvents(t, ts.db); n != 6 {
		t.Fatalf("%d events stored, want 6", n)
	}
}

// A re-sent batch adds nothing, also when the same events come in another
// shipper's shape.
func TestAgentEventsIdempotent(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	body := readTestdata(t, "json-winlogbeat/winlogbeat.ndjson")
	_, first, _ := postEvents(t, ts.URL+"/api/v1/events", body, "application/x-ndjson", nil)
	before := countEvents(t, ts.db)
	if first.New == 0 || before != first.New {
		t.Fatalf("first batch: %+v, %d stored", first.AgentResult, before)
	}
	status, again, raw := postEvents(t, ts.URL+"/api/v1/events", body, "application/x-ndjson", nil)
	if status != http.StatusOK || again.New != 0 || again.Duplicates != first.New {
		t.Fatalf("re-sent: status %d: %s", status, raw)
	}
	// The same records as idletrace's own schema (what the collector sends).
	var own []string
	evs, _ := ts.db.FindEvents(context.Background(), store.EventFilter{})
	for _, e := range evs {
		own = append(own, fmt.Sprintf(`{"computer":%q,"channel":%q,"provider":%q,"event_id":%d,"record_id":%d,"time":%q}`,
			strings.ToUpper(e.Computer), e.Channel, e.Provider, e.EventID, e.RecordID, e.Time.Format(time.RFC3339Nano)))
	}
	_, cross, raw := postEvents(t, ts.URL+"/api/v1/events", []byte(strings.Join(own, "\n")), "application/x-ndjson", nil)
	if cross.New != 0 || cross.Duplicates != len(own) {
		t.Fatalf("same events, other shape: %s", raw)
	}
	if n := countEvents(t, ts.db); n != before {
		t.Fatalf("%d events after re-sends, want %d", n, before)
	}
}

// Concurrent agents sending overlapping batches lose nothing and store
// nothing twice.
func TestAgentEventsConcurrent(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	batch := func(from, n int) []byte {
		var b bytes.Buffer
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, `{"computer":"PC%02d","channel":"Application","provider":"Outlook","event_id":%d,"record_id":%d,"time":%q}`+"\n",
				i%7, 25+i%2, i, time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
		}
		return b.Bytes()
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	newTotal := 0
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 4; k++ {
				// Batches overlap by half with the next goroutine's.
				status, res, raw := postEvents(t, ts.URL+"/api/v1/events", batch(g*500+k*250, 500), "application/x-ndjson", nil)
				if status != http.StatusOK {
					t.Errorf("status %d: %s", status, raw)
					return
				}
				mu.Lock()
				newTotal += res.New
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	want := 5*500 + 4*250 + 250 // records 0 .. 3749
	if n := countEvents(t, ts.db); n != want || newTotal != want {
		t.Fatalf("stored %d, reported new %d, want %d", n, newTotal, want)
	}
}

func TestAgentEventsBadBodies(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	url := ts.URL + "/api/v1/events"
	one := string(readTestdata(t, "json-powershell7/getwinevent.json"))
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	many := bytes.Repeat([]byte("{}\n"), web.MaxAgentItems+1)
	huge := bytes.Repeat([]byte(" "), web.MaxAgentBody+1)
	cases := []struct {
		name        string
		body        []byte
		contentType string
		hdr         map[string]string
		query       string
		status      int
		code        string
	}{
		{"no content type", []byte(one), "", nil, "", 415, "unsupported_media_type"},
		{"form", []byte(one), "application/x-www-form-urlencoded", nil, "", 415, "unsupported_media_type"},
		{"text", []byte(one), "text/plain", nil, "", 415, "unsupported_media_type"},
		{"not json", []byte("<Event/>"), "application/json", nil, "", 400, "bad_request"},
		{"empty", nil, "application/json", nil, "", 400, "bad_request"},
		{"empty array", []byte("[]"), "application/json", nil, "", 400, "bad_request"},
		{"bad tz", []byte(one), "application/json", nil, "?tz=Mars/Olympus", 400, "bad_request"},
		{"too big", huge, "application/json", nil, "", 413, "too_large"},
		{"too many items", many, "application/x-ndjson", nil, "", 413, "too_many_items"},
		{"bad gzip", []byte("nope"), "application/json", map[string]string{"Content-Encoding": "gzip"}, "", 400, "bad_request"},
		{"gzip bomb", gz(huge), "application/json", map[string]string{"Content-Encoding": "gzip"}, "", 413, "too_large"},
		{"brotli", []byte(one), "application/json", map[string]string{"Content-Encoding": "br"}, "", 415, "unsupported_encoding"},
		{"gzip", gz([]byte(one)), "application/json", map[string]string{"Content-Encoding": "gzip"}, "", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, res, raw := postEvents(t, url+c.query, c.body, c.contentType, c.hdr)
			if status != c.status {
				t.Fatalf("status %d, want %d: %.300s", status, c.status, raw)
			}
			if c.code != "" && (res.Error == nil || res.Error.Code != c.code) {
				t.Fatalf("error %.300s, want code %s", raw, c.code)
			}
		})
	}
	// Nothing from the refused batches was stored.
	if n := countEvents(t, ts.db); n != 1 {
		t.Fatalf("%d events stored, want the 1 of the gzip batch", n)
	}
}

// Agents authenticate with a token of scope ingest.
func TestAgentEventsNeedIngestScope(t *testing.T) {
	ts := newTestServer(t, web.Config{})
	ctx := context.Background()
	ingestTok, _, err := ts.db.CreateToken(ctx, "collector-hq", store.ScopeIngest)
	if err != nil {
		t.Fatal(err)
	}
	readTok, _, err := ts.db.CreateToken(ctx, "siem", store.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	body := readTestdata(t, "json-nxlog/nxlog.ndjson")
	url := ts.URL + "/api/v1/events?tz=UTC"
	if status, _, raw := postEvents(t, url, body, "application/x-ndjson", nil); status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", status, raw)
	}
	if status, _, raw := postEvents(t, url, body, "application/x-ndjson", map[string]string{"Authorization": "Bearer " + readTok}); status != http.StatusForbidden {
		t.Fatalf("read token: %d %s", status, raw)
	}
	status, res, raw := postEvents(t, url, body, "application/x-ndjson", map[string]string{"Authorization": "Bearer " + ingestTok})
	if status != http.StatusOK || res.New != 2 {
		t.Fatalf("ingest token: %d %s", status, raw)
	}
	u, err := ts.db.FindUploadByID(ctx, res.UploadID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.Name, "collector-hq ") || u.Source != web.SourceAgent {
		t.Fatalf("upload row %q (%s), want it named after the token", u.Name, u.Source)
	}
}

// TestAgentEventsThroughput measures how many events a second one client
// gets stored through POST /api/v1/events (batches of 5000 new events).
func TestAgentEventsThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput measurement")
	}
	ts := newTestServer(t, web.Config{})
	const batches, per = 10, 5000
	bodies := make([][]byte, batches)
	for k := range bodies {
		var b bytes.Buffer
		for i := k * per; i < (k+1)*per; i++ {
			fmt.Fprintf(&b, `{"@timestamp":%q,"message":"Connection to Microsoft Exchange has been restored.","event":{"code":"26","provider":"Outlook"},"log":{"level":"information"},"host":{"name":"pc%d"},"winlog":{"channel":"Application","computer_name":"PC%04d.corp.example","event_id":"%d","provider_name":"Outlook","record_id":%d,"keywords":["Classic"]}}`+"\n",
				time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i%500, i%500, 25+i%2, i)
		}
		bodies[k] = b.Bytes()
	}
	start := time.Now()
	for _, b := range bodies {
		if status, res, raw := postEvents(t, ts.URL+"/api/v1/events", b, "application/x-ndjson", nil); status != 200 || res.New != per {
			t.Fatalf("status %d: %.300s", status, raw)
		}
	}
	d := time.Since(start)
	t.Logf("POST /api/v1/events: %d Winlogbeat events in %v = %.0f events/s", batches*per, d.Round(time.Millisecond), float64(batches*per)/d.Seconds())
}

// beatsRig is a real Beats listener storing into a real SQLite file
// through the web server's sink.
type beatsRig struct {
	db   *store.DB
	srv  *web.Server
	ln   *beats.Listener
	addr string
}

func newBeatsRig(t testing.TB, wrap func(beats.Sink) beats.Sink) *beatsRig {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "beats.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir()}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	rig := &beatsRig{db: db, srv: srv}
	rig.listen(t, "127.0.0.1:0", wrap)
	return rig
}

func (r *beatsRig) listen(t testing.TB, addr string, wrap func(beats.Sink) beats.Sink) {
	t.Helper()
	sink := r.srv.BeatsSink("winlogbeat")
	if wrap != nil {
		sink = wrap(sink)
	}
	ln, err := beats.Listen(beats.Config{Addr: addr, Sink: sink, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r.ln, r.addr = ln, ln.Addr().String()
}

// rawEvent is sent as is, so tests can send JSON a Beat never would.
type rawEvent string

func lumberEncode(v any) ([]byte, error) {
	if r, ok := v.(rawEvent); ok {
		return []byte(r), nil
	}
	return json.Marshal(v)
}

func lumberSend(t testing.TB, addr string, events []any, compress int) (int, error) {
	t.Helper()
	c, err := lumberclient.SyncDial(addr, lumberclient.Timeout(10*time.Second), lumberclient.CompressionLevel(compress),
		lumberclient.JSONEncoder(lumberEncode))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.Send(events)
}

// winlogbeatEvents makes n Winlogbeat 8 events as output.logstash sends
// them: Outlook 25/26 on 50 computers, one record id each.
func winlogbeatEvents(from, n int) []any {
	out := make([]any, 0, n)
	for i := from; i < from+n; i++ {
		id := 25 + i%2
		out = append(out, map[string]any{
			"@timestamp": time.Date(2024, 5, 2, 6, 0, 0, 0, time.UTC).Add(time.Duration(i) * 7 * time.Second).Format(time.RFC3339Nano),
			"@metadata":  map[string]any{"beat": "winlogbeat", "type": "_doc", "version": "8.12.2"},
			"message":    "Connection to Microsoft Exchange has been restored.",
			"event":      map[string]any{"code": fmt.Sprint(id), "kind": "event", "provider": "Outlook", "created": "2024-05-02T07:38:05.120Z"},
			"log":        map[string]any{"level": "information"},
			"host":       map[string]any{"name": fmt.Sprintf("hq-pc%02d", i%50)},
			"agent":      map[string]any{"type": "winlogbeat", "version": "8.12.2"},
			"ecs":        map[string]any{"version": "8.0.0"},
			"winlog": map[string]any{"api": "wineventlog", "channel": "Application", "computer_name": fmt.Sprintf("HQ-PC%02d.corp.example", i%50),
				"event_id": fmt.Sprint(id), "provider_name": "Outlook", "record_id": 100000 + i, "task": "None", "keywords": []string{"Classic"},
				"event_data": map[string]any{"param1": "Connection to Microsoft Exchange has been restored."}},
		})
	}
	return out
}

// Winlogbeat's output.logstash straight into idletrace: stored, and a
// re-sent batch adds nothing.
func TestBeatsListenerStoresWinlogbeat(t *testing.T) {
	rig := newBeatsRig(t, nil)
	var batch []any
	for _, line := range bytes.Split(bytes.TrimSpace(readTestdata(t, "json-winlogbeat/winlogbeat.ndjson")), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		batch = append(batch, m)
	}
	fixture := len(batch)
	batch = append(batch, winlogbeatEvents(0, 500)...)
	for _, compress := range []int{3, 0} { // Winlogbeat compresses (level 3) by default
		n, err := lumberSend(t, rig.addr, batch, compress)
		if err != nil || n != len(batch) {
			t.Fatalf("send (compression %d): acked %d of %d: %v", compress, n, len(batch), err)
		}
	}
	stored := countEvents(t, rig.db)
	if stored < 500+2 || stored > 500+fixture {
		t.Fatalf("%d events stored from %d sent", stored, len(batch))
	}
	ups, _ := rig.db.FindUploads(context.Background(), 0, 10)
	if len(ups) != 1 || ups[0].Source != web.SourceBeats || ups[0].NewEvents != stored || ups[0].DuplicateEvents != stored ||
		ups[0].Records != 2*len(batch) || ups[0].Format != "json (winlogbeat)" {
		t.Fatalf("upload rows %+v", ups)
	}
	if st := rig.ln.Stats(); st.Batches != 2 || st.Events != int64(2*len(batch)) || st.Rejected != 0 {
		t.Fatalf("listener stats %+v", st)
	}
}

// A bad event is rejected alone: the batch is acknowledged and the good
// events beside it are stored.
func TestBeatsListenerBadEventAlone(t *testing.T) {
	rig := newBeatsRig(t, nil)
	good := winlogbeatEvents(0, 2)
	batch := []any{good[0], rawEvent(`{"@timestamp": "2024-05-02T07:00:00Z", "winlog": {`), rawEvent(`{"hello":"world"}`),
		rawEvent(`[1,2,3]`), good[1]}
	for _, compress := range []int{0, 3} {
		n, err := lumberSend(t, rig.addr, batch, compress)
		if err != nil || n != len(batch) {
			t.Fatalf("acked %d of %d: %v", n, len(batch), err)
		}
	}
	if n := countEvents(t, rig.db); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
	ups, _ := rig.db.FindUploads(context.Background(), 0, 10)
	if len(ups) != 1 || len(ups[0].Warnings) != 6 || !strings.Contains(ups[0].Warnings[0].Msg, "item 1") {
		t.Fatalf("upload rows %+v", ups)
	}
}

// Nothing is lost: a batch is acknowledged only once stored. While storing
// fails the listener retries; when it stops before storing, the client
// gets no ACK and sends the batch again to the next listener.
func TestBeatsListenerAcksOnlyStored(t *testing.T) {
	var failures atomic.Int32
	failures.Store(2)
	flaky := func(next beats.Sink) beats.Sink {
		return func(ctx context.Context, b beats.Batch) error {
			if failures.Add(-1) >= 0 {
				return errors.New("database is busy")
			}
			return next(ctx, b)
		}
	}
	rig := newBeatsRig(t, flaky)
	batch := winlogbeatEvents(0, 100)
	if n, err := lumberSend(t, rig.addr, batch, 3); err != nil || n != 100 {
		t.Fatalf("acked %d: %v", n, err)
	}
	if n := countEvents(t, rig.db); n != 100 || rig.ln.Stats().Retries != 2 {
		t.Fatalf("%d stored after %d retries", n, rig.ln.Stats().Retries)
	}

	// Now storing fails until the listener stops: no ACK reaches the client.
	failures.Store(1 << 30)
	batch = winlogbeatEvents(100, 100)
	errc := make(chan error, 1)
	go func() {
		_, err := lumberSend(t, rig.addr, batch, 3)
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for rig.ln.Stats().Retries < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	addr := rig.addr
	rig.ln.Close()
	if err := <-errc; err == nil {
		t.Fatal("the client got an ACK for a batch that was not stored")
	}
	if n := countEvents(t, rig.db); n != 100 {
		t.Fatalf("%d stored, want 100", n)
	}
	// The listener comes back; the client (Winlogbeat) sends the batch again.
	failures.Store(0)
	rig.listen(t, addr, flaky)
	if n, err := lumberSend(t, rig.addr, batch, 3); err != nil || n != 100 {
		t.Fatalf("resend acked %d: %v", n, err)
	}
	if n := countEvents(t, rig.db); n != 200 {
		t.Fatalf("%d stored, want 200", n)
	}
}

// TestBeatsListenerThroughput measures events a second from one Winlogbeat
// connection (windows of 2048, compressed) into the database.
func TestBeatsListenerThroughput(t *testing.T) {
	if testing.Short() {
		t.Skip("throughput measurement")
	}
	rig := newBeatsRig(t, nil)
	const total, window = 50000, 2048
	c, err := lumberclient.SyncDial(rig.addr, lumberclient.Timeout(30*time.Second), lumberclient.CompressionLevel(3),
		lumberclient.JSONEncoder(lumberEncode))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events := winlogbeatEvents(0, total)
	for i, e := range events { // encoded beforehand, as the HTTP test's bodies are
		b, _ := json.Marshal(e)
		events[i] = rawEvent(b)
	}
	start := time.Now()
	for i := 0; i < total; i += window {
		chunk := events[i:min(i+window, total)]
		if n, err := c.Send(chunk); err != nil || n != len(chunk) {
			t.Fatalf("acked %d of %d: %v", n, len(chunk), err)
		}
	}
	d := time.Since(start)
	if n := countEvents(t, rig.db); n != total {
		t.Fatalf("%d stored, want %d", n, total)
	}
	t.Logf("Beats listener: %d Winlogbeat events in %v = %.0f events/s", total, d.Round(time.Millisecond), float64(total)/d.Seconds())
}
