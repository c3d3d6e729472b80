#!/usr/bin/env bash
# Load shedding (issue #15): for each door, the server's capacity for Decide (closed loop, 64 in
# flight), then open loop at half of it and at three times it, with the same server settings
# (the doors' default bound of 256 requests in flight, or the one given). At 3x a door should shed
# (RESOURCE_EXHAUSTED at once: lean and gRPC status 8, HTTP 429) instead of queueing, so that the
# p99 of the requests it admits stays near its p99 at half capacity; the script prints both, their
# ratio and the share shed. The server runs on one core and the load generator on the other
# (taskset), so that the generator can offer three times what the server takes (sharing both
# cores, as tools/bench-transports.sh does, the generator itself tops out below 3x). 1,000,000 demo
# customers, 50 offers (or the number given: more offers make each decision dearer, so that three
# times the server's capacity stays within what the generator can send on its core), credentials
# on; the lean door also sheds what waited past its max-queue-delay behind its read burst (10ms by
# default, or the one given; off never).
# Usage: tools/bench-overload.sh [seconds] [doors] [max-in-flight] [lean max-queue-delay] [offers]
#   (doors: "lean grpc http")
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
doors=${2:-lean grpc http}
bound=${3:-256}
queue_delay=${4:-10ms}
offers=${5:-50}
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
load=$(tools/load/build.sh)
work=.build-bench/overload
rm -rf "$work" && mkdir -p "$work"
"$bin/arbiter-tools" widen --from models/demo --offers "$offers" --out "$work/demo50" >/dev/null
cat >"$work/arbiter.yaml" <<YAML
grpc: {max-in-flight: $bound}
lean: {max-in-flight: $bound, max-queue-delay: $queue_delay}
http: {max-in-flight: $bound}
YAML
serve() {
  taskset -c 1 "$bin/arbiter" serve --config "$work/arbiter.yaml" --bundle "$work/demo50" --bundle-watch 0 --store "$work/store" \
    --customers 1000000 --interaction-log "$work/interactions.jsonl" \
    --port 50081 --lean-port 50082 --http-port 50083 --log-level warning \
    --admin-token-file "$work/admin-token" --site-key-file none >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 240); do
    if (exec 3<>/dev/tcp/127.0.0.1/50082) 2>/dev/null; then return; fi
    sleep 0.5
  done
}
trap 'kill $server 2>/dev/null || true' EXIT
# Every run starts from a restarted server (from its snapshot), so that each decides with the
# same empty contact history (see tools/bench-transports.sh).
restart() {
  kill -TERM $server && wait $server || true
  rm -f "$work/interactions.jsonl"
  sync
  serve
}
serve
restart
# A run that ends with errors (a generator out of stream ids when the server falls far behind)
# still prints its line; the script goes on.
run() { taskset -c 0 "$load" --server-pid "$server" --duration "$seconds" --warmup 2 --token-file "$work/admin-token" "$@" || true; }
p99() { sed -E 's/.*p99 ([0-9.]+) ms.*/\1/' <<<"$1"; }
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), server on 1 core and load on the other, 1,000,000 customers, $offers offers, max-in-flight $bound, lean max-queue-delay $queue_delay, $(git rev-parse --short HEAD)"
for door in $doors; do
  case $door in
  lean) args=(--transport lean --port 50082 --connections 4) ;;
  grpc) args=(--transport grpc --port 50081 --connections 4) ;;
  http) args=(--transport http --port 50083 --connections 64) ;;
  esac
  capacity_line=$(run "${args[@]}" --method decide --mode closed --concurrency 64)
  echo "$capacity_line"
  capacity=$(sed -E 's/.*: ([0-9]+) req\/s.*/\1/' <<<"$capacity_line")
  restart
  half_line=$(run "${args[@]}" --method decide --mode open --rate $((capacity / 2)))
  echo "$half_line"
  restart
  over_line=$(run "${args[@]}" --method decide --mode open --rate $((capacity * 3)))
  echo "$over_line"
  restart
  awk -v door="$door" -v cap="$capacity" -v half="$(p99 "$half_line")" -v over="$(p99 "$over_line")" \
    'BEGIN { printf "%s: capacity %d/s; p99 of admitted at 3x %.3f ms / at half %.3f ms = %.2f\n", door, cap, over, half, over / half }'
done
