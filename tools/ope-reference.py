#!/usr/bin/env python3
"""A reference implementation, in numpy, of the off-policy estimators of `arbiter-tools evaluate-policy`,
checked against Arbiter's output on the same inputs.

Usage: python3 tools/ope-reference.py OUT_DIR [--tolerance 1e-9]
OUT_DIR is an `evaluate-policy --write-rounds` output: ope.json and rounds-<n>.csv per candidate. For
every candidate, in total and per group, this recomputes from the rounds alone: the logged value,
IPW, self-normalised IPW, the direct method and doubly robust, their standard errors, the effective
sample size, the mean and largest weight, and the bootstrap percentile intervals (the same resamples:
SplitMix64 reimplemented here, vectorised) and compares each number with Arbiter's. Prints the largest
difference and exits 1 if any exceeds the tolerance.
Creates .build/venv-ml with numpy if missing.
"""
import os, sys

import ml_venv

ml_venv.ensure(['numpy'], ['numpy'])

import argparse, csv, json
import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MASK = (1 << 64) - 1


def splitmix_outputs(seed, start, count):
    """Outputs start+1 .. start+count of SeededGenerator(seed) (each call adds the golden gamma first)."""
    with np.errstate(over="ignore"):
        k = np.arange(start + 1, start + count + 1, dtype=np.uint64)
        z = np.uint64(seed) + k * GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def mix(value, salt):
    state = (value ^ ((salt * 0x9E3779B97F4A7C15) & MASK)) & MASK
    return int(splitmix_outputs(state, 0, 1)[0])


def standard_error(x):
    return 0.0 if len(x) < 2 else float(np.std(x, ddof=1) / np.sqrt(len(x)))


def estimates(rows, seed, replicates, level):
    mu, r, pi, qhat, vhat = rows
    n = len(r)
    w = pi / mu
    terms = {"logged": r, "ipw": w * r, "direct_method": vhat, "doubly_robust": vhat + w * (r - qhat)}
    values = {name: float(np.mean(t)) for name, t in terms.items()}
    values["snipw"] = float(np.sum(w * r) / np.sum(w)) if np.sum(w) > 0 else float("nan")
    errors = {name: standard_error(t) for name, t in terms.items()}
    errors["snipw"] = float(np.sqrt(np.sum((w * (r - values["snipw"])) ** 2)) / np.sum(w))
    result = {
        "rounds": n,
        "effective_sample_size": float(np.sum(w) ** 2 / np.sum(w * w)) if np.sum(w * w) > 0 else 0.0,
        "mean_weight": float(np.mean(w)),
        "max_weight": float(np.max(w)),
    }
    samples = {name: [] for name in values}
    limit = MASK - MASK % n
    for b in range(replicates):
        draws = splitmix_outputs(seed, b * n, n)
        if np.any(draws >= np.uint64(limit)):
            sys.exit("a bootstrap draw was rejected; this reference does not follow rejections")
        index = (draws % np.uint64(n)).astype(np.int64)
        for name, t in terms.items():
            samples[name].append(np.sum(t[index]) / n)
        sw = np.sum(w[index])
        if sw > 0:
            samples["snipw"].append(np.sum((w * r)[index]) / sw)
    tail = (1 - level) / 2
    for name in values:
        lower, upper = np.quantile(np.array(samples[name]), [tail, 1 - tail]) if replicates else (None, None)
        result[name] = {"value": values[name], "standard_error": errors[name], "lower": float(lower), "upper": float(upper)}
    return result


def read_rounds(path):
    groups, columns = [], [[] for _ in range(5)]
    with open(path, newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["group", "logged_probability", "reward", "target_probability", "predicted_reward",
                                "predicted_target_value"]
        for row in reader:
            groups.append(row[0])
            for k in range(5):
                columns[k].append(float(row[k + 1]))
    return np.array(groups), [np.array(c) for c in columns]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args()
    with open(os.path.join(args.out, "ope.json")) as f:
        reports = json.load(f)
    worst, failures = 0.0, []
    for number, report in enumerate(reports, start=1):
        options = report["evaluation"]["options"]
        groups, columns = read_rounds(os.path.join(args.out, f"rounds-{number}.csv"))
        names = sorted(set(groups))
        segments = [("total", np.ones(len(groups), bool), options["seed"])]
        segments += [(name, groups == name, mix(options["seed"], k + 1)) for k, name in enumerate(names)]
        theirs = {s["name"]: s for s in [report["evaluation"]["total"]] + report["evaluation"]["groups"]}
        for name, mask, seed in segments:
            ours = estimates([c[mask] for c in columns], seed, options["replicates"], options["level"])
            arbiter = theirs[name]
            for key, value in ours.items():
                pairs = value.items() if isinstance(value, dict) else [("", value)]
                for field, expected in pairs:
                    got = arbiter[key][field] if field else arbiter[key]
                    difference = abs(float(got) - float(expected))
                    worst = max(worst, difference)
                    if not difference <= args.tolerance:
                        failures.append(f"candidate {number} {name} {key} {field}: Arbiter {got}, numpy {expected}")
    print(f"{len(reports)} candidates; largest difference from numpy: {worst:.3g}")
    for failure in failures[:20]:
        print(failure)
    sys.exit(1 if failures else 0)


main()
