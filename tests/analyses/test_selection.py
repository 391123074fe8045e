"""Model selection: the cross-validated leaderboard ranks real estimators, on the folds and rows it says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from workbench.analyses.selection import select


def _binary(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-(1.5 * x["a"] - x["b"])))).astype(int))
    return x, y


def test_the_informative_model_beats_the_prior_and_the_scores_are_sklearns() -> None:
    x, y = _binary()
    chosen = select(x, y, {"dummy": DummyClassifier(), "logistic": LogisticRegression()}, task="binary", seed=3)
    assert chosen.winner == "logistic" and chosen.metric == "roc_auc" and chosen.folds == 5
    assert [r["estimator"] for r in chosen.board] == ["logistic", "dummy"]
    expected = cross_val_score(LogisticRegression(), x, y, cv=StratifiedKFold(5, shuffle=True, random_state=3), scoring="roc_auc")
    top = chosen.board[0]
    assert top["scores"] == pytest.approx(list(expected)) and top["mean"] == pytest.approx(expected.mean())
    assert top["std"] == pytest.approx(expected.std(ddof=1)) and chosen.board[1]["mean"] == pytest.approx(0.5)
    frame = chosen.to_frame()
    assert frame["rank"].tolist() == [1, 2] and frame["chosen"].tolist() == [True, False]
    assert {"estimator", "mean", "std", "fit_seconds"} <= set(frame.columns)


def test_regression_ranks_by_rmse_lower_is_better() -> None:
    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.normal(size=400)})
    y = pd.Series(3 * x["a"] + rng.normal(scale=0.5, size=400))
    chosen = select(x, y, {"mean": DummyRegressor(), "linear": LinearRegression()}, task="regression")
    assert chosen.metric == "rmse" and chosen.winner == "linear"
    assert 0.4 < chosen.board[0]["mean"] < 0.6 < 2.5 < chosen.board[1]["mean"]


def test_an_exact_tie_goes_to_the_earlier_candidate() -> None:
    x, y = _binary(200)
    first = select(x, y, {"prior": DummyClassifier(), "most-frequent": DummyClassifier(strategy="most_frequent")}, task="binary")
    assert first.winner == "prior"
    second = select(x, y, {"most-frequent": DummyClassifier(strategy="most_frequent"), "prior": DummyClassifier()}, task="binary")
    assert second.winner == "most-frequent"


def test_large_data_selects_on_a_stratified_subsample_of_max_rows() -> None:
    x, y = _binary(1000)
    chosen = select(x, y, {"logistic": LogisticRegression()}, task="binary", max_rows=300)
    assert (chosen.rows, chosen.train_rows, chosen.subsampled) == (300, 1000, True)
    assert chosen.summary()["subsampled"] is True and chosen.summary()["winner"] == "logistic"
    assert not select(x, y, {"logistic": LogisticRegression()}, task="binary").subsampled


def test_few_positives_mean_fewer_folds_not_a_warning() -> None:
    x, y = _binary(100)
    y[:] = 0
    y.iloc[:3] = 1
    chosen = select(x, y, {"logistic": LogisticRegression()}, task="binary")
    assert chosen.folds == 3

