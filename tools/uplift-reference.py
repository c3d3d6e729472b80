#!/usr/bin/env python3
"""scikit-uplift as the reference for `arbiter-tools train-uplift`, on the same split.

Usage: python3 tools/uplift-reference.py OUT_DIR CSV --treatment COL --treated V --control V --target Y
       [--ignore a,b] [--approach two-model|class-transformation] [--rounds 100 --learning-rate 0.05
       --leaves 15 --min-data-in-leaf 100] [--tolerance 1e-9]
OUT_DIR is train-uplift's output. Two checks:
1. The metrics: scikit-uplift's qini_auc_score (negative effects counted), uplift_at_k (k=0.3, overall)
   and uplift_by_percentile on Arbiter's held-out predictions (scores.csv) against metrics.json, to the
   tolerance; a difference beyond it exits 1.
2. The models: scikit-uplift's TwoModels or ClassTransformation with LightGBM classifiers of the same
   settings, trained on the same training rows (split.csv) and scored by the same metric on the same
   held-out rows; both Qini coefficients are printed as `qini arbiter X sklift Y`.
Creates .build/venv-ml with scikit-uplift, lightgbm 4.6.0 and pandas if missing.
"""
import os, sys

import ml_venv

ml_venv.ensure(['sklift', 'lightgbm', 'pandas'], ['scikit-uplift==0.5.1', 'lightgbm==4.6.0', 'pandas', 'numpy'])

import argparse, json, warnings
warnings.filterwarnings("ignore", category=FutureWarning)
import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklift.metrics import qini_auc_score, uplift_at_k, uplift_by_percentile
from sklift.models import ClassTransformation, TwoModels

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("csv")
parser.add_argument("--treatment", required=True)
parser.add_argument("--treated", required=True)
parser.add_argument("--control", required=True)
parser.add_argument("--target", required=True)
parser.add_argument("--ignore", default="")
parser.add_argument("--approach", default="two-model")
parser.add_argument("--rounds", type=int, default=100)
parser.add_argument("--learning-rate", type=float, default=0.05)
parser.add_argument("--leaves", type=int, default=15)
parser.add_argument("--min-data-in-leaf", type=int, default=100)
parser.add_argument("--tolerance", type=float, default=1e-9)
args = parser.parse_args()

# 1. The metrics on Arbiter's own predictions.
scores = pd.read_csv(os.path.join(args.out, "scores.csv"))
with open(os.path.join(args.out, "metrics.json")) as f:
    metrics = json.load(f)
y, u, t = scores["outcome"].to_numpy(), scores["uplift"].to_numpy(), scores["treated"].to_numpy()
theirs = {
    "qini_coefficient": qini_auc_score(y, u, t, negative_effect=True),
    "uplift_at30": uplift_at_k(y, u, t, strategy="overall", k=0.3),
}
by_decile = uplift_by_percentile(y, u, t, strategy="overall", bins=10)["uplift"].to_numpy()[:10]
worst = max(abs(metrics[k] - v) for k, v in theirs.items())
ours_deciles = np.array([d["uplift"] for d in metrics["deciles"]])
worst = max(worst, float(np.max(np.abs(ours_deciles - by_decile))))
print(f"metrics: Arbiter {metrics['qini_coefficient']:.6f} / {metrics['uplift_at30']:.6f}, scikit-uplift "
      f"{theirs['qini_coefficient']:.6f} / {theirs['uplift_at30']:.6f}; largest difference {worst:.3g}")
if not worst <= args.tolerance:
    sys.exit(f"the metrics differ by {worst} > {args.tolerance}")

# 2. scikit-uplift's own model on the same split.
data = pd.read_csv(args.csv)
data = data[data[args.treatment].isin([args.treated, args.control])].reset_index(drop=True)
held_out = pd.read_csv(os.path.join(args.out, "split.csv"))["held_out"].to_numpy() == 1
assert len(held_out) == len(data), (len(held_out), len(data))
ignored = [c for c in args.ignore.split(",") if c]
features = data.drop(columns=[args.treatment, args.target] + ignored)
for column in features.columns:
    if not pd.api.types.is_numeric_dtype(features[column]):
        features[column] = features[column].astype("category")
treatment = (data[args.treatment] == args.treated).astype(int).to_numpy()
target = data[args.target].astype(int).to_numpy()

def classifier():
    return LGBMClassifier(n_estimators=args.rounds, learning_rate=args.learning_rate, num_leaves=args.leaves,
                          min_child_samples=args.min_data_in_leaf, verbose=-1, n_jobs=2)

if args.approach == "two-model":
    model = TwoModels(estimator_trmnt=classifier(), estimator_ctrl=classifier(), method="vanilla")
else:
    model = ClassTransformation(estimator=classifier())
train = ~held_out
model.fit(features[train], target[train], treatment[train])
predicted = model.predict(features[held_out])
qini = qini_auc_score(target[held_out], predicted, treatment[held_out], negative_effect=True)
print(f"qini arbiter {metrics['qini_coefficient']:.6f} sklift {qini:.6f}")
print(f"uplift_at30 arbiter {metrics['uplift_at30']:.6f} sklift "
      f"{uplift_at_k(target[held_out], predicted, treatment[held_out], strategy='overall', k=0.3):.6f}")
