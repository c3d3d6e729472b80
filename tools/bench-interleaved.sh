#!/usr/bin/env bash
# Interleaved lean-protocol runs of several release trees, for before/after comparisons on a
# machine whose speed drifts: one fresh server per run, the trees in turn, PAIRS rounds.
# Each tree needs a release build and the store tools/bench-transports.sh makes
# (<tree>/.build-bench/transports). Prints, per run: tree, requests/s, p99 ms, server µs a request.
# Usage: PAIRS=4 LOG=none tools/bench-interleaved.sh <tree>... -- <arbiter-load arguments>
#   e.g. tools/bench-interleaved.sh ../wt-base . -- --method decide --mode open --rate 20000 --connections 4
# LOG: the interaction log (a file, default one in /tmp, or none). A tree whose server has an HTTP
# door gets --http-port off.
set -euo pipefail
cd "$(dirname "$0")/.."
load=$(tools/load/build.sh)
trees=()
while (($#)) && [[ $1 != -- ]]; do trees+=("$(cd "$1" && pwd)"); shift; done
[[ ${1:-} == -- ]] && shift
((${#trees[@]})) || { echo "usage: $0 <tree>... -- <arbiter-load arguments>" >&2; exit 2; }
log=${LOG:-/tmp/bench-interleaved.jsonl}
for _ in $(seq 1 "${PAIRS:-4}"); do
  for tree in "${trees[@]}"; do
    work=$tree/.build-bench/transports
    extra=()
    help=$("$tree/.build/release/arbiter" serve --help 2>&1)
    grep -q -- --http-port <<<"$help" && extra=(--http-port off)
    # Trees compared here differ in their engine; credentials (tools/bench-access.sh) are off.
    grep -q -- --auth <<<"$help" && extra+=(--auth off)
    [[ $log == none ]] || { rm -f "$log"; sync; }
    "$tree/.build/release/arbiter" serve --bundle "$work/demo50" --bundle-watch 0 --store "$work/store" \
      --customers 1000000 --interaction-log "$log" --port 50071 --lean-port 50072 --log-level warning \
      "${extra[@]}" >/dev/null 2>&1 &
    server=$!
    for _ in $(seq 1 240); do (exec 3<>/dev/tcp/127.0.0.1/50072) 2>/dev/null && break; sleep 0.2; done
    result=$("$load" --server-pid $server --duration 10 --warmup 2 --transport lean --port 50072 "$@" | tail -1)
    echo "$(basename "$tree") $(sed -E 's/.* ([0-9]+) req\/s.*p99 ([0-9.]+) ms.*\(([0-9.]+) µs.*/\1 \2 \3/' <<<"$result")"
    kill -TERM $server && wait $server || true
  done
done
[[ $log == none ]] || rm -f "$log"
