"""The one estimator table: every scikit-learn estimator a config may name, in one place.

Each :class:`Estimator` row says which task it serves, whether it may be the static baseline,
how to build it (a factory taking the seed), whether its inputs are scaled, and the exact
skops types its fitted pipeline contains. The config validator, the training phases and the
model loader all read this table, so adding an estimator is one new row (and a test checks
that every row round-trips through skops with exactly the types it lists).

``model.estimator: auto`` (the default) is not a row: the train phase chooses among the rows
whose ``auto`` column holds parameters (:func:`candidates`), by cross-validation on the
training split, and trains the winner with those parameters. The set per task is gradient
boosting with early stopping and regularisation, the linear model and a random forest with a
minimum leaf size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.config import did_you_mean
from workbench.data.frames import features
from workbench.exceptions import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from sklearn.pipeline import Pipeline

    from workbench.config import Config, ModelConfig
    from workbench.data.dataset import Schema

TASKS = ("binary", "regression")

# Types every workbench pipeline contains (preprocessing and numpy/builtin leaves), whatever the estimator.
PIPELINE_TYPES: tuple[str, ...] = (
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.compose._column_transformer._RemainderColsList",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._data.StandardScaler",
    "numpy.dtype",
    "numpy.ndarray",
    "numpy.float64",
    "numpy.int64",
    "builtins.slice",
    "builtins.object",
    "collections.OrderedDict",
)
_HGB = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937")
_TREES = ("sklearn.tree._tree.Tree",)
AUTO = "auto"  # model.estimator: choose among candidates(task) by cross-validation
# Small-data-safe settings for the auto set: boosting stops early on an inner validation split,
# shrinks and regularises its trees; the forest needs leaves of several rows.
_HGB_AUTO = {"early_stopping": True, "validation_fraction": 0.15, "n_iter_no_change": 20, "max_iter": 500,
             "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 40, "l2_regularization": 1.0}
_RF_AUTO = {"min_samples_leaf": 5}


def _sk(module: str, name: str, **fixed: Any) -> Callable[[int], Any]:
    """A factory ``seed -> estimator`` that imports scikit-learn only when called."""
    def make(seed: int) -> Any:
        import importlib

        cls = getattr(importlib.import_module(f"sklearn.{module}"), name)
        kwargs = {k: (seed if v is _SEED else v) for k, v in fixed.items()}
        return cls(**kwargs)

    return make


_SEED = object()  # placeholder in a factory's fixed arguments: replaced by the config's seed


@dataclass(frozen=True)
class Estimator:
    """One row of the table."""

    name: str
    task: str
    factory: Callable[[int], Any]
    types: tuple[str, ...]
    candidate: bool = True  # may be model.estimator
    baseline: bool = False  # may be model.baseline
    scaled: bool = False  # numeric inputs are standardised (linear models)
    auto: dict[str, Any] | None = None  # parameters as a candidate of ``model.estimator: auto``; None: not in that set

    def make(self, params: dict[str, Any] | None = None, seed: int = 0) -> Any:
        """A fresh, unfitted estimator with ``params`` applied."""
        return self.factory(seed).set_params(**(params or {}))

    @property
    def trusted_types(self) -> tuple[str, ...]:
        """Every type a fitted workbench pipeline around this estimator contains."""
        return PIPELINE_TYPES + self.types


ESTIMATORS: tuple[Estimator, ...] = (
    Estimator("hist_gradient_boosting", "binary", _sk("ensemble", "HistGradientBoostingClassifier", random_state=_SEED),
              ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier", *_HGB,
               "sklearn._loss.loss.HalfBinomialLoss", "sklearn._loss.link.LogitLink", "sklearn._loss.link.Interval",
               "sklearn._loss._loss.CyHalfBinomialLoss"), auto=_HGB_AUTO),
    Estimator("random_forest", "binary", _sk("ensemble", "RandomForestClassifier", n_estimators=200, random_state=_SEED, n_jobs=1),
              ("sklearn.ensemble._forest.RandomForestClassifier", "sklearn.tree._classes.DecisionTreeClassifier", *_TREES),
              auto=_RF_AUTO),
    Estimator("gradient_boosting", "binary", _sk("ensemble", "GradientBoostingClassifier", random_state=_SEED),
              ("sklearn.ensemble._gb.GradientBoostingClassifier", "sklearn.tree._classes.DecisionTreeRegressor", *_TREES,
               "sklearn._loss.loss.HalfBinomialLoss", "sklearn._loss.link.LogitLink", "sklearn._loss.link.Interval",
               "sklearn._loss._loss.CyHalfBinomialLoss", "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937")),
    Estimator("logistic_regression", "binary", _sk("linear_model", "LogisticRegression", max_iter=2000),
              ("sklearn.linear_model._logistic.LogisticRegression",), baseline=True, scaled=True, auto={}),
    Estimator("dummy", "binary", _sk("dummy", "DummyClassifier", strategy="prior"),
              ("sklearn.dummy.DummyClassifier",), candidate=False, baseline=True),
    Estimator("hist_gradient_boosting", "regression", _sk("ensemble", "HistGradientBoostingRegressor", random_state=_SEED),
              ("sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor", *_HGB,
               "sklearn._loss.loss.HalfSquaredError", "sklearn._loss.link.IdentityLink", "sklearn._loss.link.Interval",
               "sklearn._loss._loss.CyHalfSquaredError"), auto=_HGB_AUTO),
    Estimator("random_forest", "regression", _sk("ensemble", "RandomForestRegressor", n_estimators=200, random_state=_SEED, n_jobs=1),
              ("sklearn.ensemble._forest.RandomForestRegressor", "sklearn.tree._classes.DecisionTreeRegressor", *_TREES),
              auto=_RF_AUTO),
    Estimator("gradient_boosting", "regression", _sk("ensemble", "GradientBoostingRegressor", random_state=_SEED),
              ("sklearn.ensemble._gb.GradientBoostingRegressor", "sklearn.tree._classes.DecisionTreeRegressor", *_TREES,
               "sklearn._loss.loss.HalfSquaredError", "sklearn._loss.link.IdentityLink", "sklearn._loss.link.Interval",
               "sklearn._loss._loss.CyHalfSquaredError", "numpy.random.mtrand.RandomState", "numpy.random._mt19937.MT19937")),
    Estimator("ridge", "regression", _sk("linear_model", "Ridge"),
              ("sklearn.linear_model._ridge.Ridge",), baseline=True, scaled=True, auto={}),
    Estimator("dummy", "regression", _sk("dummy", "DummyRegressor", strategy="mean"),
              ("sklearn.dummy.DummyRegressor",), candidate=False, baseline=True),
)
DEFAULT_BASELINE = {"binary": "logistic_regression", "regression": "ridge"}

# The union, passed to skops when loading any workbench model: never read from the model's own files.
TRUSTED_TYPES: tuple[str, ...] = tuple(dict.fromkeys(t for e in ESTIMATORS for t in e.trusted_types))


def names(task: str, *, role: str = "candidate") -> tuple[str, ...]:
    """The estimator names a config may use for ``task`` as ``role`` (``candidate`` or ``baseline``)."""
    return tuple(e.name for e in ESTIMATORS if e.task == task and getattr(e, role))


def get(task: str, name: str) -> Estimator:
    """The table row for ``(task, name)``; ConfigError listing the valid names when there is none."""
    for e in ESTIMATORS:
        if e.task == task and e.name == name:
            return e
    valid = ", ".join(dict.fromkeys(e.name for e in ESTIMATORS if e.task == task))
    raise ConfigError(f"unknown estimator {name!r} for task {task!r}. Valid names: {valid}.")


def baseline_name(model: ModelConfig) -> str:
    """The configured baseline, defaulting per task."""
    return model.baseline or DEFAULT_BASELINE[model.task]


def make_estimator(task: str, name: str, params: dict[str, Any], seed: int) -> Any:
    """A fresh scikit-learn estimator by its workbench name."""
    return get(task, name).make(params, seed)


def candidates(task: str) -> tuple[Estimator, ...]:
    """The rows ``model.estimator: auto`` chooses among for ``task``, in table order (which breaks ties)."""
    return tuple(e for e in ESTIMATORS if e.task == task and e.auto is not None)


def check_config(config: Config) -> None:
    """Pre-flight: refuse unknown estimator names and ``model.params`` the estimator does not accept (exit 2).

    Parameters are checked by scikit-learn's own validation (names and ranges, e.g. ``max_iter: -1``),
    so a bad value fails here rather than in the train phase's kernel.
    """
    m = config.model
    for key, name, role in (("model.estimator", m.estimator, "candidate"), ("model.baseline", baseline_name(m), "baseline")):
        valid = names(m.task, role=role) + ((AUTO,) if role == "candidate" else ())
        if name not in valid:
            raise ConfigError(
                f"{config.source}: key '{key}': unknown estimator {name!r} for task {m.task!r}.{did_you_mean(name, valid)} "
                f"Valid names: {', '.join(valid)}."
            )
    if m.estimator == AUTO:
        if m.params:
            raise ConfigError(
                f"{config.source}: key 'model.params': model.estimator 'auto' chooses among "
                f"{', '.join(e.name for e in candidates(m.task))} with their own settings and takes no parameters. "
                "Fix: remove model.params, or name one estimator in model.estimator."
            )
        return
    try:
        make_estimator(m.task, m.estimator, m.params, m.seed)._validate_params()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{config.source}: key 'model.params': {exc} Fix: correct or remove the parameter.") from None


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


def pipeline_for(task: str, name: str, params: dict[str, Any], seed: int, schema: Schema) -> Pipeline:
    """The unfitted workbench pipeline for a table row."""
    row = get(task, name)
    return build_pipeline(schema, row.make(params, seed), scale=row.scaled)


def predict(model: Any, frame: Any, schema: Schema, task: str) -> Any:
    """Scores: the positive-class probability for binary tasks, the prediction for regression."""
    x = features(frame, schema)
    return model.predict_proba(x)[:, 1] if task == "binary" else model.predict(x)
