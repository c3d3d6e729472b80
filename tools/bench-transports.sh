#!/usr/bin/env bash
# Transport benchmark (issue #6): starts a release server with 1,000,000 demo customers and a
# 50-offer catalogue (the demo bundle's 21 logistic offers widened to 50 by `arbiter-tools widen`), and
# drives it over the lean protocol, gRPC and the HTTP/JSON door (docs/http-api.md) with
# `arbiter-load` (a C load generator, on nghttp2 for gRPC, so that the generator's CPU does not set
# the ceiling), each with its no-op baseline (same message sizes, no decision work: for HTTP
# POST /v1/benchmark/echo), closed and open loop, reporting the server's CPU. HTTP/1.1 is not
# pipelined, so its runs use 64 connections with one request in flight on each (the others multiplex
# 64 calls over 4). Server and load generator share this machine's cores. The server requires
# credentials, as it does by default: the load presents the admin token it made (the lean
# protocol's hello, gRPC's and HTTP's authorization header); tools/bench-access.sh compares with
# credentials off.
# Usage: tools/bench-transports.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
load=$(tools/load/build.sh)
work=.build-bench/transports
rm -rf "$work" && mkdir -p "$work"
"$bin/arbiter-tools" widen --from models/demo --offers 50 --out "$work/demo50" >/dev/null
serve() {
  "$bin/arbiter" serve --bundle "$work/demo50" --bundle-watch 0 --store "$work/store" --customers 1000000 --interaction-log "$work/interactions.jsonl" \
    --port 50071 --lean-port 50072 --http-port 50073 --log-level warning \
    --admin-token-file "$work/admin-token" --site-key-file none >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 240); do
    if (exec 3<>/dev/tcp/127.0.0.1/50072) 2>/dev/null; then return; fi
    sleep 0.5
  done
}
trap 'kill $server 2>/dev/null || true' EXIT
# The first start builds the 1,000,000 customers and snapshots them when stopped; the measured
# server then starts as a production server restarts: from its snapshot (copied into huge-page
# memory, see the feature store section).
# Each Decide run starts from a restarted server, so that every run decides with the same (empty)
# contact history: decisions made in earlier runs would otherwise make the contact policy hold
# back offers for the customers drawn again (a run of 10 s decides for most of the million), and
# later runs would return fewer offers, which is less work. `sync` first, so that the disk writes
# of earlier runs (the log) are not made during the next.
restart() {
  kill -TERM $server && wait $server || true
  rm -f "$work/interactions.jsonl"
  sync
  serve
}
serve
restart
run() { "$load" --server-pid "$server" --duration "$seconds" --warmup 2 --token-file "$work/admin-token" "$@"; }
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, 1,000,000 customers, 50 offers, $(git rev-parse --short HEAD)"
pair() {  # the no-op baseline, then Decide from a fresh start, with the same options
  run --method noop "$@"
  restart
  run --method decide "$@"
}
pair --transport lean --port 50072 --mode closed --concurrency 64 --connections 4
pair --transport lean --port 50072 --mode open --rate 20000 --connections 4
pair --transport grpc --port 50071 --mode closed --concurrency 64 --connections 4
pair --transport grpc --port 50071 --mode open --rate 5000 --connections 4
pair --transport http --port 50073 --mode closed --concurrency 64 --connections 64
pair --transport http --port 50073 --mode open --rate 5000 --connections 64
