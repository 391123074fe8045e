"""Private feature extraction (local DP per row) and the utility table that shows what it costs."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from workbench.analyses.privacy._mechanisms import Release, laplace, noise_scale
from workbench.analyses.privacy._releases import _check_bounds, _check_numeric
from workbench.exceptions import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def privatize_features(frame: pd.DataFrame, *, columns: Sequence[str], bounds: dict[str, tuple[float, float]],
                       epsilon: float) -> tuple[pd.DataFrame, Release]:
    """A copy of ``frame`` whose ``columns`` carry per-row Laplace noise: ``epsilon``-local DP for each row.

    Each value is clamped to its declared ``[lo, hi]``, then gets Laplace noise of scale
    ``k * (hi - lo) / epsilon`` for ``k`` columns: one row's ``k`` values together have L1
    sensitivity ``sum(hi - lo)`` in their units, and splitting epsilon evenly gives each column
    ``epsilon / k`` at sensitivity ``hi - lo``. The noise is unbiased and not clamped back, so
    its mean absolute size is the scale itself: at epsilon 1, one column spanning 72 years
    carries ~72 years of error per row. Only these columns are privatized; the other columns,
    the row count and which values are missing (NaN stays NaN) are not.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows to privatize (not changed).
    columns : sequence of str
        Numeric columns to privatize.
    bounds : dict of str to (float, float)
        Declared ``[lower, upper]`` of each column.
    epsilon : float
        Privacy loss per row over all ``columns``.

    Returns
    -------
    (pandas.DataFrame, Release)
        The privatized copy (those columns as float) and what each row spent (sensitivity
        ``k`` and scale ``k / epsilon`` in units of each column's range ``hi - lo``).

    Raises
    ------
    DataError
        A column is not in ``frame`` or is not numeric (text, categories, dates).
    ParameterError
        No columns, a column without bounds, bounds not finite with lower < upper, or a bad ``epsilon``.
    """
    import pandas as pd

    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns:
        raise ParameterError("The 'columns' parameter of privatize_features must name at least one column. Got [] instead.")
    checked = _check_bounds(bounds, frame, caller="privatize_features", empty_ok=False, columns=columns)
    _check_numeric(frame, list(checked), caller="privatize_features")
    k = len(checked)
    scale = noise_scale(sensitivity=float(k), epsilon=epsilon, caller="privatize_features")
    out = frame.copy()
    for name, (lo, hi) in checked.items():
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        kept = ~np.isnan(values)
        noisy = np.full(values.shape, np.nan)
        noisy[kept] = laplace(np.clip(values[kept], lo, hi), sensitivity=k * (hi - lo), epsilon=epsilon)
        out[name] = noisy
    return out, Release("laplace", float(epsilon), 0.0, float(k), scale,
                        f"per-row values of {k} column(s) ({', '.join(checked)}); units: each column's range")


def utility_table(train: pd.DataFrame, holdout: pd.DataFrame, *, fit_and_score: Callable[[pd.DataFrame, pd.DataFrame], float],
                  columns: Sequence[str], bounds: dict[str, tuple[float, float]], epsilons: Sequence[float],
                  greater_is_better: bool = True) -> pd.DataFrame:
    """The holdout metric with clean features against private ones at each epsilon: what privacy costs.

    Parameters
    ----------
    train, holdout : pandas.DataFrame
        The training and holdout rows.
    fit_and_score : callable
        ``fit_and_score(train_frame, holdout_frame) -> float``: fits the pipeline on the given
        train frame and returns its primary metric on the given holdout frame.
    columns : sequence of str
        The features to privatize (:func:`privatize_features`).
    bounds : dict of str to (float, float)
        Their declared bounds.
    epsilons : sequence of float
        The per-row epsilons to compare.
    greater_is_better : bool
        Whether a higher metric is better (AUC) or worse (RMSE); sets the sign of ``loss``.

    Returns
    -------
    pandas.DataFrame
        Rows ``clean`` then one per epsilon (``setting``): ``epsilon`` (NaN for clean),
        ``metric`` (trained on private features, scored on the clean holdout),
        ``metric_private_holdout`` (the holdout privatized too: the model in production on
        private features), ``loss`` (how much worse ``metric`` is than clean, in metric
        units), ``mean_abs_noise`` (average absolute change of the training values over the
        columns, in their units) and ``mean_abs_noise_<column>`` per column. The table is
        computed on the real data and is itself no private release.
    """
    import pandas as pd

    columns = [columns] if isinstance(columns, str) else list(columns)
    if not epsilons:
        raise ParameterError("The 'epsilons' parameter of utility_table must list at least one epsilon. Got [] instead.")
    for eps in epsilons:
        noise_scale(sensitivity=1.0, epsilon=eps, caller="utility_table")
    for frame, name in ((train, "utility_table (train)"), (holdout, "utility_table (holdout)")):
        _check_numeric(frame, list(_check_bounds(bounds, frame, caller=name, empty_ok=False, columns=columns)), caller=name)
    clean = float(fit_and_score(train, holdout))
    rows = [{"setting": "clean", "epsilon": math.nan, "metric": clean, "metric_private_holdout": clean, "loss": 0.0,
             "mean_abs_noise": 0.0, **{f"mean_abs_noise_{c}": 0.0 for c in columns}}]
    sign = 1.0 if greater_is_better else -1.0
    for eps in sorted(float(e) for e in epsilons):
        private_train, _ = privatize_features(train, columns=columns, bounds=bounds, epsilon=eps)
        private_holdout, _ = privatize_features(holdout, columns=columns, bounds=bounds, epsilon=eps)
        metric = float(fit_and_score(private_train, holdout))
        noise = {f"mean_abs_noise_{c}": _mean_abs(private_train[c].to_numpy(dtype=float) - pd.to_numeric(train[c], errors="coerce").to_numpy(dtype=float))
                 for c in columns}
        rows.append({"setting": f"epsilon={eps:g}", "epsilon": eps, "metric": metric,
                     "metric_private_holdout": float(fit_and_score(private_train, private_holdout)), "loss": sign * (clean - metric),
                     "mean_abs_noise": float(np.mean(list(noise.values()))), **noise})  # NaN when a column has no value
    return pd.DataFrame(rows)


def _mean_abs(diff: np.ndarray) -> float:
    """Mean absolute value of the non-missing entries; NaN (without numpy's empty-slice warning) for a column with no value."""
    kept = diff[~np.isnan(diff)]
    return float(np.abs(kept).mean()) if kept.size else math.nan
