#!/usr/bin/env python3
"""Parity fixtures for Arbiter's tree-model importers, made with the real libraries.

Trains LightGBM (200 trees x 31 leaves, native categorical splits) and XGBoost (200 trees,
depth 6, binary:logistic) on UCI Bank Marketing (../shared/data/bank_marketing, `duration`
dropped) and writes into Tests/ArbiterTests/Fixtures/models/:

  schema.json     the Arbiter feature schema of the 19 inputs (categorical levels in code order)
  lightgbm.txt    LightGBM's text model
  xgboost.json    XGBoost's JSON model
  parity.csv      rows (real rows, rows with NaNs, rows exactly on and next to split
                  thresholds) with each library's own raw score and probability
  contributions.csv  each library's own TreeSHAP contributions (pred_contrib) for the first 600 rows
  sigmoid.csv     XGBoost's own margin and probability over margins from -121 to 39 (per-row
                  base_margin), for its float32 sigmoid, clamped below -88.7

Inputs are rounded to float32 before the libraries see them, as Arbiter stores float32.
Run:  python3 tools/make-model-fixtures.py   (pip-installs lightgbm 4.6.0 and xgboost-cpu 3.1.3 if missing)
"""
import csv, json, os, sys
import numpy as np
from fixture_rows import threshold_edge_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data", "bank_marketing", "bank-additional-full.csv")
OUT = os.path.join(ROOT, "Tests", "ArbiterTests", "Fixtures", "models")

try:
    import lightgbm as lgb
    import xgboost as xgb
except ImportError:
    import subprocess
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "lightgbm==4.6.0", "xgboost-cpu==3.1.3", "numpy"])
    import lightgbm as lgb
    import xgboost as xgb

NUMERIC = ["age", "campaign", "pdays", "previous", "emp.var.rate", "cons.price.idx", "cons.conf.idx", "euribor3m", "nr.employed"]
CATEGORICAL = ["job", "marital", "education", "default", "housing", "loan", "contact", "month", "day_of_week", "poutcome"]

def name(column):
    return column.replace(".", "_")

with open(DATA, newline="") as f:
    rows = list(csv.DictReader(f, delimiter=";"))
levels = {c: sorted({r[c] for r in rows if r[c] != "unknown"}) for c in CATEGORICAL}
features = [name(c) for c in NUMERIC + CATEGORICAL]
X = np.empty((len(rows), len(features)), dtype=np.float64)
for i, r in enumerate(rows):
    values = [float(r[c]) for c in NUMERIC]
    values += [float(levels[c].index(r[c])) if r[c] != "unknown" else np.nan for c in CATEGORICAL]
    X[i] = values
X = X.astype(np.float32).astype(np.float64)
y = np.array([1 if r["y"] == "yes" else 0 for r in rows])
categorical_idx = list(range(len(NUMERIC), len(features)))

rng = np.random.default_rng(42)
order = rng.permutation(len(rows))
train, test = order[: int(0.8 * len(rows))], order[int(0.8 * len(rows)):]

booster = lgb.train(
    {"objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "min_data_in_leaf": 20, "verbose": -1,
     "seed": 1, "deterministic": True, "num_threads": 1},
    lgb.Dataset(X[train], y[train], feature_name=features, categorical_feature=categorical_idx, free_raw_data=False),
    num_boost_round=200)
booster.save_model(os.path.join(OUT, "lightgbm.txt"))

dtrain = xgb.DMatrix(X[train], label=y[train], feature_names=features, missing=np.nan)
model = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "seed": 1, "nthread": 1, "tree_method": "hist"},
                  dtrain, num_boost_round=200)
model.save_model(os.path.join(OUT, "xgboost.json"))

# Rows: real test rows, rows with NaNs injected, rows on and next to split thresholds.
base = X[test[:2000]].copy()
with_nan = X[test[2000:2600]].copy()
mask = rng.random(with_nan.shape) < 0.25
with_nan[mask] = np.nan
thresholds = []
for tree in booster.dump_model()["tree_info"]:
    stack = [tree["tree_structure"]]
    while stack:
        node = stack.pop()
        if "split_feature" in node:
            if node["decision_type"] == "<=":
                thresholds.append((node["split_feature"], float(node["threshold"])))
            stack += [node["left_child"], node["right_child"]]
xgb_trees = json.loads(model.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
for tree in xgb_trees:
    for k, left in enumerate(tree["left_children"]):
        if left != -1:
            thresholds.append((tree["split_indices"][k], float(tree["split_conditions"][k])))
edges = threshold_edge_rows(X, test, thresholds, 400, rng)
P = np.vstack([base, with_nan, np.array(edges)]).astype(np.float32).astype(np.float64)

lgb_raw = booster.predict(P, raw_score=True, num_threads=1)
lgb_prob = booster.predict(P, num_threads=1)
dp = xgb.DMatrix(P, feature_names=features, missing=np.nan)
xgb_margin = model.predict(dp, output_margin=True)
xgb_prob = model.predict(dp)

with open(os.path.join(OUT, "parity.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(features + ["lightgbm_raw", "lightgbm_probability", "xgboost_margin", "xgboost_probability"])
    for i in range(len(P)):
        w.writerow(["" if np.isnan(v) else repr(float(np.float32(v))) for v in P[i]]
                   + [repr(float(lgb_raw[i])), repr(float(lgb_prob[i])), repr(float(xgb_margin[i])), repr(float(xgb_prob[i]))])

# Exact per-feature contributions (TreeSHAP) from each library, for the first 600 parity rows.
contrib_rows = P[:600]
lgb_contrib = booster.predict(contrib_rows, pred_contrib=True, num_threads=1)
xgb_contrib = model.predict(xgb.DMatrix(contrib_rows, feature_names=features, missing=np.nan), pred_contribs=True)
with open(os.path.join(OUT, "contributions.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow([f"lightgbm_{n}" for n in features] + ["lightgbm_bias"] + [f"xgboost_{n}" for n in features] + ["xgboost_bias"])
    for i in range(len(contrib_rows)):
        w.writerow([repr(float(v)) for v in lgb_contrib[i]] + [repr(float(v)) for v in xgb_contrib[i]])

# XGBoost's own sigmoid over a sweep of margins: all-missing rows, each with its base_margin.
sweep = np.linspace(-120, 40, 1601)
ds = xgb.DMatrix(np.full((len(sweep), len(features)), np.nan), feature_names=features, missing=np.nan, base_margin=sweep)
sweep_margin = model.predict(ds, output_margin=True)
sweep_prob = model.predict(ds)
with open(os.path.join(OUT, "sigmoid.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["xgboost_margin", "xgboost_probability"])
    for i in range(len(sweep)):
        w.writerow([repr(float(sweep_margin[i])), repr(float(sweep_prob[i]))])

schema = {
    "customerFeatures": [{"name": name(c), "kind": {"type": "numeric"}, "description": c} for c in NUMERIC]
    + [{"name": name(c), "kind": {"type": "categorical", "levels": levels[c]}, "description": c} for c in CATEGORICAL],
    "contextFeatures": [],
}
with open(os.path.join(OUT, "schema.json"), "w") as f:
    json.dump(schema, f, indent=2, sort_keys=True)
    f.write("\n")

print(f"{len(P)} parity rows; lightgbm {lgb.__version__}, xgboost {xgb.__version__}; "
      f"{len(thresholds)} split thresholds seen; files in {OUT}")
