#!/usr/bin/env python3
"""Arbiter's gradient-boosted tree trainer beside LightGBM, on the same folds, in one run.

For each data set (UCI Bank Marketing: bank-additional-full.csv and bank-full.csv from
../shared/data/bank_marketing, `duration` left out as it is only known after the call):
  1. assigns every row to one of 5 folds (numpy, seed 7) and writes the data with a `fold` column;
  2. runs `arbiter-tools train --csv … --split-column fold --folds 5` (release build, settings
     LightGBM's defaults, --threads N) and reads its per-fold AUC and training seconds;
  3. trains LightGBM 4.x with its default parameters (objective binary, num_threads N; categorical
     columns as pandas categories, so LightGBM splits them natively) on the same folds, timing
     lgb.train (which builds the Dataset's bins, as Arbiter's time includes its binning);
  4. prints both, the AUC difference and the time ratio, and appends them to --out as JSON.

Run:  python3 tools/compare-lightgbm.py [--threads 2] [--repeat 3] [--out compare.json]
(creates .build/venv-ml with lightgbm 4.6.0, pandas and numpy if missing; builds arbiter-tools in release)
"""
import argparse, json, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".build", "venv-ml")
DATA = os.path.join(ROOT, "..", "shared", "data", "bank_marketing")

def ensure_venv():
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        if not os.path.exists(python):
            subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([python, "-m", "pip", "install", "-q", "lightgbm==4.6.0", "pandas", "numpy"])
        os.execv(python, [python] + sys.argv)

ensure_venv()
import numpy as np, pandas as pd, lightgbm as lgb

def auc(scores, labels):
    order = np.argsort(scores, kind="mergesort")
    s, y = scores[order], labels[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    pos = y.sum(); neg = len(y) - pos
    return (ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=3, help="runs of each trainer; the fastest is reported")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    subprocess.check_call(["swift", "build", "-c", "release", "--product", "arbiter-tools"], cwd=ROOT,
                          stdout=subprocess.DEVNULL)
    tools = os.path.join(ROOT, ".build", "release", "arbiter-tools")
    results = []
    for name in ["bank-additional-full.csv", "bank-full.csv"]:
        frame = pd.read_csv(os.path.join(DATA, name), sep=";")
        frame = frame.drop(columns=["duration"])
        folds = np.random.default_rng(7).permutation(len(frame)) % 5
        work = tempfile.mkdtemp()
        path = os.path.join(work, name)
        with_fold = frame.copy()
        with_fold["fold"] = folds
        with_fold.to_csv(path, sep=";", index=False)

        ours = None
        for _ in range(args.repeat):
            metrics = os.path.join(work, "metrics.json")
            subprocess.check_call([tools, "train", "--csv", path, "--target", "y", "--split-column", "fold",
                                   "--folds", "5", "--threads", str(args.threads), "--out", os.path.join(work, "model"),
                                   "--metrics-json", metrics], stdout=subprocess.DEVNULL)
            run = json.load(open(metrics))["folds"]
            if ours is None or sum(run["seconds"]) < sum(ours["seconds"]):
                ours = run

        y = (frame["y"] == "yes").astype(int).to_numpy()
        X = frame.drop(columns=["y"])
        for column in X.columns:
            if not pd.api.types.is_numeric_dtype(X[column]):
                X[column] = X[column].astype("category")
        X.columns = [c.replace(".", "_") for c in X.columns]
        theirs = None
        for _ in range(args.repeat):
            aucs, seconds = [], []
            for k in range(5):
                train, test = folds != k, folds == k
                start = time.perf_counter()
                booster = lgb.train({"objective": "binary", "verbose": -1, "num_threads": args.threads},
                                    lgb.Dataset(X[train], y[train]))
                seconds.append(time.perf_counter() - start)
                aucs.append(auc(booster.predict(X[test]), y[test]))
            if theirs is None or sum(seconds) < sum(theirs["seconds"]):
                theirs = {"auc": aucs, "seconds": seconds}

        mean_ours, mean_theirs = np.mean(ours["auc"]), np.mean(theirs["auc"])
        time_ours, time_theirs = sum(ours["seconds"]), sum(theirs["seconds"])
        print(f"{name}: {len(frame)} rows, 5 folds, {args.threads} threads, fastest of {args.repeat}")
        for k in range(5):
            print(f"  fold {k + 1}: AUC Arbiter {ours['auc'][k]:.4f}  LightGBM {theirs['auc'][k]:.4f}   "
                  f"seconds Arbiter {ours['seconds'][k]:.3f}  LightGBM {theirs['seconds'][k]:.3f}")
        print(f"  mean AUC Arbiter {mean_ours:.4f}, LightGBM {mean_theirs:.4f}, difference {mean_ours - mean_theirs:+.4f}")
        print(f"  training time Arbiter {time_ours:.3f} s, LightGBM {time_theirs:.3f} s, ratio {time_ours / time_theirs:.2f}")
        results.append({"data": name, "rows": len(frame), "threads": args.threads, "lightgbm": lgb.__version__,
                        "arbiter": ours, "lightgbmRun": theirs, "aucDifference": mean_ours - mean_theirs,
                        "timeRatio": time_ours / time_theirs})
    if args.out:
        json.dump(results, open(args.out, "w"), indent=2)

main()
