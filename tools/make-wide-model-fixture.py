#!/usr/bin/env python3
"""A wider LightGBM fixture for the scoring benchmark and a second parity check.

The same UCI Bank Marketing data as make-model-fixtures.py, with the categorical inputs one-hot
encoded (one column per level except the first; "unknown" sets none), giving 46 numeric features
-- the "~48 features" of issue #4. LightGBM 200 trees x 31 leaves. Writes into
Tests/ArbiterTests/Fixtures/models/wide/:

  schema.json   the 46-feature Arbiter schema
  lightgbm.txt  LightGBM's text model
  parity.csv    1,000 real rows and 200 rows with NaNs, with LightGBM's own raw score

Run:  python3 tools/make-wide-model-fixture.py   (pip-installs lightgbm 4.6.0 if missing)
"""
import csv, json, os, sys
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data", "bank_marketing", "bank-additional-full.csv")
OUT = os.path.join(ROOT, "Tests", "ArbiterTests", "Fixtures", "models", "wide")

try:
    import lightgbm as lgb
except ImportError:
    import subprocess
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "lightgbm==4.6.0", "numpy"])
    import lightgbm as lgb

NUMERIC = ["age", "campaign", "pdays", "previous", "emp.var.rate", "cons.price.idx", "cons.conf.idx", "euribor3m", "nr.employed"]
CATEGORICAL = ["job", "marital", "education", "default", "housing", "loan", "contact", "month", "day_of_week", "poutcome"]

with open(DATA, newline="") as f:
    rows = list(csv.DictReader(f, delimiter=";"))
levels = {c: sorted({r[c] for r in rows if r[c] != "unknown"}) for c in CATEGORICAL}
columns = [(c, None) for c in NUMERIC] + [(c, level) for c in CATEGORICAL for level in levels[c][1:]]
features = [(c if level is None else f"{c}={level}").replace(".", "_").replace("-", "_") for c, level in columns]
X = np.array([[float(r[c]) if level is None else (1.0 if r[c] == level else 0.0) for c, level in columns] for r in rows])
X = X.astype(np.float32).astype(np.float64)
y = np.array([1 if r["y"] == "yes" else 0 for r in rows])

rng = np.random.default_rng(7)
order = rng.permutation(len(rows))
train, test = order[: int(0.8 * len(rows))], order[int(0.8 * len(rows)):]
os.makedirs(OUT, exist_ok=True)
booster = lgb.train(
    {"objective": "binary", "num_leaves": 31, "learning_rate": 0.05, "min_data_in_leaf": 20, "verbose": -1,
     "seed": 1, "deterministic": True, "num_threads": 1},
    lgb.Dataset(X[train], y[train], feature_name=features, free_raw_data=False), num_boost_round=200)
booster.save_model(os.path.join(OUT, "lightgbm.txt"))

base = X[test[:1000]].copy()
with_nan = X[test[1000:1200]].copy()
with_nan[rng.random(with_nan.shape) < 0.2] = np.nan
P = np.vstack([base, with_nan]).astype(np.float32).astype(np.float64)
raw = booster.predict(P, raw_score=True, num_threads=1)
with open(os.path.join(OUT, "parity.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(features + ["lightgbm_raw"])
    for i in range(len(P)):
        w.writerow(["" if np.isnan(v) else repr(float(np.float32(v))) for v in P[i]] + [repr(float(raw[i]))])

schema = {"customerFeatures": [{"name": n, "kind": {"type": "numeric"}, "description": n} for n in features], "contextFeatures": []}
with open(os.path.join(OUT, "schema.json"), "w") as f:
    json.dump(schema, f, indent=2, sort_keys=True)
    f.write("\n")
print(f"{len(features)} features, {len(P)} parity rows; lightgbm {lgb.__version__}; files in {OUT}")
