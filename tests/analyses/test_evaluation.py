"""Evaluation: metric values match scikit-learn, intervals bracket them, the decision rules."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_squared_error, roc_auc_score

from workbench.analyses.evaluation import decide, metrics_with_ci, paired_difference


@pytest.fixture
def binary() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 800)
    good = np.clip(0.5 * y + rng.normal(0.25, 0.2, 800), 0, 1)
    noise = rng.random(800)
    return y, good, noise


def test_binary_metrics_match_sklearn_and_intervals_bracket(binary) -> None:
    y, good, _ = binary
    m = metrics_with_ci(y, good, "binary", n_bootstrap=100)
    assert set(m) == {"roc_auc", "average_precision", "accuracy", "f1", "brier", "log_loss"}
    assert m["roc_auc"]["value"] == pytest.approx(roc_auc_score(y, good))
    for name, v in m.items():
        assert v["low"] <= v["value"] <= v["high"], name


def test_regression_metrics(binary) -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    pred = y + rng.normal(scale=0.3, size=500)
    m = metrics_with_ci(y, pred, "regression", n_bootstrap=100)
    assert m["rmse"]["value"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)))
    assert m["rmse"]["low"] < m["rmse"]["value"] < m["rmse"]["high"]


def test_paired_difference_sees_a_better_model(binary) -> None:
    y, good, noise = binary
    diff = paired_difference(y, good, noise, "binary", n_bootstrap=200)
    assert diff["metric"] == "roc_auc" and diff["low"] > 0.2
    same = paired_difference(y, good, good, "binary", n_bootstrap=50)
    assert same["value"] == 0.0


def _d(value: float, low: float, high: float) -> dict[str, float]:
    return {"value": value, "low": low, "high": high}


def test_decision_rules() -> None:
    assert decide("binary", _d(-0.05, -0.08, -0.02), None)["decision"] == "reject"
    assert decide("binary", _d(0.05, 0.02, 0.08), None)["decision"] == "champion"
    assert decide("binary", _d(0.05, 0.02, 0.08), _d(0.03, 0.01, 0.05))["recommendation"] == "promote"
    assert decide("binary", _d(0.05, 0.02, 0.08), _d(0.0, -0.01, 0.01))["recommendation"] == "keep champion"
    # regression: lower rmse is better, so a positive difference means the candidate is worse
    assert decide("regression", _d(0.5, 0.2, 0.8), None)["decision"] == "reject"
    assert decide("regression", _d(-0.5, -0.8, -0.2), _d(-0.3, -0.4, -0.1))["recommendation"] == "promote"
