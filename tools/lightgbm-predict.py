#!/usr/bin/env python3
"""Loads a LightGBM text model with LightGBM itself and prints its raw scores for rows of a CSV.

Usage: python3 tools/lightgbm-predict.py MODEL.txt ROWS.csv
ROWS.csv has a header of the model's feature names; empty cells are NaN. Prints one raw score a
line, with 17 significant digits (what Arbiter's parity test compares bit for bit).
Creates .build/venv-ml with lightgbm 4.6.0 and numpy if missing.
"""
import os, sys

import ml_venv

ml_venv.ensure(['lightgbm', 'numpy'], ['lightgbm==4.6.0', 'numpy'])

import csv
import numpy as np
import lightgbm as lgb

model, rows = sys.argv[1], sys.argv[2]
booster = lgb.Booster(model_file=model)
with open(rows, newline="") as f:
    reader = csv.reader(f)
    header = next(reader)
    assert header == booster.feature_name(), f"columns {header} are not the model's {booster.feature_name()}"
    X = np.array([[float(v) if v != "" else np.nan for v in row] for row in reader], dtype=np.float64)
for score in booster.predict(X, raw_score=True):
    print(repr(float(score)))
