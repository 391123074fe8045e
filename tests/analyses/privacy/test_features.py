"""Private features (per-row Laplace, scale k * range / epsilon) and the utility table of what they cost."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.analyses.privacy._scale import assert_laplace_scale
from workbench.analyses.privacy import Release, privatize_features, utility_table
from workbench.exceptions import DataError, ParameterError

BOUNDS = {"age": (18.0, 90.0), "tenure": (0.0, 10.0)}


def test_privatize_features_scale_is_columns_times_range_over_epsilon() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    frame = pd.DataFrame({"age": rng.uniform(18, 90, n), "tenure": rng.integers(0, 11, n), "plan": "basic"})
    private, release = privatize_features(frame, columns=["age", "tenure"], bounds=BOUNDS, epsilon=2.0)
    assert release == Release("laplace", 2.0, 0.0, 2.0, 1.0, "per-row values of 2 column(s) (age, tenure); units: each column's range")
    assert_laplace_scale(private["age"] - frame["age"], 2 * 72 / 2.0)
    assert_laplace_scale(private["tenure"] - frame["tenure"], 2 * 10 / 2.0)
    assert private["plan"].equals(frame["plan"]) and frame["tenure"].dtype.kind == "i"  # other columns kept; the input untouched


def test_at_epsilon_one_a_72_year_range_adds_72_years_of_error_per_row() -> None:
    frame = pd.DataFrame({"age": np.full(10_000, 40.0)})
    private, _ = privatize_features(frame, columns=["age"], bounds={"age": (18.0, 90.0)}, epsilon=1.0)
    assert abs(float((private["age"] - 40.0).abs().mean()) - 72.0) < 5 * 72.0 / math.sqrt(10_000)


def test_values_are_clamped_before_the_noise_and_missing_values_stay_missing() -> None:
    frame = pd.DataFrame({"age": np.tile([5.0, 200.0, np.nan, 50.0], 5000)})
    private, _ = privatize_features(frame, columns="age", bounds=BOUNDS, epsilon=200.0)  # scale 0.36 years
    by_value = private["age"].groupby(np.arange(len(frame)) % 4).mean()
    assert by_value.round(0).tolist()[:2] == [18.0, 90.0] and math.isnan(by_value[2]) and private["age"].isna().sum() == 5000


def test_privatize_features_refuses_undeclared_bounds_and_absent_columns() -> None:
    frame = pd.DataFrame({"age": [30.0]})
    with pytest.raises(ParameterError) as err:
        privatize_features(frame, columns=["age", "income"], bounds=BOUNDS, epsilon=1.0)
    assert str(err.value) == "privatize_features: column(s) income have no declared bounds. Fix: declare privacy.bounds.income: [lower, upper]."
    with pytest.raises(DataError) as err:
        privatize_features(frame, columns=["tenure"], bounds=BOUNDS, epsilon=1.0)
    assert str(err.value) == ("privatize_features: column(s) tenure are not in the data (found age). "
                              "Fix: pass only the bounds of columns the data holds.")


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, n)
    return pd.DataFrame({"age": age, "tenure": rng.uniform(0, 10, n), "y": (rng.random(n) < 1 / (1 + np.exp(-(age - 54) / 6))).astype(int)})


def _fit_and_score(train: pd.DataFrame, holdout: pd.DataFrame) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    model = LogisticRegression().fit(train[["age", "tenure"]], train["y"])
    return float(roc_auc_score(holdout["y"], model.predict_proba(holdout[["age", "tenure"]])[:, 1]))


def test_the_utility_table_shows_the_metric_fall_as_epsilon_shrinks() -> None:
    train, holdout = _data(3000, 2), _data(2000, 3)
    table = utility_table(train, holdout, fit_and_score=_fit_and_score, columns=["age", "tenure"], bounds=BOUNDS, epsilons=[1000.0, 0.5])
    assert list(table.columns) == ["setting", "epsilon", "metric", "metric_private_holdout", "loss", "mean_abs_noise",
                                   "mean_abs_noise_age", "mean_abs_noise_tenure"]
    assert table["setting"].tolist() == ["clean", "epsilon=0.5", "epsilon=1000"] and math.isnan(table.loc[0, "epsilon"])
    clean, low, high = table["metric"]
    assert clean > 0.9 and table.loc[0, ["loss", "mean_abs_noise"]].tolist() == [0.0, 0.0]
    assert abs(high - clean) < 0.01 and table.loc[1, "loss"] == pytest.approx(clean - low)
    # scored on private holdout features too (the model in production on private features): near chance at epsilon 0.5.
    # On the clean holdout the AUC may stay high: noise that is unbiased only shrinks a monotone model's coefficient, not its ranking
    assert table.loc[1, "metric_private_holdout"] < clean - 0.2 and abs(table.loc[2, "metric_private_holdout"] - clean) < 0.01
    for column, (lo, hi) in BOUNDS.items():  # mean |noise| = scale = 2 (hi - lo) / 0.5, within 5 standard errors of 3000 draws
        assert abs(table.loc[1, f"mean_abs_noise_{column}"] - 4 * (hi - lo)) < 5 * 4 * (hi - lo) / math.sqrt(3000)
    assert table.loc[1, "mean_abs_noise"] == pytest.approx((table.loc[1, "mean_abs_noise_age"] + table.loc[1, "mean_abs_noise_tenure"]) / 2)


def test_the_utility_loss_of_a_lower_is_better_metric_is_positive_too() -> None:
    train, holdout = _data(500, 4), _data(500, 5)
    table = utility_table(train, holdout, fit_and_score=lambda tr, ho: 1 - _fit_and_score(tr, ho), columns=["age"], bounds=BOUNDS,
                          epsilons=[0.5], greater_is_better=False)
    assert table.loc[1, "loss"] == pytest.approx(table.loc[1, "metric"] - table.loc[0, "metric"])
    assert table.loc[1, "metric_private_holdout"] > table.loc[0, "metric"] + 0.2  # 1 - AUC near 0.5 on private features
