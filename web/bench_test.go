package web_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"idletrace/analysis/fleetsim"
	"idletrace/ingest"
	"idletrace/store"
	"idletrace/web"
)

// bench1MDB stores ≈ 1 M Outlook 25/26 events of 10 000 computers (the
// fleet of analysis' BenchmarkAnalyze1M) straight into a database in dir,
// with store.InsertEvents in batches.
func bench1MDB(b *testing.B, dir string) string {
	var bench1MErr error
	func() {
		f := fleetsim.Generate(fleetsim.Spec{Seed: 42, Days: 2, Sites: []fleetsim.Site{
			{Prefix: "HQ-PC", Clients: 4000, TimeoutSeconds: 900},
			{Prefix: "BR-LT", Clients: 2900, TimeoutSeconds: 240, Drop: "silent"},
			{Prefix: "FW-PC", Clients: 2100, TimeoutSeconds: 3600},
			{Prefix: "LAB-", Clients: 1000, RandomPerDay: 1},
		}, Outages: []fleetsim.Outage{{At: time.Date(2024, 3, 5, 10, 27, 0, 0, time.UTC), Minutes: 20}},
			Duplicates: 50, OrphanReconnects: 50, UnpairedDisconnects: 50})
		db, err := store.Open(context.Background(), filepath.Join(dir, "bench.db"))
		if err != nil {
			bench1MErr = err
			return
		}
		defer db.Close()
		batch := make([]ingest.Event, 0, 20000)
		flush := func() {
			if _, _, err := db.InsertEvents(context.Background(), 0, batch); err != nil && bench1MErr == nil {
				bench1MErr = err
			}
			batch = batch[:0]
		}
		for _, e := range f.Events {
			if e.Channel != "Application" || e.Provider != "Outlook" || (e.EventID != 25 && e.EventID != 26) {
				continue
			}
			batch = append(batch, ingest.Event{Computer: e.Computer, Channel: e.Channel, Provider: e.Provider, EventID: e.EventID,
				Qualifiers: e.Qualifiers, Level: e.Level, RecordID: e.RecordID, Time: e.Time, Precision: 100, Message: e.Message})
			if len(batch) == cap(batch) {
				flush()
			}
		}
		flush()
	}()
	if bench1MErr != nil {
		b.Fatal(bench1MErr)
	}
	return filepath.Join(dir, "bench.db")
}

// BenchmarkDashboard1M: server render time of the dashboard (GET /) over
// 1 M stored events, the analysis cached (it is recomputed only when events
// arrive; its first computation is reported as first-ms).
func BenchmarkDashboard1M(b *testing.B) {
	path := bench1MDB(b, b.TempDir())
	db, err := store.Open(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	srv, err := web.NewServer(web.Config{TempDir: b.TempDir(), NoAuth: true}, db, nil)
	if err != nil {
		b.Fatal(err)
	}
	startServer(b, srv)
	h := srv.Handler()
	get := func(path string) int {
		rec := &discardWriter{h: http.Header{}}
		req, _ := http.NewRequest("GET", path, nil)
		h.ServeHTTP(rec, req)
		if rec.status != 200 {
			b.Fatalf("GET %s: %d", path, rec.status)
		}
		return rec.n
	}
	start := time.Now()
	size := get("/")
	first := time.Since(start)
	cpu0, n := cpuTime(), 0
	for b.Loop() {
		get("/")
		n++
	}
	// CPU time per render: on a shared, loaded machine wall-clock ns/op
	// also counts other processes' turns.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(n), "cpu-ms/op")
	st, _ := db.Stats(context.Background())
	b.ReportMetric(float64(first.Milliseconds()), "first-ms")
	b.ReportMetric(float64(st.Events), "events")
	b.ReportMetric(float64(size)/1024, "KiB/page")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discardWriter is a ResponseWriter that counts the body.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = 200
	}
	w.n += len(p)
	return io.Discard.Write(p)
}
