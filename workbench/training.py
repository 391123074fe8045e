"""Training: the configurable scikit-learn pipeline, the static baseline and the holdout split.

The candidate is the configured estimator behind a column transformer (imputation, one-hot
encoding, scaling for linear models). The baseline is a deliberately simple model kept as
the scoring fallback; it is "static": it is only replaced together with a new champion.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.exceptions import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from workbench.config import Config
    from workbench.data import Schema
    from workbench.phase import PhaseContext

HOLDOUT_FILE = "holdout.parquet"
SCHEMA_FILE = "schema.json"
_LINEAR = {"logistic_regression", "ridge"}


def make_estimator(task: str, name: str, params: dict[str, Any], seed: int) -> Any:
    """A fresh scikit-learn estimator by its workbench name."""
    from sklearn import dummy, ensemble, linear_model

    table = {
        ("binary", "hist_gradient_boosting"): lambda: ensemble.HistGradientBoostingClassifier(random_state=seed),
        ("binary", "random_forest"): lambda: ensemble.RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
        ("binary", "gradient_boosting"): lambda: ensemble.GradientBoostingClassifier(random_state=seed),
        ("binary", "logistic_regression"): lambda: linear_model.LogisticRegression(max_iter=2000),
        ("binary", "dummy"): lambda: dummy.DummyClassifier(strategy="prior"),
        ("regression", "hist_gradient_boosting"): lambda: ensemble.HistGradientBoostingRegressor(random_state=seed),
        ("regression", "random_forest"): lambda: ensemble.RandomForestRegressor(n_estimators=200, random_state=seed, n_jobs=1),
        ("regression", "gradient_boosting"): lambda: ensemble.GradientBoostingRegressor(random_state=seed),
        ("regression", "ridge"): lambda: linear_model.Ridge(),
        ("regression", "dummy"): lambda: dummy.DummyRegressor(strategy="mean"),
    }
    return table[(task, name)]().set_params(**params)


def check_params(config: Config) -> None:
    """Refuse ``model.params`` the estimator does not accept, before anything runs."""
    m = config.model
    try:
        make_estimator(m.task, m.estimator, m.params, m.seed)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{config.source}: key 'model.params': {exc} Fix: remove or rename the parameter.") from None


def build_pipeline(schema: Schema, estimator: Any, *, scale: bool) -> Pipeline:
    """Preprocessing (impute, one-hot, optional scaling) followed by ``estimator``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in schema.features if c in schema.numeric]
    categorical = [c for c in schema.features if c not in schema.numeric]
    num_steps = [("impute", SimpleImputer(strategy="median"))] + ([("scale", StandardScaler())] if scale else [])
    cat_steps = [
        ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    ]
    pre = ColumnTransformer(
        [("num", Pipeline(num_steps), numeric), ("cat", Pipeline(cat_steps), categorical)],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    return Pipeline([("preprocess", pre), ("model", estimator)])


def features(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The model's input columns, numeric as float and categorical as strings (NaN kept)."""
    import numpy as np
    import pandas as pd

    out = {}
    for col in schema.features:
        series = frame[col]
        if col in schema.numeric:
            out[col] = pd.to_numeric(series, errors="coerce").astype(float)
        else:
            out[col] = series.astype(object).map(lambda v: np.nan if pd.isna(v) else str(v))
    return pd.DataFrame(out, index=frame.index)


def target(frame: pd.DataFrame, schema: Schema, task: str) -> pd.Series:
    """The label column, as int for binary tasks and float for regression."""
    y = frame[schema.target]
    return y.astype(int) if task == "binary" else y.astype(float)


def check_target(frame: pd.DataFrame, schema: Schema, task: str, *, source: str) -> None:
    """Refuse labels the task cannot use: binary needs 0/1 (or booleans) with both classes present."""
    import pandas as pd

    from workbench.exceptions import DataError

    y = frame[schema.target].dropna()
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(y):
            raise DataError(f"{source}: column '{schema.target}' (data.target) must be numeric for model.task "
                            "'regression'. Fix: point data.target at a numeric column or set model.task: binary.")
        return
    levels = sorted(map(str, y.unique()))
    if not set(levels) <= {"0", "1", "True", "False"} or len(levels) != 2:
        raise DataError(f"{source}: column '{schema.target}' (data.target) must hold the two classes 0 and 1 for "
                        f"model.task 'binary'; found {', '.join(levels[:10])}. Fix: encode the positive class as 1.")


def split(frame: pd.DataFrame, schema: Schema, config: Config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic train/holdout split (stratified for binary tasks)."""
    from sklearn.model_selection import train_test_split

    labelled = frame[frame[schema.target].notna()]
    stratify = labelled[schema.target] if config.model.task == "binary" else None
    return train_test_split(
        labelled, test_size=config.model.test_size, random_state=config.model.seed, stratify=stratify
    )


def predict(model: Any, frame: pd.DataFrame, schema: Schema, task: str) -> Any:
    """Scores: the positive-class probability for binary tasks, the prediction for regression."""
    x = features(frame, schema)
    return model.predict_proba(x)[:, 1] if task == "binary" else model.predict(x)


@dataclass(frozen=True)
class Trained:
    """A fitted model, logged to MLflow, and the facts about how it was made."""

    role: str
    logged: Any
    fit_seconds: float
    rows: int

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary for ``result.json``."""
        return {"role": self.role, "model": self.logged.to_dict(), "fit_seconds": round(self.fit_seconds, 3), "rows": self.rows}

    def _repr_html_(self) -> str:
        import pandas as pd

        return pd.Series(self.summary()["model"] | {"role": self.role, "rows": self.rows, "fit_seconds": round(self.fit_seconds, 2)}).to_frame("value")._repr_html_()


def fit_and_log(phase: PhaseContext, train: pd.DataFrame, schema: Schema, *, role: str) -> Trained:
    """Fit the candidate (``role="candidate"``) or the baseline and log it to MLflow."""
    m = phase.config.model
    name = m.estimator if role == "candidate" else m.baseline_name
    params = m.params if role == "candidate" else {}
    estimator = make_estimator(m.task, name, params, m.seed)
    pipeline = build_pipeline(schema, estimator, scale=name in _LINEAR)
    x, y = features(train, schema), target(train, schema, m.task)
    start = time.perf_counter()
    pipeline.fit(x, y)
    elapsed = time.perf_counter() - start
    from workbench import models

    logged = models.log_model(pipeline, name=role, input_example=x.head(5))
    phase.log_metrics({f"{role}_fit_seconds": elapsed})
    return Trained(role, logged, elapsed, len(train))


@dataclass(frozen=True)
class Prepared:
    """The reference set split into train and holdout, with its schema and file facts."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    schema: Schema
    data: dict[str, Any]

    def _repr_html_(self) -> str:
        import pandas as pd

        facts = {"file": self.data["path"], "sha256": self.data["sha256"][:16] + "…", "rows": self.data["rows"],
                 "train rows": len(self.train), "holdout rows": len(self.holdout),
                 "features": ", ".join(self.schema.features), "target": self.schema.target}
        return pd.Series(facts).to_frame("value")._repr_html_()


def prepare(phase: PhaseContext) -> Prepared:
    """Read the reference, refuse it on data errors, split it and save the holdout."""
    from workbench import data, sources

    table = sources.read_reference(phase.config)
    schema = sources.schema(phase.config, table.frame, source=str(table.path))
    data.check_quality(table.frame, schema, source=str(table.path), require_target=True).raise_for_errors()
    check_target(table.frame, schema, phase.config.model.task, source=str(table.path))
    train, holdout = split(table.frame, schema, phase.config)
    phase.save_table(HOLDOUT_FILE, holdout)
    facts = {"path": str(table.path), "sha256": table.sha256, "rows": table.rows}
    return Prepared(train, holdout, schema, facts)


def summary(prepared: Prepared, trained: Trained) -> dict[str, Any]:
    """What ``result.json`` records for a training phase."""
    return {**trained.summary(), "schema": prepared.schema.to_dict(), "data": prepared.data,
            "train_rows": len(prepared.train), "holdout_rows": len(prepared.holdout)}
