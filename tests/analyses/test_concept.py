"""Concept drift: real models on synthetic data with a known ground truth, and hand-computed cases.

The binary ground truth is logistic in two numeric features and one categorical feature;
a LogisticRegression fitted on one sample scores an independent holdout (the reference).
Batches come from the same distribution, from a changed relation of ``x1`` (its coefficient
flips sign: concept drift), or from a shifted ``x1`` distribution (covariate shift).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, roc_auc_score

from workbench.analyses.concept import (
    EPSILON,
    RESIDUAL_COLUMNS,
    concept_verdict,
    performance_change,
    prediction_drift,
    residual_drift,
)
from workbench.exceptions import DataError, ParameterError

FEATURES, NUMERIC = ["x1", "x2", "cat"], ["x1", "x2"]
LEVELS = np.array(["a", "b", "c"])


def _frame(rng: np.random.Generator, n: int, task: str, *, b1: float | None = None, shift: float = 0.0) -> pd.DataFrame:
    """Features and label; ``b1`` is x1's coefficient, ``shift`` moves x1's mean."""
    x1, x2 = rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)
    cat = rng.choice(LEVELS, n, p=[0.5, 0.3, 0.2])
    if task == "binary":
        logit = -0.3 + (1.2 if b1 is None else b1) * x1 - 0.8 * x2 + pd.Series(cat).map({"a": 0.0, "b": 0.8, "c": -0.6})
        y = (rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(int)
    else:
        y = 1.0 + (2.0 if b1 is None else b1) * x1 - x2 + pd.Series(cat).map({"a": 0.0, "b": 1.0, "c": -1.0}).to_numpy()
        y = y + rng.normal(0.0, 1.0, n)
    return pd.DataFrame({"x1": x1, "x2": x2, "cat": cat, "y": y})


def _design(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack([frame["x1"], frame["x2"], frame["cat"] == "b", frame["cat"] == "c"]).astype(float)


class World:
    """A model fitted on one sample, its scored reference holdout, and a batch maker."""

    def __init__(self, seed: int, task: str = "binary", n: int = 4000) -> None:
        self.rng, self.task = np.random.default_rng(seed), task
        train = _frame(self.rng, n, task)
        model = LogisticRegression() if task == "binary" else LinearRegression()
        self.model = model.fit(_design(train), train["y"])
        self.reference = self._scored(_frame(self.rng, n, task))

    def _scored(self, frame: pd.DataFrame) -> pd.DataFrame:
        x = _design(frame)
        frame["score"] = self.model.predict_proba(x)[:, 1] if self.task == "binary" else self.model.predict(x)
        return frame

    def batch(self, n: int = 2000, **kw: float) -> pd.DataFrame:
        return self._scored(_frame(self.rng, n, self.task, **kw))

    def analyse(self, batch: pd.DataFrame) -> tuple[dict, dict, pd.DataFrame, dict]:
        ref = self.reference
        pred = prediction_drift(ref["score"], batch["score"], task=self.task)
        perf = performance_change(ref["y"], ref["score"], batch["y"], batch["score"], task=self.task)
        res = residual_drift(ref, batch, features=FEATURES, numeric=NUMERIC, task=self.task)
        return pred, perf, res, concept_verdict(pred, perf, res)


# --- (a) same distribution -------------------------------------------------------------------

def test_a_batch_from_the_reference_distribution_shows_no_drift() -> None:
    world = World(0)
    pred, perf, res, verdict = world.analyse(world.batch())
    assert pred["psi"] < 0.1 and not pred["drift"]
    assert perf["status"] == "ok" and not perf["degraded"] and perf["low"] < 0 < perf["high"]
    assert list(res.columns) == RESIDUAL_COLUMNS and sorted(res["feature"]) == sorted(FEATURES)
    assert not res["drifted"].any()
    assert res["score"].is_monotonic_decreasing
    assert (res["bins_used"] == [10 if k == "numeric" else 3 for k in res["kind"]]).all()
    assert verdict == {"concept_drift": False, "feature_drift": False, "drifted_features": [], "prediction_drift": False,
                       "performance_degraded": False, "labels": "ok", "reasons": [], "notes": []}


def test_residual_drift_false_alarm_rate_over_50_seeds_is_near_alpha() -> None:
    alarms = dict.fromkeys(FEATURES, 0)
    for seed in range(50):
        world = World(1000 + seed)
        res = residual_drift(world.reference, world.batch(), features=FEATURES, numeric=NUMERIC, task="binary")
        for feature in res.loc[res["drifted"], "feature"]:
            alarms[feature] += 1
    assert max(alarms.values()) <= 4, alarms  # <= 8 % per feature at alpha = 5 %


# --- (b) concept drift in one feature ----------------------------------------------------------

def test_b_concept_drift_in_x1_is_found_and_blamed_on_x1() -> None:
    world = World(0)
    batch = world.batch(b1=-1.2)
    pred, perf, res, verdict = world.analyse(batch)
    assert pred["psi"] < 0.1  # the features did not move, so neither did the scores
    assert perf["degraded"] and perf["high"] < 0 and perf["difference"] < -0.2
    top = res.iloc[0]
    assert top["feature"] == "x1" and top["drifted"] and top["p_value"] < 1e-10 and top["score"] > 0.5
    assert verdict["concept_drift"] and verdict["performance_degraded"] and not verdict["prediction_drift"]
    assert verdict["feature_drift"] and verdict["drifted_features"][0] == "x1"
    assert verdict["reasons"][0].startswith("performance degraded: roc_auc ")
    assert verdict["reasons"][1].startswith("feature drift by residuals: x1 (score ")


# --- (c) covariate shift -----------------------------------------------------------------------

def test_c_covariate_shift_moves_scores_but_not_residuals() -> None:
    world = World(0)
    pred, perf, res, verdict = world.analyse(world.batch(shift=1.0))
    assert pred["psi"] >= 0.1 and pred["drift"] and pred["mean_batch"] > pred["mean_reference"]
    assert pred["ks_statistic"] > 0.2 and pred["ks_p_value"] < 1e-10
    assert not perf["degraded"]
    assert not res["drifted"].any(), res
    assert verdict["concept_drift"] and not verdict["feature_drift"]
    assert verdict["reasons"] == [f"prediction drift: score PSI {pred['psi']:.3f} >= 0.1"]


# --- (d) regression ----------------------------------------------------------------------------

def test_d_regression_same_distribution_and_concept_drift() -> None:
    world = World(0, "regression", n=3000)
    pred, perf, res, verdict = world.analyse(world.batch())
    assert pred["psi"] < 0.1 and perf["metric"] == "rmse" and not perf["degraded"] and not res["drifted"].any()
    assert not verdict["concept_drift"] and not verdict["feature_drift"]
    batch = world.batch(b1=-2.0)
    pred, perf, res, verdict = world.analyse(batch)
    assert pred["psi"] < 0.1
    assert perf["degraded"] and perf["low"] > 0 and perf["batch"] > 3 * perf["reference"]
    assert perf["batch"] == pytest.approx(math.sqrt(mean_squared_error(batch["y"], batch["score"])))
    assert perf["secondary"]["metric"] == "mae"
    assert perf["secondary"]["batch"] == pytest.approx(mean_absolute_error(batch["y"], batch["score"]))
    assert res.iloc[0]["feature"] == "x1" and res.iloc[0]["drifted"]
    assert verdict["concept_drift"] and verdict["drifted_features"][0] == "x1"


def test_regression_residuals_are_standardized_by_the_reference_residual_sd() -> None:
    ref = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3, "y": [1.0, 2, 3, 1, 2, 3], "score": [0.0, 2, 4, 1, 2, 3]})
    # reference residuals 1 0 -1 0 0 0: sd (ddof 1) = sqrt(2/5), so a's standardized variance is 2.5;
    # batch residuals in a: 2 2 2, in b: 0 0 0
    new = pd.DataFrame({"g": ["a"] * 3 + ["b"] * 3, "y": [3.0, 3, 3, 1, 1, 1], "score": [1.0, 1, 1, 1, 1, 1]})
    res = residual_drift(ref, new, features=["g"], numeric=[], task="regression", min_bin=3)
    row = res.iloc[0]
    assert row["score"] == pytest.approx(0.5 * 2 / math.sqrt(2 / 5))
    assert row["worst_bin"] == "a" and row["worst_bin_diff"] == pytest.approx(2 / math.sqrt(2 / 5))
    # bin a: d^2 / (var_ref (1/3 + 1/3)) = (10 / 1) / (2.5 * 2/3) = 6; bin b: no difference -> chi2.sf(6, 2) = e^-3
    assert row["p_value"] == pytest.approx(math.exp(-3)) and row["drifted"]


# --- (e) missing labels and edge cases -----------------------------------------------------------

def test_e_performance_without_labels_reports_why() -> None:
    world = World(0)
    ref, batch = world.reference, world.batch(200)
    args = (ref["y"], ref["score"])
    common = {"task": "binary", "metric": "roc_auc", "higher_is_better": True, "degraded": None, "n_reference": 4000}
    assert performance_change(*args, None, batch["score"], task="binary") == {
        "status": "no labels", **common, "n_batch": 200, "n_labelled": 0, "reason": "the batch has no labels yet"}
    unlabelled = np.full(200, np.nan)
    assert performance_change(*args, unlabelled, batch["score"], task="binary")["status"] == "no labels"
    few = np.where(np.arange(200) < 29, batch["y"], np.nan)
    assert performance_change(*args, few, batch["score"], task="binary") == {
        "status": "insufficient labels", **common, "n_batch": 200, "n_labelled": 29,
        "reason": "29 labelled rows; at least 30 needed"}
    one_class = performance_change(*args, np.zeros(200), batch["score"], task="binary")
    assert one_class["status"] == "insufficient labels" and one_class["n_labelled"] == 200
    assert one_class["reason"] == "every labelled row has class 0; ROC AUC needs both classes"
    partial = np.where(np.arange(200) < 150, batch["y"], np.nan)
    ok = performance_change(*args, partial, batch["score"], task="binary")
    assert ok["status"] == "ok" and ok["n_labelled"] == 150 and ok["n_batch"] == 200
    assert ok["batch"] == pytest.approx(roc_auc_score(batch["y"][:150], batch["score"][:150]))
    verdict = concept_verdict(prediction_drift(ref["score"], batch["score"], task="binary"),
                              performance_change(*args, None, None, task="binary"), None)
    assert verdict["labels"] == "no labels" and not verdict["concept_drift"] and verdict["reasons"] == []
    assert verdict["notes"] == ["performance not assessed: no labels (the batch has no labels yet)",
                                "feature drift by residuals not assessed (no labelled batch)"]


def test_e_residual_drift_refuses_a_batch_without_labels() -> None:
    world = World(0)
    batch = world.batch(100)
    with pytest.raises(DataError) as err:
        residual_drift(world.reference, batch.drop(columns="y"), features=FEATURES, numeric=NUMERIC, task="binary")
    assert str(err.value) == ("batch: label column 'y' is missing; residual drift needs labels. Fix: check for labels first "
                              "(performance_change reports 'no labels') and run residual drift once they arrive.")
    with pytest.raises(DataError, match="^batch: label column 'churned' has no values"):
        residual_drift(world.reference.rename(columns={"y": "churned"}),
                       batch.rename(columns={"y": "churned"}).assign(churned=np.nan),
                       features=FEATURES, numeric=NUMERIC, task="binary", label="churned")
    with pytest.raises(DataError, match=r"^batch: missing column\(s\) \['x2'\]"):
        residual_drift(world.reference, batch.drop(columns="x2"), features=FEATURES, numeric=NUMERIC, task="binary")


@pytest.mark.parametrize(("reference", "batch"), [
    pytest.param(np.full(500, 0.3), np.full(400, 0.3), id="both-constant"),
    pytest.param(np.full(500, 0.3), np.linspace(0, 1, 50), id="constant-reference"),
    pytest.param(np.linspace(0, 1, 500), np.full(40, 0.9), id="constant-batch"),
    pytest.param(np.linspace(0, 1, 500), np.array([0.42]), id="one-row-batch"),
    pytest.param(np.array([0.2, 0.7]), np.array([0.1, 0.5, 0.9]), id="two-row-reference"),
    pytest.param(np.r_[np.zeros(300), np.ones(100)], np.r_[np.zeros(10), np.ones(10)], id="point-masses"),
    pytest.param(np.linspace(0, 1, 500), np.array([np.nan, 1.7, -0.2]), id="nan-and-out-of-range"),
])
def test_e_psi_edge_cases_are_finite(reference: np.ndarray, batch: np.ndarray) -> None:
    out = prediction_drift(reference, batch, task="binary")
    values = [out["psi"], out["mean_reference"], out["mean_batch"], out["ks_statistic"], out["ks_p_value"]]
    assert all(math.isfinite(v) for v in values), out
    assert out["psi"] >= 0
    assert sum(b["reference_share"] for b in out["bins"]) == pytest.approx(1.0)
    assert sum(b["batch_share"] for b in out["bins"]) == pytest.approx(1.0)
    assert out["bins"][0]["edge_low"] == 0.0 and out["bins"][-1]["edge_high"] == 1.0


def test_psi_of_identical_constant_scores_is_zero_and_regression_bins_are_open() -> None:
    assert prediction_drift(np.full(50, 0.3), np.full(5, 0.3), task="binary")["psi"] == 0.0
    out = prediction_drift(np.arange(100.0), np.arange(100.0) + 1000, task="regression")
    assert out["bins"][0]["edge_low"] == -math.inf and out["bins"][-1]["edge_high"] == math.inf
    assert out["bins"][-1]["batch_share"] == 1.0 and out["drift"]
    with pytest.raises(DataError, match="^batch scores: no finite value among 2 rows"):
        prediction_drift(np.arange(10.0), [np.nan, np.nan], task="regression")
    with pytest.raises(ParameterError, match="^" + re.escape("The 'task' parameter of prediction_drift must be 'binary' or 'regression'. "
                                                                    "Got 'multiclass' instead.") + "$"):
        prediction_drift([0.1], [0.2], task="multiclass")


# --- (f) hand-computed examples --------------------------------------------------------------------

def test_f_psi_by_hand() -> None:
    # median of the reference = 0.25: bins [0, 0.25) and [0.25, 1]; shares 1/2 1/2 vs 3/4 1/4
    out = prediction_drift([0.1, 0.2, 0.3, 0.4], [0.1, 0.15, 0.2, 0.3], task="binary", bins=2, min_rows=4)
    assert out["psi"] == pytest.approx(0.25 * math.log(1.5) + 0.25 * math.log(2))  # = ln(3) / 4
    assert out["bins"] == [
        {"edge_low": 0.0, "edge_high": 0.25, "reference_share": 0.5, "batch_share": 0.75},
        {"edge_low": 0.25, "edge_high": 1.0, "reference_share": 0.5, "batch_share": 0.25},
    ]
    assert (out["n_reference"], out["n_batch"], out["mean_reference"], out["mean_batch"]) == (4, 4, 0.25, 0.1875)
    assert out["ks_statistic"] == pytest.approx(stats.ks_2samp([0.1, 0.2, 0.3, 0.4], [0.1, 0.15, 0.2, 0.3]).statistic)
    assert out["drift"]
    # an empty batch bin counts as EPSILON
    empty = prediction_drift([0.1, 0.2, 0.3, 0.4], [0.1, 0.2], task="binary", bins=2)
    assert empty["psi"] == pytest.approx(0.5 * math.log(2) + (EPSILON - 0.5) * math.log(EPSILON / 0.5))


def test_f_residual_score_and_test_by_hand() -> None:
    # p = 0.5 everywhere, so each standardized residual is (y - 0.5) / 0.5 = +1 or -1
    ref = pd.DataFrame({"g": list("aaaabbbb"), "y": [1, 1, 0, 0, 1, 0, 1, 0], "score": 0.5})
    new = pd.DataFrame({"g": list("aaaabbbbbb"), "y": [1, 1, 1, 0, 1, 0, 0, 0, 0, 0], "score": 0.5})
    # a: ref mean 0, var 4/3; batch mean 1/2, var 1     -> d = 1/2,  term (1/4) / (4/3 (1/4 + 1/4)) = 3/8
    # b: ref mean 0, var 4/3; batch mean -2/3, var 2/3  -> d = -2/3, term (4/9) / (4/3 (1/4 + 1/6)) = 4/5
    res = residual_drift(ref, new, features=["g"], numeric=[], task="binary", min_bin=4, threshold=0.5, alpha=0.6)
    row = res.iloc[0].to_dict()
    assert row["score"] == pytest.approx(0.4 * 0.5 + 0.6 * 2 / 3)  # batch shares 4/10 and 6/10
    assert row["p_value"] == pytest.approx(math.exp(-(3 / 8 + 4 / 5) / 2))  # chi-square sf with 2 df
    assert row["p_value"] == pytest.approx(stats.chi2.sf(3 / 8 + 4 / 5, 2))
    assert {k: row[k] for k in ("feature", "kind", "bins_used", "bins_pooled", "bins_skipped", "n_reference", "n_batch",
                                "worst_bin", "drifted")} == {
        "feature": "g", "kind": "categorical", "bins_used": 2, "bins_pooled": 0, "bins_skipped": 0, "n_reference": 8,
        "n_batch": 10, "worst_bin": "b", "drifted": True}
    assert row["worst_bin_diff"] == pytest.approx(-2 / 3)
    assert not residual_drift(ref, new, features=["g"], numeric=[], task="binary", min_bin=4, alpha=0.5)["drifted"][0]
    assert not residual_drift(ref, new, features=["g"], numeric=[], task="binary", min_bin=4, alpha=0.6,
                              threshold=0.61)["drifted"][0]


def test_small_numeric_bins_are_pooled_and_unseen_levels_skipped() -> None:
    ref = pd.DataFrame({"x": np.arange(100.0), "c": np.repeat(["u", "v"], 50), "y": np.tile([0, 1], 50), "score": 0.5})
    # reference quartile cuts 24.75, 49.5, 74.25; batch rows per bin 10, 30, 30, 0 (+ 5 missing)
    x = np.r_[np.linspace(0, 20, 10), np.linspace(30, 45, 30), np.linspace(50, 70, 30), [np.nan] * 5]
    new = pd.DataFrame({"x": x, "c": ["u"] * 40 + ["w"] * 35, "y": np.tile([1, 1, 0, 1, 0], 15), "score": 0.5})
    res = residual_drift(ref, new, features=["x", "c"], numeric=["x"], task="binary", bins=4, min_bin=20).set_index("feature")
    # x: first two bins pooled, the empty-batch last bin joins the third, missing (5 rows) skipped
    assert res.loc["x", ["bins_used", "bins_pooled", "bins_skipped"]].tolist() == [2, 2, 1]
    assert res.loc["x", "worst_bin"] in {"< 49.5", ">= 49.5"}
    # c: level v has no batch rows and w is unseen in the reference: both skipped
    assert res.loc["c", ["bins_used", "bins_pooled", "bins_skipped", "worst_bin"]].tolist() == [1, 0, 2, "u"]
    assert res.loc["c", "n_batch"] == 75


# --- performance details ---------------------------------------------------------------------------

def test_performance_matches_sklearn_and_a_naive_bootstrap() -> None:
    rng = np.random.default_rng(3)
    ry, by = rng.integers(0, 2, 300), rng.integers(0, 2, 120)
    rs = np.round(np.clip(0.3 * ry + rng.random(300) * 0.7, 0, 1), 1)  # rounded: many ties
    bs = np.round(np.clip(0.1 * by + rng.random(120) * 0.9, 0, 1), 1)
    out = performance_change(ry, rs, by, bs, task="binary", n_bootstrap=300, seed=7)
    assert out["reference"] == pytest.approx(roc_auc_score(ry, rs)) and out["batch"] == pytest.approx(roc_auc_score(by, bs))
    assert out["difference"] == pytest.approx(out["batch"] - out["reference"])
    assert out["secondary"] == pytest.approx({"metric": "accuracy", "reference": np.mean((rs >= 0.5) == ry),
                                              "batch": np.mean((bs >= 0.5) == by),
                                              "difference": np.mean((bs >= 0.5) == by) - np.mean((rs >= 0.5) == ry)})
    # the vectorised bootstrap equals resampling rows one replicate at a time (same draws: batch, then reference)
    draws = np.random.default_rng(7)
    bi, ri = draws.integers(0, 120, (300, 120)), draws.integers(0, 300, (300, 300))
    naive = [roc_auc_score(by[b], bs[b]) - roc_auc_score(ry[r], rs[r]) for b, r in zip(bi, ri, strict=True)]
    assert [out["low"], out["high"]] == pytest.approx(np.quantile(naive, [0.025, 0.975]))
    assert out["degraded"] == (out["high"] < 0)
    assert performance_change(ry, rs, by, bs, task="binary", n_bootstrap=300, seed=7) == out


def test_performance_refuses_bad_labels() -> None:
    with pytest.raises(DataError, match="^" + re.escape("batch: binary labels must be 0 or 1; found [2.0]")):
        performance_change([0, 1] * 20, [0.2, 0.8] * 20, [0, 2] * 20, [0.5] * 40, task="binary")
    with pytest.raises(DataError, match="^reference: 3 labels but 2 scores"):
        performance_change([0, 1, 1], [0.2, 0.8], None, None, task="binary")
    with pytest.raises(DataError, match="^reference: performance needs at least 2 labelled rows and both classes"):
        performance_change([1, 1, 1], [0.2, 0.8, 0.4], None, None, task="binary")


def test_a_small_bin_that_misses_a_rare_positive_is_not_drift() -> None:
    # p = 0.02: residuals are -1/7 for y = 0 and +7 for y = 1. The reference (8 positives in 400) is
    # calibrated, mean 0, variance ~1; 25 batch rows without a positive (60 % likely) have mean -1/7
    # and variance 0, which a Welch test would call significant (z = 2.9). The larger variance gives z = 0.69.
    ref = pd.DataFrame({"g": "t", "y": [1] * 8 + [0] * 392, "score": 0.02})
    new = pd.DataFrame({"g": "t", "y": [0] * 25, "score": 0.02})
    row = residual_drift(ref, new, features=["g"], numeric=[], task="binary").iloc[0]
    var = np.var(np.r_[[7.0] * 8, [-1 / 7] * 392], ddof=1)
    assert row["worst_bin_diff"] == pytest.approx(-1 / 7)
    assert row["p_value"] == pytest.approx(stats.chi2.sf((1 / 7) ** 2 / (var * (1 / 400 + 1 / 25)), 1))
    assert row["p_value"] > 0.4 and not row["drifted"]


# --- (g) too few rows --------------------------------------------------------------------------------

def test_g_one_scored_row_is_insufficient_data_never_prediction_drift() -> None:
    reference = np.random.default_rng(7).uniform(0, 1, 2000)
    out = prediction_drift(reference, [0.93], task="binary")
    assert out["psi"] > 5  # one row fills one bin: the PSI alone would cry drift
    assert (out["status"], out["drift"], out["reason"]) == ("insufficient data", False, "1 scored rows, fewer than the minimum of 30")
    verdict = concept_verdict(out, None, None)
    assert not verdict["concept_drift"] and verdict["reasons"] == []
    assert verdict["notes"][0] == "prediction drift not assessed: insufficient data (1 scored rows, fewer than the minimum of 30)"
    shifted = prediction_drift(reference, np.full(30, 0.93), task="binary")  # at the minimum the same scores are drift
    assert (shifted["status"], shifted["drift"]) == ("ok", True)
    with pytest.raises(ParameterError, match="^The 'min_rows' parameter of prediction_drift must be an int >= 1. Got 0 instead.$"):
        prediction_drift(reference, [0.5], task="binary", min_rows=0)
