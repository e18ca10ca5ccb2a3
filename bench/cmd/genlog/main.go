// Command genlog writes a realistic Application .evtx log for benchmarks
// (see bench/applog and BENCHMARKS.md).
//
//	go run ./bench/cmd/genlog -size 200MB -o /tmp/app.evtx
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"idletrace/bench/applog"
)

func main() {
	out := flag.String("o", "Application.evtx", "output file")
	size := flag.String("size", "200MB", "target size (B, KB, MB, GB; powers of 1000)")
	seed := flag.Uint64("seed", 1, "random seed")
	share := flag.Float64("outlook", 0.01, "share of Outlook 25/26 records")
	flag.Parse()
	n, err := parseSize(*size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(2)
	}
	start := time.Now()
	st, err := applog.WriteFile(*out, applog.Options{Seed: *seed, TargetBytes: n, OutlookShare: *share})
	if err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d bytes, %d records, %d Outlook 25, %d Outlook 26 (%.2f %%) in %v\n", *out, st.Bytes, st.Records,
		st.Outlook25, st.Outlook26, 100*float64(st.Outlook25+st.Outlook26)/float64(st.Records), time.Since(start).Round(time.Millisecond))
}

func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * float64(mult)), nil
}
