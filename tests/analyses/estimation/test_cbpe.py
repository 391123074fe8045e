"""CBPE: exact arithmetic on small cases, the statistical acceptance test under known covariate
shift, its blind spot under concept shift, the sampling error against chunk-to-chunk spread, and
input validation with exact messages.

The synthetic world: three features, N(0, 1) in the reference; labels from a fixed logistic
ground truth ``P(y=1 | x) = sigmoid(-0.5 + x . W)``. The model is a LogisticRegression fitted on
20,000 rows of that world: well specified, so its probabilities are calibrated by construction
and ``probs = scores``. Realised metrics come from scikit-learn, not from the module under test.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from workbench.analyses.estimation._cbpe import CBPE, METRICS, _realised
from workbench.exceptions import DataError, ParameterError

W = np.array([1.0, -0.8, 0.5])
B = -0.5
CHUNK = 2000


def _world(n: int, rng: np.random.Generator, mean=(0.0, 0.0, 0.0), scale: float = 1.0, w: np.ndarray = W):
    x = rng.normal(size=(n, 3)) * scale + np.asarray(mean)
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(B + x @ w)))).astype(int)
    return x, y


@pytest.fixture(scope="module")
def fitted() -> tuple[LogisticRegression, CBPE]:
    rng = np.random.default_rng(7)
    model = LogisticRegression().fit(*_world(20_000, rng))
    x_ref, y_ref = _world(10_000, rng)
    s_ref = model.predict_proba(x_ref)[:, 1]
    return model, CBPE(threshold=0.5).fit(y_ref, s_ref, s_ref)


def _sklearn(y: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    pred = (scores >= threshold).astype(int)
    return {"roc_auc": roc_auc_score(y, scores), "accuracy": accuracy_score(y, pred),
            "precision": precision_score(y, pred, zero_division=0), "recall": recall_score(y, pred, zero_division=0),
            "f1": f1_score(y, pred, zero_division=0)}


# ---------------------------------------------------------------- arithmetic

def test_expected_confusion_counts_use_the_raw_score_for_decisions_and_probs_for_counts() -> None:
    scores, probs = np.array([0.9, 0.6, 0.4, 0.1]), np.array([0.8, 0.4, 0.3, 0.2])
    y_ref, s_ref = np.array([0, 1, 0, 1, 1, 0]), np.array([0.2, 0.7, 0.6, 0.9, 0.4, 0.1])
    est = CBPE().fit(y_ref, s_ref, s_ref).estimate(scores, probs)
    tp, fp, fn, tn = 0.8 + 0.4, 0.2 + 0.6, 0.3 + 0.2, 0.7 + 0.8  # rows 0 and 1 are predicted positive (score >= 0.5)
    assert est["accuracy"]["value"] == pytest.approx((tp + tn) / 4)
    assert est["precision"]["value"] == pytest.approx(tp / (tp + fp))
    assert est["recall"]["value"] == pytest.approx(tp / (tp + fn))
    assert est["f1"]["value"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert {v["rows"] for v in est.values()} == {4}
    assert est["roc_auc"]["reference"] == pytest.approx(roc_auc_score(y_ref, s_ref))


def _pairwise_auc(scores: np.ndarray, probs: np.ndarray) -> float:
    """Expected AUC as a Mann-Whitney sum over pairs: P(positive ranked above negative), ties count half."""
    above = (scores[:, None] > scores[None, :]) + 0.5 * (scores[:, None] == scores[None, :])
    return float(probs @ above @ (1 - probs) / (probs.sum() * (1 - probs).sum()))


def test_expected_roc_auc_ranks_by_the_raw_score_not_by_the_calibrated_probability() -> None:
    rng = np.random.default_rng(3)
    scores = np.round(rng.uniform(size=300), 1)  # many ties
    probs = np.clip(1.0 - scores + rng.normal(0, 0.05, 300), 0, 1)  # anti-calibrated: ranking by probs would give > 0.5
    cbpe = CBPE(metrics=["roc_auc"]).fit([0, 1], [0.3, 0.7], [0.3, 0.7])
    value = cbpe.estimate(scores, probs)["roc_auc"]["value"]
    assert value == pytest.approx(_pairwise_auc(scores, probs), abs=1e-12)
    assert value < 0.2


def test_probs_that_are_labels_give_the_realised_metrics_with_ties() -> None:
    rng = np.random.default_rng(4)
    scores = np.round(rng.uniform(size=5000), 2)
    y = (rng.uniform(size=5000) < scores).astype(float)
    est = CBPE(threshold=0.35).fit(y, scores, scores).estimate(scores, y)
    truth = _sklearn(y, scores, threshold=0.35)
    for metric in METRICS:
        assert est[metric]["value"] == pytest.approx(truth[metric], abs=1e-12), metric
        assert est[metric]["reference"] == pytest.approx(truth[metric], abs=1e-12), metric


def test_realised_reference_metrics_equal_sklearn_and_zero_denominators_give_zero() -> None:
    y, s = np.array([0, 1, 1, 0]), np.array([0.1, 0.2, 0.3, 0.4])
    assert _realised(y.astype(float), s, 0.9, METRICS) == pytest.approx(_sklearn(y, s, threshold=0.9))
    assert _realised(y.astype(float), s, 0.9, METRICS)["precision"] == 0.0  # no predicted positive


def test_a_metrics_subset_is_estimated_in_the_order_given() -> None:
    cbpe = CBPE(metrics=["f1", "roc_auc"]).fit([0, 1, 1], [0.2, 0.8, 0.4], [0.2, 0.8, 0.4])
    assert list(cbpe.estimate([0.5, 0.1], [0.5, 0.1])) == ["f1", "roc_auc"]


def test_expected_auc_is_nan_when_no_positive_is_expected() -> None:
    cbpe = CBPE().fit([0, 1], [0.3, 0.7], [0.3, 0.7])
    assert np.isnan(cbpe.estimate([0.2, 0.6], [0.0, 0.0])["roc_auc"]["value"])


# ---------------------------------------------------------------- statistics

SHIFTS = [((0.0, 0.0, 0.0), 1.0), ((0.5, 0.0, 0.0), 1.0), ((1.0, 0.5, 0.0), 1.0), ((-1.0, 0.0, 0.5), 1.0),
          ((0.0, 0.0, 0.0), 1.6), ((0.5, -0.5, 0.0), 0.6), ((1.5, 0.0, 0.0), 1.0)]


def test_acceptance_estimates_track_realised_metrics_under_covariate_shift(fitted) -> None:
    model, cbpe = fitted
    rng = np.random.default_rng(11)
    hits = {m: 0 for m in METRICS}
    chunks, moved = 0, []
    for mean, scale in SHIFTS:
        for _ in range(15):
            x, y = _world(CHUNK, rng, mean, scale)
            s = model.predict_proba(x)[:, 1]
            est, real = cbpe.estimate(s, s), _sklearn(y, s)
            for m in METRICS:
                hits[m] += abs(est[m]["value"] - real[m]) <= 3 * est[m]["se"] + 0.01
            chunks += 1
        moved.append(abs(real["recall"] - est["recall"]["reference"]))
    assert max(moved) > 0.2  # the shifts really move the metrics (recall by more than 20 points)
    assert {m: hits[m] / chunks >= 0.9 for m in METRICS} == dict.fromkeys(METRICS, True), hits


def test_concept_shift_is_cbpes_blind_spot(fitted) -> None:
    model, cbpe = fitted
    rng = np.random.default_rng(12)
    for _ in range(10):
        x, y = _world(CHUNK, rng, w=np.array([1.0, 0.8, -0.5]))  # P(y | x) changed; P(x) did not
        s = model.predict_proba(x)[:, 1]
        est, real = cbpe.estimate(s, s)["roc_auc"], roc_auc_score(y, s)
        assert abs(est["value"] - est["reference"]) <= 3 * est["se"] + 0.01  # the estimate sees nothing
        assert real < est["value"] - 3 * est["se"] - 0.1  # while the realised AUC fell far outside the band


def test_sampling_error_matches_the_spread_of_realised_metrics_across_chunks(fitted) -> None:
    model, cbpe = fitted
    rng = np.random.default_rng(13)
    values = {m: [] for m in METRICS}
    for _ in range(200):
        x, y = _world(CHUNK, rng)
        s = model.predict_proba(x)[:, 1]
        for m, v in _sklearn(y, s).items():
            values[m].append(v)
    se = cbpe.estimate(np.full(CHUNK, 0.5), np.full(CHUNK, 0.5))
    ratios = {m: float(np.std(values[m], ddof=1) / se[m]["se"]) for m in METRICS}
    assert all(0.7 <= r <= 1.4 for r in ratios.values()), ratios


def test_sampling_error_scales_with_one_over_sqrt_rows_and_a_big_reference_is_subsampled(fitted) -> None:
    model, cbpe = fitted
    rng = np.random.default_rng(14)
    small, large = cbpe.estimate(np.full(100, 0.5), np.full(100, 0.5)), cbpe.estimate(np.full(400, 0.5), np.full(400, 0.5))
    assert all(small[m]["se"] == pytest.approx(2 * large[m]["se"]) for m in METRICS)
    x, y = _world(80_000, rng)
    s = model.predict_proba(x)[:, 1]
    big = CBPE().fit(y, s, s).estimate(np.full(100, 0.5), np.full(100, 0.5))
    assert all(0.8 <= big[m]["se"] / small[m]["se"] <= 1.25 for m in METRICS), (big, small)


# ---------------------------------------------------------------- validation

def _raises(exc: type[Exception], message: str, call, *args) -> None:
    with pytest.raises(exc, match=re.escape(message)) as info:
        call(*args)
    assert str(info.value) == message


@pytest.fixture()
def small() -> CBPE:
    return CBPE().fit([0, 1, 1, 0], [0.2, 0.9, 0.6, 0.4], [0.25, 0.8, 0.6, 0.4])


def test_probs_outside_the_unit_interval_are_refused(small: CBPE) -> None:
    _raises(DataError, "batch probs: 2 value(s) outside [0, 1], the first 1.2 at row 1. "
            "Fix: pass calibrated probabilities P(y=1) (Calibrator.apply(scores)), one per row.",
            small.estimate, [0.1, 0.5, 0.7], [0.1, 1.2, -0.1])
    _raises(DataError, "reference scores: 1 value(s) outside [0, 1], the first 3.0 at row 0. "
            "Fix: pass the model's raw P(y=1) (predict_proba[:, 1]), one per row.", CBPE().fit, [0, 1], [3.0, 0.5], [0.5, 0.5])


def test_missing_values_are_refused(small: CBPE) -> None:
    _raises(DataError, "batch scores: 1 missing or infinite value(s), the first at row 2. "
            "Fix: pass the model's raw P(y=1) (predict_proba[:, 1]), one per row.", small.estimate, [0.1, 0.5, np.nan], [0.1, 0.5, 0.5])
    _raises(DataError, "reference labels: 1 missing or infinite value(s), the first at row 1. Fix: pass only the labelled rows of the reference.",
            CBPE().fit, [0, None, 1], [0.1, 0.5, 0.6], [0.1, 0.5, 0.6])


def test_row_counts_that_differ_are_refused(small: CBPE) -> None:
    _raises(DataError, "batch: 3 scores but 2 probs. Fix: pass row-aligned raw scores and calibrated probabilities.",
            small.estimate, [0.1, 0.5, 0.7], [0.1, 0.5])
    _raises(DataError, "reference: 3 labels but 2 scores and probs. Fix: pass row-aligned labels, raw scores and calibrated probabilities.",
            CBPE().fit, [0, 1, 1], [0.1, 0.5], [0.1, 0.5])


def test_a_reference_with_one_class_or_other_labels_is_refused() -> None:
    _raises(DataError, "reference labels hold only class 1 (3 rows); CBPE needs both classes. "
            "Fix: fit on a labelled holdout with positive and negative rows.", CBPE().fit, [1, 1, 1], [0.2, 0.5, 0.9], [0.2, 0.5, 0.9])
    _raises(DataError, "reference labels must be 0 or 1; found [2.0]. Fix: encode the positive class as 1.",
            CBPE().fit, [0, 1, 2], [0.2, 0.5, 0.9], [0.2, 0.5, 0.9])


def test_an_empty_batch_or_a_two_column_array_is_refused(small: CBPE) -> None:
    _raises(DataError, "batch: 0 rows. Fix: pass at least one scored row.", small.estimate, [], [])
    _raises(DataError, "batch scores must be one value per row; got shape (2, 2). Fix: pass a 1-D array (e.g. predict_proba(X)[:, 1]).",
            small.estimate, np.array([[0.4, 0.6], [0.9, 0.1]]), [0.6, 0.1])
    _raises(DataError, "batch probs must be numeric. Fix: pass numbers, one per row.", small.estimate, [0.1], ["high"])


def test_bad_parameters_and_estimate_before_fit_are_refused() -> None:
    _raises(ParameterError, "The 'threshold' parameter of CBPE must be a number in (0, 1). Got 1.5 instead.", lambda: CBPE(threshold=1.5))
    _raises(ParameterError, "The 'metrics' parameter of CBPE names unknown metric(s) ['auc']. "
            "Fix: choose from ['roc_auc', 'accuracy', 'precision', 'recall', 'f1'].", lambda: CBPE(metrics=["auc", "f1"]))
    _raises(ParameterError, "CBPE.estimate was called before fit. Fix: call fit(y_ref, scores_ref, probs_ref) on the labelled holdout first.",
            CBPE().estimate, [0.5], [0.5])
