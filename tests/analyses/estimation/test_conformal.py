"""Conformal sets and intervals: coverage on fresh rows, the honest check, and equality with MAPIE's own predictions.

Binary: true probability ``p ~ Beta(2, 2)``, ``y ~ Bernoulli(p)``, the model's raw score ``p ** 2``
(miscalibrated on purpose: LAC on raw scores covers anyway). Regression: ``y = x + noise`` with
heavier-tailed noise, predictions ``x``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from mapie.classification import SplitConformalClassifier
from mapie.regression import SplitConformalRegressor
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from workbench.analyses.estimation._conformal import Conformal, fit_conformal
from workbench.exceptions import DataError, ParameterError


def _binary(seed: int, n: int, power: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, n)
    return (rng.random(n) < p).astype(int), p**power


def _regression(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, n)
    return x + rng.standard_t(4, n), x


class Scores(ClassifierMixin, BaseEstimator):
    """The test's own fixed-score classifier for MAPIE (independent of the module's)."""

    def fit(self, X=None, y=None):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        return np.column_stack([1 - X[:, 0], X[:, 0]])

    def predict(self, X):
        return (X[:, 0] >= 0.5).astype(int)


class Predictions(RegressorMixin, BaseEstimator):
    def fit(self, X=None, y=None):
        self.n_features_in_ = 1
        return self

    def predict(self, X):
        return X[:, 0]


def test_binary_sets_cover_fresh_rows_at_the_target() -> None:
    y, s = _binary(0, 3000)
    conf = fit_conformal(y, s, task="binary", coverage=0.9)
    assert conf.task == "binary" and conf.rows == 3000 and conf.check_rows == 3000 and conf.coverage == 0.9
    fresh_y, fresh_s = _binary(1, 200_000)
    sets = conf.sets(fresh_s)
    assert sets.dtype == bool and sets.shape == (200_000, 2)
    covered = sets[np.arange(fresh_y.size), fresh_y].mean()
    assert abs(covered - 0.9) <= 0.02
    assert abs(conf.holdout_coverage - 0.9) <= 0.02  # the honest half/half check agrees
    assert conf.holdout_size == pytest.approx(sets.sum(axis=1).mean(), abs=0.05)


def test_regression_intervals_cover_fresh_rows_at_the_target() -> None:
    y, pred = _regression(2, 3000)
    conf = fit_conformal(y, pred, task="regression", coverage=0.9)
    fresh_y, fresh_pred = _regression(3, 200_000)
    low, high = conf.intervals(fresh_pred)
    np.testing.assert_allclose(high - low, 2 * conf.quantile)
    assert abs(((low <= fresh_y) & (fresh_y <= high)).mean() - 0.9) <= 0.02
    assert abs(conf.holdout_coverage - 0.9) <= 0.02
    assert conf.holdout_size == pytest.approx(2 * conf.quantile, rel=0.1)  # each half's width is close to the full one


@pytest.mark.parametrize(("coverage", "power"), [(0.9, 2.0), (0.7, 1.0), (0.95, 0.5)])
def test_sets_equal_mapie_predict_set_on_fresh_rows(coverage: float, power: float) -> None:
    y, s = _binary(4, 2000, power)
    conf = fit_conformal(y, s, task="binary", coverage=coverage)
    mapie = SplitConformalClassifier(Scores().fit(), confidence_level=coverage, prefit=True).conformalize(s[:, None], y)
    fresh = np.r_[0.0, 1.0, 0.5, conf.quantile, 1 - conf.quantile, _binary(5, 20_000, power)[1]]  # ends and the LAC edges
    _, expected = mapie.predict_set(fresh[:, None])
    np.testing.assert_array_equal(conf.sets(fresh), expected[:, :, 0])


def test_intervals_equal_mapie_predict_interval_on_fresh_rows() -> None:
    y, pred = _regression(6, 2000)
    conf = fit_conformal(y, pred, task="regression", coverage=0.8)
    mapie = SplitConformalRegressor(Predictions().fit(), confidence_level=0.8, prefit=True).conformalize(pred[:, None], y)
    fresh = _regression(7, 20_000)[1]
    _, expected = mapie.predict_interval(fresh[:, None])
    low, high = conf.intervals(fresh)
    np.testing.assert_array_equal(low, expected[:, 0, 0])
    np.testing.assert_array_equal(high, expected[:, 1, 0])


def test_an_accurate_model_gets_empty_sets_for_its_least_confident_rows() -> None:
    # Scores near 0 or 1 and right: the LAC quantile falls below 0.5, so a middle score holds neither label.
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 4000)
    s = np.clip(np.where(y == 1, 0.9, 0.1) + rng.normal(0, 0.15, 4000), 0, 1)
    conf = fit_conformal(y, s, task="binary", coverage=0.8)
    assert conf.quantile < 0.5
    grid = np.linspace(0, 1, 1001)
    size = conf.sets(grid).sum(axis=1)
    empty = (grid > conf.quantile) & (grid < 1 - conf.quantile)
    assert empty.any() and np.array_equal(size == 0, empty) and size.max() == 1


def test_a_weak_model_gets_two_label_sets_in_the_middle() -> None:
    y, s = _binary(9, 3000, power=1.0)
    conf = fit_conformal(y, s, task="binary", coverage=0.9)
    assert conf.quantile > 0.5
    grid = np.linspace(0, 1, 1001)
    size = conf.sets(grid).sum(axis=1)
    assert np.array_equal(size == 2, (grid >= 1 - conf.quantile) & (grid <= conf.quantile)) and size.min() == 1


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_to_dict_round_trips_through_json(task: str) -> None:
    y, x = _binary(10, 500) if task == "binary" else _regression(10, 500)
    conf = fit_conformal(y, x, task=task)
    back = Conformal.from_dict(json.loads(json.dumps(conf.to_dict())))
    assert back == conf


def test_the_smallest_holdout_mapie_accepts_works_and_one_less_is_refused() -> None:
    y, s = _binary(11, 20)
    assert fit_conformal(y, s, task="binary", coverage=0.9).rows == 20  # 10 per half: MAPIE's minimum at 0.9
    with pytest.raises(DataError) as err:
        fit_conformal(y[:19], s[:19], task="binary", coverage=0.9)
    assert str(err.value) == ("conformal prediction at coverage 0.9 needs at least 20 rows (10 per half of the holdout check); got 19. "
                              "Fix: conformalize on a larger labelled holdout or lower the coverage.")


def test_bad_input_is_refused() -> None:
    y, s = _binary(12, 100)
    with pytest.raises(DataError) as err:
        fit_conformal(np.r_[1, np.zeros(99)], s, task="binary")
    assert str(err.value) == ("y has 1 rows of class 1; the holdout check needs at least 2 of each class. "
                              "Fix: conformalize on a labelled holdout with both classes.")
    with pytest.raises(DataError) as err:
        fit_conformal(y, s * 3, task="binary")
    assert str(err.value).startswith("scores must be probabilities in [0, 1];")
    with pytest.raises(ParameterError) as err:
        fit_conformal(y, s, task="multiclass")
    assert str(err.value) == "task must be binary or regression; got 'multiclass'. Fix: pass task='binary' or task='regression'."
    with pytest.raises(ParameterError) as err:
        fit_conformal(y, s, task="binary", coverage=90)
    assert str(err.value) == "coverage must be strictly between 0 and 1; got 90. Fix: pass coverage=0.9."
    conf = fit_conformal(y, s, task="binary")
    with pytest.raises(ParameterError) as err:
        conf.intervals(s)
    assert str(err.value) == "intervals() is for a regression Conformal; this one is binary. Fix: call sets(scores)."
