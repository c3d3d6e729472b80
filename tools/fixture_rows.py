"""Rows for the model parity fixtures, shared by the tools/make-*-fixture scripts."""
import numpy as np


def threshold_edge_rows(X, test, thresholds, count, rng):
    """For up to `count` of the (feature, threshold) splits, three held-out rows whose feature is
    set to the threshold (as float32) and to the floats just above and below it."""
    edges = []
    for j in rng.choice(len(thresholds), size=min(count, len(thresholds)), replace=False):
        feature, threshold = thresholds[j]
        t = np.float32(threshold)
        for value in (t, np.nextafter(t, np.float32(np.inf)), np.nextafter(t, np.float32(-np.inf))):
            row = X[test[int(rng.integers(len(test)))]].copy()
            row[feature] = float(value)
            edges.append(row)
    return edges
