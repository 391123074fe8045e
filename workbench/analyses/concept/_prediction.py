"""Prediction drift: PSI of the batch scores against the reference scores, and the quantile cut points."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.concept._checks import _check_int, _check_task, _finite

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

EPSILON = 1e-4  # share floor for empty PSI bins


def prediction_drift(reference_scores: Any, batch_scores: Any, *, task: str, threshold: float = 0.1,
                     bins: int = 10, min_rows: int = 30) -> dict[str, Any]:
    """PSI of the batch scores against the reference scores (see the package docstring).

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
    min_rows : int
        Fewer finite batch scores than this: ``status`` is ``"insufficient data"`` and ``drift``
        is False (one row fills one bin, so its PSI is about 8 whatever the model does); the
        PSI is still reported.

    Returns
    -------
    dict
        ``status`` (``"ok"`` or ``"insufficient data"``, then with ``reason``), ``psi, threshold, drift, bins`` (list of ``{edge_low, edge_high, reference_share,
        batch_share}``), ``n_reference, n_batch, mean_reference, mean_batch, ks_statistic,
        ks_p_value, epsilon, dropped_reference, dropped_batch, task``.
    """
    import numpy as np

    _check_task(task, "prediction_drift")
    _check_int(bins, "bins", "prediction_drift", 2)
    _check_int(min_rows, "min_rows", "prediction_drift", 1)
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
    enough = new.size >= min_rows
    status = {"status": "ok"} if enough else {
        "status": "insufficient data", "reason": f"{new.size} scored rows, fewer than the minimum of {min_rows}"}
    return {**status, "psi": psi, "threshold": float(threshold), "drift": bool(enough and psi >= threshold), "bins": table,
            "n_reference": int(ref.size), "n_batch": int(new.size), "mean_reference": float(ref.mean()),
            "mean_batch": float(new.mean()), "ks_statistic": ks, "ks_p_value": ks_p, "epsilon": EPSILON,
            "dropped_reference": ref_dropped, "dropped_batch": new_dropped, "task": task, "min_rows": min_rows}


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
