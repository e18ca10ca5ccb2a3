// Command analysismem measures what the live analysis holds in memory: it
// reads a database's events as the server's analysis worker does (chunks
// of 500 000 after a seq, names interned), feeds them to an
// analysis.Incremental, makes a Result, and prints the time of each step,
// the live heap after a GC and the peak RSS; -heapprofile writes a heap
// profile of what the Result and its Incremental keep.
//
//	go run ./bench/cmd/analysismem -db /tmp/idletrace-10m.db [-window 720h] [-heapprofile heap.out]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"idletrace/analysis"
	"idletrace/analysis/fleetsim"
	"idletrace/store"
	"idletrace/store/pg"
)

func main() {
	dsn := flag.String("db", "", "SQLite file or postgres:// URL")
	window := flag.Duration("window", 0, "prune events before newest − window (0: keep all)")
	heap := flag.String("heapprofile", "", "write a heap profile here after the updates, and one before them to this name + .base")
	cpu := flag.String("cpuprofile", "", "write a CPU profile of the Results (first and updates) here")
	updatesOnly := flag.Bool("profile-updates", false, "profile only the updates, not the first Result")
	updates := flag.Int("updates", 3, "Results after adding the newest 0.1 % again (the cost of an update)")
	free := flag.Bool("free-scratch", false, "updates without kept working memory (Incremental.KeepScratch(false), as the server runs near its memory limit)")
	grow := flag.Bool("grow", false, "each update adds the newest 0.1 % moved later in time (new events, as an agent sends them), not again as duplicates")
	printFP := flag.Bool("fingerprint", false, "print the last Result's fingerprint (fleetsim.Fingerprint): a change meant only for speed must keep it")
	flag.Parse()
	ctx := context.Background()
	var db store.Store
	var err error
	if pg.IsURL(*dsn) {
		db, err = pg.Open(ctx, *dsn, pg.Options{Node: "analysismem"})
	} else {
		db, err = store.Open(ctx, *dsn)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var cpuFile *os.File
	t0 := time.Now()
	inc := analysis.NewIncremental(analysis.Options{})
	var names store.Interner
	var last int64
	var newest time.Time
	var tail []analysis.Event
	n := 0
	for {
		d, err := db.AnalysisEventsAfter(ctx, last, 500_000, &names)
		if err != nil {
			log.Fatal(err)
		}
		inc.Add(d.Events)
		n += d.Rows
		if d.Rows > 0 {
			last = d.LastSeq
			if d.Last.After(newest) {
				newest = d.Last
			}
			k := max(0, len(d.Events)-1000)
			tail = append(tail[:0], d.Events[k:]...)
		}
		if d.Rows < 500_000 {
			break
		}
	}
	read := time.Since(t0)
	if *window > 0 {
		inc.Prune(newest.Add(-*window).Truncate(time.Hour))
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		cpuFile = f
	}
	if cpuFile != nil && !*updatesOnly {
		pprof.StartCPUProfile(cpuFile)
	}
	t1 := time.Now()
	res := inc.Result()
	first := time.Since(t1)
	if cpuFile != nil && *updatesOnly {
		pprof.StartCPUProfile(cpuFile)
	}
	fmt.Printf("events %d, computers %d, pairs %d, diagnoses %d\n", n, len(res.Hosts), res.NumPairs(), len(res.Report.Diagnoses))
	fmt.Printf("read %v, first Result %v\n", read.Round(time.Millisecond), first.Round(time.Millisecond))
	if *heap != "" { // the base: what the updates allocated is the difference (pprof -base)
		f, err := os.Create(*heap + ".base")
		if err != nil {
			log.Fatal(err)
		}
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	inc.KeepScratch(!*free)
	for i := range *updates {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		t := time.Now()
		if *grow { // later copies: the fleet grows by 1,000 events an update
			span := tail[len(tail)-1].Time.Sub(tail[0].Time) + time.Minute
			for j := range tail {
				tail[j].Time = tail[j].Time.Add(span)
			}
		}
		inc.Add(tail) // without -grow, duplicates: the computers they name are paired again
		res = inc.Result()
		took := time.Since(t)
		runtime.ReadMemStats(&after)
		fmt.Printf("update %d (%d events): %v, allocated %d MiB\n", i+1, len(tail), took.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>20)
	}
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	if *printFP {
		fmt.Printf("fingerprint %s\n", fleetsim.Fingerprint(res))
	}
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("live heap after GC %d MiB (the Incremental, with %d MiB of working memory kept for the next update, and one Result); peak RSS %s\n", ms.HeapAlloc>>20, inc.ScratchBytes()>>20, peakRSS())
	if *heap != "" {
		f, err := os.Create(*heap)
		if err != nil {
			log.Fatal(err)
		}
		pprof.WriteHeapProfile(f)
		f.Close()
	}
	runtime.KeepAlive(res)
	runtime.KeepAlive(inc)
}

func peakRSS() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}
