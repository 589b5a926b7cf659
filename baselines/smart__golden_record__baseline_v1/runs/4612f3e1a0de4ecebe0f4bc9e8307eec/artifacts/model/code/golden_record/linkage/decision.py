"""The one rule that makes a scored pair a match, and the one way pairs are counted.

A pair is a match when its match probability is at least the threshold, the threshold snapped
to 12 decimal places first, so that ``np.arange(0, 1, 0.05)[19] == 0.9500000000000001`` behaves
like ``0.95`` everywhere: in training, evaluation, sweeps, bootstrap, golden records and the
logged model alike.
"""
from __future__ import annotations

import numpy as np

THRESHOLD_DECIMALS = 12


def snap(threshold: float) -> float:
    return round(float(threshold), THRESHOLD_DECIMALS)


def is_match(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean per pair: probability >= the (snapped) threshold."""
    return np.asarray(probabilities) >= snap(threshold)


def pairs_within(sizes: np.ndarray) -> int:
    """How many record pairs lie inside groups of these sizes (sum of n (n - 1) / 2)."""
    s = np.asarray(sizes, dtype=np.int64)
    return int((s * (s - 1) // 2).sum())


def pairs_per_group(sizes: np.ndarray) -> np.ndarray:
    """n (n - 1) / 2 for each group size, as int64."""
    s = np.asarray(sizes, dtype=np.int64)
    return s * (s - 1) // 2
