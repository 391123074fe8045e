"""Performance change: primary metric on reference and batch, with a bootstrap interval of the difference."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.concept._checks import _check_task, _labelled
from workbench.exceptions import DataError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

PRIMARY = {"binary": ("roc_auc", True), "regression": ("rmse", False)}  # (metric, higher is better)
SECONDARY = {"binary": "accuracy", "regression": "mae"}
_CELLS = 4_000_000  # bootstrap weights are built in chunks of at most this many cells


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
