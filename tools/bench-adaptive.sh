#!/usr/bin/env bash
# Adaptive models against Vowpal Wabbit's contextual bandit, in one run (see BENCHMARKS.md):
# arbiter-tools adaptive-bench learns N demo-bank outcomes (one thread) and writes the same
# outcomes in VW's cb_explore_adf format (the customer's standardised features shared, each
# eligible offer with its offline log-odds, shared × offer interactions); VW 9 (pip's
# vowpalwabbit: `python -m vowpalwabbit` runs its C++ learner) learns them too. VW's time is its
# run on N examples less its run on 100 (start-up). Prints both rates and their ratio.
# Usage: tools/bench-adaptive.sh [N]   (default 200,000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200000}
swift build -c release --product arbiter-tools >/dev/null
bin="$(swift build -c release --show-bin-path)/arbiter-tools"
venv=.build/venv-vw
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
"$venv/bin/python" -c "import vowpalwabbit" 2>/dev/null || "$venv/bin/pip" install -q vowpalwabbit==9.11.9
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" adaptive-bench --outcomes "$n" --vw-file "$work/all.vw" | tee "$work/arbiter.txt"
# The first 100 examples (each ends with a blank line), for VW's start-up time.
awk -v RS= -v ORS='\n\n' 'NR <= 100' "$work/all.vw" > "$work/start.vw"
ours=$(grep -o '[0-9]* updates/s' "$work/arbiter.txt" | grep -o '^[0-9]*')
python3 - "$n" "$ours" "$venv/bin/python" "$work" <<'PY'
import subprocess, sys, time
n, ours, python, work = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
def run(path):
    began = time.perf_counter()
    subprocess.run([python, "-m", "vowpalwabbit", "--cb_explore_adf", "-q", "sa", "--quiet", "-d", path], check=True)
    return time.perf_counter() - began
run(f"{work}/start.vw")  # warm the page cache and the module
start = run(f"{work}/start.vw")
total = run(f"{work}/all.vw")
vw = (n - 100) / (total - start)
print(f"vowpal wabbit cb_explore_adf: {n} examples in {total:.2f} s (start-up {start:.2f} s): {vw:,.0f} updates/s")
print(f"arbiter: {ours:,.0f} updates/s; ratio arbiter / vw: {ours / vw:.1f}")
PY
