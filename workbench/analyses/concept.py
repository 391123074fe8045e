"""Concept drift and feature drift of one monitored batch: pure functions over arrays and frames.

Binary tasks give scores = positive-class probabilities and labels 0/1; regression tasks give
predictions and numeric labels. Labels arrive late, so only :func:`prediction_drift` runs
without them; :func:`performance_change` reports ``"no labels"`` instead of failing, and
:func:`residual_drift` refuses a batch without labels (the caller checks first).

Prediction drift
    Population stability index of the batch scores against the reference scores (the model's
    scores on the reference holdout). Cut points are the reference score deciles
    ``quantile(ref, j/bins)`` for ``j = 1 .. bins-1`` (linear interpolation), deduplicated; bin
    ``b`` is ``[c_b, c_{b+1})``, the first bin is open below and the last open above (binary
    scores are clipped to [0, 1], so their outer edges are 0 and 1; regression's are -inf and
    +inf, ``null`` in JSON). With ``r_b`` and ``q_b`` the reference and batch shares, each
    floored at ``EPSILON`` = 1e-4 so an empty bin stays finite,
    ``PSI = sum_b (q_b - r_b) * ln(q_b / r_b)``; drift when ``PSI >= threshold``. The
    two-sample Kolmogorov-Smirnov statistic is reported for information.

Performance change
    The primary metric (ROC AUC for binary, RMSE for regression) on the reference and on the
    labelled batch rows; ``difference = batch - reference``. Its interval is a percentile
    bootstrap with the two samples resampled independently (the rows differ). The batch is
    ``degraded`` when the whole interval lies on the worse side of 0 (below 0 for AUC, above
    0 for RMSE). Fewer than ``min_labels`` labelled rows, or a single class, gives no verdict.

Residual (feature) drift
    Standardized residual of a row: binary ``(y - p) / sqrt(p (1 - p))`` with ``p`` clipped to
    [1e-6, 1 - 1e-6]; regression ``(y - yhat) / sigma`` with ``sigma`` the standard deviation
    (ddof 1) of the reference residuals. For a calibrated model it has mean 0 in every slice of
    the data, whatever the feature distribution, so a change of its mean within a slice means
    the relation between that slice and the label changed: the model is now wrong there.
    Slices are bins of one feature: reference quantile bins (cut points as above) for numeric
    features, with missing values in their own bin ``(missing)``; reference levels for
    categorical features, with ``(missing)`` and ``(unseen)`` (levels absent from the
    reference). Numeric value bins are pooled left to right until both sides hold at least
    ``min_bin`` rows (a small remainder at the top joins the bin before it); a pooled group is
    one bin below. Any bin still smaller than ``min_bin`` on either side - a ``(missing)`` bin,
    a small categorical level, ``(unseen)`` always (no reference rows) - is skipped. Both are
    counted (``bins_pooled``, ``bins_skipped``). Over the ``B`` bins used, with ``n_b``/``m_b``
    reference/batch rows, means ``mr_b``/``mb_b``, variances ``vr_b``/``vb_b`` (ddof 1) and
    ``d_b = mb_b - mr_b``:

    ``score = sum_b w_b |d_b|`` with ``w_b = m_b / sum_b m_b`` (the batch share among the bins
    used): the average change, in residual standard deviations, of the model's error for a
    batch row. Sampling noise alone makes it about ``sqrt(2/pi) sqrt(1/n_b + 1/m_b)`` per bin
    (0.07 for 400 and 200 rows), above the 0.02 threshold for any batch of ordinary size, so
    the threshold alone would flag almost every batch. Hence the test statistic

    ``T = sum_b d_b^2 / (v_b (1/n_b + 1/m_b))`` with ``v_b = max(vr_b, vb_b)``,

    chi-square with ``B`` degrees of freedom when nothing changed (each term is a squared z of
    one bin; bins are disjoint, so the terms are independent), ``p_value = P(chi2_B >= T)``.
    It is the Welch form ``vr_b/n_b + vb_b/m_b`` with each side's variance replaced by the
    larger of the two: a bin's residuals are skewed (a low-score bin is a small negative
    residual most of the time and a large positive one rarely), and a small sample that happens
    to miss the rare large residuals understates its variance by an order of magnitude, which
    made covariate-shifted tail bins look significant. With the larger variance, simulated
    false alarms at alpha 0.05 (300 seeds; 4,000 reference and 2,000 batch rows; logistic
    truth and model) were 2-4 % per feature with no change and 3-7 % under a one-SD shift
    of one feature (the model's small estimation error weighs differently where the rows went).

    A feature drifts when ``p_value < alpha`` AND ``score >= threshold``: the change is not
    noise, and it is large enough to matter (``threshold`` = 0.02 residual standard deviations
    by default, the seed's number; it only binds for large batches, where the test would call
    a negligible change significant). ``worst_bin`` is the used bin with the largest ``|d_b|``
    and ``worst_bin_diff`` its signed ``d_b`` (positive: the batch's labels are now higher than
    the model predicts there). A feature with no usable bin gets NaN ``score`` and
    ``p_value`` and is not drifted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from workbench.exceptions import DataError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

__all__ = ["EPSILON", "RESIDUAL_COLUMNS", "concept_verdict", "performance_change", "prediction_drift", "residual_drift"]

EPSILON = 1e-4  # share floor for empty PSI bins
P_CLIP = 1e-6  # binary scores are clipped to [P_CLIP, 1 - P_CLIP] before standardizing residuals
TASKS = ("binary", "regression")
PRIMARY = {"binary": ("roc_auc", True), "regression": ("rmse", False)}  # (metric, higher is better)
SECONDARY = {"binary": "accuracy", "regression": "mae"}
RESIDUAL_COLUMNS = ["feature", "kind", "score", "threshold", "p_value", "alpha", "drifted", "bins_used", "bins_pooled",
                    "bins_skipped", "n_reference", "n_batch", "worst_bin", "worst_bin_diff"]
MISSING, UNSEEN = "(missing)", "(unseen)"
_CELLS = 4_000_000  # bootstrap weights are built in chunks of at most this many cells


def prediction_drift(reference_scores: Any, batch_scores: Any, *, task: str, threshold: float = 0.1,
                     bins: int = 10) -> dict[str, Any]:
    """PSI of the batch scores against the reference scores (see the module docstring).

    Parameters
    ----------
    reference_scores, batch_scores : array-like of float
        Model scores; non-finite values are dropped and counted.
    task : {"binary", "regression"}
        Binary scores are clipped to [0, 1].
    threshold : float
        Drift when ``psi >= threshold``.
    bins : int
        Number of reference quantile bins before deduplication.

    Returns
    -------
    dict
        ``psi, threshold, drift, bins`` (list of ``{edge_low, edge_high, reference_share,
        batch_share}``), ``n_reference, n_batch, mean_reference, mean_batch, ks_statistic,
        ks_p_value, epsilon, dropped_reference, dropped_batch, task``.
    """
    import numpy as np

    _check_task(task, "prediction_drift")
    _check_int(bins, "bins", "prediction_drift", 2)
    ref, ref_dropped = _finite(reference_scores, "reference scores")
    new, new_dropped = _finite(batch_scores, "batch scores")
    lo, hi = (0.0, 1.0) if task == "binary" else (-np.inf, np.inf)
    ref, new = np.clip(ref, lo, hi), np.clip(new, lo, hi)
    cuts = _cuts(ref, bins)
    cuts = cuts[cuts > lo]  # a cut at 0 would only open an always-empty first bin
    r, q = _shares(ref, cuts), _shares(new, cuts)
    rf, qf = np.maximum(r, EPSILON), np.maximum(q, EPSILON)
    psi = float(np.sum((qf - rf) * np.log(qf / rf)))
    edges = np.concatenate([[lo], cuts, [hi]])
    table = [{"edge_low": float(a), "edge_high": float(b), "reference_share": float(x), "batch_share": float(y)}
             for a, b, x, y in zip(edges[:-1], edges[1:], r, q, strict=True)]
    ks, ks_p = _ks(ref, new)
    return {"psi": psi, "threshold": float(threshold), "drift": bool(psi >= threshold), "bins": table,
            "n_reference": int(ref.size), "n_batch": int(new.size), "mean_reference": float(ref.mean()),
            "mean_batch": float(new.mean()), "ks_statistic": ks, "ks_p_value": ks_p, "epsilon": EPSILON,
            "dropped_reference": ref_dropped, "dropped_batch": new_dropped, "task": task}


def performance_change(ref_y: Any, ref_scores: Any, batch_y: Any, batch_scores: Any, *, task: str,
                       n_bootstrap: int = 200, confidence: float = 0.95, seed: int = 0,
                       min_labels: int = 30) -> dict[str, Any]:
    """Primary metric on reference and batch, the difference with a bootstrap interval, and a verdict.

    Parameters
    ----------
    ref_y, ref_scores : array-like
        Labels and scores of the reference holdout (rows with a missing value are dropped).
    batch_y : array-like or None
        Batch labels; ``None`` or missing values when they have not arrived.
    batch_scores : array-like or None
        Batch scores, row-aligned with ``batch_y``.
    task : {"binary", "regression"}
    n_bootstrap, confidence, seed
        Independent percentile bootstrap of both samples; ``seed`` makes it reproducible.
    min_labels : int
        Fewer labelled batch rows than this gives ``"insufficient labels"``.

    Returns
    -------
    dict
        Always ``status`` (``"ok"``, ``"no labels"``, ``"insufficient labels"``), ``task, metric,
        higher_is_better, degraded`` (None unless ``"ok"``), ``n_reference, n_batch,
        n_labelled``; ``reason`` unless ``"ok"``. With ``"ok"`` also ``reference, batch,
        difference, low, high, confidence, n_bootstrap`` and ``secondary`` = ``{metric,
        reference, batch, difference}`` (accuracy at 0.5 or MAE, for information).
    """
    import numpy as np

    _check_task(task, "performance_change")
    metric, higher = PRIMARY[task]
    ry, rs = _labelled(ref_y, ref_scores, task, "reference")
    if ry.size < 2 or (task == "binary" and np.unique(ry).size < 2):
        raise DataError(f"reference: performance needs at least 2 labelled rows{' and both classes' if task == 'binary' else ''}"
                        f"; got {ry.size} rows. Fix: score a labelled reference holdout.")
    n_batch = 0 if batch_scores is None else int(np.size(batch_scores))
    out: dict[str, Any] = {"task": task, "metric": metric, "higher_is_better": higher, "degraded": None,
                           "n_reference": int(ry.size), "n_batch": n_batch, "n_labelled": 0}
    if batch_y is None or batch_scores is None:
        return {"status": "no labels", **out, "reason": "the batch has no labels yet"}
    by, bs = _labelled(batch_y, batch_scores, task, "batch")
    out["n_labelled"] = int(by.size)
    if by.size == 0:
        return {"status": "no labels", **out, "reason": "the batch has no labels yet"}
    if by.size < min_labels:
        return {"status": "insufficient labels", **out, "reason": f"{by.size} labelled rows; at least {min_labels} needed"}
    if task == "binary" and np.unique(by).size < 2:
        return {"status": "insufficient labels", **out,
                "reason": f"every labelled row has class {int(by[0])}; ROC AUC needs both classes"}
    stat = _auc if task == "binary" else _rmse
    ref_value, new_value = float(stat(ry, rs, np.ones((1, ry.size)))[0]), float(stat(by, bs, np.ones((1, by.size)))[0])
    rng = np.random.default_rng(seed)
    diffs = _bootstrap(stat, by, bs, n_bootstrap, rng) - _bootstrap(stat, ry, rs, n_bootstrap, rng)
    diffs = diffs[np.isfinite(diffs)]  # resamples with a single class have no AUC
    low, high = (np.quantile(diffs, [(1 - confidence) / 2, (1 + confidence) / 2]) if diffs.size else (np.nan, np.nan))
    degraded = bool(high < 0) if higher else bool(low > 0)
    second = SECONDARY[task]
    sec = _accuracy if task == "binary" else _mae
    secondary = {"metric": second, "reference": sec(ry, rs), "batch": sec(by, bs)}
    secondary["difference"] = secondary["batch"] - secondary["reference"]
    return {"status": "ok", **out, "degraded": degraded, "reference": ref_value, "batch": new_value,
            "difference": new_value - ref_value, "low": float(low), "high": float(high), "confidence": float(confidence),
            "n_bootstrap": int(n_bootstrap), "secondary": secondary}


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


def concept_verdict(prediction: dict[str, Any], performance: dict[str, Any] | None,
                    residuals: pd.DataFrame | None) -> dict[str, Any]:
    """Summarise the three analyses; ``reasons`` lists only what crossed a threshold.

    Concept drift when prediction PSI >= its threshold or performance degraded; feature drift
    when any feature drifted by residuals.

    Returns
    -------
    dict
        ``concept_drift, feature_drift, drifted_features, prediction_drift,
        performance_degraded, labels`` (the performance status, ``"no labels"`` without one),
        ``reasons`` and ``notes`` (what could not be assessed).
    """
    reasons, notes = [], []
    p = prediction
    if p["drift"]:
        reasons.append(f"prediction drift: score PSI {p['psi']:.3f} >= {p['threshold']:g}")
    status = performance.get("status", "ok") if performance else "no labels"
    degraded = bool(performance and performance.get("degraded"))
    if degraded:
        q = performance
        reasons.append(f"performance degraded: {q['metric']} {q['reference']:.3f} -> {q['batch']:.3f} (difference "
                       f"{q['difference']:+.3f}, {q['confidence']:.0%} interval [{q['low']:+.3f}, {q['high']:+.3f}])")
    elif status != "ok":
        reason = (performance or {}).get("reason")
        notes.append(f"performance not assessed: {status}" + (f" ({reason})" if reason else ""))
    drifted: list[str] = []
    if residuals is None:
        notes.append("feature drift by residuals not assessed (no labelled batch)")
    else:
        hits = residuals[residuals["drifted"].astype(bool)]
        drifted = [str(f) for f in hits["feature"]]
        if drifted:
            detail = ", ".join(f"{r.feature} (score {r.score:.3f}, p={r.p_value:.2g}, worst bin {r.worst_bin})"
                               for r in hits.itertuples())
            reasons.append(f"feature drift by residuals: {detail}")
    return {"concept_drift": bool(p["drift"]) or degraded, "feature_drift": bool(drifted), "drifted_features": drifted,
            "prediction_drift": bool(p["drift"]), "performance_degraded": degraded, "labels": status,
            "reasons": reasons, "notes": notes}


# --- validation and conversion -----------------------------------------------------------

def _check_task(task: str, caller: str) -> None:
    if task not in TASKS:
        raise ValueError(f"The 'task' parameter of {caller} must be 'binary' or 'regression'. Got {task!r} instead.")


def _check_int(value: int, name: str, caller: str, least: int) -> None:
    if not isinstance(value, int) or value < least:
        raise ValueError(f"The {name!r} parameter of {caller} must be an int >= {least}. Got {value!r} instead.")


def _floats(values: Any, what: str) -> np.ndarray:
    """``values`` as a 1-D float array (missing -> NaN); DataError naming ``what`` when not numeric."""
    import numpy as np
    import pandas as pd

    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(float).ravel()
    try:
        series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object).ravel())
        return series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be numeric. Fix: pass numbers (missing values as NaN).") from None


def _finite(values: Any, what: str) -> tuple[np.ndarray, int]:
    """The finite values and how many were dropped; DataError when none is left."""
    import numpy as np

    x = _floats(values, what)
    keep = np.isfinite(x)
    if not keep.any():
        raise DataError(f"{what}: no finite value among {x.size} rows. Fix: pass the model's scores for the rows.")
    return x[keep], int(x.size - keep.sum())


def _labelled(y: Any, s: Any, task: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows with both a label and a score; binary labels must be 0/1."""
    import numpy as np

    y, s = _floats(y, f"{source}: labels"), _floats(s, f"{source}: scores")
    if y.size != s.size:
        raise DataError(f"{source}: {y.size} labels but {s.size} scores. Fix: pass row-aligned labels and scores.")
    keep = np.isfinite(y) & np.isfinite(s)
    y, s = y[keep], s[keep]
    bad = np.setdiff1d(np.unique(y), [0.0, 1.0]) if task == "binary" else []
    if len(bad):
        raise DataError(f"{source}: binary labels must be 0 or 1; found {[float(v) for v in bad[:5]]}. "
                        "Fix: encode the positive class as 1.")
    return y, (np.clip(s, 0.0, 1.0) if task == "binary" else s)


def _require(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}. Fix: pass frames with the features, label and score columns.")


def _column(frame: pd.DataFrame, name: str, source: str) -> np.ndarray:
    return _floats(frame[name], f"{source}: column {name!r}")


# --- prediction drift ----------------------------------------------------------------------

def _cuts(values: np.ndarray, bins: int) -> np.ndarray:
    """Deduplicated interior quantile cut points ``quantile(values, j/bins)``, j = 1 .. bins-1."""
    import numpy as np

    if values.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1]))


def _shares(values: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.bincount(np.searchsorted(cuts, values, side="right"), minlength=cuts.size + 1) / values.size


def _ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    import warnings

    from scipy import stats

    with warnings.catch_warnings():  # scipy warns when it falls back from the exact to the asymptotic p-value
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ks_2samp(a, b)
    return float(res.statistic), float(res.pvalue)


# --- performance ---------------------------------------------------------------------------

def _bootstrap(stat: Any, y: np.ndarray, s: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``stat`` on ``n`` resamples with replacement, expressed as row-count weights (vectorised)."""
    import numpy as np

    rows, out = y.size, []
    step = max(1, _CELLS // rows)
    for start in range(0, n, step):
        k = min(step, n - start)
        idx = rng.integers(0, rows, size=(k, rows)) + rows * np.arange(k)[:, None]
        out.append(stat(y, s, np.bincount(idx.ravel(), minlength=k * rows).reshape(k, rows).astype(float)))
    return np.concatenate(out) if out else np.empty(0)


def _auc(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted ROC AUC per row of ``w`` (Mann-Whitney: ties count one half)."""
    import numpy as np

    order = np.argsort(s, kind="mergesort")
    y, s, w = y[order], s[order], w[:, order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos, neg = np.add.reduceat(w * y, starts, axis=1), np.add.reduceat(w * (1 - y), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    num, den = (pos * (below + 0.5 * neg)).sum(axis=1), pos.sum(axis=1) * neg.sum(axis=1)
    return np.divide(num, den, out=np.full(den.size, np.nan), where=den > 0)


def _rmse(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.sqrt(w @ (y - s) ** 2 / y.size)


def _accuracy(y: np.ndarray, s: np.ndarray) -> float:
    return float(((s >= 0.5) == (y == 1)).mean())


def _mae(y: np.ndarray, s: np.ndarray) -> float:
    import numpy as np

    return float(np.abs(y - s).mean())


# --- residual drift ------------------------------------------------------------------------

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
