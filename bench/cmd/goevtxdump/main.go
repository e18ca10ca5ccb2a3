// Command goevtxdump is golang-evtx's own full parse, for benchmarks: like
// its tools/evtxdump (which does not build from the module proxy, see
// EVTX-PARSERS.md §1) it opens each file with evtx.OpenDirty, ranges over
// FastEvents and writes every event as JSON, one per line.
//
//	go run ./bench/cmd/goevtxdump FILE... > /dev/null
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/0xrawsec/golang-evtx/evtx"
)

func main() {
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()
	n := 0
	for _, path := range os.Args[1:] {
		f, err := evtx.OpenDirty(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "goevtxdump: %s: %v\n", path, err)
			continue
		}
		for e := range f.FastEvents() {
			out.Write(evtx.ToJSON(e))
			out.WriteByte('\n')
			n++
		}
		f.Close()
	}
	out.Flush()
	fmt.Fprintf(os.Stderr, "goevtxdump: %d events\n", n)
}
