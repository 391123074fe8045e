"""Categorical columns: level counts keyed by string, and the two-sample chi-square test.

Levels are compared by name: ``1``, ``1.0`` and ``"1"`` are the same level ``"1"`` (a column
of codes that picks up a missing value turns from int to float on the way through pandas).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd


def level_name(level: object) -> str:
    """The string a level is stored and compared under."""
    if isinstance(level, float | np.floating) and math.isfinite(level) and float(level).is_integer():
        return str(int(level))
    return str(level)


def level_counts(series: pd.Series) -> tuple[dict[str, int], int]:
    """Count of each non-missing level (by name), and the number of missing values."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    counts = np.bincount(codes + 1, minlength=len(uniques) + 1)  # slot 0: missing (code -1)
    named: dict[str, int] = {}
    for level, count in zip(uniques, counts[1:].tolist(), strict=True):
        if count:
            name = level_name(level)
            named[name] = named.get(name, 0) + count
    return named, int(counts[0])


def add_counts(first: Mapping[str, int], second: Mapping[str, int]) -> dict[str, int]:
    """Level counts of two chunks together."""
    total = dict(first)
    for name, count in second.items():
        total[name] = total.get(name, 0) + count
    return total


def aligned(reference: Mapping[str, int], batch: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Counts of both samples over the union of levels, and the batch levels the reference never saw."""
    unseen = sorted(set(batch) - set(reference))
    levels = list(reference) + unseen
    ref = np.array([reference.get(name, 0) for name in levels], dtype=np.int64)
    bat = np.array([batch.get(name, 0) for name in levels], dtype=np.int64)
    return ref, bat, [name for name in unseen if batch[name] > 0]


def chi2_test(reference: np.ndarray, batch: np.ndarray) -> tuple[float, float]:
    """Two-sample chi-square test of homogeneity on the 2 x L table of counts.

    Both samples are treated as random (``scipy.stats.chi2_contingency``; Yates' correction
    only for a 2 x 2 table, scipy's default). Levels absent from both samples are dropped; with
    fewer than two levels left there is nothing to test (statistic 0, p-value 1).
    """
    from scipy import stats

    keep = (reference + batch) > 0
    if np.count_nonzero(keep) < 2:
        return 0.0, 1.0
    result = stats.chi2_contingency(np.vstack([reference[keep], batch[keep]]))
    return float(result.statistic), float(result.pvalue)
