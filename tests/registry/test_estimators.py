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


AUTO_ROWS = [row for task in estimators.TASKS for row in estimators.candidates(task)]


def test_auto_chooses_among_boosting_the_linear_model_and_a_forest_per_task() -> None:
    assert [r.name for r in estimators.candidates("binary")] == ["hist_gradient_boosting", "random_forest", "logistic_regression"]
    assert [r.name for r in estimators.candidates("regression")] == ["hist_gradient_boosting", "random_forest", "ridge"]
    assert estimators.get("binary", "hist_gradient_boosting").auto["early_stopping"] is True


@pytest.mark.parametrize("row", AUTO_ROWS, ids=[f"{r.task}-{r.name}" for r in AUTO_ROWS])
def test_auto_settings_are_valid_and_round_trip_through_skops(row: estimators.Estimator) -> None:
    df = _frame(row.task)
    schema = infer_schema(df, target="y")
    row.make(row.auto, 0)._validate_params()  # sklearn's own range checks
    pipe = estimators.pipeline_for(row.task, row.name, row.auto, 0, schema)
    pipe.fit(frames.features(df, schema), frames.target(df, schema, row.task))
    assert sorted(set(skops.io.get_untrusted_types(data=skops.io.dumps(pipe))) - set(row.trusted_types)) == []


def _config(tmp_path, model: dict):
    import yaml

    from workbench.config import load_config

    path = tmp_path / "workbench.yaml"
    path.write_text(yaml.safe_dump({"project": "p", "data": {"reference": "r.csv", "target": "y"}, "model": model}))
    return path, load_config(path)


def test_auto_is_the_default_and_passes_the_preflight(tmp_path) -> None:
    _, config = _config(tmp_path, {"task": "regression"})
    assert config.model.estimator == "auto"
    estimators.check_config(config)


def test_auto_refuses_model_params(tmp_path) -> None:
    path, config = _config(tmp_path, {"params": {"max_iter": 50}})
    with pytest.raises(ConfigError) as err:
        estimators.check_config(config)
    assert str(err.value) == (f"{path}: key 'model.params': model.estimator 'auto' chooses among hist_gradient_boosting, "
                              "random_forest, logistic_regression with their own settings and takes no parameters. "
                              "Fix: remove model.params, or name one estimator in model.estimator.")


@pytest.mark.parametrize(
    ("name", "params", "found"),
    [("hist_gradient_boosting", {"max_iter": -1}, "The 'max_iter' parameter of HistGradientBoostingClassifier must be an int "
                                                  "in the range [1, inf). Got -1 instead."),
     ("logistic_regression", {"C": "big"}, "The 'C' parameter of LogisticRegression must be a float in the range (0.0, inf]. "
                                           "Got 'big' instead."),
     ("random_forest", {"max_depht": 3}, "Invalid parameter 'max_depht' for estimator RandomForestClassifier(")],
    ids=["out-of-range", "wrong-type", "unknown-name"],
)
def test_model_params_are_range_checked_by_sklearn_before_anything_runs(tmp_path, name: str, params: dict, found: str) -> None:
    path, config = _config(tmp_path, {"estimator": name, "params": params})
    with pytest.raises(ConfigError) as err:
        estimators.check_config(config)
    message = str(err.value)
    assert message.startswith(f"{path}: key 'model.params': {found}") and message.endswith(" Fix: correct or remove the parameter.")
    assert "\n" not in message


def test_valid_model_params_pass_the_preflight(tmp_path) -> None:
    _, config = _config(tmp_path, {"estimator": "hist_gradient_boosting", "params": {"max_iter": 20, "learning_rate": 0.2}})
    estimators.check_config(config)
