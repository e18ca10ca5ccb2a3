package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idletrace/store"
	"idletrace/web"
)

// fakeLog is an Application log: Outlook 25/26 and other providers' events,
// answered as wevtutil would.
type fakeLog struct {
	mu      sync.Mutex
	records []fakeRecord
	queries int
}

type fakeRecord struct {
	id       int64
	provider string
	eventID  int
	t        time.Time
	computer string
}

func (l *fakeLog) add(n int, provider string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		id := int64(len(l.records) + 1)
		l.records = append(l.records, fakeRecord{id: id, provider: provider, eventID: 25 + int(id%2),
			t:        time.Date(2024, 5, 2, 7, 0, 0, 0, time.UTC).Add(time.Duration(id)*13*time.Minute + 1234567*time.Nanosecond*100),
			computer: "HQ-PC07.corp.example"})
	}
}

func (l *fakeLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = nil
}

func (r fakeRecord) xml() string {
	return fmt.Sprintf(`<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='%s'/><EventID Qualifiers='16384'>%d</EventID><Version>0</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords><TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Correlation/><Execution ProcessID='0' ThreadID='0'/><Channel>Application</Channel><Computer>%s</Computer><Security/></System><EventData><Data>Connection to Microsoft Exchange has been restored.</Data></EventData></Event>`+"\r\n",
		r.provider, r.eventID, r.t.Format("2006-01-02T15:04:05.0000000Z"), r.id, r.computer)
}

func (l *fakeLog) Query(ctx context.Context, after int64, max int) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queries++
	var b strings.Builder
	n := 0
	for _, r := range l.records {
		if r.id > after && r.provider == "Outlook" && n < max {
			b.WriteString(r.xml())
			n++
		}
	}
	return []byte(b.String()), nil
}

func (l *fakeLog) Newest(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.records) == 0 {
		return nil, nil
	}
	return []byte(l.records[len(l.records)-1].xml()), nil
}

// server is a real idletrace server over a real SQLite file, which can be
// down (nothing listening on its address) and come back on the same one.
type server struct {
	t     *testing.T
	db    *store.DB
	h     http.Handler
	addr  string
	ts    *httptest.Server
	posts atomic.Int32
	// intercept, when set, may answer a request instead of idletrace.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

func newServer(t *testing.T) *server {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "idletrace.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir()}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Reserve an address, then leave it unserved: the server is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, db: db, h: srv.Handler(), addr: ln.Addr().String()}
	ln.Close()
	t.Cleanup(s.down)
	return s
}

func (s *server) url() string { return "http://" + s.addr }

func (s *server) up() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			s.posts.Add(1)
		}
		if s.intercept != nil && s.intercept(w, r) {
			return
		}
		s.h.ServeHTTP(w, r)
	}))
	s.ts.Listener.Close()
	s.ts.Listener = ln
	s.ts.Start()
}

func (s *server) down() {
	if s.ts != nil {
		s.ts.CloseClientConnections()
		s.ts.Close()
		s.ts = nil
	}
}

func (s *server) events() (n, fromUploads int) {
	s.t.Helper()
	st, err := s.db.Stats(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	ups, err := s.db.FindUploads(context.Background(), 0, 100)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, u := range ups {
		fromUploads += u.NewEvents
	}
	return st.Events, fromUploads
}

type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func newCollector(t *testing.T, src Source, srv *server, sl *sleeps) *Collector {
	return &Collector{
		Source: src, Server: srv.url(), Client: &http.Client{Timeout: 10 * time.Second},
		StateDir: t.TempDir(), SpoolMax: 1 << 20, BatchMax: 25,
		Retry: Retry{Attempts: 3, Base: time.Second, Max: time.Minute},
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)), Sleep: sl.sleep,
	}
}

func spooled(t *testing.T, c *Collector) int {
	files, err := c.spoolFiles()
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

// Server down: batches are spooled. Server up: each is delivered exactly
// once, and nothing is sent again afterwards.
func TestCollectorSpoolsWhileServerDownThenDeliversOnce(t *testing.T) {
	log := &fakeLog{}
	log.add(60, "Outlook")
	log.add(5, "Microsoft-Windows-Security-SPP") // not queried
	log.add(10, "Outlook")
	srv := newServer(t)
	var sl sleeps
	c := newCollector(t, log, srv, &sl)
	ctx := context.Background()

	sum, err := c.RunOnce(ctx)
	if err == nil || sum.Read != 70 || sum.Spooled != 3 || sum.Sent != 0 {
		t.Fatalf("server down: %+v, %v", sum, err)
	}
	if len(sl.d) != 2 || sl.d[0] < 500*time.Millisecond || sl.d[1] < time.Second || sl.d[1] > 2*time.Second {
		t.Fatalf("backoff %v, want two waits of 0.5–1 s and 1–2 s (jittered doubling)", sl.d)
	}
	st, _ := c.loadState()
	if st.LastRecordID != 75 {
		t.Fatalf("state %+v, want the last record id read", st)
	}
	// More events while the server is still down.
	log.add(7, "Outlook")
	if sum, err = c.RunOnce(ctx); err == nil || sum.Read != 7 || sum.Spooled != 4 {
		t.Fatalf("still down: %+v, %v", sum, err)
	}
	if n, _ := srv.events(); n != 0 {
		t.Fatal("events stored while the server was down?")
	}

	srv.up()
	sum, err = c.RunOnce(ctx)
	if err != nil || sum.Sent != 4 || sum.New != 77 || sum.Dups != 0 || sum.Spooled != 0 {
		t.Fatalf("server up: %+v, %v", sum, err)
	}
	if n, fromUploads := srv.events(); n != 77 || fromUploads != 77 {
		t.Fatalf("%d events stored (%d counted on uploads), want 77 exactly once", n, fromUploads)
	}
	posts := srv.posts.Load()
	if sum, err = c.RunOnce(ctx); err != nil || sum.Sent != 0 || srv.posts.Load() != posts {
		t.Fatalf("idle cycle sent something: %+v, %v", sum, err)
	}
	// Times keep their 100 ns precision through the collector's JSON.
	evs, _ := srv.db.FindEvents(ctx, store.EventFilter{Limit: 1})
	if evs[0].Precision != 100*time.Nanosecond || evs[0].Time.Nanosecond()%1000 != 700 || evs[0].Qualifiers != 16384 || evs[0].RecordID != 1 {
		t.Fatalf("first event %+v", evs[0].Event)
	}
}

// A crash after spooling but before the state was saved sends the batch
// again: the server turns it into duplicates, nothing is counted twice.
func TestCollectorResendIsIdempotent(t *testing.T) {
	log := &fakeLog{}
	log.add(30, "Outlook")
	srv := newServer(t)
	srv.up()
	var sl sleeps
	c := newCollector(t, log, srv, &sl)
	ctx := context.Background()
	if sum, err := c.RunOnce(ctx); err != nil || sum.New != 30 {
		t.Fatalf("%+v, %v", sum, err)
	}
	os.Remove(c.statePath()) // the state is lost
	sum, err := c.RunOnce(ctx)
	if err != nil || sum.New != 0 || sum.Dups != 30 {
		t.Fatalf("re-sent: %+v, %v", sum, err)
	}
	if n, _ := srv.events(); n != 30 {
		t.Fatalf("%d events, want 30", n)
	}
	// A cleared log restarts its record ids: the collector notices and
	// reads it from the start (new records, new events).
	log.clear()
	log.records = nil
	log.add(4, "Outlook")
	for i := range log.records {
		log.records[i].t = log.records[i].t.Add(30 * 24 * time.Hour)
	}
	if sum, err := c.RunOnce(ctx); err != nil || sum.New != 4 || sum.LastRecID != 4 {
		t.Fatalf("after clearing: %+v, %v", sum, err)
	}
}

// 429 and 503 answers are retried after their Retry-After; a token the
// server refuses leaves the batch spooled, never dropped.
func TestCollectorRetryAfterAndAuth(t *testing.T) {
	log := &fakeLog{}
	log.add(10, "Outlook")
	srv := newServer(t)
	srv.up()
	var busy atomic.Int32
	busy.Store(2)
	srv.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		switch busy.Add(-1) {
		case 1:
			w.Header().Set("Retry-After", "7")
			http.Error(w, `{"error":{"code":"rate_limited","message":"slow down"}}`, http.StatusTooManyRequests)
			return true
		case 0:
			w.Header().Set("Retry-After", time.Now().Add(20*time.Second).UTC().Format(http.TimeFormat))
			http.Error(w, `{"error":{"code":"busy","message":"busy"}}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	var sl sleeps
	c := newCollector(t, log, srv, &sl)
	ctx := context.Background()
	if sum, err := c.RunOnce(ctx); err != nil || sum.New != 10 {
		t.Fatalf("%+v, %v", sum, err)
	}
	if len(sl.d) != 2 || sl.d[0] != 7*time.Second || sl.d[1] < 18*time.Second || sl.d[1] > 20*time.Second {
		t.Fatalf("waits %v, want the Retry-After values", sl.d)
	}

	// Tokens now exist: the collector's (none) is refused.
	tok, _, err := srv.db.CreateToken(ctx, "collector-hq", store.ScopeIngest)
	if err != nil {
		t.Fatal(err)
	}
	log.add(5, "Outlook")
	sum, err := c.RunOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), "401") || sum.Spooled != 1 {
		t.Fatalf("refused token: %+v, %v", sum, err)
	}
	c.Token = tok
	if sum, err := c.RunOnce(ctx); err != nil || sum.New != 5 || sum.Spooled != 0 {
		t.Fatalf("with the token: %+v, %v", sum, err)
	}
	ups, _ := srv.db.FindUploads(ctx, 0, 10)
	if len(ups) != 2 || !strings.HasPrefix(ups[0].Name, "collector-hq ") {
		t.Fatalf("uploads %+v", ups)
	}
}

// The spool is bounded: when it is full the collector stops reading, and
// the events wait in the event log; nothing is lost.
func TestCollectorSpoolBound(t *testing.T) {
	log := &fakeLog{}
	log.add(200, "Outlook")
	srv := newServer(t)
	var sl sleeps
	c := newCollector(t, log, srv, &sl)
	c.SpoolMax = 20 << 10 // a few batches of 25
	c.Retry.Attempts = 1
	ctx := context.Background()
	sum, _ := c.RunOnce(ctx)
	size, _ := c.spoolSize()
	if sum.Read >= 200 || sum.Spooled == 0 || size > c.SpoolMax+(10<<10) {
		t.Fatalf("spool not bounded: %+v, %d bytes", sum, size)
	}
	srv.up()
	for range 10 {
		if sum, err := c.RunOnce(ctx); err != nil {
			t.Fatal(err)
		} else if sum.Spooled == 0 && sum.Read == 0 {
			break
		}
	}
	if n, _ := srv.events(); n != 200 {
		t.Fatalf("%d events delivered, want 200", n)
	}
}

// A batch the server refuses for good is set aside, and the others go on.
func TestCollectorSetsAsideRefusedBatch(t *testing.T) {
	log := &fakeLog{}
	log.add(10, "Outlook")
	srv := newServer(t)
	srv.up()
	var sl sleeps
	c := newCollector(t, log, srv, &sl)
	os.MkdirAll(c.spoolDir(), 0o700)
	os.WriteFile(filepath.Join(c.spoolDir(), "00000000000000000001-00000000000000000000.ndjson"), []byte("<not json>\n"), 0o600)
	sum, err := c.RunOnce(context.Background())
	if err != nil || sum.Rejected != 1 || sum.New != 10 || sum.Spooled != 0 {
		t.Fatalf("%+v, %v", sum, err)
	}
	if b, _ := os.ReadFile(filepath.Join(c.rejectedDir(), "00000000000000000001-00000000000000000000.ndjson")); !bytes.Contains(b, []byte("not json")) {
		t.Fatal("refused batch not kept under spool/rejected")
	}
}

func TestFormatTime(t *testing.T) {
	tm := time.Date(2024, 5, 2, 7, 41, 12, 345000000, time.UTC)
	for prec, want := range map[time.Duration]string{
		time.Second: "2024-05-02T07:41:12Z", time.Millisecond: "2024-05-02T07:41:12.345Z",
		100 * time.Nanosecond: "2024-05-02T07:41:12.3450000Z",
	} {
		if got := formatTime(tm, prec); got != want {
			t.Errorf("formatTime(%v) = %s, want %s", prec, got, want)
		}
	}
}

func TestWevtutilQuery(t *testing.T) {
	if got := outlookQuery(42); got != "*[System[Provider[@Name='Outlook'] and (EventID=25 or EventID=26) and (EventRecordID>42)]]" {
		t.Fatal(got)
	}
}
