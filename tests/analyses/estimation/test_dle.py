"""DLE: estimated MAE and RMSE follow the realised ones when a batch moves into a region of larger
noise; categorical features with unseen levels and NaN; input validation with exact messages.

The synthetic world: ``x1, x2 ~ N(0, 1)`` in the reference and a categorical ``c`` (a/b/c, 50/30/20 %);
``y = 2 x1 - x2 + offset(c) + noise`` with noise standard deviation ``(0.3 + 0.7 |x1|) * scale(c)``,
so errors grow with ``|x1|`` and in level ``b``. The model predicts the true mean plus a small
systematic error ``0.2 sin(x2)``. Batches shift ``x1``'s mean and spread and the level mix.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from workbench.analyses.estimation._dle import DLE
from workbench.exceptions import DataError, ParameterError

LEVELS = np.array(["a", "b", "c"])
OFFSET = {"a": 0.0, "b": 1.0, "c": -1.0}
NOISE = {"a": 1.0, "b": 1.5, "c": 0.7}
CHUNK = 2000


def _world(n: int, rng: np.random.Generator, mean: float = 0.0, scale: float = 1.0, mix=(0.5, 0.3, 0.2)):
    x1, x2 = rng.normal(mean, scale, n), rng.normal(size=n)
    c = pd.Series(rng.choice(LEVELS, n, p=list(mix)), dtype=object)
    mu = 2 * x1 - x2 + c.map(OFFSET).to_numpy()
    y = mu + rng.normal(size=n) * (0.3 + 0.7 * np.abs(x1)) * c.map(NOISE).to_numpy()
    return pd.DataFrame({"x1": x1, "x2": x2, "c": c}), y, mu + 0.2 * np.sin(x2)


@pytest.fixture(scope="module")
def dle() -> DLE:
    return DLE(seed=0).fit(*_world(10_000, np.random.default_rng(21)))


BASE = (0.5, 0.3, 0.2)
SHIFTS = [(0.0, 1.0, BASE), (0.5, 1.0, BASE), (1.0, 1.0, BASE), (-0.8, 1.2, BASE), (0.0, 1.3, (0.2, 0.6, 0.2)),
          (0.5, 1.0, (0.1, 0.8, 0.1)), (0.0, 0.6, (0.3, 0.1, 0.6))]  # within the reference's range: trees do not extrapolate


def test_acceptance_estimated_mae_and_rmse_follow_the_realised_ones_into_noisier_regions(dle: DLE) -> None:
    rng = np.random.default_rng(22)
    hits, chunks, reference_hits, rises = {"mae": 0, "rmse": 0}, 0, 0, []
    for mean, scale, mix in SHIFTS:
        ratios = []
        for _ in range(12):
            X, y, pred = _world(CHUNK, rng, mean, scale, mix)
            est = dle.estimate(X, pred)
            real = {"mae": float(np.mean(np.abs(y - pred))), "rmse": float(np.sqrt(np.mean((y - pred) ** 2)))}
            for m in hits:
                hits[m] += abs(est[m]["value"] - real[m]) <= 3 * est[m]["se"] + 0.02 * est[m]["reference"]
            reference_hits += abs(est["mae"]["reference"] - real["mae"]) <= 3 * est["mae"]["se"] + 0.02 * est["mae"]["reference"]
            chunks += 1
            ratios.append((real["mae"] / est["mae"]["reference"], est["mae"]["value"] / est["mae"]["reference"]))
        rises.append(np.mean(ratios, axis=0))
    assert max(real for real, _ in rises) > 1.3  # the batches do move into much noisier regions ...
    assert all(abs(est - real) < 0.08 for real, est in rises), rises  # ... and the estimate moves with them
    assert reference_hits / chunks < 0.5  # "no change from the reference" would fail most chunks
    assert hits["mae"] / chunks >= 0.9, hits
    assert hits["rmse"] / chunks >= 0.9, hits


def test_sampling_error_is_the_reference_loss_spread_at_the_estimated_level_over_sqrt_rows(dle: DLE) -> None:
    X, y, pred = _world(10_000, np.random.default_rng(21))  # the reference again
    err = y - pred
    est = dle.estimate(X.iloc[:400], pred[:400])
    mae, rmse = np.mean(np.abs(err)), np.sqrt(np.mean(err**2))
    assert est["mae"]["reference"] == pytest.approx(mae)
    assert est["rmse"]["reference"] == pytest.approx(rmse)
    assert est["mae"]["se"] == pytest.approx(np.std(np.abs(err)) / 20 * est["mae"]["value"] / mae)
    assert est["rmse"]["se"] == pytest.approx(np.std(err**2) / 20 / (2 * rmse) * est["rmse"]["value"] / rmse)


@pytest.mark.parametrize(("mean", "scale", "mix"), [(0.0, 1.0, BASE), (0.5, 1.0, (0.1, 0.8, 0.1))], ids=["unshifted", "noisier"])
def test_sampling_error_matches_the_spread_of_realised_mae_across_chunks(dle: DLE, mean: float, scale: float, mix: tuple) -> None:
    rng = np.random.default_rng(23)
    chunks = [_world(400, rng, mean, scale, mix) for _ in range(300)]
    maes = [np.mean(np.abs(y - pred)) for _, y, pred in chunks]
    se = np.mean([dle.estimate(X, pred)["mae"]["se"] for X, _, pred in chunks[:20]])
    assert 0.8 <= np.std(maes, ddof=1) / se <= 1.2


def test_unseen_levels_missing_values_and_category_dtypes_do_not_break_estimates(dle: DLE) -> None:
    X, _, pred = _world(500, np.random.default_rng(24))
    X["c"] = X["c"].astype(object)
    X.loc[:99, "c"] = "never seen"
    X.loc[100:149, "c"] = None
    X.loc[150:199, "x1"] = np.nan
    X["c"] = X["c"].astype("category")
    X["extra"] = "ignored"
    est = dle.estimate(X, pred)
    assert {m: np.isfinite(v["value"]) and v["value"] > 0 and v["rows"] == 500 for m, v in est.items()} == {"mae": True, "rmse": True}


def test_a_high_cardinality_categorical_and_integer_features_fit_and_estimate() -> None:
    rng = np.random.default_rng(25)
    n = 3000
    X = pd.DataFrame({"id": pd.Series(rng.integers(0, 400, n).astype(str)).astype("category"), "k": rng.integers(0, 5, n)})
    y = X["k"].to_numpy() + rng.normal(size=n) * (1 + X["k"].to_numpy())
    dle = DLE().fit(X, y, X["k"].to_numpy(dtype=float))
    batch = pd.DataFrame({"id": ["9999", "17"], "k": [4, 0]})
    est = dle.estimate(batch, [4.0, 0.0])
    assert 1.0 < est["mae"]["value"] < 4.0  # the mean of ~4 (k = 4) and ~0.8 (k = 0)


def _raises(exc: type[Exception], message: str, call, *args) -> None:
    with pytest.raises(exc, match=re.escape(message)) as info:
        call(*args)
    assert str(info.value) == message


def test_bad_batches_are_refused_with_the_problem_and_a_fix(dle: DLE) -> None:
    X, _, pred = _world(30, np.random.default_rng(26))
    _raises(DataError, "batch: 30 feature rows but 29 predictions. Fix: pass row-aligned features and predictions.", dle.estimate, X, pred[:-1])
    _raises(DataError, "batch: 0 rows. Fix: pass at least one row with its prediction.", dle.estimate, X.iloc[:0], [])
    _raises(DataError, "batch: missing feature column(s) ['x2'] that DLE was fitted on. Fix: pass the reference's feature columns "
            "(extra columns are ignored).", dle.estimate, X.drop(columns="x2"), pred)
    _raises(DataError, "batch: feature column 'x1' must be numeric (it was in the reference) but holds text. "
            "Fix: pass numbers in that column (missing values as NaN).", dle.estimate, X.assign(x1="high"), pred)
    _raises(DataError, "batch predictions: 1 missing or infinite value(s), the first at row 3. Fix: pass the model's prediction for every row.",
            dle.estimate, X, np.where(np.arange(30) == 3, np.nan, pred))
    _raises(ParameterError, "The 'X' parameter of DLE.estimate must be a pandas DataFrame of features. Got ndarray instead.",
            dle.estimate, X.to_numpy(), pred)


def test_bad_references_are_refused_with_the_problem_and_a_fix() -> None:
    X, y, pred = _world(30, np.random.default_rng(27))
    _raises(DataError, "reference: 30 feature rows, 29 labels and 30 predictions. Fix: pass row-aligned features, labels and predictions.",
            DLE().fit, X, y[:-1], pred)
    _raises(DataError, "reference: 10 rows; DLE needs at least 20 labelled rows to fit its loss models. Fix: fit on the model's labelled holdout.",
            DLE().fit, X.iloc[:10], y[:10], pred[:10])
    _raises(DataError, "reference labels: 1 missing or infinite value(s), the first at row 0. Fix: pass only the labelled rows of the reference.",
            DLE().fit, X, np.r_[np.nan, y[1:]], pred)
    _raises(DataError, "reference predictions must be numeric. Fix: pass numbers, one per row.", DLE().fit, X, y, ["a"] * 30)
    _raises(DataError, "reference: feature column 'when' holds datetimes. Fix: drop it or pass it as numbers (e.g. days since an origin).",
            DLE().fit, X.assign(when=pd.Timestamp("2024-01-01")), y, pred)
    _raises(ParameterError, "DLE.estimate was called before fit. Fix: call fit(X_ref, y_ref, pred_ref) on the labelled holdout first.",
            DLE().estimate, X, pred)


def test_a_batch_above_max_rows_is_estimated_from_a_seeded_sample_whose_error_joins_the_se(dle: DLE, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.analyses.estimation import _dle

    X, y, pred = _world(30_000, np.random.default_rng(23), mean=0.5)
    every_row = dle.estimate(X, pred)
    monkeypatch.setattr(_dle, "MAX_ROWS", 5_000)  # the production bound is 200,000 rows; the rule is the same
    sampled, again = dle.estimate(X, pred), dle.estimate(X, pred)
    assert sampled == again and sampled["mae"]["rows"] == 30_000  # seeded: the same batch gives the same estimate
    for m in ("mae", "rmse"):
        assert sampled[m]["se"] > every_row[m]["se"]  # the sample's own error is in the band
        assert abs(sampled[m]["value"] - every_row[m]["value"]) <= 3 * np.sqrt(sampled[m]["se"] ** 2 - every_row[m]["se"] ** 2)
