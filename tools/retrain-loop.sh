#!/usr/bin/env bash
# The closed loop on the demo bank, end to end through a real server (issue #16):
#   1. a weak first bundle: the demo bank generated with 5,000 customers' history, trained, its
#      policy exploring (epsilon-greedy, 30%);
#   2. the release server started on it (fresh store, interaction log, auth on);
#   3. `arbiter-tools play`: demo customers decided for through gRPC, each offer accepted or
#      declined as the hidden truth says, outcomes recorded through the API;
#   4. the server stopped (the log flushed), `train --from-log` retrains every offer from what it
#      logged (the features its models saw, weighted by capped 1/probability) into version 2,
#      validated as a reload;
#   5. `simulate` on both bundles: how close each comes to the oracle that knows the truth.
# Usage: tools/retrain-loop.sh [decisions] [work directory]   (default 60000, .build/retrain-loop)
set -euo pipefail
cd "$(dirname "$0")/.."
decisions=${1:-60000}
work=${2:-.build/retrain-loop}
swift build -c release --product arbiter >/dev/null
swift build -c release --product arbiter-tools >/dev/null
bin=$(swift build -c release --show-bin-path)
rm -rf "$work" && mkdir -p "$work"

"$bin/arbiter-tools" generate --seed 5 --customers 5000 --out "$work/demo-data" >/dev/null
python3 - "$work/demo-data/catalogue.json" <<'PY'
import json, sys
path = sys.argv[1]
catalogue = json.load(open(path))
catalogue["exploration"] = {"method": "epsilon-greedy", "epsilon": 0.3, "temperature": 0.2}
json.dump(catalogue, open(path, "w"), indent=2)
PY
"$bin/arbiter-tools" train --data "$work/demo-data" --out "$work/bundles" --version 1 | tail -1

"$bin/arbiter" serve --bundle "$work/bundles" --bundle-watch 0 --store "$work/store" --customers 100000 \
  --interaction-log "$work/interactions.jsonl" --port 50081 --lean-port off --http-port off --log-level warning \
  --admin-token-file "$work/admin-token" --site-key-file none >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 480); do
  if (exec 3<>/dev/tcp/127.0.0.1/50081) 2>/dev/null; then break; fi
  sleep 0.5
done
"$bin/arbiter-tools" play --port 50081 --token-file "$work/admin-token" --bundle "$work/bundles" \
  --decisions "$decisions" --customers 100000 --seed 9
kill -TERM $server && wait $server || true
trap - EXIT

"$bin/arbiter-tools" train --from-log "$work/interactions.jsonl" --bundle "$work/bundles/1" --out "$work/bundles" \
  --version 2 --weight-by-probability | tail -3
echo
for version in 1 2; do
  echo "== bundle $version =="
  "$bin/arbiter-tools" simulate --bundle "$work/bundles/$version" --interactions 20000 --seed 3 | grep -E "^(Arbiter|random|oracle)"
done
