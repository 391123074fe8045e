"""Realised metrics from labels, set beside the estimates; reliability tables; the concept-drift flag.

An estimate without labels (CBPE, DLE) assumes the relation between features and label is unchanged.
When labels arrive, a realised value outside the estimate's band on the worse side says that
assumption broke: concept drift is likely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.estimation._calibration import _aligned, _floats, _labels, _probabilities
from workbench.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

HIGHER_IS_BETTER = {"roc_auc": True, "accuracy": True, "precision": True, "recall": True, "f1": True, "mae": False, "rmse": False}
COMPARE_COLUMNS = ["metric", "estimated", "se", "low", "high", "realised", "gap", "within_band", "concept_drift_likely", "rows"]
RELIABILITY_COLUMNS = ["bucket", "low", "high", "rows", "mean_confidence", "accuracy", "gap"]
REGRESSION_RELIABILITY_COLUMNS = ["bucket", "low", "high", "rows", "mean_width", "coverage"]


def _check_task(task: str) -> None:
    if task not in ("binary", "regression"):
        raise ParameterError(f"task must be binary or regression; got {task!r}. Fix: pass task='binary' or task='regression'.")


def _check_threshold(threshold: float) -> None:
    if not 0 <= threshold <= 1:
        raise ParameterError(f"threshold must be in [0, 1]; got {threshold!r}. Fix: pass the serving threshold (default 0.5).")


def _check_buckets(buckets: int) -> None:
    if int(buckets) < 1:
        raise ParameterError(f"buckets must be at least 1; got {buckets!r}. Fix: pass buckets=10.")


def _inputs(y: Any, scores: Any, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Checked labels and scores (binary) or values and predictions (regression)."""
    if task == "binary":
        yy, s = _labels(y), _probabilities(scores, "scores")
    else:
        yy, s = _floats(y, "y"), _floats(scores, "predictions")
    _aligned(yy, s, ("y", "scores" if task == "binary" else "predictions"))
    return yy, s


def _metrics(y: np.ndarray, scores: np.ndarray, task: str, threshold: float, weight: np.ndarray | None) -> dict[str, float]:
    """The realised metrics, optionally weighted (used by :func:`realised` and by the IPW estimates)."""
    import numpy as np
    from sklearn import metrics

    if task == "regression":
        return {"mae": float(metrics.mean_absolute_error(y, scores, sample_weight=weight)),
                "rmse": float(np.sqrt(metrics.mean_squared_error(y, scores, sample_weight=weight)))}
    label = (scores >= threshold).astype(int)
    # ROC AUC is undefined with one class: NaN (sklearn would warn and return NaN)
    auc = float(metrics.roc_auc_score(y, scores, sample_weight=weight)) if np.unique(y).size == 2 else float("nan")
    kw = {"sample_weight": weight, "zero_division": 0.0}  # no predicted (or true) positives: 0, as sklearn's default, without a warning
    return {"roc_auc": auc, "accuracy": float(metrics.accuracy_score(y, label, sample_weight=weight)),
            "precision": float(metrics.precision_score(y, label, **kw)), "recall": float(metrics.recall_score(y, label, **kw)),
            "f1": float(metrics.f1_score(y, label, **kw))}


def realised(y: Any, scores: Any, *, task: str, threshold: float = 0.5) -> dict[str, float]:
    """The metrics the estimators estimate, computed from labels.

    Parameters
    ----------
    y : array-like
        Labels (0 and 1) or true values.
    scores : array-like
        Binary: the raw ``predict_proba[:, 1]`` (ROC AUC ranks by it; the decision label is
        ``score >= threshold``). Regression: the predictions.
    task : {"binary", "regression"}
    threshold : float
        The decision threshold (binary).

    Returns
    -------
    dict of str to float
        Binary: ``roc_auc`` (NaN when ``y`` holds one class), ``accuracy``, ``precision``, ``recall``,
        ``f1`` (0 when undefined: no predicted or no true positives). Regression: ``mae``, ``rmse``.
    """
    _check_task(task)
    _check_threshold(threshold)
    y, s = _inputs(y, scores, task)
    return _metrics(y, s, task, threshold, None)


def _value(x: Any, key: str = "value") -> float:
    """A number from a float or from a dict's ``key`` (``ipw_metrics`` gives ``{"value": ...}``); None is NaN."""
    if isinstance(x, dict):
        x = x.get(key)
    return float("nan") if x is None else float(x)


def compare(estimated: dict, realised: dict, *, band: float = 3.0, higher_is_better: dict | None = None) -> pd.DataFrame:
    """Each estimated metric beside its realised value, with the band and the concept-drift flag.

    Parameters
    ----------
    estimated : dict
        Metric -> ``{"value", "se", "rows", ...}`` (the output of an estimator's ``estimate``).
    realised : dict
        Metric -> realised value (float, or a dict with ``"value"``); a missing metric counts as NaN.
    band : float
        Half-width of the band in standard errors: ``[value - band * se, value + band * se]``.
    higher_is_better : dict, optional
        Metric -> bool, overriding :data:`HIGHER_IS_BETTER` (needed for any other metric).

    Returns
    -------
    pandas.DataFrame
        One row per estimated metric, columns :data:`COMPARE_COLUMNS`. ``gap`` is realised minus
        estimated. ``within_band`` is None when the se, the estimate or the realised value is NaN (then
        ``concept_drift_likely`` is False); ``concept_drift_likely`` is True when the realised value lies
        outside the band on the worse side (below it for a higher-is-better metric, above it otherwise),
        i.e. the model does worse than its unchanged-concept estimate allows.
    """
    import math

    import pandas as pd

    if not band >= 0:
        raise ParameterError(f"band must be a non-negative number of standard errors; got {band!r}. Fix: pass band=3.0.")
    direction = {**HIGHER_IS_BETTER, **(higher_is_better or {})}
    rows = []
    for metric, est in estimated.items():
        if metric not in direction:
            raise ParameterError(f"metric {metric!r} has no direction; known: {', '.join(sorted(direction))}. "
                                 f"Fix: pass higher_is_better={{{metric!r}: True}} (or False).")
        value, se, real = _value(est), _value(est, "se"), _value(realised.get(metric))
        low, high = value - band * se, value + band * se
        within, drift = None, False
        if not any(math.isnan(v) for v in (value, se, real)):
            within = bool(low <= real <= high)
            drift = bool(real < low) if direction[metric] else bool(real > high)
        rows.append({"metric": metric, "estimated": value, "se": se, "low": low, "high": high, "realised": real, "gap": real - value,
                     "within_band": within, "concept_drift_likely": drift, "rows": est.get("rows")})
    frame = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
    frame["within_band"] = frame["within_band"].astype(object)  # True, False or None, never NaN
    return frame


def _equal_width(values: np.ndarray, low: float, high: float, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-width bucket index over [low, high], and the edges.

    A value lands in the bucket whose edges (as reported) hold it, ``low <= v < high``; the top edge
    itself goes in the last bucket. All values equal (``high == low``) make one bucket.
    """
    import numpy as np

    edges = np.linspace(low, high, buckets + 1)
    if high <= low:
        return np.zeros(values.size, dtype=int), edges
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, buckets - 1), edges


def reliability(y: Any, probs: Any, *, buckets: int = 10, threshold: float = 0.5) -> pd.DataFrame:
    """Accuracy of the decision against its stated confidence, by confidence bucket (binary).

    Parameters
    ----------
    y : array-like of 0 and 1
    probs : array-like
        Calibrated P(y=1).
    buckets : int
        Equal-width confidence buckets; empty ones are dropped.
    threshold : float
        The decision threshold: the predicted label is ``probs >= threshold``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RELIABILITY_COLUMNS`: ``bucket`` (0-based index), its ``low`` and ``high``
        confidence, ``rows``, ``mean_confidence``, ``accuracy`` (share of rows whose predicted label is
        right) and ``gap`` = accuracy - mean_confidence (negative: over-confident).

    Notes
    -----
    The confidence of a row is the calibrated probability that its predicted label is right: ``p``
    when the label is 1, ``1 - p`` when it is 0. At the default threshold 0.5 that is ``max(p, 1 - p)``
    and the buckets span [0.5, 1]. Another threshold ``t`` can predict a label with probability below
    one half, so the buckets then span [min(t, 1 - t), 1]; ``max(p, 1 - p)`` would misstate the
    confidence of those decisions.
    """
    import numpy as np
    import pandas as pd

    # Written here: sklearn's calibration_curve bins P(y=1), not the confidence of the decision, and drops the counts.
    _check_buckets(buckets)
    _check_threshold(threshold)
    yy, p = _labels(y), _probabilities(probs, "probs")
    _aligned(yy, p, ("y", "probs"))
    label = (p >= threshold).astype(int)
    confidence = np.where(label == 1, p, 1 - p)
    lo, k = min(threshold, 1 - threshold), int(buckets)
    idx, edges = _equal_width(confidence, lo, 1.0, k)
    rows = []
    for b in np.unique(idx):  # only buckets that hold rows
        m = idx == b
        acc, conf = float((label[m] == yy[m]).mean()), float(confidence[m].mean())
        rows.append({"bucket": int(b), "low": float(edges[b]), "high": float(edges[b + 1]), "rows": int(m.sum()),
                     "mean_confidence": conf, "accuracy": acc, "gap": acc - conf})
    return pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)


def reliability_regression(y: Any, low: Any, high: Any, *, buckets: int = 10) -> pd.DataFrame:
    """Coverage of prediction intervals by interval-width bucket (regression).

    Parameters
    ----------
    y : array-like
        True values.
    low, high : array-like
        Interval bounds, row-aligned with ``y`` (``high >= low``).
    buckets : int
        Equal-width buckets over the observed widths; empty ones are dropped. Equal widths (as from a
        plain split-conformal interval) give one bucket.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REGRESSION_RELIABILITY_COLUMNS`: ``bucket``, its ``low`` and ``high`` width,
        ``rows``, ``mean_width`` and ``coverage`` (share of rows with ``low <= y <= high``).
    """
    import numpy as np
    import pandas as pd

    _check_buckets(buckets)
    yy, lo, hi = _floats(y, "y"), _floats(low, "low"), _floats(high, "high")
    _aligned(yy, lo, ("y", "low"))
    _aligned(yy, hi, ("y", "high"))
    width = hi - lo
    if (width < 0).any():
        raise DataError(f"high is below low in {int((width < 0).sum())} of {width.size} rows. Fix: pass the lower bound as low.")
    k, wmin, wmax = int(buckets), float(width.min()), float(width.max())
    idx, edges = _equal_width(width, wmin, wmax, k)
    covered = (lo <= yy) & (yy <= hi)
    rows = []
    for b in np.unique(idx):
        m = idx == b
        rows.append({"bucket": int(b), "low": float(edges[b]), "high": float(edges[b + 1]), "rows": int(m.sum()),
                     "mean_width": float(width[m].mean()), "coverage": float(covered[m].mean())})
    return pd.DataFrame(rows, columns=REGRESSION_RELIABILITY_COLUMNS)
