"""Residual (feature) drift: per-feature change of the mean standardized residual, bin by bin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from workbench.analyses.concept._checks import _check_int, _check_task, _column, _floats, _require
from workbench.analyses.concept._prediction import _cuts
from workbench.exceptions import DataError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

P_CLIP = 1e-6  # binary scores are clipped to [P_CLIP, 1 - P_CLIP] before standardizing residuals
RESIDUAL_COLUMNS = ["feature", "kind", "score", "threshold", "p_value", "alpha", "drifted", "bins_used", "bins_pooled",
                    "bins_skipped", "n_reference", "n_batch", "worst_bin", "worst_bin_diff"]
MISSING, UNSEEN = "(missing)", "(unseen)"


def residual_drift(reference: pd.DataFrame, batch: pd.DataFrame, *, features: Iterable[str], numeric: Iterable[str],
                   task: str, threshold: float = 0.02, alpha: float = 0.05, bins: int = 10, min_bin: int = 20,
                   label: str = "y", score: str = "score") -> pd.DataFrame:
    """Which features the model now gets wrong: per-feature change of the mean standardized residual.

    Parameters
    ----------
    reference, batch : DataFrame
        Feature columns plus the ``label`` and ``score`` columns; rows missing either are dropped.
    features : iterable of str
        Features to test; those not in ``numeric`` are categorical.
    numeric : iterable of str
        Numeric feature names.
    task : {"binary", "regression"}
    threshold, alpha : float
        A feature drifts when ``p_value < alpha`` and ``score >= threshold``.
    bins, min_bin : int
        Reference quantile bins per numeric feature; minimum rows per bin on each side.

    Returns
    -------
    DataFrame
        One row per feature with :data:`RESIDUAL_COLUMNS`, sorted by ``score`` descending
        (features without a usable bin last, with NaN score).

    Raises
    ------
    DataError
        When a column is missing or the batch has no labels.
    """
    import numpy as np
    import pandas as pd

    _check_task(task, "residual_drift")
    _check_int(bins, "bins", "residual_drift", 2)
    _check_int(min_bin, "min_bin", "residual_drift", 2)
    features, numeric = list(features), set(numeric)
    _require(reference, [*features, label, score], "reference")
    if label not in batch.columns:
        raise DataError(f"batch: label column {label!r} is missing; residual drift needs labels. Fix: check for labels "
                        "first (performance_change reports 'no labels') and run residual drift once they arrive.")
    _require(batch, [*features, score], "batch")
    ref_y, ref_s = _column(reference, label, "reference"), _column(reference, score, "reference")
    new_y, new_s = _column(batch, label, "batch"), _column(batch, score, "batch")
    ref_keep, new_keep = np.isfinite(ref_y) & np.isfinite(ref_s), np.isfinite(new_y) & np.isfinite(new_s)
    if not new_keep.any():
        raise DataError(f"batch: label column {label!r} has no values (or no row has both a label and a {score!r}); "
                        "residual drift needs labels. Fix: run it once labels arrive.")
    if not ref_keep.any():
        raise DataError(f"reference: no row has both a {label!r} label and a {score!r}. Fix: score a labelled holdout.")
    ref_y, ref_s, new_y, new_s = ref_y[ref_keep], ref_s[ref_keep], new_y[new_keep], new_s[new_keep]
    sigma = 1.0
    if task == "regression":
        sigma = float(np.std(ref_y - ref_s, ddof=1)) if ref_y.size > 1 else 0.0
        sigma = sigma if np.isfinite(sigma) and sigma > 0 else 1.0  # a perfect reference fit: raw residuals
    ref_r, new_r = _standardized(ref_y, ref_s, task, sigma), _standardized(new_y, new_s, task, sigma)
    ref_rows, new_rows = reference.loc[ref_keep], batch.loc[new_keep]
    rows = []
    for f in features:
        kind = "numeric" if f in numeric else "categorical"
        binned = (_numeric_bins if kind == "numeric" else _categorical_bins)(ref_rows[f], new_rows[f], bins, f)
        rows.append({"feature": f, "kind": kind, **_compare(*binned, ref_r, new_r, min_bin, kind == "numeric"),
                     "threshold": float(threshold), "alpha": float(alpha), "n_reference": int(ref_r.size),
                     "n_batch": int(new_r.size)})
    frame = pd.DataFrame(rows, columns=RESIDUAL_COLUMNS)
    frame["drifted"] = (frame["p_value"] < alpha) & (frame["score"] >= threshold)
    return frame.sort_values("score", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def _standardized(y: np.ndarray, s: np.ndarray, task: str, sigma: float) -> np.ndarray:
    import numpy as np

    if task == "binary":
        p = np.clip(s, P_CLIP, 1 - P_CLIP)
        return (y - p) / np.sqrt(p * (1 - p))
    return (y - s) / sigma


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _numeric_bins(ref: pd.Series, new: pd.Series, bins: int, name: str) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Bin codes of both sides; value bins are ``(low, high)`` edges in order, then ``(missing)``."""
    import numpy as np

    ref, new = _floats(ref, f"reference: column {name!r}"), _floats(new, f"batch: column {name!r}")
    cuts = _cuts(ref[~np.isnan(ref)], bins)
    edges = np.concatenate([[-np.inf], cuts, [np.inf]])
    labels: list[Any] = [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def codes(x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), cuts.size + 1, np.searchsorted(cuts, x, side="right"))

    return codes(ref), codes(new), [*labels, MISSING]


def _categorical_bins(ref: pd.Series, new: pd.Series, bins: int, name: str) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Bin codes of both sides: reference levels (sorted as text), then ``(missing)``, ``(unseen)``."""
    import numpy as np
    import pandas as pd

    ref, new = ref.astype(object), new.astype(object)
    levels = sorted(pd.unique(ref[ref.notna()]), key=str)
    index = pd.Index(levels, dtype=object)

    def codes(x: pd.Series) -> np.ndarray:
        found = index.get_indexer(x)
        return np.where(x.isna().to_numpy(), len(levels), np.where(found < 0, len(levels) + 1, found))

    return codes(ref), codes(new), [str(v) for v in levels] + [MISSING, UNSEEN]


def _groups(n_ref: np.ndarray, n_new: np.ndarray, min_bin: int, ordered: bool) -> list[list[int]]:
    """Non-empty bins grouped: ordered (numeric value) bins merge rightwards until both sides reach ``min_bin``."""
    present = [b for b in range(n_ref.size) if n_ref[b] + n_new[b] > 0]
    if not ordered:
        return [[b] for b in present]
    groups: list[list[int]] = []
    current: list[int] = []
    for b in present:
        current.append(b)
        if n_ref[current].sum() >= min_bin and n_new[current].sum() >= min_bin:
            groups.append(current)
            current = []
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return groups


def _label(group: list[int], labels: list[Any]) -> str:
    first, last = labels[group[0]], labels[group[-1]]
    if isinstance(first, str):
        return first
    low, high = first[0], last[1]
    if low == -float("inf") and high == float("inf"):
        return "(all)"
    if low == -float("inf"):
        return f"< {_fmt(high)}"
    if high == float("inf"):
        return f">= {_fmt(low)}"
    return f"[{_fmt(low)}, {_fmt(high)})"


def _compare(ref_codes: np.ndarray, new_codes: np.ndarray, labels: list[Any], ref_r: np.ndarray, new_r: np.ndarray,
             min_bin: int, numeric: bool) -> dict[str, Any]:
    """Score, chi-square p-value and worst bin of one feature's binned residuals."""
    import numpy as np
    from scipy import stats

    k = len(labels)
    n_ref, n_new = np.bincount(ref_codes, minlength=k), np.bincount(new_codes, minlength=k)
    value_bins = k - 1 if numeric else k  # the (missing) bin of a numeric feature is never pooled
    groups = _groups(n_ref[:value_bins], n_new[:value_bins], min_bin, numeric)
    groups += [[b] for b in range(value_bins, k) if n_ref[b] + n_new[b] > 0]
    used = [g for g in groups if n_ref[g].sum() >= min_bin and n_new[g].sum() >= min_bin]
    out = {"bins_used": len(used), "bins_pooled": sum(len(g) - 1 for g in used),
           "bins_skipped": sum(len(g) for g in groups if g not in used)}
    if not used:
        return {**out, "score": np.nan, "p_value": np.nan, "worst_bin": None, "worst_bin_diff": np.nan}
    to_group = np.full(k, len(used))  # rows of skipped bins land in an extra, ignored group
    for i, g in enumerate(used):
        to_group[g] = i
    (mr, vr, nr), (mb, vb, nb) = _moments(to_group[ref_codes], ref_r, len(used)), _moments(to_group[new_codes], new_r, len(used))
    d = mb - mr
    v = np.maximum(vr, vb)  # a small skewed sample (few rows, no rare large residual) understates its variance
    se2 = v / nr + v / nb
    terms = np.divide(d**2, se2, out=np.where(d == 0, 0.0, np.inf), where=se2 > 0)
    worst = int(np.argmax(np.abs(d)))
    return {**out, "score": float(np.sum(nb / nb.sum() * np.abs(d))), "p_value": float(stats.chi2.sf(terms.sum(), len(used))),
            "worst_bin": _label(used[worst], labels), "worst_bin_diff": float(d[worst])}


def _moments(groups: np.ndarray, r: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group count, mean and variance (ddof 1) of ``r`` for groups 0 .. k-1."""
    import numpy as np

    n = np.bincount(groups, minlength=k + 1)[:k].astype(float)
    mean = np.bincount(groups, weights=r, minlength=k + 1)[:k] / n
    dev = r - np.r_[mean, 0.0][groups]
    var = np.bincount(groups, weights=dev**2, minlength=k + 1)[:k] / (n - 1)
    return mean, var, n
