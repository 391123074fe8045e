"""Private releases of the aggregates monitoring publishes: drift distribution tables, bounded means, fairness group counts.

Neighbouring datasets differ by one individual's row added or removed (unbounded DP), so a
row moves a count by at most one; each function states the sensitivity it assumes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workbench.analyses.privacy._mechanisms import Release, laplace, noise_scale
from workbench.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

OTHER = "(other levels)"
DISTRIBUTION_COLUMNS = ["column", "kind", "bin", "low", "high", "reference_count", "batch_count", "reference_share", "batch_share"]


def private_distribution(table: pd.DataFrame, *, epsilon: float) -> tuple[pd.DataFrame, Release]:
    """The drift phase's distribution table with the batch's counts released under ``epsilon``-DP.

    A batch row falls in one bin per column (or in none, when missing), so the batch counts of
    all ``k`` columns together have L1 sensitivity ``k``: Laplace of scale ``k / epsilon`` on
    every count (the same as splitting epsilon evenly over the columns, sensitivity 1 each),
    then rounded and clipped at 0, and ``batch_share`` recomputed from the noisy counts.

    The bins released do not depend on the batch, or their presence alone would tell: the
    open-ended numeric bins ``distribution_table`` drops when both sides are empty are put
    back (count 0 before noise), and categorical levels seen only in the batch are merged
    into one ``(other levels)`` bin per categorical column, present in every release.

    Reference counts and shares are left exact: the reference is another dataset, with a
    budget of its own, and this release spends nothing from it.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`workbench.analyses.drift.distribution_table`'s output.
    epsilon : float
        Privacy loss of the release, spent from the batch's budget.

    Returns
    -------
    (pandas.DataFrame, Release)
        The table (same columns, plus ``epsilon``, the release's total, and ``noise_scale``, the
        Laplace scale of each count) and what was spent.
    """
    import pandas as pd

    scale_for = noise_scale(sensitivity=1.0, epsilon=epsilon, caller="private_distribution")  # checks epsilon
    missing = [c for c in DISTRIBUTION_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"private_distribution: the table lacks column(s) {', '.join(missing)}. "
                        "Fix: pass the output of workbench.analyses.drift.distribution_table.")
    parts = [_fixed_bins(group) for _, group in table.groupby("column", sort=False)]
    out = pd.concat(parts, ignore_index=True) if parts else table.loc[:, DISTRIBUTION_COLUMNS].copy()
    k = max(1, out["column"].nunique())
    noisy = laplace(out["batch_count"].to_numpy(dtype=float), sensitivity=float(k), epsilon=epsilon) if len(out) else np.empty(0)
    out["batch_count"] = np.clip(np.rint(noisy), 0.0, None)
    totals = out.groupby("column", sort=False)["batch_count"].transform("sum")
    out["batch_share"] = (out["batch_count"] / totals.where(totals > 0)).fillna(0.0)
    out["epsilon"] = float(epsilon)
    out["noise_scale"] = scale_for * k
    return out, Release("laplace", float(epsilon), 0.0, float(k), scale_for * k, f"batch counts of {len(out)} bins over {k} column(s)")


def _fixed_bins(group: pd.DataFrame) -> pd.DataFrame:
    """One column's rows with bins that depend on the reference only (see :func:`private_distribution`)."""
    import pandas as pd

    group = group.loc[:, DISTRIBUTION_COLUMNS].copy()
    name, kind = group["column"].iloc[0], group["kind"].iloc[0]
    if kind == "categorical":
        extra = group["reference_count"] == 0
        other = {"column": name, "kind": kind, "bin": OTHER, "low": np.nan, "high": np.nan, "reference_count": 0.0,
                 "batch_count": float(group.loc[extra, "batch_count"].sum()), "reference_share": 0.0, "batch_share": 0.0}
        return pd.concat([group[~extra], pd.DataFrame([other])], ignore_index=True)
    finite = group[np.isfinite(group["low"]) & np.isfinite(group["high"])]
    edges = np.unique(np.concatenate([finite["low"].to_numpy(dtype=float), finite["high"].to_numpy(dtype=float)]))
    rows = []
    if edges.size and not np.isneginf(group["low"]).any():
        rows.append(_empty_bin(name, -np.inf, edges[0]))
    rows.append(group)
    if edges.size and not np.isposinf(group["high"]).any():
        rows.append(_empty_bin(name, edges[-1], np.inf))
    return pd.concat(rows, ignore_index=True)


def _empty_bin(name: str, low: float, high: float) -> pd.DataFrame:
    import pandas as pd

    label = f"< {high:.4g}" if low == -np.inf else f"≥ {low:.4g}"
    return pd.DataFrame([{"column": name, "kind": "numeric", "bin": label, "low": low, "high": high, "reference_count": 0.0,
                          "batch_count": 0.0, "reference_share": 0.0, "batch_share": 0.0}])


def private_means(frame: pd.DataFrame, *, bounds: dict[str, tuple[float, float]], epsilon: float) -> tuple[pd.DataFrame, Release]:
    """Per bounded numeric column, the mean of its values clamped to the declared bounds, under ``epsilon``-DP.

    Each column costs two queries: the count of its non-missing values (sensitivity 1) and the
    sum of ``x - mid`` over them, ``x`` clamped to ``[lo, hi]`` and ``mid`` their midpoint
    (sensitivity ``(hi - lo) / 2``). Epsilon is split evenly over the ``2 m`` queries of ``m``
    columns: the count's Laplace scale is ``2 m / epsilon``, the sum's ``m (hi - lo) / epsilon``.
    The mean is ``mid + noisy sum / max(noisy count, 1)``, clipped to the bounds (post-processing).
    Values outside the bounds are clamped, which biases the mean: declare bounds that hold the data.

    Parameters
    ----------
    frame : pandas.DataFrame
        The dataset (one row per individual).
    bounds : dict of str to (float, float)
        Declared ``[lower, upper]`` per column; declared, not read from the data (that would leak).
    epsilon : float
        Privacy loss of the whole release.

    Returns
    -------
    (pandas.DataFrame, Release)
        One row per column: ``column, lower, upper, count, mean, epsilon, count_scale, sum_scale``
        (``count`` noisy and rounded, ``mean`` NaN when it is 0; scales in the column's units), and what was spent
        (sensitivity and scale in units of each column's half range).

    Raises
    ------
    DataError
        A bounded column is not in ``frame``.
    ParameterError
        No bounds, bounds not finite with lower < upper, or a bad ``epsilon``.
    """
    import pandas as pd

    checked = _check_bounds(bounds, frame, caller="private_means", empty_ok=False)
    m = len(checked)
    scale = noise_scale(sensitivity=2.0 * m, epsilon=epsilon, caller="private_means")
    exact = []
    for name, (lo, hi) in checked.items():
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        values = np.clip(values[np.isfinite(values)], lo, hi)
        exact += [float(values.size), float(((values - (lo + hi) / 2) / ((hi - lo) / 2)).sum())]  # the sum in half-range units
    noisy = laplace(exact, sensitivity=2.0 * m, epsilon=epsilon)
    rows = []
    for i, (name, (lo, hi)) in enumerate(checked.items()):
        half, count = (hi - lo) / 2, max(0.0, float(np.rint(noisy[2 * i])))
        # no value left after the noise: a mean would be the noise of the sum alone, clipped to a bound (post-processing either way)
        mean = float(np.clip((lo + hi) / 2 + noisy[2 * i + 1] * half / count, lo, hi)) if count >= 1 else float("nan")
        rows.append({"column": name, "lower": lo, "upper": hi, "count": count, "mean": mean, "epsilon": float(epsilon),
                     "count_scale": scale, "sum_scale": scale * half})
    return pd.DataFrame(rows), Release("laplace", float(epsilon), 0.0, 2.0 * m, scale,
                                       f"count and clamped sum (half-range units) of {m} column(s)")


def private_group_counts(table: pd.DataFrame, *, count_columns: list[str], epsilon: float) -> tuple[pd.DataFrame, Release]:
    """A fairness group table's counts released under ``epsilon``-DP.

    A row belongs to one group of each attribute (``attribute`` column: each sensitive column
    and their intersection) and adds at most one to each count column, so with ``a``
    attributes the whole table's counts have L1 sensitivity ``a * len(count_columns)``:
    Laplace of that scale over epsilon on every count, then rounded and clipped at 0.
    Columns computed from the exact rows (rates, intervals) would undo the noise and are
    dropped: recompute rates from the noisy counts (post-processing keeps the guarantee).

    The groups themselves are published as given: take them from the sensitive columns'
    declared levels, as a group present only because one person is in it is revealed by its row.

    Parameters
    ----------
    table : pandas.DataFrame
        E.g. :func:`workbench.analyses.fairness.group_table`'s output.
    count_columns : list of str
        The count columns to release (e.g. ``["count", "positives"]``).
    epsilon : float
        Privacy loss of the release.

    Returns
    -------
    (pandas.DataFrame, Release)
        The identifying (non-numeric) columns, the noisy counts, ``epsilon`` and ``noise_scale``.
    """
    import pandas as pd

    if not count_columns:
        raise ParameterError("The 'count_columns' parameter of private_group_counts must name at least one count column. Got [] instead.")
    missing = [c for c in count_columns if c not in table.columns]
    if missing:
        raise DataError(f"private_group_counts: the table lacks count column(s) {', '.join(missing)} "
                        f"(found {', '.join(map(str, table.columns[:20]))}). Fix: name columns of the group table.")
    attributes = table["attribute"].nunique() if "attribute" in table.columns and len(table) else 1
    sensitivity = float(max(1, attributes) * len(count_columns))
    scale = noise_scale(sensitivity=sensitivity, epsilon=epsilon, caller="private_group_counts")
    keys = [c for c in table.columns if c not in count_columns and not pd.api.types.is_numeric_dtype(table[c])]
    out = table.loc[:, keys].reset_index(drop=True)
    exact = table.loc[:, count_columns].to_numpy(dtype=float)
    noisy = np.clip(np.rint(laplace(exact, sensitivity=sensitivity, epsilon=epsilon)), 0.0, None)
    for j, name in enumerate(count_columns):
        out[name] = noisy[:, j]
    out["epsilon"], out["noise_scale"] = float(epsilon), scale
    return out, Release("laplace", float(epsilon), 0.0, sensitivity, scale,
                        f"{len(count_columns)} count column(s) of {len(table)} group(s) over {max(1, attributes)} attribute(s)")


def _check_bounds(bounds: dict[str, tuple[float, float]], frame: pd.DataFrame, *, caller: str, empty_ok: bool,
                  columns: list[str] | None = None) -> dict[str, tuple[float, float]]:
    """``bounds`` (of ``columns``, when given) as floats, checked: each finite with lower < upper, each column in ``frame``."""
    wanted = list(bounds) if columns is None else list(columns)
    if not wanted and not empty_ok:
        raise ParameterError(f"The 'bounds' parameter of {caller} must declare [lower, upper] for at least one column. Got {{}} instead.")
    unbounded = [c for c in wanted if c not in bounds]
    if unbounded:
        raise ParameterError(f"{caller}: column(s) {', '.join(unbounded)} have no declared bounds. "
                             f"Fix: declare privacy.bounds.{unbounded[0]}: [lower, upper].")
    out: dict[str, tuple[float, float]] = {}
    for name in wanted:
        try:
            lo, hi = (float(v) for v in bounds[name])
        except (TypeError, ValueError):
            raise ParameterError(f"{caller}: bounds of {name} must be [lower, upper]. Got {bounds[name]!r} instead.") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ParameterError(f"{caller}: bounds of {name} must be finite with lower < upper. Got {bounds[name]!r} instead.")
        if not np.isfinite(hi - lo):  # e.g. [-1e308, 1e308]: the sensitivity (the width) would be infinite
            raise ParameterError(f"{caller}: bounds of {name} are too wide: upper - lower overflows a float. Got {bounds[name]!r} instead. "
                                 "Fix: declare the range the column can really take.")
        out[name] = (lo, hi)
    absent = [c for c in out if c not in frame.columns]
    if absent:
        raise DataError(f"{caller}: column(s) {', '.join(absent)} are not in the data (found {', '.join(map(str, frame.columns[:20]))}). "
                        "Fix: pass only the bounds of columns the data holds.")
    return out


def _check_numeric(frame: pd.DataFrame, columns: list[str], *, caller: str) -> None:
    """DataError naming the ``columns`` of ``frame`` that are not numbers (text, categories, dates): noise on them means nothing.

    Without it ``pd.to_numeric(..., errors="coerce")`` turns a text column into NaN and a date
    into nanoseconds, and the "private" column silently carries no information or a wrong one.
    """
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    text = [f"{c} ({frame[c].dtype})" for c in columns if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))]
    if text:
        raise DataError(f"{caller}: column(s) {', '.join(text)} are not numeric; Laplace noise needs numbers. "
                        "Fix: privatize numeric columns only (encode a category as numbers first, or leave it out).")
