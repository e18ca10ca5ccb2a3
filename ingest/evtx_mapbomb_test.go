package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/0xrawsec/golang-evtx/evtx"
)

// golangBombFixture builds a one-record file whose template uses a nested
// BinXML value (type 0x21: an instance of the same template) uses times,
// nested depth deep, all of it BinXML that golang-evtx parses: its map
// building renders the value again at every use, about uses^depth nodes,
// while its parse is linear.
// The root is an <Event> with a <System> and repeated children, a shape
// the fast path leaves to golang-evtx in both modes.
func golangBombFixture(depth, uses int) []byte {
	file, w := newFixture(1)
	sizeAt := w.recordStart(1, capiT0)
	def := w.p + 4
	w.u32(uint32(def))
	w.u32(0)
	w.p += 16
	defSize := w.p
	w.u32(0)
	w.u8(tkFragment)
	w.u8(1)
	w.u8(1)
	w.u8(0)
	w.elem("Event", true, nil, func() {
		w.elem("System", true, nil, func() {
			w.elem("Provider", true, []bxAttrW{{"Name", func() { w.text("Bomb", false) }}}, nil)
			w.elem("EventID", true, nil, func() { w.text("7", false) })
		})
		// Repeated names: the fast path leaves such records to golang-evtx.
		w.elem("D", true, nil, nil)
		w.elem("D", true, nil, nil)
		// Names of their own, written inline: golang-evtx's parse then
		// never jumps back to a name (the guarded parse limits such jumps).
		for i := range uses {
			w.elem("K"+strconv.Itoa(i), true, nil, func() { w.subst(0, vtBinXML) })
		}
	})
	w.u8(tkEOF)
	binary.LittleEndian.PutUint32(w.b[defSize:], uint32(w.p-defSize-4))
	// Value 0: instances of the same template, nested depth deep (the
	// innermost has a null value 0).
	var inner []byte
	innerType := byte(vtNull)
	le := binary.LittleEndian
	for range depth {
		b := []byte{tkFragment, 1, 1, 0, tkTemplate, 1, 0, 0, 0, 0}
		b = le.AppendUint32(b, uint32(def))
		b = le.AppendUint32(b, 1)
		b = le.AppendUint16(b, uint16(len(inner)))
		b = append(b, innerType, 0)
		inner, innerType = append(b, inner...), vtBinXML
	}
	w.u32(1)
	w.u16(uint16(len(inner)))
	w.u8(innerType)
	w.u8(0)
	copy(w.b[w.p:], inner)
	w.p += len(inner)
	w.recordEnd(sizeAt)
	finishFixture(w, 1, evtxChunkHdrSize)
	return file
}

// golangBombParse parses the fixture's record with golang-evtx (the
// guarded parse, which is linear) and returns its fragment and chunk.
func golangBombParse(t testing.TB, file []byte) (*evtx.Fragment, *evtx.Chunk) {
	t.Helper()
	quietLibraryLogs()
	c, err := goChunk(file[evtxHeaderSize:], evtxHeaderSize)
	if err != nil {
		t.Fatal(err)
	}
	g := &guardReader{Reader: bytes.NewReader(c.Data)}
	g.Reader.Seek(evtxChunkHdrSize+evtx.EventHeaderSize, 0)
	el, err := evtx.Parse(g, c, false)
	f, ok := el.(*evtx.Fragment)
	if !ok || err != nil {
		t.Fatalf("golang-evtx cannot parse the bomb (%T, %v): it must, for this test", el, err)
	}
	return f, c
}

// goMapNodes counts the maps, keys and values in a GoEvtxMap.
func goMapNodes(v any) int {
	switch x := v.(type) {
	case evtx.GoEvtxMap:
		n := 1
		for _, kv := range x {
			n += goMapNodes(kv)
		}
		return n
	}
	return 1
}

// TestEVTXGolangMapCostMatches: goMapCost is exact enough: on bombs small
// enough to build, it is at least the size of the map golang-evtx builds
// and within a small factor of it.
func TestEVTXGolangMapCostMatches(t *testing.T) {
	for _, c := range [][2]int{{1, 3}, {2, 10}, {3, 20}, {1, 200}} {
		f, _ := golangBombParse(t, golangBombFixture(c[0], c[1]))
		cost, within := goMapCost(f, math.MaxInt/2)
		if !within {
			t.Fatalf("%v: no cost", c)
		}
		start := time.Now()
		gem := f.GoEvtxMap()
		took := time.Since(start)
		nodes := goMapNodes(*gem)
		t.Logf("depth %d, %d uses: cost %d, golang-evtx map %d nodes in %v", c[0], c[1], cost, nodes, took)
		if cost < nodes || cost > 3*nodes {
			t.Errorf("%v: cost %d for a map of %d nodes", c, cost, nodes)
		}
	}
}

// TestEVTXGolangMapBomb: a record golang-evtx parses, and whose map it
// would build with about 200^8 nodes (it hangs: shown in a subprocess
// killed after a few seconds), is measured before the map is built and
// skipped with a warning at its offset, quickly.
func TestEVTXGolangMapBomb(t *testing.T) {
	file := golangBombFixture(8, 200)
	f, _ := golangBombParse(t, file)
	cost, _ := goMapCost(f, math.MaxInt/2)
	t.Logf("golang-evtx would render %d nodes (budget %d)", cost, goMapBudget)
	if cost < 1e15 {
		t.Errorf("cost %d: the bomb is no bomb", cost)
	}
	if _, within := goMapCost(f, goMapBudget); within {
		t.Error("within the budget")
	}

	// Without the guard golang-evtx runs away (in a subprocess, which is
	// killed: its goroutine could not be stopped).
	path := filepath.Join(t.TempDir(), "bomb.evtx")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	if !testing.Short() {
		const limit = 3 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEVTXGolangMapBombUnguarded$", "-test.v")
		cmd.Env = append(os.Environ(), "IDLETRACE_BOMB="+path, "GOMAXPROCS=1", "GOMEMLIMIT=512MiB")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if ctx.Err() == nil {
			t.Fatalf("unguarded golang-evtx finished in %v (%v): %s", took, err, out)
		}
		t.Logf("unguarded golang-evtx: still running after %v, killed", took.Round(time.Millisecond))
	}

	// With the guard: both modes, through ReadFile.
	for _, all := range []bool{true, false} {
		start := time.Now()
		n := 0
		res, err := ReadFile(context.Background(), path, Options{AllRecords: all}, func(Event) error { n++; return nil })
		took := time.Since(start)
		t.Logf("AllRecords %v: ReadFile took %v; warnings %+v", all, took, res.Warnings)
		var nre *NothingReadError
		if err != nil && !errors.As(err, &nre) {
			t.Fatal(err)
		}
		if took > 2*time.Second {
			t.Errorf("ReadFile took %v", took)
		}
		if n != 0 || res.Records != 0 {
			t.Errorf("events %d, records %d from the bomb", n, res.Records)
		}
		found := false
		for _, w := range res.Warnings {
			if w.Offset == evtxHeaderSize+evtxChunkHdrSize && strings.Contains(w.Msg, "too costly") {
				found = true
			} else {
				t.Errorf("unexpected warning %+v", w)
			}
		}
		if !found {
			t.Error("no warning at the record's offset")
		}
	}
}

// TestEVTXGolangMapBombUnguarded is the subprocess of TestEVTXGolangMapBomb:
// golang-evtx builds the bomb's map with no budget.
func TestEVTXGolangMapBombUnguarded(t *testing.T) {
	path := os.Getenv("IDLETRACE_BOMB")
	if path == "" {
		t.Skip("subprocess of TestEVTXGolangMapBomb")
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, c := golangBombParse(t, file)
	_, ok, err := parseRecordBudget(c, evtxChunkHdrSize, -1)
	t.Logf("finished: ok %v, err %v", ok, err)
}

// TestEVTXGolangSelfSubstitution: a BinXML value that is a substitution of
// itself would make golang-evtx recurse until the stack overflows (fatal);
// the guard stops it first.
func TestEVTXGolangSelfSubstitution(t *testing.T) {
	file := golangBombFixture(1, 2)
	// Replace the record's value (a nested instance) with an optional
	// substitution token of value 0.
	chunk := file[evtxHeaderSize:]
	i := bytes.LastIndex(chunk, []byte{tkFragment, 1, 1, 0, tkTemplate})
	copy(chunk[i:], []byte{tkOptSubst, 0, 0, vtBinXML})
	f, _ := golangBombParse(t, file)
	if _, within := goMapCost(f, goMapBudget); within {
		t.Fatal("a self-referring substitution is within the budget")
	}
	_, c := golangBombParse(t, file)
	_, _, err := parseRecordGuarded(c, evtxChunkHdrSize)
	var be *mapBudgetError
	if !errors.As(err, &be) {
		t.Fatalf("err %v", err)
	}
}

// TestEVTXDeadlineInsideChunk: the read's context is checked inside a
// chunk, not only between chunks.
func TestEVTXDeadlineInsideChunk(t *testing.T) {
	data := golangBombFixture(2, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := newEVTXWorker(ctx, bytes.NewReader(data), int64(len(data)), Options{AllRecords: true})
	if cr := w.chunk(0); cr.records != 0 || len(cr.events) != 0 {
		t.Errorf("a cancelled read decoded %d records", cr.records)
	}
	w = newEVTXWorker(context.Background(), bytes.NewReader(data), int64(len(data)), Options{AllRecords: true})
	if cr := w.chunk(0); cr.records != 1 || len(cr.events) != 1 || cr.events[0].Provider != "Bomb" {
		t.Errorf("records %d, events %+v", cr.records, cr.events)
	}
}
