#!/usr/bin/env bash
# Silent clients against the connection bounds (issue #15): a release server on the demo bank
# (20,000 customers, in memory), then N connections (default 20,000, this machine's descriptor
# limit) opened to the lean door and left silent, while gRPC Decide is timed through
# arbiter-tools. Before the bounds, 20,000 silent lean clients used up the server's descriptors
# and gRPC Decide timed out. Prints how many connections the lean door held and refused, and
# the gRPC Decide latency while they were held and after they were closed by the idle timeout.
# Usage: tools/bench-silent-clients.sh [connections] [idle timeout in seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20000}
idle=${2:-60}
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
work=.build-bench/silent
rm -rf "$work" && mkdir -p "$work"
cat >"$work/arbiter.yaml" <<YAML
lean: {port: 50082, idle-timeout: ${idle}s}
access: {audit-log: none}
YAML
"$bin/arbiter" serve --config "$work/arbiter.yaml" --store none --customers 20000 --interaction-log none \
  --port 50081 --http-port 50083 --bundle-watch 0 --log-level warning \
  --admin-token-file "$work/admin-token" --site-key-file none 2>"$work/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do (exec 3<>/dev/tcp/127.0.0.1/50082) 2>/dev/null && break; sleep 0.5; done
export ARBITER_TOKEN_FILE="$work/admin-token"
decide() {  # prints the wall time of one gRPC Decide in ms, or its error
  local start end
  start=$(date +%s%N)
  if "$bin/arbiter-tools" decide --port 50081 --customer 100042 --timeout-ms 5000 >/dev/null 2>"$work/decide.err"; then
    end=$(date +%s%N)
    echo "$(((end - start) / 1000000)) ms"
  else
    echo "failed: $(tr '\n' ' ' <"$work/decide.err")"
  fi
}
metric() { curl -s -H "Authorization: Bearer $(cat "$work/admin-token")" localhost:50083/metrics | grep "^$1" || true; }
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, descriptor limit $(ulimit -n), $(git rev-parse --short HEAD)"
echo "gRPC Decide before: $(decide)"
python3 - "$count" <<'PY' &
import socket, sys, time
held = []
for _ in range(int(sys.argv[1])):
    try:
        s = socket.create_connection(("127.0.0.1", 50082), timeout=5)
        s.sendall(b"ARB1")
        held.append(s)
    except OSError as error:
        print(f"client: stopped opening at {len(held)} connections: {error}", flush=True)
        break
print(f"client: {len(held)} connections opened and left silent", flush=True)
time.sleep(3600)
PY
clients=$!
trap 'kill $server $clients 2>/dev/null || true' EXIT
sleep 25
echo "while held:"
metric 'arbiter_connections_open{door="lean"}'
metric 'arbiter_connections_refused_total{door="lean"}'
metric 'arbiter_connections_limit{door="lean"}'
for i in 1 2 3; do echo "  gRPC Decide: $(decide)"; done
echo "after the idle timeout (${idle} s):"
sleep "$idle"
metric 'arbiter_connections_open{door="lean"}'
echo "  gRPC Decide: $(decide)"
