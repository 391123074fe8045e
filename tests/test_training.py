"""Training pipelines: every named estimator fits, and serializes with only trusted types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.registry import models

from workbench.phases import train as training
from workbench.config import BASELINES, ESTIMATORS
from workbench.data import infer_schema

CASES = [(task, name) for task, names in ESTIMATORS.items() for name in names] + \
        [(task, name) for task, names in BASELINES.items() for name in names if name not in ESTIMATORS[task]]


def _frame(task: str) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 300
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y", None], n), "c": rng.integers(0, 5, n).astype(float)})
    df.loc[::17, "a"] = np.nan
    df["y"] = (df["a"].fillna(0) > 0).astype(int) if task == "binary" else df["c"] * 2 + rng.normal(size=n)
    return df


@pytest.mark.parametrize(("task", "name"), CASES, ids=[f"{t}-{n}" for t, n in CASES])
def test_estimator_fits_and_has_only_trusted_types(task: str, name: str) -> None:
    df = _frame(task)
    schema = infer_schema(df, target="y")
    est = training.make_estimator(task, name, {}, seed=0)
    pipe = training.build_pipeline(schema, est, scale=name in ("logistic_regression", "ridge"))
    pipe.fit(training.features(df, schema), training.target(df, schema, task))
    assert models.untrusted_types(pipe) == []
    scores = training.predict(pipe, df, schema, task)
    assert scores.shape == (len(df),) and np.isfinite(scores).all()


def test_features_casts_categoricals_to_strings_and_keeps_missing() -> None:
    df = pd.DataFrame({"n": ["1", "2", None], "k": [1, None, 3], "y": [0, 1, 0]})
    schema = infer_schema(df, target="y", numeric=["k"], categorical=["n"])
    x = training.features(df, schema)
    assert x["n"].tolist()[:2] == ["1", "2"] and pd.isna(x["n"].iloc[2])
    assert x["k"].dtype == float and np.isnan(x["k"].iloc[1])


@pytest.mark.parametrize(
    ("values", "task", "found"),
    [(["yes", "no", "yes"], "binary", "no, yes"), ([1, 1, 1], "binary", "1"), ([0, 1, 2], "binary", "0, 1, 2")],
    ids=["strings", "one-class", "three-classes"],
)
def test_unusable_binary_labels_are_refused_with_the_column(values, task: str, found: str) -> None:
    from workbench.exceptions import DataError

    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "label": values})
    schema = infer_schema(df, target="label")
    with pytest.raises(DataError) as err:
        training.check_target(df, schema, task, source="my.csv")
    assert str(err.value) == (f"my.csv: column 'label' (data.target) must hold the two classes 0 and 1 for model.task 'binary'; "
                              f"found {found}. Fix: encode the positive class as 1.")


def test_regression_needs_a_numeric_target() -> None:
    from workbench.exceptions import DataError

    df = pd.DataFrame({"a": [1.0, 2.0], "label": ["x", "y"]})
    with pytest.raises(DataError, match="must be numeric for model.task 'regression'"):
        training.check_target(df, infer_schema(df, target="label", categorical=["a"]), "regression", source="my.csv")
