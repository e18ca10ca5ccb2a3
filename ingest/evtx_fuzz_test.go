package ingest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"idletrace/bench/applog"
)

// fuzzHeader is a valid EVTX file header that FuzzReadEVTX puts in front of
// inputs that are not whole files, so that the fuzzer spends its time on
// chunk and record parsing.
func fuzzHeader(t testing.TB) []byte {
	return lookalikeFixture(t)[:evtxHeaderSize]
}

// FuzzReadEVTX feeds arbitrary bytes to the EVTX reader, in both modes: it
// must never panic, never hang, and emit no more records than it counts.
// Inputs that do not start with the file signature are read as chunks
// behind a valid file header. Seeds: the project's generated logs, one
// chunk of each, and the small shared samples when present.
func FuzzReadEVTX(f *testing.F) {
	hdr := fuzzHeader(f)
	fix := lookalikeFixture(f)
	f.Add(fix)
	f.Add(fix[evtxHeaderSize:])
	var buf seekBuffer
	if _, err := applog.Write(&buf, applog.Options{Seed: 9, TargetBytes: 200 << 10}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.b[evtxHeaderSize : evtxHeaderSize+evtxChunkSize])
	f.Add(buf.b[evtxHeaderSize : evtxHeaderSize+evtxChunkSize/4])
	f.Add(capiFixture(false)[evtxHeaderSize:])        // BinXML values golang-evtx cannot read
	f.Add(golangBombFixture(8, 200)[evtxHeaderSize:]) // a map golang-evtx would expand without end
	samples, _ := filepath.Glob("../../shared/evtx-samples/*.evtx")
	for _, p := range samples {
		if st, err := os.Stat(p); err == nil && st.Size() <= 70000 {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b[min(len(b), evtxHeaderSize):])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte(evtxFileMagic)) {
			data = append(bytes.Clone(hdr), data...)
		}
		for _, all := range []bool{false, true} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var res Result
			n := 0
			start := time.Now()
			err := readEVTX(ctx, bytes.NewReader(data), int64(len(data)), Options{AllRecords: all}, &res, func(e Event) error {
				n++
				return nil
			})
			cancel()
			if time.Since(start) > 5*time.Second {
				t.Fatalf("read took %v", time.Since(start))
			}
			if err != nil {
				if _, ok := err.(*FormatError); !ok {
					t.Fatalf("error %v", err)
				}
			}
			if n > res.Records {
				t.Fatalf("emitted %d records, counted %d", n, res.Records)
			}
		}
	})
}
