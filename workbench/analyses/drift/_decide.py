"""The decision: compare a batch with a reference profile, column by column."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench.analyses.drift import _categorical as cat
from workbench.analyses.drift import _numeric as num
from workbench.analyses.drift._batch import ABSENT, TYPE_CHANGED, BatchStats, ColumnStats, column_stats
from workbench.analyses.drift._distance import jensen_shannon, psi
from workbench.analyses.drift._profile import CategoricalProfile, NumericProfile, ReferenceProfile
from workbench.analyses.drift._result import DriftResult, make_result
from workbench.exceptions import DataError, ParameterError

ZERO_ROWS = ("batch has 0 rows: there is nothing to compare with the reference profile. "
             "Pass a batch with at least one row.")


@dataclass(frozen=True)
class _Rule:
    """The thresholds of one comparison."""

    alpha: float
    min_effect_numeric: float
    min_effect_categorical: float
    min_rows: int
    max_missing: float
    drift_share: float
    max_missing_increase: float


def compare(profile: ReferenceProfile, batch: pd.DataFrame | BatchStats, *, alpha: float = 0.05,
            min_effect_numeric: float = 0.05, min_effect_categorical: float = 0.05, min_rows: int = 30,
            max_missing: float = 0.5, drift_share: float = 0.5, max_missing_increase: float = 0.05) -> DriftResult:
    """Compare a batch with the reference profile; one explicit row per profiled column.

    Parameters
    ----------
    profile : ReferenceProfile
        From :func:`build_profile` (or :meth:`ReferenceProfile.load`).
    batch : pandas.DataFrame or BatchStats
        The new data, or its merged chunk statistics (:func:`batch_stats`,
        :func:`batch_stats_from_parquet`). A frame is processed one column at a time, so
        only one column's working arrays are alive at once.
    alpha : float
        Significance level of the KS (numeric) and chi-square (categorical) tests.
    min_effect_numeric : float
        Smallest Wasserstein-1 distance, in reference standard deviations, that counts as drift.
    min_effect_categorical : float
        Smallest Jensen-Shannon distance (base 2) that counts as drift.
    min_rows : int
        Fewer non-missing values than this in either sample: status ``"insufficient data"``.
        A batch of fewer rows than this is too small for any statistic: every column it holds
        (with its type) is ``"insufficient data"``, whatever its missing share.
    max_missing : float
        A batch missing share above this is an alert of its own (``"high missing share"``).
    drift_share : float
        The dataset drifts when at least this share of the columns drifted.
    max_missing_increase : float
        A batch missing share above the reference's by more than this (absolute) is an alert
        of its own (``"missing share increased"``); ``drifted`` still says whether the values drifted.

    Returns
    -------
    DriftResult

    Raises
    ------
    DataError
        When the batch has no rows.
    ValueError
        For a parameter out of range, or statistics computed against another profile.

    Notes
    -----
    In sketch mode the KS statistic comes from the binned CDFs and is at most the largest bin
    mass (about ``1/bins`` for the reference) below the exact one; the p-value is computed from
    that binned D with the true sample sizes. The Wasserstein error is at most the sum of bin
    widths times bin masses (about ``range/bins``), and the part outside the reference range is
    exact. Heavily tied values (every value of a column with at most ``bins`` distinct values)
    get a bin of their own, where both are exact.
    """
    rule = _check_rule(alpha, min_effect_numeric, min_effect_categorical, min_rows, max_missing, drift_share,
                       max_missing_increase)
    stats_of, rows = _source(profile, batch)
    if rows == 0:
        raise DataError(ZERO_ROWS)
    out = [_column_row(profile, name, stats_of(name), rule, tiny=rows < rule.min_rows) for name in profile.columns]
    return make_result(out, mode=profile.mode, alpha=alpha, drift_share=drift_share, n_reference=profile.rows,
                       n_batch=rows)


def _source(profile: ReferenceProfile, batch: Any) -> tuple[Callable[[str], ColumnStats], int]:
    """A function giving each column's statistics, and the batch's row count."""
    if isinstance(batch, BatchStats):
        if batch.profile_id != profile.profile_id or batch.mode != profile.mode:
            raise ParameterError(f"The batch statistics were computed against profile {batch.profile_id}, not this one "
                             f"({profile.profile_id}); compute them with batch_stats(chunk, profile) for this profile.")
        return batch.columns.__getitem__, batch.rows
    if isinstance(batch, pd.DataFrame):
        return (lambda name: column_stats(batch[name] if name in batch.columns else None, name, profile)), len(batch)
    raise ParameterError(f"The 'batch' parameter of compare must be a pandas DataFrame or BatchStats. "
                    f"Got {type(batch).__name__} instead.")


def _check_rule(alpha: float, min_effect_numeric: float, min_effect_categorical: float, min_rows: int,
                max_missing: float, drift_share: float, max_missing_increase: float) -> _Rule:
    """Validate compare's thresholds."""
    checks = [("alpha", alpha, 0 < _num(alpha) < 1, "a float in (0, 1)"),
              ("min_effect_numeric", min_effect_numeric, 0 <= _num(min_effect_numeric) < math.inf, "a float >= 0"),
              ("min_effect_categorical", min_effect_categorical, 0 <= _num(min_effect_categorical) <= 1,
               "a float in [0, 1]"),
              ("min_rows", min_rows, isinstance(min_rows, int | np.integer) and not isinstance(min_rows, bool)
               and min_rows >= 1, "an int >= 1"),
              ("max_missing", max_missing, 0 <= _num(max_missing) <= 1, "a float in [0, 1]"),
              ("drift_share", drift_share, 0 < _num(drift_share) <= 1, "a float in (0, 1]"),
              ("max_missing_increase", max_missing_increase, 0 <= _num(max_missing_increase) <= 1, "a float in [0, 1]")]
    for name, value, ok, constraint in checks:
        if not ok:
            raise ParameterError(f"The {name!r} parameter of compare must be {constraint}. Got {value!r} instead.")
    return _Rule(float(alpha), float(min_effect_numeric), float(min_effect_categorical), int(min_rows),
                 float(max_missing), float(drift_share), float(max_missing_increase))


def _num(value: Any) -> float:
    """``value`` as a float for range checks; NaN (failing every check) when it is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return math.nan
    return float(value)


def _column_row(profile: ReferenceProfile, name: str, stats: ColumnStats, rule: _Rule, *, tiny: bool) -> dict[str, Any]:
    """The result row of one column: statistics, status and decision (``tiny``: the batch has too few rows)."""
    numeric = name in profile.numeric
    ref = profile.numeric[name] if numeric else profile.categorical[name]
    threshold = rule.min_effect_numeric if numeric else rule.min_effect_categorical
    row = {"column": name, "kind": "numeric" if numeric else "categorical", "test": "ks" if numeric else "chi2",
           "statistic": math.nan, "p_value": math.nan, "wasserstein": math.nan, "psi": math.nan,
           "jensen_shannon": math.nan, "effect_size": math.nan, "effect_threshold": threshold, "alpha": rule.alpha,
           "drifted": False, "status": "ok", "n_reference": ref.count, "n_batch": stats.count,
           "missing_share_reference": _share(ref.missing, ref.count),
           "missing_share_batch": _share(stats.missing, stats.count), "unseen_categories": ""}
    if stats.state == ABSENT:
        return {**row, "status": "missing column", "n_batch": 0, "missing_share_batch": math.nan}
    if stats.state == TYPE_CHANGED:
        return {**row, "status": "type changed"}
    if stats.retyped:  # text that parses: the numbers are shown, the status names the change
        return {**row, **(_statistics(profile, name, stats) if ref.count and stats.count else {}), "status": "type changed"}
    high_missing = row["missing_share_batch"] > rule.max_missing
    if tiny:  # a handful of rows: neither shares nor distributions say anything yet
        return {**row, **(_statistics(profile, name, stats) if ref.count and stats.count else {}), "status": "insufficient data"}
    if ref.count == 0 or stats.count == 0:
        return {**row, "status": "empty column", "drifted": high_missing}
    row.update(_statistics(profile, name, stats))
    if high_missing:
        return {**row, "status": "high missing share", "drifted": True}
    too_few = min(ref.count, stats.count) < rule.min_rows or math.isnan(row["effect_size"])
    drifted = not too_few and row["p_value"] < rule.alpha and row["effect_size"] >= threshold
    if row["missing_share_batch"] - row["missing_share_reference"] > rule.max_missing_increase:
        return {**row, "status": "missing share increased", "drifted": bool(drifted)}
    if too_few:
        return {**row, "status": "insufficient data"}  # NaN effect: a constant reference has no scale
    return {**row, "status": "drift" if drifted else "ok", "drifted": drifted}


def _statistics(profile: ReferenceProfile, name: str, stats: ColumnStats) -> dict[str, Any]:
    """The test statistics of a column with values on both sides."""
    if name in profile.numeric:
        return _numeric_stats(profile.numeric[name], stats, profile.mode)
    return _categorical_stats(profile.categorical[name], stats)


def _share(missing: int, count: int) -> float:
    """Missing share of a column, NaN when it has no rows at all."""
    return missing / (missing + count) if missing + count else math.nan


def _numeric_stats(ref: NumericProfile, stats: ColumnStats, mode: str) -> dict[str, float]:
    """KS, normalised Wasserstein, PSI and Jensen-Shannon of a numeric column."""
    if mode == "exact":
        d, w = num.ks_wasserstein(ref.values, stats.values)
        batch_psi = num.counts_from_sorted(stats.values, ref.psi_edges)
    else:
        d, w = num.binned_ks_wasserstein(ref.edges, ref.counts, stats.bins, stats.below_sum, stats.above_sum)
        below = np.cumsum(stats.bins)[np.searchsorted(ref.edges, ref.psi_edges)]  # values < each PSI edge
        batch_psi = np.diff(below, prepend=0, append=stats.count)
    effect = w / ref.std if ref.std > 0 else (0.0 if w == 0 else math.nan)
    return {"statistic": d, "p_value": num.ks_pvalue(d, ref.count, stats.count), "wasserstein": effect,
            "effect_size": effect, "psi": psi(ref.psi_counts, batch_psi),
            "jensen_shannon": jensen_shannon(ref.psi_counts, batch_psi)}


def _categorical_stats(ref: CategoricalProfile, stats: ColumnStats) -> dict[str, Any]:
    """Chi-square, PSI and Jensen-Shannon of a categorical column, and its unseen levels."""
    reference, batch, unseen = cat.aligned(ref.counts, stats.levels)
    statistic, p_value = cat.chi2_test(reference, batch)
    distance = jensen_shannon(reference, batch)
    return {"statistic": statistic, "p_value": p_value, "psi": psi(reference, batch), "jensen_shannon": distance,
            "effect_size": distance, "unseen_categories": ",".join(unseen)}
