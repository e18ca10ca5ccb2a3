package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"idletrace/analysis"
	"idletrace/ingest"
	"idletrace/store"
	"idletrace/store/pg"
	"idletrace/store/storetest"
	"idletrace/web"
)

// pgNode is one server node on a shared PostgreSQL database.
type pgNode struct {
	name string
	srv  *web.Server
	ts   *httptest.Server
	db   *pg.DB
	once sync.Once
}

func startPGNode(t *testing.T, dsn, name string) *pgNode {
	t.Helper()
	db, err := pg.Open(context.Background(), dsn, pg.Options{Node: name})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir(), RateLimit: -1}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	n := &pgNode{name: name, srv: srv, ts: httptest.NewServer(srv.Handler()), db: db}
	t.Cleanup(n.stop)
	return n
}

func (n *pgNode) stop() {
	n.once.Do(func() {
		n.ts.Close()
		n.srv.Close(context.Background())
		n.db.Close()
	})
}

// getJSON decodes GET url into v.
func getJSONURL(t testing.TB, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// agentFleet is NDJSON agent batches of computers AG01…AG10 behind a
// device resetting idle connections after 1800 s.
func agentFleet(batch int) [][]byte {
	t0 := time.Date(2024, 5, 6, 7, 0, 0, 0, time.UTC)
	var lines [][]byte
	for c := 1; c <= 10; c++ {
		at := t0.Add(time.Duration(c) * 23 * time.Second)
		rec := 0
		line := func(id int) {
			rec++
			lines = append(lines, fmt.Appendf(nil, `{"computer":"AG%02d.branch.example","channel":"Application","provider":"Outlook","event_id":%d,"record_id":%d,"time":%q}`+"\n",
				c, id, rec, at.Format(time.RFC3339)))
		}
		line(26)
		for i := 0; i < 20; i++ {
			at = at.Add(1800*time.Second + time.Duration(1+(i*c)%4)*time.Second)
			line(25)
			at = at.Add(time.Duration(10+(i+c)%30) * time.Second)
			line(26)
		}
	}
	var out [][]byte
	for i := 0; i < len(lines); i += batch {
		out = append(out, bytes.Join(lines[i:min(i+batch, len(lines))], nil))
	}
	return out
}

// TestTwoNodesOnePostgres runs two server nodes on one PostgreSQL
// database: EVTX uploads on one and agent batches on the other at the same
// time, while a poller pages /api/v1/events alternately on both. Counts
// are exact on both nodes, every event is paged exactly once, both nodes
// serve the same diagnoses (those of a full analysis of the stored events),
// one node leads, and when the leader's session dies and the node stops,
// the other takes the lead within 10 s.
func TestTwoNodesOnePostgres(t *testing.T) {
	dsn := storetest.PostgresURL(t)
	a := startPGNode(t, dsn, "node-a")
	b := startPGNode(t, dsn, "node-b")
	ctx := context.Background()

	paths := writeFleet(t, t.TempDir(), 12, 900*time.Second, func(i int) string { return fmt.Sprintf("HQ-PC%02d.corp.example", i+1) })
	batches := agentFleet(50)
	var wg sync.WaitGroup
	var uploadNew, agentNew, agentDup atomic.Int64
	var writing atomic.Int32
	errs := make(chan error, 64)
	writing.Add(2)
	wg.Add(2)
	go func() { // uploads on A, three files at a time
		defer wg.Done()
		defer writing.Add(-1)
		for i := 0; i < len(paths); i += 3 {
			body, ct := multipartBody(t, nil, paths[i:min(i+3, len(paths))]...)
			resp, err := http.Post(a.ts.URL+"/api/v1/uploads", ct, body)
			if err != nil {
				errs <- err
				return
			}
			var out struct{ Items []uploadItem }
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := json.Unmarshal(raw, &out); err != nil || resp.StatusCode != http.StatusCreated {
				errs <- fmt.Errorf("upload on A: %d %s", resp.StatusCode, raw)
				return
			}
			for _, it := range out.Items {
				if it.Upload == nil || it.Upload.Status != store.UploadDone {
					errs <- fmt.Errorf("upload on A: %+v", it)
					return
				}
				uploadNew.Add(int64(it.Upload.NewEvents))
			}
		}
	}()
	go func() { // agent batches on B, each sent twice
		defer wg.Done()
		defer writing.Add(-1)
		for _, body := range append(batches, batches...) {
			status, res, raw := postEvents(t, b.ts.URL+"/api/v1/events", body, "application/x-ndjson", nil)
			if status != http.StatusOK {
				errs <- fmt.Errorf("agent batch on B: %d %s", status, raw)
				return
			}
			agentNew.Add(int64(res.New))
			agentDup.Add(int64(res.Duplicates))
		}
	}()

	// Page the events across both nodes while they are written.
	seen := map[int64]int{}
	checkpoint := ""
	emptyAfterDone := 0
	for page := 0; emptyAfterDone < 2; page++ {
		finished := writing.Load() == 0
		node := []*pgNode{a, b}[page%2]
		p := node.ts.URL + "/api/v1/events?limit=100"
		if checkpoint != "" {
			p += "&after=" + url.QueryEscape(checkpoint)
		}
		var pageBody struct {
			Items      []struct{ Seq int64 }
			Checkpoint string
		}
		getJSONURL(t, p, &pageBody)
		for _, it := range pageBody.Items {
			seen[it.Seq]++
		}
		checkpoint = pageBody.Checkpoint
		if len(pageBody.Items) == 0 {
			if finished {
				emptyAfterDone++
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	const uploadEvents = 12 * 41 // writeFleet: 41 Outlook events a computer
	agentEvents := 10 * 41
	if got := uploadNew.Load(); got != uploadEvents {
		t.Errorf("uploads on A: %d new, want %d", got, uploadEvents)
	}
	if n, d := agentNew.Load(), agentDup.Load(); n != int64(agentEvents) || d != int64(agentEvents) {
		t.Errorf("agent batches on B: %d new %d duplicates, want %d and %d", n, d, agentEvents, agentEvents)
	}
	stored, err := a.db.FindEvents(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != uploadEvents+agentEvents {
		t.Errorf("stored %d events, want %d", len(stored), uploadEvents+agentEvents)
	}
	twice := 0
	for _, e := range stored {
		if seen[e.Seq] != 1 {
			twice++
		}
	}
	if twice > 0 || len(seen) != len(stored) {
		t.Errorf("paging both nodes: %d distinct events seen, %d stored, %d not seen exactly once", len(seen), len(stored), twice)
	}

	// Both nodes serve the analysis of everything stored.
	evs, err := a.db.AnalysisEvents(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := analysis.Analyze(evs, analysis.Options{}).Report
	if len(want.Diagnoses) < 2 {
		t.Fatalf("a full analysis finds %d diagnoses, want the two devices'", len(want.Diagnoses))
	}
	for _, n := range []*pgNode{a, b} {
		var got analysis.Report
		deadline := time.Now().Add(10 * time.Second)
		for {
			getJSONURL(t, n.ts.URL+"/api/v1/report", &got)
			if got.Events.Disconnects+got.Events.Reconnects == len(evs) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !reflect.DeepEqual(diagnosisKeys(got), diagnosisKeys(want)) {
			t.Errorf("%s serves diagnoses %v, a full analysis %v", n.name, diagnosisKeys(got), diagnosisKeys(want))
		}
	}

	// One leader; when it dies, the other takes over.
	leader, standby := waitLeader(t, a, b)
	t.Logf("%s leads, %s stands by", leader.name, standby.name)
	killed := time.Now()
	terminateSessions(t, dsn, leader.name)
	go leader.stop() // the process is gone: it does not campaign again
	for !standby.srv.IsLeader() {
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("%s did not take over within 10 s of the leader's death", standby.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("failover: %s leads %v after %s's sessions ended", standby.name, time.Since(killed).Round(time.Millisecond), leader.name)
	status, res, raw := postEvents(t, standby.ts.URL+"/api/v1/events", batches[0], "application/x-ndjson", nil)
	if status != http.StatusOK || res.Duplicates != res.Accepted {
		t.Errorf("the survivor after failover: %d %s", status, raw)
	}
}

// diagnosisKeys is what two nodes must agree on of a report's diagnoses.
func diagnosisKeys(r analysis.Report) []string {
	var out []string
	for _, d := range r.Diagnoses {
		ts := "-"
		if d.TimeoutSeconds != nil {
			ts = fmt.Sprintf("%.0f", *d.TimeoutSeconds)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %v", d.ID, d.Kind, d.Drop, ts, d.Computers))
	}
	return out
}

// waitLeader waits (10 s at most) for exactly one of a and b to lead.
func waitLeader(t *testing.T, a, b *pgNode) (leader, standby *pgNode) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		la, lb := a.srv.IsLeader(), b.srv.IsLeader()
		switch {
		case la && lb:
			t.Fatal("two leaders")
		case la:
			return a, b
		case lb:
			return b, a
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader within 10 s")
	return nil, nil
}

// terminateSessions ends node's leader session, as PostgreSQL does when
// the node's process dies (the test then stops the node).
func terminateSessions(t *testing.T, dsn, node string) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, "idletrace leader "+node).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminate %s's leader session: %d, %v", node, n, err)
	}
}

// TestRetention: the leader (a SQLite server is its own) deletes events
// past -retention, and the live analysis forgets them.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	db := storetest.OpenSQLite(t, nil)
	now := time.Now().UTC()
	var evs []ingest.Event
	for i := range 10 {
		evs = append(evs, storetest.Outlook("OLD-PC", 25+i%2, int64(i+1), now.Add(-72*time.Hour+time.Duration(i)*time.Minute)))
	}
	for i := range 4 {
		evs = append(evs, storetest.Outlook("NEW-PC", 25+i%2, int64(i+1), now.Add(-time.Hour+time.Duration(i)*time.Minute)))
	}
	db.InsertEvents(ctx, 0, evs)
	srv, err := web.NewServer(web.Config{TempDir: t.TempDir(), Retention: 48 * time.Hour, RetentionEvery: 50 * time.Millisecond}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newHTTPTest(t, srv)
	var r analysis.Report
	getJSONURL(t, ts.URL+"/api/v1/report", &r) // the first analysis, perhaps before the sweep
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := db.Stats(ctx)
		getJSONURL(t, ts.URL+"/api/v1/report", &r)
		if st.Events == 4 && r.Computers == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after retention: %d events stored, the report has %d computers; want 4 events of NEW-PC", st.Events, r.Computers)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
