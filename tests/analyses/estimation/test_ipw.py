"""Inverse-propensity weighted metrics: unbiased under a review queue that over-samples uncertain rows.

A fixed population with a known metric; many Poisson samples, each row drawn with a known probability:
a 10% uniform control share plus 90% in proportion to the model's uncertainty (as the review queue does).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from workbench.analyses.estimation._compare import realised
from workbench.analyses.estimation._ipw import effective_rows, ipw_metrics
from workbench.exceptions import DataError

N, EXPECTED_ROWS, DRAWS = 20_000, 600, 300


def _propensity(uncertainty: np.ndarray) -> np.ndarray:
    """Inclusion probabilities summing to EXPECTED_ROWS: 10% uniform, 90% in proportion to uncertainty."""
    return EXPECTED_ROWS * (0.1 / uncertainty.size + 0.9 * uncertainty / uncertainty.sum())


def _draws(propensity: np.ndarray, estimate, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per draw: the IPW and the unweighted estimate of one metric."""
    rng = np.random.default_rng(seed)
    ipw, plain = [], []
    for _ in range(DRAWS):
        drawn = rng.random(propensity.size) < propensity
        ipw.append(estimate(drawn, propensity[drawn]))
        plain.append(estimate(drawn, None))
    return np.array(ipw), np.array(plain)


def _assert_unbiased_where_plain_is_not(ipw: np.ndarray, plain: np.ndarray, population: float) -> None:
    se_ipw, se_plain = ipw.std(ddof=1) / np.sqrt(DRAWS), plain.std(ddof=1) / np.sqrt(DRAWS)
    assert abs(ipw.mean() - population) < 4 * se_ipw
    assert abs(plain.mean() - population) > 20 * se_plain and abs(plain.mean() - population) > 0.03


def test_ipw_accuracy_is_unbiased_and_plain_accuracy_is_not() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(2, 2, N)
    y, score = (rng.random(N) < p).astype(int), p
    population = metrics.accuracy_score(y, score >= 0.5)
    propensity = _propensity(1 - np.abs(2 * score - 1) + 0.01)  # uncertain rows (score near 0.5) are reviewed most

    def accuracy(drawn: np.ndarray, prop: np.ndarray | None) -> float:
        if prop is None:
            return realised(y[drawn], score[drawn], task="binary")["accuracy"]
        return ipw_metrics(y[drawn], score[drawn], prop, task="binary")["accuracy"]["value"]

    ipw, plain = _draws(propensity, accuracy, seed=1)
    _assert_unbiased_where_plain_is_not(ipw, plain, population)
    assert plain.mean() < population  # the uncertain rows are the hard ones


def test_ipw_mae_is_unbiased_and_plain_mae_is_not() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, N)
    spread = 0.5 + np.abs(x)  # the model's own uncertainty: the queue over-samples wide predictions
    y, pred = x + rng.normal(0, 1, N) * spread, x
    population = metrics.mean_absolute_error(y, pred)
    propensity = _propensity(spread)

    def mae(drawn: np.ndarray, prop: np.ndarray | None) -> float:
        if prop is None:
            return realised(y[drawn], pred[drawn], task="regression")["mae"]
        return ipw_metrics(y[drawn], pred[drawn], prop, task="regression")["mae"]["value"]

    ipw, plain = _draws(propensity, mae, seed=3)
    _assert_unbiased_where_plain_is_not(ipw, plain, population)
    assert plain.mean() > population


def test_values_are_sklearn_metrics_weighted_by_inverse_propensity() -> None:
    rng = np.random.default_rng(4)
    y, s, prop = rng.integers(0, 2, 300), rng.random(300), rng.uniform(0.05, 1.0, 300)
    got = ipw_metrics(y, s, prop, task="binary", threshold=0.4)
    w, label = 1 / prop, (s >= 0.4).astype(int)
    assert set(got) == {"roc_auc", "accuracy", "precision", "recall", "f1"}
    assert got["roc_auc"]["value"] == pytest.approx(metrics.roc_auc_score(y, s, sample_weight=w))
    assert got["f1"]["value"] == pytest.approx(metrics.f1_score(y, label, sample_weight=w))
    assert got["accuracy"] == {"value": pytest.approx(metrics.accuracy_score(y, label, sample_weight=w)), "rows": 300,
                               "effective_rows": pytest.approx(w.sum() ** 2 / (w**2).sum())}
    reg = ipw_metrics([1.0, 2.0, 4.0], [1.0, 1.0, 1.0], [1.0, 0.5, 1.0], task="regression")  # weights 1, 2, 1
    assert reg["mae"]["value"] == pytest.approx((0 + 2 * 1 + 3) / 4) and reg["rmse"]["value"] == pytest.approx(np.sqrt((2 + 9) / 4))


def test_effective_rows_is_kish() -> None:
    assert effective_rows([1.0, 1.0, 1.0, 1.0]) == 4.0
    assert effective_rows([1.0, 1.0, 2.0]) == pytest.approx(16 / 6)
    assert ipw_metrics([0, 1, 1], [0.2, 0.7, 0.9], [0.5, 0.5, 0.5], task="binary")["f1"]["effective_rows"] == pytest.approx(3.0)


@pytest.mark.parametrize(("propensity", "message"), [
    ([0.5, 0.0, 0.2], "propensity must be in (0, 1]; 1 of 3 values are 0 or negative (min 0.0), so those rows could never be reviewed "
                      "and no weight makes up for them. Fix: pass each reviewed row's probability of being drawn into the review queue."),
    ([0.5, 2.0, 4.0], "propensity must be in (0, 1]; 2 of 3 values are above 1 (max 4.0). "
                      "Fix: pass probabilities (not weights or counts) of being drawn into the review queue."),
    ([0.5, np.nan, 0.2], "propensity: 1 of 3 values are missing or infinite. Fix: drop those rows first."),
    ([0.5, 0.2], "y has 3 rows but propensity has 2. Fix: pass row-aligned arrays."),
])
def test_bad_propensity_is_refused_with_the_problem_named(propensity: list, message: str) -> None:
    with pytest.raises(DataError) as err:
        ipw_metrics([0, 1, 1], [0.2, 0.7, 0.9], propensity, task="binary")
    assert str(err.value) == message
