// Command ingestload measures agent ingest as the database grows: it
// starts the real server binary on a database (a SQLite file or a
// postgres:// URL), has -agents concurrent agents POST NDJSON batches of
// -batch new Outlook 25/26 events to /api/v1/events (the collector's
// format and default batch size) until the database holds -events more
// events, and prints events/s for every -step events and for every
// million, with the 1-minute load average, the server's CPU (share of one
// core, and CPU-milliseconds per 1000 events: the figure a busy neighbour
// on a shared machine disturbs least) and RSS and the database size
// beside them.
//
//	go run ./bench/ingestload -db /work/bench-data/ingest.db -events 3000000
//	go run ./bench/ingestload -db postgres://localhost:5433/idletrace_ingest -events 3000000
//
// -mode store calls the store in process instead (the agent path's store
// calls: the agent day row, InsertEvents, the batch counts), without HTTP
// and without the server's live analysis: what the store alone sustains.
// -mode retain -cut TIME instead deletes the events before TIME (RFC 3339)
// with the store's retention (on PostgreSQL: dropping the week partitions
// wholly before it, deleting the rest in batches of 10 000) and prints how
// many and how long it took. A postgres:// database is created when
// missing. Not part of CI.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"idletrace/bench/benchdb"
	"idletrace/ingest"
	"idletrace/store"
	"idletrace/store/pg"
)

func main() {
	dbName := flag.String("db", filepath.Join(os.TempDir(), "idletrace-ingest.db"), "SQLite file or postgres:// URL (events are added to what it holds)")
	total := flag.Int("events", 3_000_000, "events to add")
	agents := flag.Int("agents", 4, "concurrent agents")
	batch := flag.Int("batch", 2000, "events per batch (the collector's default -batch)")
	computers := flag.Int("computers", 20_000, "computers the events come from")
	step := flag.Int("step", 250_000, "print a line every this many events")
	mode := flag.String("mode", "http", "http: POST to a real server; store: call the store in process; retain: delete events before -cut")
	cutFlag := flag.String("cut", "", "-mode retain: delete the events before this time (RFC 3339)")
	serverBin := flag.String("server", "", "server binary (default: go build ./cmd/server into a temp dir)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	ctx := context.Background()

	if pg.IsURL(*dbName) {
		if err := benchdb.CreatePGDatabase(ctx, *dbName); err != nil {
			log.Fatal(err)
		}
	}
	db, err := benchdb.Open(ctx, *dbName, "ingestload")
	if err != nil {
		log.Fatal(err)
	}
	st, err := db.Stats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	start := st.Events
	if *mode == "retain" {
		retain(ctx, db, *cutFlag, st)
		return
	}
	// New events start after everything stored, at least a week ago, so
	// that on PostgreSQL they land in the partitions of recent weeks.
	t0 := time.Now().UTC().AddDate(0, 0, -7).Truncate(time.Second)
	if st.Last.After(t0) {
		t0 = st.Last.Add(time.Second)
	}
	gen := &generator{t: t0, computers: *computers, rec: time.Now().UnixNano() / 1000}

	var post func(body []byte, evs []ingest.Event) error
	var serverPid int
	switch *mode {
	case "store":
		post = func(_ []byte, evs []ingest.Event) error { return storeBatch(ctx, db, evs) }
	case "http":
		tok, _, err := db.CreateToken(ctx, fmt.Sprintf("ingestload-%d", time.Now().UnixNano()), "ingest")
		if err != nil {
			log.Fatal(err)
		}
		db.Close()
		stop, pid, base := startServer(*serverBin, *dbName)
		defer stop()
		serverPid = pid
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *agents * 2}, Timeout: 5 * time.Minute}
		post = func(body []byte, _ []ingest.Event) error {
			return postBatch(client, base, tok, body, len(bytes.Split(bytes.TrimSpace(body), []byte("\n"))))
		}
	default:
		log.Fatalf("-mode %q: want http or store", *mode)
	}

	fmt.Printf("\nidletrace agent ingest (%s, -mode %s): %d agents, batches of %d new events over %d computers, from %d stored events\n",
		benchdb.Backend(*dbName), *mode, *agents, *batch, *computers, start)
	fmt.Printf("%-22s %10s %8s %10s %12s %10s %10s\n", "events stored", "events/s", "load1", "server CPU", "CPU ms/1k ev", "server RSS", "DB size")
	cpuPid := serverPid
	if cpuPid == 0 {
		cpuPid = os.Getpid() // -mode store: this process is the server
	}
	var done atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	for range *agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if done.Load() >= int64(*total) || failed.Load() > 0 {
					return
				}
				body, evs := gen.batch(*batch)
				if err := post(body, evs); err != nil {
					log.Print(err)
					failed.Add(1)
					return
				}
				done.Add(int64(len(evs)))
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	type mark struct {
		n   int64
		at  time.Time
		cpu float64
	}
	last := mark{0, begin, cpuSeconds(cpuPid)}
	million := last
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	sizeOf := func() string {
		if *mode == "store" {
			n, _ := db.Size(ctx)
			return mib(n)
		}
		return dbSize(ctx, *dbName)
	}
	for loop := true; loop; {
		select {
		case <-finished:
			loop = false
		case <-tick.C:
		}
		n := done.Load()
		if n-last.n < int64(*step) && loop {
			continue
		}
		if n == last.n {
			break
		}
		now := mark{n, time.Now(), cpuSeconds(cpuPid)}
		rate := float64(n-last.n) / now.at.Sub(last.at).Seconds()
		cpu := fmt.Sprintf("%.0f %%", 100*(now.cpu-last.cpu)/now.at.Sub(last.at).Seconds())
		perK := fmt.Sprintf("%.1f", 1000*(now.cpu-last.cpu)/float64(n-last.n)*1000)
		fmt.Printf("%-22s %10.0f %8s %10s %12s %10s %10s\n", fmt.Sprintf("%.2f M → %.2f M", float64(int64(start)+last.n)/1e6, float64(int64(start)+n)/1e6),
			rate, loadavg(), cpu, perK, rss(cpuPid), sizeOf())
		if (int64(start)+n)/1_000_000 != (int64(start)+million.n)/1_000_000 || !loop {
			fmt.Printf("  per million %-10s %10.0f events/s\n", fmt.Sprintf("%d–%d M:", (int64(start)+million.n)/1_000_000, (int64(start)+million.n)/1_000_000+1),
				float64(n-million.n)/now.at.Sub(million.at).Seconds())
			million = now
		}
		last = now
	}
	el := time.Since(begin)
	fmt.Printf("added %d events in %v: %.0f events/s overall\n", done.Load(), el.Round(time.Second), float64(done.Load())/el.Seconds())
	if failed.Load() > 0 {
		log.Fatal("a batch failed")
	}
}

// retain runs the store's retention once and reports it.
func retain(ctx context.Context, db store.Store, cut string, before store.Stats) {
	t, err := time.Parse(time.RFC3339, cut)
	if err != nil {
		log.Fatalf("-cut: %v (want RFC 3339, e.g. %s)", err, before.First.Add(48*time.Hour).Format(time.RFC3339))
	}
	r, ok := db.(store.Retention)
	if !ok {
		log.Fatalf("%T has no retention", db)
	}
	t0 := time.Now()
	n, err := r.DeleteEventsBefore(ctx, t, 10_000)
	if err != nil {
		log.Fatal(err)
	}
	el := time.Since(t0)
	fmt.Printf("deleted %d of %d events (stored %s … %s) before %s in %v (%.0f events/s); load average %s\n",
		n, before.Events, before.First.Format(time.RFC3339), before.Last.Format(time.RFC3339), t.Format(time.RFC3339),
		el.Round(time.Millisecond), float64(n)/el.Seconds(), loadavg())
}

// storeBatch is what intake.AgentBatch asks of the store for one batch.
func storeBatch(ctx context.Context, db store.Store, evs []ingest.Event) error {
	id, err := db.AgentDayUpload(ctx, "agent", "ingestload")
	if err != nil {
		return err
	}
	added, dups, err := db.InsertEvents(ctx, id, evs)
	if err != nil {
		return err
	}
	if added != len(evs) {
		return fmt.Errorf("batch: %d new of %d", added, len(evs))
	}
	return db.CountAgentBatch(ctx, id, store.AgentBatchCounts{Records: len(evs), OutlookEvents: len(evs), NewEvents: added,
		DuplicateEvents: dups, Format: "ndjson"})
}

func postBatch(c *http.Client, base, token string, body []byte, n int) error {
	req, _ := http.NewRequest("POST", base+"/api/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("post batch: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("post batch: %s: %s", resp.Status, b)
	}
	var res struct{ New int }
	if err := json.Unmarshal(b, &res); err != nil || res.New != n {
		return fmt.Errorf("post batch: %d new of %d (%v): %s", res.New, n, err, b)
	}
	return nil
}

// generator makes batches of new events: pairs of 25/26 of random
// computers, times moving forward.
type generator struct {
	mu        sync.Mutex
	t         time.Time
	computers int
	rec       int64
	r         *rand.Rand
}

func (g *generator) batch(n int) ([]byte, []ingest.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.r == nil {
		g.r = rand.New(rand.NewPCG(uint64(g.rec), 7))
	}
	var b bytes.Buffer
	evs := make([]ingest.Event, 0, n)
	for len(evs) < n {
		name := fmt.Sprintf("AG-PC%06d.corp.example", g.r.IntN(g.computers))
		g.t = g.t.Add(time.Duration(g.r.IntN(400)) * time.Millisecond)
		for k, id := range []int{25, 26} {
			if len(evs) == n {
				break
			}
			g.rec++
			at := g.t.Add(time.Duration(k*20) * time.Second)
			fmt.Fprintf(&b, `{"computer":%q,"channel":"Application","provider":"Outlook","event_id":%d,"level":%d,"record_id":%d,"time":%q}`+"\n",
				name, id, 3+k, g.rec, at.Format(time.RFC3339Nano))
			evs = append(evs, ingest.Event{Computer: name, Channel: "Application", Provider: "Outlook", EventID: id,
				Qualifiers: -1, Level: 3 + k, RecordID: g.rec, Time: at})
		}
	}
	return b.Bytes(), evs
}

// startServer builds (unless given) and starts `server serve` on dsn and
// waits for it to answer.
func startServer(bin, dsn string) (stop func(), pid int, base string) {
	var cleanup []func()
	if bin == "" {
		dir, err := os.MkdirTemp("", "ingestload")
		if err != nil {
			log.Fatal(err)
		}
		cleanup = append(cleanup, func() { os.RemoveAll(dir) })
		bin = filepath.Join(dir, "server")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/server")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatal("build server: ", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(bin, "serve", "-db", dsn, "-addr", addr, "-rate-limit", "0", "-log-level", "warn")
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	if err := srv.Start(); err != nil {
		log.Fatal(err)
	}
	base = "http://" + addr
	t0 := time.Now()
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(t0) > 2*time.Minute {
			log.Fatal("server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Printf("server up in %v", time.Since(t0).Round(time.Millisecond))
	return func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		for _, f := range cleanup {
			f()
		}
	}, srv.Process.Pid, base
}

// cpuSeconds is the user+system CPU time of process pid (0: none).
func cpuSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name in parentheses: utime is the 14th
	// field of the line, stime the 15th (clock ticks of 1/100 s).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100
}

func rss(pid int) string {
	if pid == 0 {
		return "-"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return mib(kb << 10)
		}
	}
	return "?"
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// dbSize is the database's size while the server holds it: the SQLite
// file and its WAL, or pg_database_size.
func dbSize(ctx context.Context, dsn string) string {
	n, err := benchdb.Size(ctx, dsn)
	if err != nil {
		return "?"
	}
	return mib(n)
}
