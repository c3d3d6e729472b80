#!/usr/bin/env bash
# Feature-store benchmarks (issue 3) at 10M customers × 64 features, release build, on this
# machine. Prints every number BENCHMARKS.md records. Needs ~12 GB of disk under $WORK.
#
#   tools/bench-store.sh                 # 10,000,000 customers
#   CUSTOMERS=1000000 tools/bench-store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${CUSTOMERS:-10000000}
WORK=${WORK:-.build-bench}
# The tools call with the admin token the server makes (arbiter-tools reads ARBITER_TOKEN_FILE).
export ARBITER_TOKEN_FILE="$WORK/admin-token"
PORT=${PORT:-50151}
swift build -c release >/dev/null
BIN=$(swift build -c release --show-bin-path)
mkdir -p "$WORK"
now() { date +%s.%N; }
elapsed() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.2f}")' "$1"; }

echo "== CSV: $N demo customers"
if [[ ! -f "$WORK/customers-$N.csv" ]]; then
  "$BIN/arbiter-tools" generate --customers-only --customers "$N" --out "$WORK/gen"
  mv "$WORK/gen/customers.csv" "$WORK/customers-$N.csv"
fi
ls -l "$WORK/customers-$N.csv" | awk '{printf "%.2f GB\n", $5/1e9}'

echo "== import (CSV → store → snapshot)"
rm -rf "$WORK/store"
t=$(now)
"$BIN/arbiter-tools" import --csv "$WORK/customers-$N.csv" --store "$WORK/store"
echo "import wall time: $(elapsed "$t") s"
ls -l "$WORK/store"

echo "== point lookups"
sync
"$BIN/arbiter-tools" store-bench lookups --store "$WORK/store" --lookups 2000000

start_server() {
  "$BIN/arbiter" serve --store "$WORK/store" --port "$PORT" --interaction-log none --snapshot-interval 0 --fsync 10 --log-level warning \
    --admin-token-file "$WORK/admin-token" --site-key-file none &
  SERVER=$!
}
wait_first_decision() {
  until "$BIN/arbiter-tools" decide --port "$PORT" --customer 100042 --timeout-ms 500 >/dev/null 2>&1; do sleep 0.02; done
}

echo "== restart: process start → first decision answered"
t=$(now)
start_server
wait_first_decision
echo "restart to first decision: $(elapsed "$t") s"
echo "server resident memory: $(awk '/VmRSS/ {printf "%.2f GB", $2/1e6}' /proc/$SERVER/status) (VmRSS)"
grep -E 'VmRSS|RssAnon|RssFile' /proc/$SERVER/status

echo "== ingest over gRPC (IngestEvents, fsync every 10 ms), then kill -9 and count"
"$BIN/arbiter-tools" store-bench ingest --port "$PORT" --events "${EVENTS:-4000000}" --batch 1000 --streams 2 --state "$WORK/ingest.json"
kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null || true
echo "server killed with SIGKILL"
t=$(now)
start_server
wait_first_decision
echo "restart with log replay to first decision: $(elapsed "$t") s"
"$BIN/arbiter-tools" store-bench verify --port "$PORT" --state "$WORK/ingest.json"
kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true
