// Command httpload measures idletrace's HTTP latency on a large database:
// it builds (or reuses) a database of -events Outlook 25/26 events over
// -computers computers, starts the real server binary on it, warms up, then
// runs -clients concurrent clients against the dashboard, /api/v1/report
// and /api/v1/events?limit=100 (following the cursor) for -duration each and
// prints p50/p90/p99/max and requests a second. With -ingest it runs the
// same again while an agent posts a batch of new events every -ingest-every
// (the incremental analysis path under load).
//
// -db is a SQLite file or a postgres:// URL (the database is created when
// missing and built through the store's InsertEvents, as for SQLite);
// given more than once, each is measured in turn, so that one run compares
// the backends:
//
//	go run ./bench/httpload -db /tmp/idletrace-10m.db            # 10 M events, 20 k computers
//	go run ./bench/httpload -events 1000000 -computers 2000 -db /tmp/1m.db
//	go run ./bench/httpload -db /work/bench-data/10m.db -db postgres://localhost:5433/idletrace
//
// -client-cpus and -server-cpus pin the load client and the server to CPUs
// (taskset lists, e.g. 1 and 0): the client, decoding reports of nearly a
// megabyte 50 at a time, otherwise takes much of the server's CPU on a small
// machine. Unpinned by default.
//
// Generated events start on the day three weeks before the build (so that
// on PostgreSQL they fill the partitions of recent weeks); the agent's
// events follow the newest stored one. Not part of CI: building the
// 10 M-event database takes minutes and about 3 GB of disk.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// Flags read by measure.
var (
	windows    int
	restart    bool
	serverCPUs string
)

// pinnedEnv marks a client already running under taskset (see pinClient).
const pinnedEnv = "HTTPLOAD_PINNED"

// pinClient runs this client again under taskset -c cpus, unless it runs
// there already; it does not return when it re-runs.
func pinClient(cpus string) {
	if cpus == "" || os.Getenv(pinnedEnv) == cpus {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("taskset", append([]string{"-c", cpus, exe}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), pinnedEnv+"="+cpus)
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		log.Fatalf("pin the client to CPUs %s (taskset, from util-linux): %v", cpus, err)
	}
	os.Exit(0)
}

// serverCommand is the server's command line, under taskset -c serverCPUs
// when that is set (taskset then runs the server in its own process). A
// pinned client's server is given every online CPU back unless told
// otherwise: a child inherits its parent's CPUs.
func serverCommand(bin string, args ...string) *exec.Cmd {
	cpus := serverCPUs
	if cpus == "" && os.Getenv(pinnedEnv) != "" {
		b, err := os.ReadFile("/sys/devices/system/cpu/online")
		if err != nil {
			log.Fatal("unpin the server: ", err)
		}
		cpus = strings.TrimSpace(string(b))
	}
	if cpus == "" {
		return exec.Command(bin, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpus, bin}, args...)...)
}

// dbList is the repeatable -db flag.
type dbList []string

func (l *dbList) String() string     { return strings.Join(*l, " ") }
func (l *dbList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var dbs dbList
	flag.Var(&dbs, "db", "SQLite file or postgres:// URL, built when missing or empty; repeat to measure several (default "+
		filepath.Join(os.TempDir(), "idletrace-10m.db")+")")
	events := flag.Int("events", 10_000_000, "events in the database")
	computers := flag.Int("computers", 20_000, "computers in the database")
	clients := flag.Int("clients", 50, "concurrent clients")
	duration := flag.Duration("duration", 20*time.Second, "measuring time per endpoint")
	warm := flag.Duration("warmup", 3*time.Second, "warm-up time per endpoint")
	withIngest := flag.Bool("ingest", true, "measure again while an agent posts batches")
	ingestEvery := flag.Duration("ingest-every", 300*time.Millisecond, "agent batch interval")
	ingestBatch := flag.Int("ingest-batch", 200, "events per agent batch")
	serverBin := flag.String("server", "", "server binary (default: go build ./cmd/server into a temp dir)")
	flag.IntVar(&windows, "windows", 0, "after the first report, ask for this many different since/until windows and print the server's RSS after each")
	clientCPUs := flag.String("client-cpus", "", "pin this load client to these CPUs (a taskset list, e.g. 1); empty: unpinned")
	flag.StringVar(&serverCPUs, "server-cpus", "", "pin the server to these CPUs (a taskset list, e.g. 0); empty: unpinned")
	flag.BoolVar(&restart, "restart", true, "after the first report, restart the server and time its first report again (served from the stored report)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	pinClient(*clientCPUs)
	if len(dbs) == 0 {
		dbs = dbList{filepath.Join(os.TempDir(), "idletrace-10m.db")}
	}
	bin := *serverBin
	if bin == "" {
		dir, err := os.MkdirTemp("", "httpload")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "server")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/server")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatal("build server: ", err)
		}
	}
	for _, dsn := range dbs {
		measure(dsn, bin, *events, *computers, *clients, *duration, *warm, *withIngest, *ingestEvery, *ingestBatch)
	}
}

// measure builds (or reuses) the database dsn names and runs the load
// against a server on it.
func measure(dsn, bin string, events, computers, clients int, duration, warm time.Duration, withIngest bool, ingestEvery time.Duration, ingestBatch int) {
	ctx := context.Background()
	built, err := ensureDB(ctx, dsn, events, computers)
	if err != nil {
		log.Fatal(err)
	}
	readTok, ingestTok, err := tokens(ctx, dsn)
	if err != nil {
		log.Fatal(err)
	}
	size := dbSize(ctx, dsn)
	addr := freeAddr()
	base := "http://" + addr
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2, MaxIdleConns: clients * 2}, Timeout: 5 * time.Minute}
	start := func() (*exec.Cmd, time.Duration, time.Duration) {
		srv := serverCommand(bin, "serve", "-db", dsn, "-addr", addr, "-rate-limit", "0", "-log-level", "warn")
		srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
		if err := srv.Start(); err != nil {
			log.Fatal(err)
		}
		t0 := time.Now()
		for {
			if resp, err := client.Get(base + "/healthz"); err == nil {
				resp.Body.Close()
				break
			}
			if time.Since(t0) > time.Minute {
				log.Fatal("server did not start")
			}
			time.Sleep(50 * time.Millisecond)
		}
		up := time.Since(t0)
		t1 := time.Now()
		if code, _, _ := get(client, base+"/api/v1/report", readTok); code != 200 {
			log.Fatalf("first report: %d", code)
		}
		return srv, up, time.Since(t1)
	}
	srv, up, first := start()
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	log.Printf("server up in %v", up.Round(time.Millisecond))
	log.Printf("first analysis (load %d events from %s + analyse): %v; server RSS %s", events, benchdb.Backend(dsn), first.Round(time.Millisecond), rss(srv.Process.Pid))
	coldRSS := rss(srv.Process.Pid)
	var warmUp, warmFirst time.Duration
	if restart {
		time.Sleep(2 * time.Second) // the first report is stored after it is published
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		restarted := time.Now()
		srv, warmUp, warmFirst = start()
		log.Printf("restarted: up in %v, first report %v (the stored one); RSS %s", warmUp.Round(time.Millisecond), warmFirst.Round(time.Millisecond), rss(srv.Process.Pid))
		waitOwn(client, base, readTok)
		log.Printf("restarted node's own analysis after %v; RSS %s", time.Since(restarted).Round(time.Millisecond), rss(srv.Process.Pid))
	} else {
		t := time.Now()
		waitOwn(client, base, readTok)
		log.Printf("the node's own analysis %v after its first report; RSS %s", time.Since(t).Round(time.Millisecond), rss(srv.Process.Pid))
	}

	pins := "unpinned"
	if c := os.Getenv(pinnedEnv); c != "" || serverCPUs != "" {
		pins = fmt.Sprintf("client on CPUs %q, server on CPUs %q (empty: all)", c, serverCPUs)
	}
	fmt.Printf("\nidletrace HTTP load on %s: %d events, %d computers, %d clients, %v per endpoint (Go %s client on the same machine, %s)\n",
		benchdb.Backend(dsn), events, computers, clients, duration, strings.TrimPrefix(goVersion(), "go version "), pins)
	if built.events > 0 {
		fmt.Printf("built %d events in %v (%.0f events/s); ", built.events, built.took.Round(time.Second), float64(built.events)/built.took.Seconds())
	}
	fmt.Printf("database %s; server up in %v, first report %v after start (all events read and analysed), server RSS %s then; load average %s\n",
		size, up.Round(time.Millisecond), (up + first).Round(time.Millisecond), coldRSS, loadavg())
	if restart {
		fmt.Printf("restarted: up in %v, first report %v after start (the stored report), RSS %s now\n",
			warmUp.Round(time.Millisecond), (warmUp + warmFirst).Round(time.Millisecond), rss(srv.Process.Pid))
	}
	if windows > 0 {
		last := built.last
		for k := range windows {
			since := last.Add(-time.Duration(k+2) * 24 * time.Hour).Add(time.Duration(k) * time.Hour)
			until := last.Add(-time.Duration(k) * 12 * time.Hour)
			t := time.Now()
			q := "?since=" + since.UTC().Format(time.RFC3339) + "&until=" + until.UTC().Format(time.RFC3339)
			code, _, _ := get(client, base+"/api/v1/report"+q, readTok)
			fmt.Printf("window %2d %s: %d in %v, server RSS %s\n", k+1, q, code, time.Since(t).Round(time.Millisecond), rss(srv.Process.Pid))
		}
	}
	endpoints := []string{"/", "/api/v1/report", "/api/v1/events?limit=100"}
	run := func(label string) {
		fmt.Printf("\n%s\n%-28s %8s %8s %8s %8s %8s %8s %8s %10s %10s\n", label, "endpoint", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "KiB/resp", "srv p99 ms", "srv ≤50 ms")
		for _, ep := range endpoints {
			load(client, base, ep, readTok, clients, warm) // warm-up
			route, _, _ := strings.Cut(ep, "?")
			before := scrapeLatency(client, base, readTok, route)
			r := load(client, base, ep, readTok, clients, duration)
			srv99, under := scrapeLatency(client, base, readTok, route).quantile(before, 0.99)
			fmt.Printf("%-28s %8.0f %8.1f %8.1f %8.1f %8.1f %8d %8.1f %10.1f %9.2f%%\n", ep, r.rate, r.q(0.50), r.q(0.90), r.q(0.99), r.q(1), r.errors, r.kib, srv99, 100*under)
		}
		fmt.Printf("server RSS %s; load average %s\n", rss(srv.Process.Pid), loadavg())
	}
	run("quiet database")
	if withIngest {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var posted, batches atomic.Int64
		var lagMu sync.Mutex
		var lags []float64
		wg.Add(2)
		go func() {
			defer wg.Done()
			agent(client, base, ingestTok, computers, ingestBatch, ingestEvery, built.last, stop, &posted, &batches)
		}()
		go func() { // how old is the served analysis?
			defer wg.Done()
			tk := time.NewTicker(250 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
				}
				_, h, _ := get(client, base+"/api/v1/report", readTok)
				if at, err := time.Parse(time.RFC3339Nano, h.Get("X-Analysis-As-Of")); err == nil {
					lagMu.Lock()
					lags = append(lags, time.Since(at).Seconds())
					lagMu.Unlock()
				}
			}
		}()
		time.Sleep(time.Second)
		sum0, n0 := scrapeSumCount(client, base, readTok, "idletrace_analysis_duration_seconds")
		run(fmt.Sprintf("while an agent posts %d events every %v", ingestBatch, ingestEvery))
		sum1, n1 := scrapeSumCount(client, base, readTok, "idletrace_analysis_duration_seconds")
		close(stop)
		wg.Wait()
		slices.Sort(lags)
		fmt.Printf("agent: %d batches, %d events posted; age of the served analysis: median %.1f s, max %.1f s; %.0f analysis updates meanwhile, %.2f s each on average\n",
			batches.Load(), posted.Load(), quantile(lags, 0.5), quantile(lags, 1), n1-n0, (sum1-sum0)/max(n1-n0, 1))
	}
}

// waitOwn waits until the server serves its own analysis, not the stored
// report of an earlier run: the rest measures that.
func waitOwn(client *http.Client, base, token string) {
	for {
		_, h, _ := get(client, base+"/api/v1/report", token)
		if h != nil && h.Get("X-Analysis-Updating") == "" {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func goVersion() string {
	out, _ := exec.Command("go", "version").Output()
	return strings.TrimSpace(string(out))
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmRSS:"))
		}
	}
	return "?"
}

// tokens creates a read token (the clients) and an ingest token (the agent),
// so that the agent's writes are not the readers' own.
func tokens(ctx context.Context, dsn string) (string, string, error) {
	db, err := benchdb.Open(ctx, dsn, "httpload")
	if err != nil {
		return "", "", err
	}
	defer db.Close()
	r, _, err := db.CreateToken(ctx, "httpload-read", "read")
	if err != nil {
		return "", "", err
	}
	i, _, err := db.CreateToken(ctx, "httpload-ingest", "ingest")
	return r, i, err
}

// --- database

// built is what ensureDB did: how many events it stored and how long
// that took (0 when it reused the database), and the newest event time.
type built struct {
	events int
	took   time.Duration
	last   time.Time
}

// ensureDB builds the database unless it holds enough events already.
func ensureDB(ctx context.Context, dsn string, events, computers int) (built, error) {
	var b built
	if pg.IsURL(dsn) {
		if err := benchdb.CreatePGDatabase(ctx, dsn); err != nil {
			return b, err
		}
	}
	db, err := benchdb.Open(ctx, dsn, "httpload")
	if err != nil {
		return b, err
	}
	defer db.Close()
	st, err := db.Stats(ctx)
	if err != nil {
		return b, err
	}
	b.last = st.Last
	if st.Events >= events {
		log.Printf("reusing %s (%d events)", benchdb.Backend(dsn), st.Events)
		return b, nil
	}
	if st.Events > 0 {
		return b, fmt.Errorf("%s holds %d events, fewer than %d: remove it", benchdb.Backend(dsn), st.Events, events)
	}
	genStart := time.Now().UTC().AddDate(0, 0, -21).Truncate(24 * time.Hour)
	log.Printf("building %s: %d events over %d computers from %s", benchdb.Backend(dsn), events, computers, genStart.Format(time.DateOnly))
	t0 := time.Now()
	perHost := events / computers
	const batch = 100_000
	buf := make([]ingest.Event, 0, batch)
	u := &store.Upload{Name: "httpload generated fleet", Source: "bench"}
	if err := db.CreateUpload(ctx, u); err != nil {
		return b, err
	}
	n := 0
	for h := 0; h < computers; h++ {
		buf = hostEvents(buf, genStart, h, perHost+boolInt(h < events%computers))
		if len(buf) >= batch || h == computers-1 {
			if _, _, err := db.InsertEvents(ctx, u.ID, buf); err != nil {
				return b, err
			}
			n += len(buf)
			buf = buf[:0]
			if el := time.Since(t0); n%1_000_000 < batch {
				log.Printf("  %d events, %.0f/s, load average %s", n, float64(n)/el.Seconds(), loadavg())
			}
		}
	}
	u.NewEvents, u.OutlookEvents = n, n
	if err := db.FinishUpload(ctx, u); err != nil {
		return b, err
	}
	b.events, b.took = n, time.Since(t0)
	log.Printf("built %d events in %v (%.0f events/s)", n, b.took.Round(time.Second), float64(n)/b.took.Seconds())
	if st, err = db.Stats(ctx); err != nil {
		return b, err
	}
	b.last = st.Last
	return b, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Sites of the generated fleet: name prefix, idle timeout (0 = healthy).
var sites = []struct {
	prefix  string
	timeout float64
	silent  bool
}{
	{"HQ-PC", 900, false}, {"BR-LT", 240, true}, {"FW-PC", 3600, false}, {"DC-PC", 350, false}, {"LAB-", 0, false},
}

// hostEvents appends n events (alternating 25 and 26) of computer h:
// working days 08:00–18:00, uptimes at the site's timeout (reset: just
// above it; silent: at the 720 s keep-alive plus retransmissions) or random.
func hostEvents(dst []ingest.Event, genStart time.Time, h, n int) []ingest.Event {
	r := rand.New(rand.NewPCG(uint64(h), 1))
	site := sites[h%len(sites)]
	name := fmt.Sprintf("%s%05d.corp.example", site.prefix, h)
	day := 0
	t := genStart.Add(8*time.Hour + time.Duration(r.IntN(1800))*time.Second)
	rec := int64(1000 + r.IntN(100000))
	for i := 0; i < n; i += 2 {
		var up float64
		switch {
		case site.timeout == 0 || r.IntN(10) == 0:
			up = 60 * math.Exp(r.Float64()*5) // 1 min … 2.5 h
		case site.silent:
			up = 720 + 15 + r.Float64()*40
		default:
			up = site.timeout + r.Float64()*2
		}
		t = t.Add(time.Duration(up * float64(time.Second)))
		if t.Sub(genStart.AddDate(0, 0, day)) > 18*time.Hour {
			day++
			t = genStart.AddDate(0, 0, day).Add(8*time.Hour + time.Duration(r.IntN(1800))*time.Second)
		}
		dst = append(dst, ingest.Event{Computer: name, Channel: "Application", Provider: "Outlook", EventID: 25,
			RecordID: rec, Time: t, Qualifiers: -1, Level: 3, Message: "Outlook lost the connection"})
		rec++
		if i+1 < n {
			t = t.Add(time.Duration(2+r.IntN(40)) * time.Second)
			dst = append(dst, ingest.Event{Computer: name, Channel: "Application", Provider: "Outlook", EventID: 26,
				RecordID: rec, Time: t, Qualifiers: -1, Level: 4, Message: "Outlook restored the connection"})
			rec++
		}
	}
	return dst
}

// --- load

type result struct {
	lat    []float64 // ms, sorted
	rate   float64
	errors int64
	kib    float64 // mean response body as sent
}

var bytesRead atomic.Int64

func (r *result) q(p float64) float64 { return quantile(r.lat, p) }

func quantile(s []float64, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	return s[min(len(s)-1, int(math.Ceil(p*float64(len(s))))-1+boolInt(p == 0))]
}

func get(c *http.Client, url, token string) (int, http.Header, []byte) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	// As a browser or curl --compressed would; set explicitly, so the
	// transport hands over the gzip body as sent (a remote client would
	// inflate it on its own machine, not on the server's).
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	bytesRead.Add(int64(len(b)))
	return resp.StatusCode, resp.Header, b
}

// load runs clients against ep for d; /api/v1/events follows its cursor.
func load(c *http.Client, base, ep, token string, clients int, d time.Duration) *result {
	var mu sync.Mutex
	res := &result{}
	var errs atomic.Int64
	deadline := time.Now().Add(d)
	b0 := bytesRead.Load()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []float64
			next, pages := "", 0
			for time.Now().Before(deadline) {
				url := base + ep
				if next != "" {
					url += "&after=" + next
				}
				t := time.Now()
				code, _, body := get(c, url, token)
				lat = append(lat, float64(time.Since(t).Microseconds())/1000)
				if code != 200 {
					errs.Add(1)
					continue
				}
				if strings.HasPrefix(ep, "/api/v1/events") {
					var page struct {
						Next string `json:"next"`
					}
					var rd io.Reader = bytes.NewReader(body)
					if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
						rd = zr
					}
					json.NewDecoder(rd).Decode(&page)
					next, pages = page.Next, pages+1
					if pages == 50 { // start again from the newest
						next, pages = "", 0
					}
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(res.lat)
	res.rate = float64(len(res.lat)) / d.Seconds()
	res.errors = errs.Load()
	if len(res.lat) > 0 {
		res.kib = float64(bytesRead.Load()-b0) / float64(len(res.lat)) / 1024
	}
	return res
}

// agent posts a batch of new events of random computers every interval.
func agent(c *http.Client, base, token string, computers, batch int, every time.Duration, after time.Time, stop chan struct{}, posted, batches *atomic.Int64) {
	r := rand.New(rand.NewPCG(99, 99))
	t := after.Add(time.Hour) // after the stored data
	rec := int64(1 << 30)     // after the stored ones, within 2³¹ of them like a computer's own log
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
		}
		var b bytes.Buffer
		for i := 0; i < batch; i += 2 {
			h := r.IntN(computers)
			name := fmt.Sprintf("%s%05d.corp.example", sites[h%len(sites)].prefix, h)
			t = t.Add(time.Duration(r.IntN(3000)) * time.Millisecond)
			for k, id := range []int{25, 26} {
				fmt.Fprintf(&b, `{"computer":%q,"channel":"Application","provider":"Outlook","event_id":%d,"record_id":%d,"time":%q}`+"\n",
					name, id, rec, t.Add(time.Duration(k*20)*time.Second).Format(time.RFC3339Nano))
				rec++
			}
		}
		req, _ := http.NewRequest("POST", base+"/api/v1/events", &b)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := c.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 300 {
			posted.Add(int64(batch))
			batches.Add(1)
		}
	}
}

// dbSize is the database's size: the SQLite file and its WAL, or
// pg_database_size.
func dbSize(ctx context.Context, dsn string) string {
	n, err := benchdb.Size(ctx, dsn)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// serverLatency is the server's own view of a route's requests
// (idletrace_http_request_duration_seconds, GET, status 200): cumulative
// bucket counts by upper bound.
type serverLatency map[float64]float64

// metricLines reads /metrics, in lines.
func metricLines(c *http.Client, base, token string) []string {
	_, _, body := get(c, base+"/metrics", token)
	if len(body) > 1 && body[0] == 0x1f && body[1] == 0x8b {
		if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
			body, _ = io.ReadAll(zr)
		}
	}
	return strings.Split(string(body), "\n")
}

// scrapeLatency reads route's histogram from /metrics.
func scrapeLatency(c *http.Client, base, token, route string) serverLatency {
	out := serverLatency{}
	want := `route="` + route + `"`
	for _, line := range metricLines(c, base, token) {
		if !strings.HasPrefix(line, "idletrace_http_request_duration_seconds_bucket{") || !strings.Contains(line, want) ||
			!strings.Contains(line, `method="GET"`) || !strings.Contains(line, `status="200"`) {
			continue
		}
		i := strings.Index(line, `le="`)
		j := strings.Index(line[i+4:], `"`)
		le, err1 := strconv.ParseFloat(line[i+4:i+4+j], 64)
		if line[i+4:i+4+j] == "+Inf" {
			le, err1 = math.Inf(1), nil
		}
		n, err2 := strconv.ParseFloat(strings.TrimSpace(line[strings.LastIndex(line, " ")+1:]), 64)
		if err1 == nil && err2 == nil {
			out[le] += n
		}
	}
	return out
}

// scrapeSumCount reads a histogram's _sum and _count from /metrics.
func scrapeSumCount(c *http.Client, base, token, name string) (sum, count float64) {
	for _, line := range metricLines(c, base, token) {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		switch {
		case err != nil:
		case f[0] == name+"_sum":
			sum = v
		case f[0] == name+"_count":
			count = v
		}
	}
	return sum, count
}

// quantile of the requests between two scrapes, interpolated within the
// bucket (ms), and the share at or below 50 ms.
func (after serverLatency) quantile(before serverLatency, q float64) (ms, under50 float64) {
	les := make([]float64, 0, len(after))
	for le := range after {
		les = append(les, le)
	}
	slices.Sort(les)
	total := after[math.Inf(1)] - before[math.Inf(1)]
	if total <= 0 {
		return math.NaN(), math.NaN()
	}
	under50 = (after[0.05] - before[0.05]) / total
	prevLe, prevN := 0.0, 0.0
	for _, le := range les {
		n := after[le] - before[le]
		if n >= q*total {
			if math.IsInf(le, 1) {
				return math.Inf(1), under50
			}
			f := (q*total - prevN) / math.Max(n-prevN, 1)
			return 1000 * (prevLe + f*(le-prevLe)), under50
		}
		prevLe, prevN = le, n
	}
	return math.NaN(), under50
}
