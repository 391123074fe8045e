"""Confidence-based performance estimation (CBPE) of a binary classifier on a batch without labels.

The published NannyML algorithm, written here because NannyML is unmaintained, sends usage
telemetry and pins a stack that conflicts with ours (its own install needs pandas < 3 and an
undeclared statsmodels). No library computes an *expected* confusion matrix or ROC curve from
calibrated probabilities, so the few array operations below are written by hand.

With ``score`` the model's raw P(y=1), ``prob`` the calibrated P(y=1) and the model's decision
``pred = score >= threshold``, each row contributes ``prob`` of a positive and ``1 - prob`` of a
negative, so the expected confusion counts of a batch are

``TP = sum(prob | pred)``, ``FP = sum(1 - prob | pred)``, ``FN = sum(prob | not pred)``,
``TN = sum(1 - prob | not pred)``,

and accuracy, precision, recall and F1 follow from them as from realised counts (a zero
denominator gives 0, scikit-learn's ``zero_division`` default). ROC AUC: rows are ranked by the
RAW score (the ranking the model makes; calibration may flatten it into ties), the expected true
and false positive counts are accumulated down the ranking with one ``argsort``, tied scores
forming one step (as :func:`sklearn.metrics.roc_curve`), and the expected curve is integrated by
the trapezoid rule. The estimate is right only while P(y | x) is unchanged (covariate shift):
under concept shift the calibrated probabilities are wrong and so is the estimate.

Sampling error: at fit time the reference is resampled with replacement ``RESAMPLES`` times at
its own size ``m`` (at most ``MAX_REFERENCE_ROWS`` rows; a larger reference is subsampled first);
the standard deviation ``sd_m`` of each realised metric over the resamples gives
``se(n) = sd_m * sqrt(m / n)`` for a batch of ``n`` rows. NannyML uses this resampling scheme for
average precision and closed-form per-row components for the other metrics; resampling gives
all five metrics from one rule. Confusion-matrix resamples are drawn as multinomial cell counts
(exactly the distribution of resampled rows' counts); ROC AUC resamples weight the reference
rows (sorted once) by their bootstrap multiplicities, so no resample is sorted again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")
RESAMPLES = 200  # relative error of a bootstrap standard deviation ~ 1/sqrt(2 * RESAMPLES) = 5 %
MAX_REFERENCE_ROWS = 50_000  # the sampling error of a bigger reference is measured on a subsample


class CBPE:
    """Estimate ROC AUC, accuracy, precision, recall and F1 of a binary model from calibrated probabilities.

    Parameters
    ----------
    threshold : float, default 0.5
        The model's decision threshold on the raw score: ``pred = score >= threshold``.
    metrics : sequence of str, default all of ``METRICS``
        Which metrics to estimate, a subset of ``("roc_auc", "accuracy", "precision", "recall", "f1")``.
    seed : int, default 0
        Seed of the reference resampling, so the sampling error is reproducible.

    Examples
    --------
    >>> cbpe = CBPE(threshold=0.5).fit(y_ref, scores_ref, probs_ref)  # doctest: +SKIP
    >>> cbpe.estimate(scores, probs)["roc_auc"]  # doctest: +SKIP
    {'value': 0.83, 'se': 0.0041, 'reference': 0.84, 'rows': 5000}
    """

    def __init__(self, *, threshold: float = 0.5, metrics: tuple[str, ...] | list[str] = METRICS, seed: int = 0) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
            raise ParameterError(f"The 'threshold' parameter of CBPE must be a number in (0, 1). Got {threshold!r} instead.")
        if isinstance(metrics, str) or not list(metrics):
            raise ParameterError(f"The 'metrics' parameter of CBPE must be a non-empty list of metric names. Got {metrics!r} instead. "
                                 f"Fix: choose from {list(METRICS)}.")
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            raise ParameterError(f"The 'metrics' parameter of CBPE names unknown metric(s) {unknown}. Fix: choose from {list(METRICS)}.")
        self.threshold = float(threshold)
        self.metrics = tuple(dict.fromkeys(metrics))
        self.seed = seed
        self.reference_: dict[str, float] | None = None  # realised metrics on the reference
        self.reference_rows_: int = 0
        self._se_unit: dict[str, float] = {}  # se(n) = _se_unit / sqrt(n)

    def fit(self, y_ref: Any, scores_ref: Any, probs_ref: Any) -> CBPE:
        """Measure the realised metrics and their sampling error on the labelled reference.

        Parameters
        ----------
        y_ref : array-like of 0/1
            Labels of the reference (the model's labelled holdout).
        scores_ref : array-like of float in [0, 1]
            The model's raw P(y=1) on the reference.
        probs_ref : array-like of float in [0, 1]
            Calibrated P(y=1) on the reference. Only checked here (the reference metrics are
            realised from the labels); passed so the reference is validated like a batch.

        Returns
        -------
        CBPE
            ``self``, fitted.

        Raises
        ------
        DataError
            Rows not aligned, no rows, labels other than 0/1 or missing, a single class, or
            scores/probabilities missing or outside [0, 1].
        """
        import numpy as np

        y = _vector(y_ref, "reference labels")
        scores, probs = _scores_and_probs(scores_ref, probs_ref, "reference")
        if y.size != scores.size:
            raise DataError(f"reference: {y.size} labels but {scores.size} scores and probs. "
                            "Fix: pass row-aligned labels, raw scores and calibrated probabilities.")
        _no_missing(y, "reference labels", "pass only the labelled rows of the reference")
        bad = np.setdiff1d(np.unique(y), [0.0, 1.0])
        if bad.size:
            raise DataError(f"reference labels must be 0 or 1; found {[float(v) for v in bad[:5]]}. Fix: encode the positive class as 1.")
        if np.unique(y).size < 2:
            raise DataError(f"reference labels hold only class {int(y[0])} ({y.size} rows); CBPE needs both classes. "
                            "Fix: fit on a labelled holdout with positive and negative rows.")
        self.reference_ = _realised(y, scores, self.threshold, self.metrics)
        self.reference_rows_ = int(y.size)
        self._se_unit = _sampling_error_units(y, scores, self.threshold, self.metrics, np.random.default_rng(self.seed))
        return self

    def estimate(self, scores: Any, probs: Any) -> dict[str, dict[str, Any]]:
        """Estimate each metric on a batch from its raw scores and calibrated probabilities.

        Parameters
        ----------
        scores : array-like of float in [0, 1]
            The model's raw P(y=1) on the batch (ranking and decisions).
        probs : array-like of float in [0, 1]
            Calibrated P(y=1) on the batch, row-aligned with ``scores``.

        Returns
        -------
        dict
            ``{metric: {"value", "se", "reference", "rows"}}``: the estimate, the sampling standard
            error of the metric for ``rows`` rows (from the reference), the realised reference
            value and ``len(scores)``. ROC AUC is NaN when the expected positives or negatives
            are zero (every prob 0, or every prob 1).

        Raises
        ------
        ParameterError
            Called before :meth:`fit`.
        DataError
            No rows, rows not aligned, or scores/probabilities missing or outside [0, 1].
        """
        import numpy as np

        if self.reference_ is None:
            raise ParameterError("CBPE.estimate was called before fit. Fix: call fit(y_ref, scores_ref, probs_ref) on the labelled holdout first.")
        s, p = _scores_and_probs(scores, probs, "batch")
        n = int(s.size)
        values = _expected(s, p, self.threshold, self.metrics)
        return {m: {"value": float(values[m]), "se": float(self._se_unit[m] / np.sqrt(n)),
                    "reference": float(self.reference_[m]), "rows": n} for m in self.metrics}


# ---------------------------------------------------------------- checks

def _vector(values: Any, what: str) -> np.ndarray:
    """``values`` as a 1-D float array (missing -> NaN); DataError naming ``what`` when not numeric."""
    import numpy as np
    import pandas as pd

    if np.ndim(values) > 1 and sum(d > 1 for d in np.shape(values)) > 1:
        raise DataError(f"{what} must be one value per row; got shape {np.shape(values)}. Fix: pass a 1-D array (e.g. predict_proba(X)[:, 1]).")
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(float, copy=False).ravel()
    try:
        series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object).ravel())
        return series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be numeric. Fix: pass numbers, one per row.") from None


def _no_missing(x: np.ndarray, what: str, fix: str) -> None:
    import numpy as np

    missing = ~np.isfinite(x)
    if missing.any():
        raise DataError(f"{what}: {int(missing.sum())} missing or infinite value(s), the first at row {int(np.argmax(missing))}. Fix: {fix}.")


def _unit_interval(x: np.ndarray, what: str, fix: str) -> None:
    import numpy as np

    _no_missing(x, what, fix)
    outside = (x < 0.0) | (x > 1.0)
    if outside.any():
        first = int(np.argmax(outside))
        raise DataError(f"{what}: {int(outside.sum())} value(s) outside [0, 1], the first {float(x[first])!r} at row {first}. Fix: {fix}.")


def _scores_and_probs(scores: Any, probs: Any, source: str) -> tuple[np.ndarray, np.ndarray]:
    s, p = _vector(scores, f"{source} scores"), _vector(probs, f"{source} probs")
    if s.size != p.size:
        raise DataError(f"{source}: {s.size} scores but {p.size} probs. Fix: pass row-aligned raw scores and calibrated probabilities.")
    if s.size == 0:
        raise DataError(f"{source}: 0 rows. Fix: pass at least one scored row.")
    _unit_interval(s, f"{source} scores", "pass the model's raw P(y=1) (predict_proba[:, 1]), one per row")
    _unit_interval(p, f"{source} probs", "pass calibrated probabilities P(y=1) (Calibrator.apply(scores)), one per row")
    return s, p


# ---------------------------------------------------------------- metrics

def _ratio(num: Any, den: Any) -> Any:
    """``num / den`` elementwise, 0 where ``den`` is 0 (scikit-learn's zero_division default)."""
    import numpy as np

    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


def _from_counts(tp: Any, fp: Any, fn: Any, tn: Any, metric: str) -> Any:
    """A confusion-matrix metric from (expected or realised, scalar or array) counts."""
    if metric == "accuracy":
        return _ratio(tp + tn, tp + fp + fn + tn)
    if metric == "precision":
        return _ratio(tp, tp + fp)
    if metric == "recall":
        return _ratio(tp, tp + fn)
    return _ratio(2 * tp, 2 * tp + fp + fn)  # f1


def _auc_sorted(desc_scores: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """Trapezoid ROC AUC of rows sorted by decreasing score, each weighing ``pos`` positives and ``neg`` negatives.

    Tied scores form one step of the curve (their last cumulative count), as in sklearn's ``roc_curve``.
    """
    import numpy as np

    last = np.r_[np.flatnonzero(np.diff(desc_scores)), desc_scores.size - 1]
    tps = np.r_[0.0, np.cumsum(pos)[last]]
    fps = np.r_[0.0, np.cumsum(neg)[last]]
    if tps[-1] <= 0 or fps[-1] <= 0:
        return float("nan")
    return float(np.dot(np.diff(fps), tps[1:] + tps[:-1]) / (2.0 * tps[-1] * fps[-1]))


def _roc_auc(scores: np.ndarray, pos: np.ndarray) -> float:
    """ROC AUC ranking by ``scores``, each row ``pos`` of a positive and ``1 - pos`` of a negative; one argsort."""
    order = (-scores).argsort()
    pos = pos[order]
    return _auc_sorted(scores[order], pos, 1.0 - pos)


def _expected(scores: np.ndarray, probs: np.ndarray, threshold: float, metrics: tuple[str, ...]) -> dict[str, float]:
    """Each metric from the expected confusion counts (``pos`` = calibrated probs) or the expected ROC curve."""
    return _metrics(scores, probs, threshold, metrics)


def _realised(y: np.ndarray, scores: np.ndarray, threshold: float, metrics: tuple[str, ...]) -> dict[str, float]:
    """The same metrics from labels: a label is a probability that is 0 or 1."""
    return _metrics(scores, y, threshold, metrics)


def _metrics(scores: np.ndarray, pos: np.ndarray, threshold: float, metrics: tuple[str, ...]) -> dict[str, float]:
    import numpy as np

    pred = scores >= threshold
    tp = float(pos[pred].sum())
    fp = float(np.count_nonzero(pred)) - tp
    fn = float(pos.sum()) - tp
    tn = scores.size - tp - fp - fn
    out = {m: float(_from_counts(tp, fp, fn, tn, m)) for m in metrics if m != "roc_auc"}
    if "roc_auc" in metrics:
        out["roc_auc"] = _roc_auc(scores, pos)
    return {m: out[m] for m in metrics}


def _sampling_error_units(y: np.ndarray, scores: np.ndarray, threshold: float, metrics: tuple[str, ...],
                          rng: np.random.Generator) -> dict[str, float]:
    """``sd_m * sqrt(m)`` of each realised metric over bootstrap resamples of the reference (size ``m``)."""
    import numpy as np

    if y.size > MAX_REFERENCE_ROWS:
        keep = rng.choice(y.size, MAX_REFERENCE_ROWS, replace=False)
        y, scores = y[keep], scores[keep]
    m = y.size
    pred = scores >= threshold
    cells = np.array([np.sum(pred & (y == 1)), np.sum(pred & (y == 0)), np.sum(~pred & (y == 1)), np.sum(~pred & (y == 0))])
    counts = rng.multinomial(m, cells / m, size=RESAMPLES).astype(float)  # rows: resamples; columns: tp, fp, fn, tn
    units = {}
    for metric in metrics:
        if metric == "roc_auc":
            order = (-scores).argsort()
            s_sorted, y_sorted = scores[order], y[order]
            values = np.empty(RESAMPLES)
            for b in range(RESAMPLES):
                w = np.bincount(rng.integers(0, m, m), minlength=m).astype(float)
                values[b] = _auc_sorted(s_sorted, y_sorted * w, (1.0 - y_sorted) * w)
        else:
            values = _from_counts(*counts.T, metric)
        units[metric] = float(np.nanstd(values, ddof=1) * np.sqrt(m))  # a resample with one class has no AUC
    return units
