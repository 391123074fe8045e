"""Calibration: the map chosen by cross-fitted ECE helps on fresh rows, leaves a calibrated score alone, and stores as JSON.

Scores are drawn with a known true probability ``p`` (Beta(2, 2)) and labels ``y ~ Bernoulli(p)``;
a calibrated model scores ``p``, a miscalibrated one ``p ** 3`` (under-confident about positives).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from workbench.analyses.estimation._calibration import MAX_KNOTS, Calibrator, _ece_noise, expected_calibration_error, fit_calibrator
from workbench.exceptions import DataError, ParameterError


def _sample(seed: int, n: int, power: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores: the score is the true probability raised to ``power`` (1: calibrated)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 2, n)
    return (rng.random(n) < p).astype(int), p**power


def test_ece_by_hand() -> None:
    # bin [0, .5): probs .1, .35 with labels 0, 0 -> |0 - .45|; bin [.5, 1]: .65, .9 (and 1.0) with labels 1, 1, 1 -> |3 - 2.55|
    y, probs = [0, 1, 1, 0, 1], [0.1, 0.9, 0.65, 0.35, 1.0]
    assert expected_calibration_error(y, probs, bins=2) == pytest.approx((0.45 + 0.45) / 5)


def test_ece_is_near_zero_when_calibrated_and_clearly_positive_when_shifted() -> None:
    y, p = _sample(0, 200_000)
    assert expected_calibration_error(y, p) < 0.005
    shifted = np.clip(p + 0.1, 0, 1)
    assert expected_calibration_error(y, shifted) > 0.08


def test_a_miscalibrated_score_gets_a_map_that_lowers_ece_on_fresh_rows() -> None:
    y, s = _sample(1, 4000, power=3.0)
    cal = fit_calibrator(y, s)
    assert cal.method in ("sigmoid", "isotonic") and cal.rows == 4000
    assert cal.ece[cal.method] < cal.ece["none"] - 0.1  # cross-fitted, on the fitting rows
    fresh_y, fresh_s = _sample(2, 50_000, power=3.0)
    raw, calibrated = expected_calibration_error(fresh_y, fresh_s), expected_calibration_error(fresh_y, cal.apply(fresh_s))
    assert raw > 0.2 and calibrated < 0.03


@pytest.mark.parametrize("seed", range(5))
def test_a_calibrated_score_is_left_as_it_is_or_nearly(seed: int) -> None:
    # The rule: sigmoid when it lowers the cross-fitted ECE at all (near the identity on a calibrated score),
    # isotonic only beyond the ECE noise floor (never, for a calibrated score).
    y, s = _sample(10 + seed, 2000)
    cal = fit_calibrator(y, s, seed=seed)
    assert set(cal.ece) == {"none", "sigmoid", "isotonic"}
    assert cal.method == ("sigmoid" if cal.ece["sigmoid"] < cal.ece["none"] else "none")
    assert np.max(np.abs(cal.apply(s) - s)) < 0.05


def test_a_calibrated_score_keeps_none_when_no_map_lowers_ece() -> None:
    seeds = [seed for seed in range(30) if (c := fit_calibrator(*_sample(100 + seed, 2000), seed=seed)).ece["sigmoid"] >= c.ece["none"]]
    assert seeds  # some samples: the raw score's ECE is already the lowest
    cal = fit_calibrator(*_sample(100 + seeds[0], 2000), seed=seeds[0])
    y, s = _sample(100 + seeds[0], 2000)
    assert cal.method == "none" and cal.params == {}
    np.testing.assert_array_equal(cal.apply(s), s)


def test_a_mild_over_confidence_gets_sigmoid() -> None:
    rng = np.random.default_rng(7)
    logit = rng.normal(0, 1.6, 2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(-logit))).astype(int)
    s = 1 / (1 + np.exp(-1.4 * logit))  # 40 % too sure of itself, as a boosted model often is on its holdout
    cal = fit_calibrator(y, s)
    assert cal.method == "sigmoid" and cal.ece["sigmoid"] < cal.ece["none"]
    fresh_logit = rng.normal(0, 1.6, 100_000)
    fresh_y = (rng.random(100_000) < 1 / (1 + np.exp(-fresh_logit))).astype(int)
    fresh_s = 1 / (1 + np.exp(-1.4 * fresh_logit))
    assert expected_calibration_error(fresh_y, cal.apply(fresh_s)) < expected_calibration_error(fresh_y, fresh_s) / 2


def test_auto_takes_a_more_complex_map_only_beyond_the_noise_floor() -> None:
    y, s = _sample(1, 4000, power=3.0)
    cal, noise = fit_calibrator(y, s), _ece_noise(s, 10)
    # isotonic's cross-fitted ECE is lower than sigmoid's, but by less than the noise floor: the simpler map is kept
    assert 0 < cal.ece["sigmoid"] - cal.ece["isotonic"] <= noise < cal.ece["none"] - cal.ece["sigmoid"]
    assert cal.method == "sigmoid"


def test_explicit_methods_are_forced_and_report_what_was_tried() -> None:
    y, s = _sample(4, 3000)
    sig = fit_calibrator(y, s, method="sigmoid")
    assert sig.method == "sigmoid" and set(sig.ece) == {"none", "sigmoid"}
    assert sig.params["a"] == pytest.approx(1.0, abs=0.15) and sig.params["b"] == pytest.approx(0.0, abs=0.15)  # near the identity
    iso = fit_calibrator(y, s, method="isotonic")
    assert iso.method == "isotonic" and set(iso.ece) == {"none", "isotonic"}
    assert np.all(np.diff(iso.params["x"]) > 0) and np.all(np.diff(iso.params["y"]) >= 0)
    none = fit_calibrator(y, s, method="none")
    assert none.method == "none" and set(none.ece) == {"none"} and none.ece["none"] == sig.ece["none"]


def test_the_choice_is_reproducible_by_seed() -> None:
    y, s = _sample(5, 2000, power=2.0)
    assert fit_calibrator(y, s, seed=7) == fit_calibrator(y, s, seed=7)


def test_isotonic_is_stored_in_at_most_200_knots_that_fit_an_mlflow_tag() -> None:
    y, s = _sample(6, 100_000, power=3.0)
    full = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
    assert full.X_thresholds_.size > MAX_KNOTS  # the case that needs downsampling
    cal = fit_calibrator(y, s, method="isotonic", folds=2)
    x = np.asarray(cal.params["x"])
    assert x.size <= MAX_KNOTS and np.all(np.diff(x) > 0)
    assert x[0] == pytest.approx(full.X_thresholds_[0], rel=1e-5) and x[-1] == pytest.approx(full.X_thresholds_[-1], rel=1e-5)
    fresh = _sample(7, 20_000, power=3.0)[1]
    assert np.abs(cal.apply(fresh) - full.predict(fresh)).mean() < 0.005
    assert len(json.dumps(cal.to_dict())) < 8000  # mlflow.utils.validation.MAX_TAG_VAL_LENGTH


@pytest.mark.parametrize("method", ["none", "sigmoid", "isotonic"])
def test_to_dict_round_trips_exactly_through_json(method: str) -> None:
    y, s = _sample(8, 3000, power=2.0)
    cal = fit_calibrator(y, s, method=method)
    back = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back == cal
    fresh = np.r_[0.0, 1.0, _sample(9, 5000)[1]]
    np.testing.assert_array_equal(back.apply(fresh), cal.apply(fresh))
    assert np.all((cal.apply(fresh) >= 0) & (cal.apply(fresh) <= 1))


def test_from_dict_refuses_a_foreign_dict() -> None:
    with pytest.raises(DataError, match=r"^calibrator: \{'method': 'sigmoid', 'params': \{'a': 1\.0\}\} is not a dict from Calibrator.to_dict\(\)"):
        Calibrator.from_dict({"method": "sigmoid", "params": {"a": 1.0}})


FOLD_FIX = "Fix: calibrate on a larger labelled holdout or pass fewer folds."


@pytest.mark.parametrize(("y", "scores", "message"), [
    ([0, 1] * 10, [0.2, np.nan] * 10, "scores: 10 of 20 values are missing or infinite. Fix: drop those rows first."),
    ([0, 1] * 10, [0.2, 1.5] * 10, "scores must be probabilities in [0, 1]; 10 of 20 values are outside (e.g. 1.5). "
                                   "Fix: pass predict_proba[:, 1], not a decision function or a margin."),
    ([1] * 20, [0.5] * 20, "y has only class 1; calibration needs both classes. Fix: calibrate on a labelled holdout with positives and negatives."),
    ([0, 1] * 4, [0.5] * 8, f"calibration needs at least 10 rows (2 per fold, 5 folds); got 8. {FOLD_FIX}"),
    ([0] * 17 + [1] * 3, [0.5] * 20, f"y has 3 rows of class 1; 5-fold cross-fitting needs at least 5 of each class. {FOLD_FIX}"),
    ([0, 2] * 10, [0.5] * 20, "y must hold only 0 and 1; found [2.0]. Fix: encode the positive class as 1 and the other as 0."),
    ([0, 1] * 10, [0.5] * 19, "y has 20 rows but scores has 19. Fix: pass row-aligned arrays."),
])
def test_bad_input_is_refused_with_a_named_problem(y: list, scores: list, message: str) -> None:
    with pytest.raises(DataError) as err:
        fit_calibrator(y, scores)
    assert str(err.value) == message


def test_bad_parameters_are_refused() -> None:
    y, s = _sample(0, 100)
    with pytest.raises(ParameterError) as err:
        fit_calibrator(y, s, method="beta")
    assert str(err.value) == "method must be one of auto, none, sigmoid, isotonic; got 'beta'. Fix: pass method='auto'."
    with pytest.raises(ParameterError) as err:
        fit_calibrator(y, s, folds=1)
    assert str(err.value) == "folds must be at least 2; got 1. Fix: pass folds=5."
    with pytest.raises(DataError) as err:
        Calibrator("none", {}, {}, 0).apply([0.2, -0.1])
    assert str(err.value).startswith("scores must be probabilities in [0, 1]; 1 of 2 values are outside (e.g. -0.1).")
