package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"idletrace/bench/applog"
)

// damageSources are healthy logs the campaign mutates: the project's own
// fixtures always, the shared samples when present.
func damageSources(t *testing.T) map[string][]byte {
	t.Helper()
	src := map[string][]byte{}
	var buf seekBuffer
	if _, err := applog.Write(&buf, applog.Options{Seed: 3, TargetBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	src["applog-1MB"] = buf.b
	src["lookalikes"] = lookalikeFixture(t)
	for _, name := range []string{
		"attack-rogue_msi_url_1040_1042.evtx", // Application, classic sources
		"omer-security.evtx",                  // Security, manifest
		"pyevtx-system.evtx",                  // System, mixed
		"attack-LM_5145_Remote_FileCopy.evtx",
		"omer-sysmon.evtx",
	} {
		b, err := os.ReadFile(filepath.Join("../../shared/evtx-samples", name))
		if err == nil {
			src[name] = b
		}
	}
	if len(src) == 2 {
		t.Log("../../shared/evtx-samples not found: the campaign uses the project's fixtures only")
	}
	return src
}

// recordEnds lists the end offset of every record of a healthy file.
func recordEnds(data []byte) []int {
	var ends []int
	for off := evtxHeaderSize; off+evtxChunkSize <= len(data); off += evtxChunkSize {
		c := data[off : off+evtxChunkSize]
		last := int(bxLE.Uint32(c[44:]))
		for p := evtxChunkHdrSize; p <= last; {
			size := recordSizeAt(c, p)
			if size == 0 {
				break
			}
			ends = append(ends, off+p+size)
			p += size
		}
	}
	return ends
}

type mutation struct {
	kind string
	data []byte
	want int // records a careful parser could recover
}

// mutate makes the campaign's damaged copies of one healthy file.
func mutate(rng *rand.Rand, data []byte, total int) []mutation {
	var out []mutation
	cp := func() []byte { return bytes.Clone(data) }
	nChunks := (len(data) - evtxHeaderSize) / evtxChunkSize
	chunkOff := func() int { return evtxHeaderSize + rng.IntN(nChunks)*evtxChunkSize }
	ends := recordEnds(data)
	// Truncations: what ends before the cut can be recovered.
	for i := 0; i < 4; i++ {
		cut := evtxHeaderSize + rng.IntN(len(data)-evtxHeaderSize)
		n := 0
		for _, e := range ends {
			if e <= cut {
				n++
			}
		}
		out = append(out, mutation{"truncate", data[:cut:cut], n})
	}
	flip := func(b []byte, lo, hi, n int) {
		for i := 0; i < n && hi > lo; i++ {
			b[lo+rng.IntN(hi-lo)] ^= byte(1 + rng.IntN(255))
		}
	}
	// Byte flips anywhere in the records (1–300 edits over the file).
	for i := 0; i < 6; i++ {
		b := cp()
		flip(b, evtxHeaderSize, len(b), 1+rng.IntN(300))
		out = append(out, mutation{"flip-records", b, total})
	}
	// Chunk headers.
	for i := 0; i < 3; i++ {
		b := cp()
		o := chunkOff()
		flip(b, o, o+128, 1+rng.IntN(8))
		out = append(out, mutation{"chunk-header", b, total})
	}
	// String tables (the common-string offsets golang-evtx's FetchChunk
	// follows and panics on).
	for i := 0; i < 3; i++ {
		b := cp()
		o := chunkOff()
		flip(b, o+128, o+384, 1+rng.IntN(8))
		out = append(out, mutation{"string-table", b, total})
	}
	// Template definitions.
	for i := 0; i < 3; i++ {
		b := cp()
		o := chunkOff()
		var defs []int
		for j := 0; j < 32; j++ {
			if d := int(bxLE.Uint32(b[o+384+4*j:])); d >= evtxChunkHdrSize && d+24 < evtxChunkSize {
				defs = append(defs, d)
			}
		}
		if len(defs) == 0 {
			continue
		}
		d := o + defs[rng.IntN(len(defs))]
		size := int(bxLE.Uint32(b[d+20:]))
		flip(b, d, min(d+24+size, o+evtxChunkSize), 1+rng.IntN(4))
		out = append(out, mutation{"template", b, total})
	}
	return out
}

// TestEVTXDamageCampaign reads a campaign of mutated files: no panic, no
// hang, bounded time per file, and at least 95 % of the records a careful
// parser could recover are recovered (identified by record id; "intact"
// also requires every field to equal the healthy file's).
func TestEVTXDamageCampaign(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 4))
	byKind := map[string][4]int{} // files, wanted, recovered, intact
	files, wanted, recovered, intact, extra := 0, 0, 0, 0, 0
	for name, data := range damageSources(t) {
		orig, _ := readEvents(t, fastRead, data, Options{AllRecords: true}, anyEvent)
		byID := map[int64]Event{}
		for _, e := range orig {
			byID[e.RecordID] = e
		}
		for i, m := range mutate(rng, data, len(orig)) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var res Result
			got, good := 0, 0
			seen := map[int64]bool{}
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s #%d (%s): panic: %v", name, i, m.kind, p)
					}
				}()
				err = readEVTX(ctx, bytes.NewReader(m.data), int64(len(m.data)), Options{AllRecords: true}, &res, func(e Event) error {
					o, ok := byID[e.RecordID]
					switch {
					case !ok || seen[e.RecordID]:
						extra++
					case sameEvent(o, e):
						got++
						good++
					default:
						got++ // recovered, but the flipped bytes changed its content
					}
					seen[e.RecordID] = true
					return nil
				})
			}()
			cancel()
			var fe *FormatError
			if err != nil && !(errors.As(err, &fe) && len(m.data) < evtxHeaderSize) && !(m.kind == "flip-records" && errors.As(err, &fe)) {
				t.Errorf("%s #%d (%s): %v", name, i, m.kind, err)
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrEVTXDeadline) {
				t.Errorf("%s #%d (%s): too slow", name, i, m.kind)
			}
			got, good = min(got, m.want), min(good, m.want)
			files++
			wanted += m.want
			recovered += got
			intact += good
			k := byKind[m.kind]
			byKind[m.kind] = [4]int{k[0] + 1, k[1] + m.want, k[2] + got, k[3] + good}
		}
	}
	share := float64(recovered) / float64(max(wanted, 1))
	for k, v := range byKind {
		t.Logf("%-13s %3d files: %6d of %6d records recovered (%.1f %%), %.1f %% intact", k, v[0], v[2], v[1],
			100*float64(v[2])/float64(max(v[1], 1)), 100*float64(v[3])/float64(max(v[1], 1)))
	}
	t.Logf("campaign: %d files, %d of %d records recovered (%.2f %%), %d intact (%.2f %%), %d other records emitted",
		files, recovered, wanted, 100*share, intact, 100*float64(intact)/float64(max(wanted, 1)), extra)
	if share < 0.95 {
		t.Errorf("recovered %.2f %% of the records, want at least 95 %%", 100*share)
	}
}

// TestEVTXCancel checks that a read stops when its context ends or emit
// fails.
func TestEVTXCancel(t *testing.T) {
	var buf seekBuffer
	if _, err := applog.Write(&buf, applog.Options{Seed: 5, TargetBytes: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	var res Result
	err := readEVTX(ctx, bytes.NewReader(buf.b), int64(len(buf.b)), Options{AllRecords: true}, &res, func(Event) error {
		n++
		if n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	stop := fmt.Errorf("stop")
	err = readEVTX(context.Background(), bytes.NewReader(buf.b), int64(len(buf.b)), Options{AllRecords: true}, &res, func(Event) error { return stop })
	if err != stop {
		t.Fatalf("err = %v, want the emit error", err)
	}
}
