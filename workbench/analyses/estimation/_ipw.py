"""Metrics from reviewed feedback, weighted by the inverse of each row's chance of being reviewed.

The review queue over-samples uncertain rows, so the reviewed rows are not a random sample of the
batch: their plain accuracy is biased (low, as uncertain rows are the hard ones). Weighting each reviewed
row by ``1 / propensity`` (Horvitz-Thompson) removes that bias as long as every row had a known,
positive chance of review, which the queue's uniform control share guarantees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.estimation._calibration import _aligned, _floats
from workbench.analyses.estimation._compare import _check_task, _check_threshold, _inputs, _metrics
from workbench.exceptions import DataError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def _propensity(values: Any) -> np.ndarray:
    """Finite inclusion probabilities in (0, 1], or a DataError naming the problem."""
    p = _floats(values, "propensity")
    zero, above, below = int((p == 0).sum()), int((p > 1).sum()), int((p < 0).sum())
    if zero or below:
        raise DataError(f"propensity must be in (0, 1]; {zero + below} of {p.size} values are 0 or negative (min {float(p.min())!r}), "
                        "so those rows could never be reviewed and no weight makes up for them. "
                        "Fix: pass each reviewed row's probability of being drawn into the review queue.")
    if above:
        raise DataError(f"propensity must be in (0, 1]; {above} of {p.size} values are above 1 (max {float(p.max())!r}). "
                        "Fix: pass probabilities (not weights or counts) of being drawn into the review queue.")
    return p


def effective_rows(weights: Any) -> float:
    """Kish's effective sample size of weighted rows.

    Parameters
    ----------
    weights : array-like
        Non-negative row weights.

    Returns
    -------
    float
        ``sum(w) ** 2 / sum(w ** 2)``: the number of equally weighted rows with the same variance of a
        weighted mean. Equal weights give the row count; uneven weights give fewer.
    """
    import numpy as np

    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / (w**2).sum())


def ipw_metrics(y: Any, scores: Any, propensity: Any, *, task: str, threshold: float = 0.5) -> dict[str, dict]:
    """Metrics of reviewed rows, weighted by the inverse of their propensity of review.

    Parameters
    ----------
    y : array-like
        Reviewed labels (0 and 1) or true values.
    scores : array-like
        Binary: the raw ``predict_proba[:, 1]``; regression: the predictions.
    propensity : array-like
        Each reviewed row's probability of having been drawn into the review queue, in (0, 1].
    task : {"binary", "regression"}
    threshold : float
        The decision threshold (binary).

    Returns
    -------
    dict of str to dict
        The metrics of :func:`~workbench.analyses.estimation._compare.realised`, each
        ``{"value", "rows", "effective_rows"}``: the weighted value, the reviewed rows, and Kish's
        effective sample size of the weights (the rows an unweighted sample of equal precision would have).

    Notes
    -----
    scikit-learn's metrics with ``sample_weight = 1 / propensity`` give the self-normalised (Hajek)
    form of the Horvitz-Thompson estimator: the weighted sums are divided by the sum of the weights
    instead of the (unknown) batch size. It is consistent, its bias is of order 1 / rows, and it is the
    form that also applies to ratios (precision, recall, F1) and to ROC AUC.
    """
    _check_task(task)
    _check_threshold(threshold)
    yy, s = _inputs(y, scores, task)
    p = _propensity(propensity)
    _aligned(yy, p, ("y", "propensity"))
    weight = 1.0 / p
    ess = effective_rows(weight)
    return {name: {"value": value, "rows": int(yy.size), "effective_rows": ess}
            for name, value in _metrics(yy, s, task, threshold, weight).items()}
