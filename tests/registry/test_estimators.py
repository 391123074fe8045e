"""Training pipelines: every named estimator fits, and serializes with only trusted types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io

from workbench.config import ModelConfig
from workbench.data import frames, infer_schema
from workbench.exceptions import ConfigError
from workbench.registry import estimators, models

ROWS = estimators.ESTIMATORS
IDS = [f"{row.task}-{row.name}" for row in ROWS]


def _frame(task: str) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 300
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y", None], n), "c": rng.integers(0, 5, n).astype(float)})
    df.loc[::17, "a"] = np.nan
    df["y"] = (df["a"].fillna(0) > 0).astype(int) if task == "binary" else df["c"] * 2 + rng.normal(size=n)
    return df


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_estimator_round_trips_through_skops_with_exactly_its_listed_types(row: estimators.Estimator) -> None:
    df = _frame(row.task)
    schema = infer_schema(df, target="y")
    pipe = estimators.pipeline_for(row.task, row.name, {}, 0, schema)
    pipe.fit(frames.features(df, schema), frames.target(df, schema, row.task))
    data = skops.io.dumps(pipe)
    assert sorted(set(skops.io.get_untrusted_types(data=data)) - set(row.trusted_types)) == []
    loaded = skops.io.loads(data, trusted=list(row.trusted_types))
    scores = estimators.predict(pipe, df, schema, row.task)
    assert scores.shape == (len(df),) and np.isfinite(scores).all()
    np.testing.assert_array_equal(estimators.predict(loaded, df, schema, row.task), scores)
    assert models.untrusted_types(pipe) == []
    assert set(row.types) <= set(estimators.TRUSTED_TYPES)


def test_the_table_names_each_task_estimator_once_and_a_baseline_for_each_task() -> None:
    keys = [(row.task, row.name) for row in ROWS]
    assert len(keys) == len(set(keys))
    for task in estimators.TASKS:
        assert estimators.DEFAULT_BASELINE[task] in estimators.names(task, role="baseline")
        assert estimators.baseline_name(ModelConfig(task=task)) == estimators.DEFAULT_BASELINE[task]
        assert "dummy" not in estimators.names(task) and "dummy" in estimators.names(task, role="baseline")


def test_an_unknown_estimator_lists_the_valid_names() -> None:
    with pytest.raises(ConfigError) as err:
        estimators.get("binary", "xgboost")
    assert str(err.value) == ("unknown estimator 'xgboost' for task 'binary'. Valid names: hist_gradient_boosting, random_forest, "
                              "gradient_boosting, logistic_regression, dummy.")


def test_features_casts_categoricals_to_strings_and_keeps_missing() -> None:
    df = pd.DataFrame({"n": ["1", "2", None], "k": [1, None, 3], "y": [0, 1, 0]})
    schema = infer_schema(df, target="y", numeric=["k"], categorical=["n"])
    x = frames.features(df, schema)
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
        frames.check_target(df, schema, task, source="my.csv")
    assert str(err.value) == (f"my.csv: column 'label' (data.target) must hold the two classes 0 and 1 for model.task 'binary'; "
                              f"found {found}. Fix: encode the positive class as 1.")


def test_regression_needs_a_numeric_target() -> None:
    from workbench.exceptions import DataError

    df = pd.DataFrame({"a": [1.0, 2.0], "label": ["x", "y"]})
    with pytest.raises(DataError, match="must be numeric for model.task 'regression'"):
        frames.check_target(df, infer_schema(df, target="label", categorical=["a"]), "regression", source="my.csv")
