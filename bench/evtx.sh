#!/usr/bin/env bash
# EVTX ingest benchmark (BENCHMARKS.md): generates a realistic ~200 MB
# Application log with the project's EVTX writer, then times, alternating
# in one run, N times each:
#   idletrace  server ingest of the file into a fresh database (fast path)
#   evtxexport -f xml (libevtx, Debian libevtx-utils), output discarded
#   golang-evtx's own full parse (bench/cmd/goevtxdump: FastEvents -> JSON)
# and prints median wall time, MB/s, ratios and peak RSS (/usr/bin/time -v).
#
#   bench/evtx.sh [-n RUNS] [-s SIZE] [-k WORKDIR]
# SIZE as genlog takes it (default 200MB); WORKDIR keeps the binaries and
# the generated log between runs (default: a temp dir, removed at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 size=200MB work=""
while getopts "n:s:k:" o; do
  case $o in
    n) runs=$OPTARG ;;
    s) size=$OPTARG ;;
    k) work=$OPTARG ;;
    *) echo "usage: $0 [-n RUNS] [-s SIZE] [-k WORKDIR]" >&2; exit 2 ;;
  esac
done
command -v evtxexport >/dev/null || { echo "evtxexport not found (apt-get install libevtx-utils)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found (apt-get install time)" >&2; exit 1; }
if [ -z "$work" ]; then work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
mkdir -p "$work"
go build -o "$work/server" ./cmd/server
go build -o "$work/genlog" ./bench/cmd/genlog
go build -o "$work/goevtxdump" ./bench/cmd/goevtxdump
log="$work/Application-$size.evtx"
[ -f "$log" ] || "$work/genlog" -size "$size" -o "$log"
bytes=$(stat -c %s "$log")
cat "$log" > /dev/null # page cache: every tool reads from memory

measure() { # name cmd... ; appends "name wall_s rss_kib" to results
  local name=$1; shift
  /usr/bin/time -v -o "$work/time.txt" "$@" > /dev/null 2> "$work/stderr.txt" || {
    echo "$name failed:" >&2; tail -5 "$work/stderr.txt" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
  echo "$name $wall $rss" >> "$work/results.txt"
  printf '  %-11s %8.2f s  %7.1f MiB\n' "$name" "$wall" "$(echo "$rss/1024" | bc -l)"
}

: > "$work/results.txt"
echo "file: $log ($bytes bytes); $runs alternating runs on $(nproc) cores"
for i in $(seq "$runs"); do
  echo "run $i"
  rm -f "$work"/bench.db*
  measure idletrace "$work/server" ingest -db "$work/bench.db" "$log"
  measure evtxexport evtxexport -f xml "$log"
  measure golang-evtx "$work/goevtxdump" "$log"
done

python3 - "$work/results.txt" "$bytes" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
size = int(sys.argv[2])
names = ["idletrace", "evtxexport", "golang-evtx"]
walls = {n: [float(r[1]) for r in rows if r[0] == n] for n in names}
rss = {n: max(int(r[2]) for r in rows if r[0] == n) for n in names}
med = {n: st.median(walls[n]) for n in names}
# per-run ratios (runs alternate, so each pair shares the machine's load)
ratio = lambda a, b: st.median([y / x for x, y in zip(walls[a], walls[b])])
print()
print("| tool | median wall (s) | MB/s | peak RSS (MiB) | idletrace is faster by |")
print("|---|---|---|---|---|")
for n in names:
    r = "—" if n == "idletrace" else "%.1f×" % ratio("idletrace", n)
    print("| %s | %.2f | %.1f | %.1f | %s |" % (n, med[n], size / 1e6 / med[n], rss[n] / 1024, r))
PY
