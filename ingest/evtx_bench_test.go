package ingest

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"

	"idletrace/bench/applog"
)

var (
	benchOnce sync.Once
	benchLog  []byte
)

// benchData is a 16 MB realistic Application log (about 1 % Outlook
// 25/26), generated once. IDLETRACE_BENCH_EVTX names a file to use instead.
func benchData(b *testing.B) []byte {
	benchOnce.Do(func() {
		if p := os.Getenv("IDLETRACE_BENCH_EVTX"); p != "" {
			var err error
			if benchLog, err = os.ReadFile(p); err != nil {
				panic(err)
			}
			return
		}
		var buf seekBuffer
		if _, err := applog.Write(&buf, applog.Options{Seed: 1, TargetBytes: 16 << 20}); err != nil {
			panic(err)
		}
		benchLog = buf.b
	})
	return benchLog
}

func benchRead(b *testing.B, f readFunc, opts Options) {
	data := benchData(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		var res Result
		err := f(context.Background(), bytes.NewReader(data), int64(len(data)), opts, &res, func(e Event) error {
			if e.IsConnectivity() {
				n++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("no Outlook events")
	}
}

// BenchmarkReadEVTX is the default read: the fast path, both cores.
func BenchmarkReadEVTX(b *testing.B) { benchRead(b, fastRead, Options{}) }

// BenchmarkReadEVTXAllRecords decodes every record (fast decoder where it
// can, golang-evtx for the rest).
func BenchmarkReadEVTXAllRecords(b *testing.B) { benchRead(b, fastRead, Options{AllRecords: true}) }

// BenchmarkReadEVTXGolang is golang-evtx's full parse (the previous reader).
func BenchmarkReadEVTXGolang(b *testing.B) { benchRead(b, refRead, Options{}) }
