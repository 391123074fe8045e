"""Realised metrics, estimate-vs-realised with the concept-drift flag, and reliability tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from workbench.analyses.estimation._compare import (
    COMPARE_COLUMNS,
    REGRESSION_RELIABILITY_COLUMNS,
    RELIABILITY_COLUMNS,
    compare,
    realised,
    reliability,
    reliability_regression,
)
from workbench.exceptions import DataError, ParameterError


def _calibrated(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(0.7, 0.7, n)
    return (rng.random(n) < p).astype(int), p


# --- realised -------------------------------------------------------------------------------------

def test_realised_binary_matches_sklearn_at_the_threshold() -> None:
    y, s = _calibrated(0, 2000)
    for threshold in (0.5, 0.3):
        got, label = realised(y, s, task="binary", threshold=threshold), (s >= threshold).astype(int)
        assert got == {"roc_auc": pytest.approx(metrics.roc_auc_score(y, s)), "accuracy": pytest.approx(metrics.accuracy_score(y, label)),
                       "precision": pytest.approx(metrics.precision_score(y, label)), "recall": pytest.approx(metrics.recall_score(y, label)),
                       "f1": pytest.approx(metrics.f1_score(y, label))}
    assert realised(y, s, task="binary", threshold=0.3)["recall"] > realised(y, s, task="binary")["recall"]


def test_realised_regression_matches_sklearn() -> None:
    y, pred = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 1.0])
    assert realised(y, pred, task="regression") == {"mae": pytest.approx(3.5 / 3), "rmse": pytest.approx(math.sqrt(9.25 / 3))}


def test_realised_is_safe_with_one_class_and_no_positive_prediction() -> None:
    got = realised([0, 0, 0], [0.1, 0.2, 0.3], task="binary")  # warnings are errors: sklearn must not warn either
    assert math.isnan(got["roc_auc"])
    assert got == {"roc_auc": got["roc_auc"], "accuracy": 1.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_realised_refuses_bad_input() -> None:
    with pytest.raises(ParameterError) as err:
        realised([0, 1], [0.2, 0.8], task="binary", threshold=1.5)
    assert str(err.value) == "threshold must be in [0, 1]; got 1.5. Fix: pass the serving threshold (default 0.5)."
    with pytest.raises(DataError) as err:
        realised([1.0, np.nan], [0.2, 0.8], task="regression")
    assert str(err.value) == "y: 1 of 2 values are missing or infinite. Fix: drop those rows first."


# --- compare -------------------------------------------------------------------------------------

ESTIMATED = {
    "roc_auc": {"value": 0.80, "se": 0.01, "reference": 0.8, "rows": 500},    # realised 0.75 < low 0.77: worse -> flag
    "accuracy": {"value": 0.80, "se": 0.01, "reference": 0.8, "rows": 500},   # realised 0.85 > high 0.83: better, no flag
    "f1": {"value": 0.60, "se": 0.02, "reference": 0.6, "rows": 500},         # inside the band
    "precision": {"value": 0.70, "se": math.nan, "reference": 0.7, "rows": 500},  # no se: unknown
    "recall": {"value": 0.50, "se": 0.02, "reference": 0.5, "rows": 500},     # no realised value: unknown
    "mae": {"value": 1.00, "se": 0.05, "reference": 1.0, "rows": 80},         # realised 1.2 > high 1.15: worse -> flag
    "rmse": {"value": 1.00, "se": 0.05, "reference": 1.0, "rows": 80},        # realised 0.8 < low 0.85: better, no flag
}
REALISED = {"roc_auc": 0.75, "accuracy": 0.85, "f1": 0.62, "precision": 0.3, "mae": 1.2, "rmse": {"value": 0.8, "rows": 80}}


def test_compare_flags_concept_drift_only_on_the_worse_side() -> None:
    frame = compare(ESTIMATED, REALISED, band=3.0)
    assert list(frame.columns) == COMPARE_COLUMNS and list(frame["metric"]) == list(ESTIMATED)
    row = frame.set_index("metric")
    assert row.loc["roc_auc", "low"] == pytest.approx(0.77) and row.loc["roc_auc", "high"] == pytest.approx(0.83)
    assert row.loc["roc_auc", "gap"] == pytest.approx(-0.05) and row.loc["roc_auc", "rows"] == 500
    assert row["within_band"].to_dict() == {"roc_auc": False, "accuracy": False, "f1": True, "precision": None, "recall": None,
                                            "mae": False, "rmse": False}
    assert row["concept_drift_likely"].to_dict() == {"roc_auc": True, "accuracy": False, "f1": False, "precision": False,
                                                     "recall": False, "mae": True, "rmse": False}
    assert math.isnan(row.loc["recall", "realised"]) and math.isnan(row.loc["precision", "low"])
    assert row.loc["rmse", "realised"] == 0.8  # a {"value": ...} dict (as ipw_metrics gives) is read as its value


def test_a_wider_band_takes_the_flag_away() -> None:
    frame = compare(ESTIMATED, REALISED, band=6.0).set_index("metric")
    assert not frame["concept_drift_likely"].any() and frame.loc["roc_auc", "within_band"] is True


def test_compare_needs_a_direction_for_unknown_metrics() -> None:
    est = {"brier": {"value": 0.2, "se": 0.01, "rows": 100}}
    with pytest.raises(ParameterError) as err:
        compare(est, {"brier": 0.3})
    assert str(err.value) == ("metric 'brier' has no direction; known: accuracy, f1, mae, precision, recall, rmse, roc_auc. "
                              "Fix: pass higher_is_better={'brier': True} (or False).")
    assert compare(est, {"brier": 0.3}, higher_is_better={"brier": False})["concept_drift_likely"].tolist() == [True]
    assert compare({"roc_auc": ESTIMATED["roc_auc"]}, {"roc_auc": 0.75}, higher_is_better={"roc_auc": False})["concept_drift_likely"].tolist() == [False]


# --- reliability ---------------------------------------------------------------------------------

def test_reliability_by_hand() -> None:
    y = [1, 1, 0, 0, 0]
    probs = [0.95, 0.92, 0.9, 0.55, 0.3]  # confidences .95 .92 .9 | .55 | .7 ; predicted 1 1 1 | 1 | 0
    frame = reliability(y, probs, buckets=5)
    assert list(frame.columns) == RELIABILITY_COLUMNS
    expected = pd.DataFrame({"bucket": [0, 2, 4], "low": [0.5, 0.7, 0.9], "high": [0.6, 0.8, 1.0], "rows": [1, 1, 3],
                             "mean_confidence": [0.55, 0.7, (0.95 + 0.92 + 0.9) / 3], "accuracy": [0.0, 1.0, 2 / 3]})
    expected["gap"] = expected["accuracy"] - expected["mean_confidence"]
    pd.testing.assert_frame_equal(frame, expected, check_exact=False)  # empty buckets 1 and 3 are dropped


def test_reliability_of_calibrated_probabilities_has_small_gaps_and_overconfidence_shows() -> None:
    y, p = _calibrated(1, 100_000)
    frame = reliability(y, p)
    assert len(frame) == 10 and frame["rows"].sum() == 100_000 and frame["low"].min() == 0.5 and frame["high"].max() == 1.0
    assert frame["gap"].abs().max() < 0.02
    overconfident = np.clip(0.5 + 1.6 * (p - 0.5), 0, 1)
    assert (reliability(y, overconfident)["gap"] < -0.02).sum() >= 5


def test_reliability_at_another_threshold_states_the_confidence_of_the_decision() -> None:
    y, p = _calibrated(2, 100_000)
    frame = reliability(y, p, threshold=0.3)
    assert frame["low"].min() == pytest.approx(0.3) and frame["rows"].sum() == 100_000
    assert frame["gap"].abs().max() < 0.02  # calibrated probabilities stay calibrated for every decision rule


def test_reliability_regression_by_width() -> None:
    y = np.array([0.0, 0.0, 0.0, 0.0])
    frame = reliability_regression(y, [-1.0, -1.0, 0.5, -3.0], [1.0, 1.0, 2.5, 3.0], buckets=2)  # widths 2, 2, 2, 6
    assert list(frame.columns) == REGRESSION_RELIABILITY_COLUMNS
    assert frame.to_dict("list") == {"bucket": [0, 1], "low": [2.0, 4.0], "high": [4.0, 6.0], "rows": [3, 1],
                                     "mean_width": [2.0, 6.0], "coverage": [2 / 3, 1.0]}
    one = reliability_regression(y, [-1.0] * 4, [1.0] * 4)
    assert one[["rows", "coverage"]].to_dict("list") == {"rows": [4], "coverage": [1.0]}
    with pytest.raises(DataError) as err:
        reliability_regression(y, [1.0] * 4, [0.0] * 4)
    assert str(err.value) == "high is below low in 4 of 4 rows. Fix: pass the lower bound as low."
