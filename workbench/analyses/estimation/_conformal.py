"""Split-conformal prediction sets (binary) and intervals (regression), conformalized by MAPIE.

MAPIE conformalizes a *prefit* estimator; the model here is already scored, so MAPIE gets a fixed-score
estimator whose input X is the score column itself (binary: ``predict_proba`` is ``[1 - s, s]``;
regression: ``predict`` is the prediction). Only the resulting quantile is stored (JSON, beside the model
version); :meth:`Conformal.sets` and :meth:`Conformal.intervals` apply it with numpy using MAPIE's own
rule, and a test checks they equal MAPIE's ``predict_set`` / ``predict_interval`` on fresh rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from workbench.analyses.estimation._calibration import _aligned, _floats, _labels, _probabilities
from workbench.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

TASKS = ("binary", "regression")
_MAPIE_EPSILON = 1e-8  # mapie._machine_precision.EPSILON: LAC keeps a label when (1 - p) - quantile <= this


@dataclass(frozen=True)
class Conformal:
    """A conformalized quantile and its honest check.

    Attributes
    ----------
    task : {"binary", "regression"}
    coverage : float
        Target coverage (MAPIE's ``confidence_level``).
    quantile : float
        MAPIE's conformity-score quantile, conformalized on all ``rows``. Binary: LAC score
        ``1 - P(true label)`` on the raw score; regression: absolute residual (the interval half-width).
    rows : int
        Rows conformalized on.
    holdout_coverage : float
        Share of rows whose set (interval) held the true label (value) when the quantile came from the
        other half of the rows: an honest estimate of the coverage on new rows.
    holdout_size : float
        In the same check, the mean set size (binary, 0 to 2) or the mean interval width (regression).
    check_rows : int
        Rows measured in that check (each once, by the quantile from the half it was not in).
    """

    task: str
    coverage: float
    quantile: float
    rows: int
    holdout_coverage: float
    holdout_size: float
    check_rows: int

    def sets(self, scores: Any) -> np.ndarray:
        """Binary prediction sets: the LAC rule on the raw score.

        Parameters
        ----------
        scores : array-like
            The model's raw ``predict_proba[:, 1]``.

        Returns
        -------
        numpy.ndarray of bool, shape (n, 2)
            ``[:, 0]``: label 0 is in the set, ``[:, 1]``: label 1 is. A set holds 0, 1 or 2 labels.
            Under LAC a label is in the set when its probability is at least ``1 - quantile``. Two
            labels (a score within ``[1 - quantile, quantile]``, possible when ``quantile > 0.5``): the
            model cannot tell at this coverage. No label (a score strictly between ``quantile`` and
            ``1 - quantile``, possible when ``quantile < 0.5``, i.e. a model more accurate than the
            target coverage): neither label is probable enough; such rows count as misses, and they are
            the model's least confident rows.
        """
        if self.task != "binary":
            raise ParameterError(f"sets() is for a binary Conformal; this one is {self.task}. Fix: call intervals(predictions).")
        return _lac_sets(_probabilities(scores, "scores"), self.quantile)

    def intervals(self, predictions: Any) -> tuple[np.ndarray, np.ndarray]:
        """Regression intervals: prediction ± quantile.

        Parameters
        ----------
        predictions : array-like
            The model's predictions.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Lower and upper bounds, each of shape (n,); the width is ``2 * quantile``.
        """
        if self.task != "regression":
            raise ParameterError(f"intervals() is for a regression Conformal; this one is {self.task}. Fix: call sets(scores).")
        return _bounds(_floats(predictions, "predictions"), self.quantile)

    def to_dict(self) -> dict:
        """A JSON-safe dict; :meth:`from_dict` rebuilds an identical object.

        Returns
        -------
        dict
            Every attribute, as Python str, float and int.
        """
        return {"task": self.task, "coverage": float(self.coverage), "quantile": float(self.quantile), "rows": int(self.rows),
                "holdout_coverage": float(self.holdout_coverage), "holdout_size": float(self.holdout_size),
                "check_rows": int(self.check_rows)}

    @classmethod
    def from_dict(cls, d: dict) -> Conformal:
        """Rebuild a :class:`Conformal` stored with :meth:`to_dict`.

        Parameters
        ----------
        d : dict

        Returns
        -------
        Conformal
        """
        keys = {"task", "coverage", "quantile", "rows", "holdout_coverage", "holdout_size", "check_rows"}
        if not isinstance(d, dict) or set(d) != keys or d["task"] not in TASKS:
            raise DataError(f"conformal: {d!r:.200} is not a dict from Conformal.to_dict() (keys {', '.join(sorted(keys))}). "
                            "Fix: store and load the dict from Conformal.to_dict() unchanged.")
        return cls(task=d["task"], coverage=float(d["coverage"]), quantile=float(d["quantile"]), rows=int(d["rows"]),
                   holdout_coverage=float(d["holdout_coverage"]), holdout_size=float(d["holdout_size"]), check_rows=int(d["check_rows"]))


def _lac_sets(scores: np.ndarray, quantile: float) -> np.ndarray:
    """MAPIE's LAC rule (prefit): label k is in the set when (1 - p_k) - quantile <= EPSILON."""
    import numpy as np

    proba = np.column_stack([1 - scores, scores])  # exactly what the fixed-score estimator gives MAPIE
    return np.less_equal((1 - proba) - quantile, _MAPIE_EPSILON)


def _bounds(predictions: np.ndarray, quantile: float) -> tuple[np.ndarray, np.ndarray]:
    return predictions + (-quantile), predictions + quantile  # MAPIE adds the signed quantile: same floats


@lru_cache(maxsize=1)
def _fixed_estimators() -> tuple[type, type]:
    """Estimator classes whose input X is the score column; defined lazily so sklearn loads only when needed."""
    import numpy as np
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

    class FixedScoreClassifier(ClassifierMixin, BaseEstimator):
        """``predict_proba(X) = [1 - X[:, 0], X[:, 0]]``: the model's raw score, already computed."""

        def fit(self, X: Any = None, y: Any = None) -> FixedScoreClassifier:
            self.classes_, self.n_features_in_ = np.array([0, 1]), 1
            return self

        def predict_proba(self, X: Any) -> np.ndarray:
            s = np.asarray(X, dtype=float)[:, 0]
            return np.column_stack([1 - s, s])

        def predict(self, X: Any) -> np.ndarray:
            return self.predict_proba(X).argmax(axis=1)

    class FixedPrediction(RegressorMixin, BaseEstimator):
        """``predict(X) = X[:, 0]``: the model's prediction, already computed."""

        def fit(self, X: Any = None, y: Any = None) -> FixedPrediction:
            self.n_features_in_ = 1
            return self

        def predict(self, X: Any) -> np.ndarray:
            return np.asarray(X, dtype=float)[:, 0]

    return FixedScoreClassifier, FixedPrediction


def _mapie_quantile(task: str, y: np.ndarray, x: np.ndarray, coverage: float) -> float:
    """MAPIE's conformity-score quantile from conformalizing the fixed-score estimator on ``y, x``."""
    import numpy as np

    classifier, regressor = _fixed_estimators()
    if task == "binary":
        from mapie.classification import SplitConformalClassifier
        from mapie.conformity_scores import LACConformityScore

        score = LACConformityScore()
        mapie = SplitConformalClassifier(classifier().fit(), confidence_level=coverage, conformity_score=score, prefit=True)
        mapie.conformalize(x[:, None], y)
        mapie.predict_set(np.array([[0.5]]))  # MAPIE computes the quantile (score.quantiles_) when it predicts
        return float(score.quantiles_[0])
    from mapie.regression import SplitConformalRegressor

    mapie = SplitConformalRegressor(regressor().fit(), confidence_level=coverage, conformity_score="absolute", prefit=True)
    mapie.conformalize(x[:, None], y)
    _, bounds = mapie.predict_interval(np.zeros((1, 1)))  # at prediction 0 the upper bound is the quantile itself
    return float(bounds[0, 1, 0])


def _min_rows(coverage: float) -> int:
    """Fewest rows MAPIE conformalizes on at this coverage (its own two conditions, with its own alpha)."""
    alpha = float(Decimal("1") - Decimal(str(coverage)))  # as mapie.utils._transform_confidence_level_to_alpha
    n = 1
    while n < max(1 / alpha, 1 / (1 - alpha)) or math.ceil((n + 1) * (1 - alpha)) > n:
        n += 1
    return n


def _halves(task: str, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random half/half split of the rows; stratified for binary, so each half holds both labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in (0, 1)] if task == "binary" else [np.arange(y.size)]
    first, second = [], []
    for i, g in enumerate(groups):
        g = rng.permutation(g)
        cut = g.size // 2 if i == 0 else (g.size + 1) // 2  # odd remainders go to alternate halves: sizes differ by at most 1
        first.append(g[:cut])
        second.append(g[cut:])
    return np.concatenate(first), np.concatenate(second)


def _measure(task: str, y: np.ndarray, x: np.ndarray, quantile: float) -> tuple[np.ndarray, np.ndarray]:
    """Per row: covered (bool) and size (labels in the set, or interval width)."""
    import numpy as np

    if task == "binary":
        sets = _lac_sets(x, quantile)
        return sets[np.arange(y.size), y], sets.sum(axis=1).astype(float)
    low, high = _bounds(x, quantile)
    return (low <= y) & (y <= high), high - low


def fit_conformal(y: Any, scores_or_predictions: Any, *, task: str, coverage: float = 0.9, seed: int = 0) -> Conformal:
    """Conformalize the model's scores (binary) or predictions (regression) on labelled held-out rows.

    Parameters
    ----------
    y : array-like
        True labels (0 and 1) or values, of rows the model did not train on.
    scores_or_predictions : array-like
        Binary: the raw ``predict_proba[:, 1]`` (LAC conformity score ``1 - P(true label)``).
        Regression: the predictions (absolute-residual conformity score).
    task : {"binary", "regression"}
    coverage : float
        Target coverage in (0, 1).
    seed : int
        Seeds the half/half split of the honest check.

    Returns
    -------
    Conformal
        The quantile from all rows, and the check: each half is conformalized and measured on the
        other half; coverage and size are averaged over all rows.
    """
    import numpy as np

    if task not in TASKS:
        raise ParameterError(f"task must be binary or regression; got {task!r}. Fix: pass task='binary' or task='regression'.")
    if not 0 < coverage < 1:
        raise ParameterError(f"coverage must be strictly between 0 and 1; got {coverage!r}. Fix: pass coverage=0.9.")
    if task == "binary":
        yy, x = _labels(y), _probabilities(scores_or_predictions, "scores")
    else:
        yy, x = _floats(y, "y"), _floats(scores_or_predictions, "predictions")
    _aligned(yy, x, ("y", "scores" if task == "binary" else "predictions"))
    half = _min_rows(coverage)
    if yy.size < 2 * half:
        raise DataError(f"conformal prediction at coverage {coverage} needs at least {2 * half} rows ({half} per half of the holdout check); "
                        f"got {yy.size}. Fix: conformalize on a larger labelled holdout or lower the coverage.")
    if task == "binary" and np.bincount(yy, minlength=2).min() < 2:
        raise DataError(f"y has {int(np.bincount(yy, minlength=2).min())} rows of class {int(np.bincount(yy, minlength=2).argmin())}; "
                        "the holdout check needs at least 2 of each class. Fix: conformalize on a labelled holdout with both classes.")
    covered, size = np.empty(yy.size, dtype=bool), np.empty(yy.size)
    first, second = _halves(task, yy, seed)
    for fit_rows, check in ((first, second), (second, first)):
        q = _mapie_quantile(task, yy[fit_rows], x[fit_rows], coverage)
        covered[check], size[check] = _measure(task, yy[check], x[check], q)
    return Conformal(task=task, coverage=float(coverage), quantile=_mapie_quantile(task, yy, x, coverage), rows=int(yy.size),
                     holdout_coverage=float(covered.mean()), holdout_size=float(size.mean()), check_rows=int(yy.size))
