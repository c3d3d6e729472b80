#!/usr/bin/env bash
# What the access check costs (issue #15): lean-protocol and gRPC Decide, closed loop, against the
# same release server (1,000,000 customers, 50 offers, as tools/bench-transports.sh builds it) with
# credentials required (the admin token: the lean hello, gRPC's authorization metadata) and with
# them off (`--auth off`), in alternation, each run from a freshly started server. Prints one line
# per run and, at the end, the ratios of the medians (on ÷ off) per door.
# Usage: tools/bench-access.sh [rounds] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-10}
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
load=$(tools/load/build.sh)
work=.build-bench/access
mkdir -p "$work"
[[ -d $work/demo50 ]] || "$bin/arbiter-tools" widen --from models/demo --offers 50 --out "$work/demo50" >/dev/null
serve() {  # $1: on or off
  rm -f "$work/interactions.jsonl"
  sync
  "$bin/arbiter" serve --bundle "$work/demo50" --bundle-watch 0 --store "$work/store" --customers 1000000 \
    --interaction-log "$work/interactions.jsonl" --port 50071 --lean-port 50072 --http-port off --log-level warning \
    --auth "$1" --admin-token-file "$work/admin-token" --site-key-file none >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 480); do
    if (exec 3<>/dev/tcp/127.0.0.1/50072) 2>/dev/null; then return; fi
    sleep 0.5
  done
  echo "the server did not start; see $work/server.log" >&2
  exit 1
}
stop() { kill -TERM $server && wait $server || true; }
trap 'kill $server 2>/dev/null || true' EXIT
# The first start builds the customers and snapshots them when stopped; the measured servers start
# from the snapshot.
[[ -d $work/store ]] || { serve on; stop; }
results=$work/results.txt
: >"$results"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, 1,000,000 customers, 50 offers, $(git rev-parse --short HEAD)"
for round in $(seq 1 "$rounds"); do
  for auth in off on; do
    token=()
    [[ $auth == on ]] && token=(--token-file "$work/admin-token")
    for door in lean grpc; do
      port=50072
      [[ $door == grpc ]] && port=50071
      serve "$auth"
      line=$("$load" --server-pid "$server" --duration "$seconds" --warmup 2 --transport "$door" --port "$port" \
        --method decide --mode closed --concurrency 64 --connections 4 "${token[@]}" | tail -1)
      stop
      echo "round $round, auth $auth: $line"
      rate=$(sed -E 's/.* ([0-9.]+) req\/s.*/\1/' <<<"$line")
      echo "$door $auth $rate" >>"$results"
    done
  done
done
python3 - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    door, auth, rate = line.split()
    runs.setdefault((door, auth), []).append(float(rate))
for door in ("lean", "grpc"):
    off, on = statistics.median(runs[(door, "off")]), statistics.median(runs[(door, "on")])
    print(f"{door}: auth on {on:,.0f}/s, off {off:,.0f}/s (medians of {len(runs[(door, 'on')])}): on ÷ off = {on / off:.3f}")
PY
