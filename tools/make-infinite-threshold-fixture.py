#!/usr/bin/env python3
"""A LightGBM fixture whose trees split at threshold `inf`, made with the real library.

LightGBM writes `threshold=inf` (missing type NaN, `decision_type=8`) for a split of "missing
against everything else" on a feature that is either missing or 0: the last non-missing bin's
upper bound is +inf, so `x <= inf` sends every present value (even +inf and -inf) left and NaN
the default way. Synthetic data (fixed seed), three features:

  balance    normal(0, 1)
  tenure     uniform(0, 10)
  complaint  0 for the 30% of customers with a complaint on file, missing for the others; a
             customer with one never accepts, so the model's margins for them are strongly
             negative (down to about -20, where the form of the sigmoid shows in the last bits)

LightGBM 40 trees x 8 leaves. Writes into Tests/ArbiterTests/Fixtures/models/infinite-threshold/:

  schema.json        the Arbiter feature schema of the three inputs
  lightgbm.txt       LightGBM's text model (checked to hold `inf` thresholds of missing type NaN)
  parity.csv         rows (held-out rows, rows with NaNs, rows with +inf, -inf, NaN, 0 and -0 in
                     each feature, rows on and next to split thresholds) with LightGBM's own raw
                     score and probability, predicted by the model read back from lightgbm.txt
  contributions.csv  LightGBM's own TreeSHAP contributions (pred_contrib) for every parity row

And a second model, trained with `sigmoid=0.5` (LightGBM's probability 1 / (1 + exp(-0.5 * z))),
20 trees x 8 leaves on the same data, into Tests/ArbiterTests/Fixtures/models/sigmoid/:

  schema.json        the same three inputs
  lightgbm.txt       LightGBM's text model (checked to say `objective=binary sigmoid:0.5`)
  parity.csv         the same rows with that model's own raw score and probability

Numbers are written as Python's repr of the float64 (shortest text that reads back to the same
bits); an empty cell is a missing value. Inputs are float32 values, as Arbiter stores float32.
Run:  python3 tools/make-infinite-threshold-fixture.py   (pip-installs lightgbm 4.6.0 if missing)
"""
import csv, json, os, sys
import numpy as np
from fixture_rows import threshold_edge_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ArbiterTests", "Fixtures", "models", "infinite-threshold")

try:
    import lightgbm as lgb
except ImportError:
    import subprocess
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "lightgbm==4.6.0", "numpy"])
    import lightgbm as lgb

features = ["balance", "tenure", "complaint"]
rng = np.random.default_rng(2026)
n = 6000
balance = rng.normal(size=n)
tenure = rng.uniform(0, 10, size=n)
has_complaint = rng.random(n) < 0.3
complaint = np.where(has_complaint, 0.0, np.nan)
margin = 1.2 * balance - 0.3 * tenure + 1.0
y = np.where(has_complaint, 0, (rng.random(n) < 1 / (1 + np.exp(-margin))).astype(int))
X = np.column_stack([balance, tenure, complaint]).astype(np.float32).astype(np.float64)
train, test = np.arange(0, 5000), np.arange(5000, n)

os.makedirs(OUT, exist_ok=True)
model_path = os.path.join(OUT, "lightgbm.txt")
trained = lgb.train(
    {"objective": "binary", "num_leaves": 8, "learning_rate": 0.5, "min_data_in_leaf": 20, "use_missing": True,
     "verbose": -1, "seed": 1, "deterministic": True, "num_threads": 1},
    lgb.Dataset(X[train], y[train], feature_name=features, free_raw_data=False), num_boost_round=40)
trained.save_model(model_path)
# Predict with the model as read back from the file, as Arbiter reads it.
booster = lgb.Booster(model_file=model_path)

# The text model, not dump_model(): the JSON dump writes 1e300 for inf.
infinite, thresholds, tree = 0, [], {}
with open(model_path) as f:
    for line in f:
        key, _, value = line.rstrip("\n").partition("=")
        if key in ("split_feature", "threshold", "decision_type"):
            tree[key] = value.split(" ")
        if key == "decision_type":
            for feature, text, decision in zip(tree["split_feature"], tree["threshold"], tree["decision_type"]):
                if text == "inf":
                    assert (int(decision) >> 2) & 3 == 2, f"threshold inf with decision_type {decision}"
                    infinite += 1
                else:
                    thresholds.append((int(feature), float(text)))
assert infinite > 0, "no split at threshold inf: the fixture would not exercise it"

# Rows: held-out rows, rows with NaNs, rows with special values in each feature, threshold edges.
base = X[test[:200]].copy()
with_nan = X[test[200:350]].copy()
with_nan[rng.random(with_nan.shape) < 0.3] = np.nan
special = []
for feature in range(len(features)):
    for value in (np.inf, -np.inf, np.nan, 0.0, -0.0):
        for _ in range(8):
            row = X[test[int(rng.integers(len(test)))]].copy()
            row[feature] = value
            special.append(row)
edges = threshold_edge_rows(X, test, thresholds, 60, rng)
P = np.vstack([base, with_nan, np.array(special), np.array(edges)]).astype(np.float32).astype(np.float64)

raw = booster.predict(P, raw_score=True, num_threads=1)
probability = booster.predict(P, num_threads=1)
assert np.array_equal(raw, trained.predict(P, raw_score=True, num_threads=1)), "the file does not score as the booster"
contributions = booster.predict(P, pred_contrib=True, num_threads=1)


def cell(v):
    return "" if np.isnan(v) else repr(float(np.float32(v)))


with open(os.path.join(OUT, "parity.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(features + ["lightgbm_raw", "lightgbm_probability"])
    for i in range(len(P)):
        w.writerow([cell(v) for v in P[i]] + [repr(float(raw[i])), repr(float(probability[i]))])
with open(os.path.join(OUT, "contributions.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow([f"lightgbm_{name}" for name in features] + ["lightgbm_bias"])
    for i in range(len(P)):
        w.writerow([repr(float(v)) for v in contributions[i]])

schema = {"customerFeatures": [{"name": name, "kind": {"type": "numeric"}, "description": name} for name in features],
          "contextFeatures": []}
with open(os.path.join(OUT, "schema.json"), "w") as f:
    json.dump(schema, f, indent=2, sort_keys=True)
    f.write("\n")

# The sigmoid model: its own directory, written after (and independent of) the files above.
SIGMOID_OUT = os.path.join(ROOT, "Tests", "ArbiterTests", "Fixtures", "models", "sigmoid")
os.makedirs(SIGMOID_OUT, exist_ok=True)
sigmoid_path = os.path.join(SIGMOID_OUT, "lightgbm.txt")
lgb.train(
    {"objective": "binary", "sigmoid": 0.5, "num_leaves": 8, "learning_rate": 0.5, "min_data_in_leaf": 20,
     "use_missing": True, "verbose": -1, "seed": 1, "deterministic": True, "num_threads": 1},
    lgb.Dataset(X[train], y[train], feature_name=features, free_raw_data=False), num_boost_round=20
).save_model(sigmoid_path)
with open(sigmoid_path) as f:
    assert "objective=binary sigmoid:0.5\n" in f.read(), "the model does not record sigmoid:0.5"
sigmoid_booster = lgb.Booster(model_file=sigmoid_path)
sigmoid_raw = sigmoid_booster.predict(P, raw_score=True, num_threads=1)
sigmoid_probability = sigmoid_booster.predict(P, num_threads=1)
assert np.array_equal(sigmoid_probability, 1.0 / (1.0 + np.exp(-0.5 * sigmoid_raw))), "not 1 / (1 + exp(-0.5 z))"
assert not np.array_equal(sigmoid_probability, 1.0 / (1.0 + np.exp(-sigmoid_raw))), "sigmoid 0.5 changes nothing"
with open(os.path.join(SIGMOID_OUT, "parity.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(features + ["lightgbm_raw", "lightgbm_probability"])
    for i in range(len(P)):
        w.writerow([cell(v) for v in P[i]] + [repr(float(sigmoid_raw[i])), repr(float(sigmoid_probability[i]))])
with open(os.path.join(SIGMOID_OUT, "schema.json"), "w") as f:
    json.dump(schema, f, indent=2, sort_keys=True)
    f.write("\n")

print(f"{len(P)} parity rows, {infinite} splits at inf, margins {raw.min():.2f}..{raw.max():.2f}; "
      f"lightgbm {lgb.__version__}; files in {OUT} and {SIGMOID_OUT}")
