#!/bin/bash
# Two idletrace nodes on one PostgreSQL database: each node's own analysis
# (seconds, RSS), which one leads, and how long the analysis leadership takes
# to move when the leader is killed (-9).
#
#   go build -o /tmp/srv ./cmd/server && bench/twonode.sh [postgres://…]
DB=${1:-postgres://root@localhost:5433/idletrace}
SRV=${SRV:-/tmp/srv}
TOK=$($SRV token create --name twonode-$RANDOM --scope read -db $DB 2>&1 | grep -oE 'itk_[A-Za-z0-9_-]+')
A="Authorization: Bearer $TOK"
start() { $SRV serve -db $DB -addr localhost:$1 -node $2 > ${TMPDIR:-/tmp}/idletrace-node-$2.log 2>&1 & echo $!; }
own() { # seconds until the node serves its own analysis
  local t0=$(date +%s.%N)
  curl -s -o /dev/null -H "$A" localhost:$1/api/v1/report
  for i in $(seq 1 400); do
    h=$(curl -s -D - -o /dev/null -H "$A" localhost:$1/api/v1/report | grep -ci "X-Analysis-Updating")
    [ "$h" = 0 ] && break; sleep 0.5; done
  echo "$(date +%s.%N) - $t0" | bc
}
PA=$(start 18081 a); sleep 1; echo "node a own analysis after $(own 18081) s, RSS $(ps -o rss= -p $PA) kB"
PB=$(start 18082 b); sleep 1; echo "node b own analysis after $(own 18082) s, RSS $(ps -o rss= -p $PB) kB"
for n in a b; do echo "node $n: $(grep -o 'msg="analysis leadership" leader=[a-z]*' ${TMPDIR:-/tmp}/idletrace-node-$n.log | tail -1)"; done
uptime
kill -9 $PA; t0=$(date +%s.%N)
for i in $(seq 1 200); do
  l=$(grep -o 'msg="analysis leadership" leader=true' ${TMPDIR:-/tmp}/idletrace-node-b.log | head -1)
  [ -n "$l" ] && break; sleep 0.25; done
echo "leader moved to b after $(echo "$(date +%s.%N) - $t0" | bc) s: $l"
kill $PB; wait 2>/dev/null
