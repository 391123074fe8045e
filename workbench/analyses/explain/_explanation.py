"""Compute SHAP values for a fitted pipeline's final estimator, per original column.

Which explainer
    Tree models (HistGradientBoosting, RandomForest, ExtraTrees, GradientBoosting, DecisionTree)
    get ``shap.TreeExplainer`` (path-dependent, exact); linear models (LogisticRegression, Ridge,
    LinearRegression, Lasso, ElasticNet) get ``shap.LinearExplainer`` with the explained rows as
    background. Anything else (a KNN, a DummyClassifier, ...) falls back to permutation
    importance: each original column is shuffled ``n_repeats`` times and the importance is the
    mean absolute change of the model's output (probability of class 1, or the prediction)
    over the explained rows. No labels are needed, and there are no per-row values.

What is explained
    Binary classifiers with a ``decision_function`` (HistGradientBoosting, GradientBoosting,
    LogisticRegression) are explained on the log-odds margin; RandomForest/ExtraTrees/
    DecisionTree classifiers on the probability of class 1 (their trees average probabilities);
    regressors on the prediction. The additivity check compares ``values.sum(axis=1) +
    base_value`` with that raw output; a failure is reported, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.exceptions import ExplainError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

SCHEMA_VERSION = 1
_TREES = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "RandomForestClassifier",
          "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor", "GradientBoostingClassifier",
          "GradientBoostingRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor")
_LINEAR = ("LogisticRegression", "Ridge", "LinearRegression", "Lasso", "ElasticNet")
_WORKER: dict[str, Any] = {}  # the explainer, inherited by forked workers



@dataclass(frozen=True)
class Explanation:
    """SHAP values (or permutation importances) per original feature of the explained rows.

    Attributes
    ----------
    method : {"tree", "linear", "permutation"}
    values : pandas.DataFrame or None
        Rows x original features, one-hot parts summed; None for ``"permutation"``.
    base_value : float
        Expected model output (SHAP) or mean output of the explained rows (permutation).
    data : pandas.DataFrame
        The original feature values of the explained rows (same index as ``values``).
    n_rows, n_explained : int
        Rows in the frame given, and rows explained after sampling.
    additivity_ok : bool or None
        Whether ``values.sum(axis=1) + base_value`` matched the raw output; None for permutation.
    additivity_max_error : float or None
    output : {"log-odds", "probability", "prediction"}
        The model output the values add up to.
    importances : pandas.Series or None
        Permutation importances (only for ``"permutation"``).
    """

    method: str
    values: pd.DataFrame | None
    base_value: float
    data: pd.DataFrame
    n_rows: int
    n_explained: int
    additivity_ok: bool | None
    additivity_max_error: float | None
    output: str
    importances: pd.Series | None = None

    def importance(self) -> pd.Series:
        """Mean absolute value per feature (or permutation importance), largest first."""
        series = self.importances if self.values is None else self.values.abs().mean()
        return series.sort_values(ascending=False, kind="stable").rename("importance")

    def by_segment(self, segment: pd.Series) -> pd.DataFrame:
        """Mean absolute value per feature (columns) for each value of ``segment`` (rows).

        ``segment`` is aligned on the index of the explained rows, e.g. ``frame["gender"]``.
        """
        if self.values is None:
            raise ExplainError("by_segment needs per-row values; method 'permutation' has none. "
                               "Fix: explain a tree or linear model, or use importance().")
        groups = segment.reindex(self.values.index)
        return self.values.abs().groupby(groups.to_numpy(), dropna=False).mean()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (``schema_version`` 1); per-row values are not included."""
        err = self.additivity_max_error
        return {
            "schema_version": SCHEMA_VERSION, "method": self.method, "output": self.output,
            "base_value": float(self.base_value), "n_rows": int(self.n_rows), "n_explained": int(self.n_explained),
            "additivity_ok": self.additivity_ok, "additivity_max_error": None if err is None else float(err),
            "features": list(self.data.columns),
            "importance": {str(k): float(v) for k, v in self.importance().items()},
        }


def explain(pipeline: Any, frame: pd.DataFrame, *, features: list[str], sample: int = 2000, seed: int = 0,
            n_jobs: int = 1, check_additivity_tol: float = 1e-6) -> Explanation:
    """Explain the final estimator of a fitted ``Pipeline`` on (a sample of) ``frame``.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Fitted; every step but the last transforms, the last is the model.
    frame : pandas.DataFrame
        Rows to explain; only ``frame[features]`` is used.
    features : list of str
        The model's input columns (e.g. ``schema.features``).
    sample : int, default 2000
        At most this many rows are explained, drawn without replacement with ``seed``.
    seed : int, default 0
    n_jobs : int, default 1
        Worker processes (forked, so the model is inherited); values are identical to 1.
    check_additivity_tol : float, default 1e-6
        Largest allowed ``|values.sum(axis=1) + base_value - raw output|``.

    Returns
    -------
    Explanation
    """
    import numpy as np

    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ExplainError(f"The 'features' parameter of explain names columns the frame lacks: {missing}. "
                           "Fix: pass the model's feature columns, e.g. schema.features.")
    if len(frame) == 0:
        raise ExplainError("explain got an empty frame. Fix: pass at least one row.")
    rows = len(frame)
    picked = np.sort(np.random.default_rng(seed).choice(rows, sample, replace=False)) if rows > sample else np.arange(rows)
    data = frame[features].iloc[picked]
    prep, model = pipeline[:-1], pipeline[-1]
    output, raw = _raw_output(model)
    kind = type(model).__name__
    method = "tree" if kind in _TREES else "linear" if kind in _LINEAR else "permutation"
    if method == "permutation":
        return _permutation(pipeline, data, rows, raw_output=output, seed=seed, n_jobs=n_jobs)
    columns = source_columns(pipeline)
    names = [c for c in features if c in columns]
    # One 0/1 matrix sums one-hot parts per source column: a matmul instead of a 50k-column groupby.
    fold = np.array([[src == name for name in names] for src in columns], dtype=float)
    explainer, base = _make_explainer(model, prep, data, method)
    values, error = _folded_values(explainer, prep, raw, fold, base, data, n_jobs)
    import pandas as pd

    grouped = pd.DataFrame(values, index=data.index, columns=names)
    return Explanation(method, grouped, base, data, rows, len(data), bool(error <= check_additivity_tol), error, output)


def source_columns(pipeline: Any) -> list[str]:
    """The original column behind each transformed column of ``pipeline[:-1]``, in output order.

    Uses the fitted ``ColumnTransformer``'s ``transformers_`` (one-hot parts map to their
    column through the encoder's per-column output counts), not name prefixes.
    """
    from sklearn.compose import ColumnTransformer

    prep = pipeline[:-1]
    cts = [step for _, step in prep.steps if isinstance(step, ColumnTransformer)]
    n_out = len(prep.get_feature_names_out())
    if len(cts) != 1 or len(prep.steps) != 1:
        return list(prep.get_feature_names_out())  # no column mapping known: explain transformed columns
    out: list[str] = []
    for _name, trans, cols in cts[0].transformers_:
        if trans == "drop" or len(cols) == 0:
            continue
        cols = [c if isinstance(c, str) else cts[0].feature_names_in_[c] for c in cols]
        if trans == "passthrough":
            out += cols
            continue
        produced = len(trans.get_feature_names_out(cols))
        counts = [1] * len(cols) if produced == len(cols) else _onehot_counts(trans, cols)
        out += [c for c, k in zip(cols, counts, strict=True) for _ in range(k)]
    if len(out) != n_out:
        raise ExplainError(f"Could not map {n_out} transformed columns back to source columns (mapped {len(out)}).")
    return out


def _onehot_counts(trans: Any, cols: list[str]) -> list[int]:
    """Output columns per input column of the (last) OneHotEncoder inside ``trans``."""
    from sklearn.preprocessing import OneHotEncoder

    steps = [s for _, s in getattr(trans, "steps", [])] or [trans]
    enc = next((s for s in reversed(steps) if isinstance(s, OneHotEncoder)), None)
    if enc is None:
        raise ExplainError(f"Transformer {type(trans).__name__} changes the column count and has no OneHotEncoder; "
                           f"cannot map its outputs back to {cols}.")
    counts = getattr(enc, "_n_features_outs", None)  # accounts for drop= and infrequent categories
    return list(counts) if counts is not None else [len(c) for c in enc.categories_]


def _raw_output(model: Any) -> tuple[str, Any]:
    """The output name and a function of transformed X giving the output the values add up to."""
    from sklearn.base import is_classifier

    if not is_classifier(model):
        return "prediction", model.predict
    if len(getattr(model, "classes_", [])) != 2:
        raise ExplainError(f"explain supports binary classifiers and regressors; {type(model).__name__} has "
                           f"{len(getattr(model, 'classes_', []))} classes.")
    if hasattr(model, "decision_function") and type(model).__name__ in _TREES + _LINEAR:
        return "log-odds", model.decision_function
    return "probability", lambda x: model.predict_proba(x)[:, 1]


def _make_explainer(model: Any, prep: Any, data: pd.DataFrame, method: str) -> tuple[Any, float]:
    """The SHAP explainer and its base value (class 1 when the explainer reports one per class)."""
    import numpy as np
    import shap

    if method == "tree":
        explainer = shap.TreeExplainer(model)
    else:  # the explained rows are the background, so the transform of all of them is needed here
        explainer = shap.LinearExplainer(model, np.asarray(prep.transform(data), dtype=float))
    base = np.asarray(explainer.expected_value, dtype=float).reshape(-1)
    return explainer, float(base[-1])


def _folded_values(explainer: Any, prep: Any, raw: Any, fold: np.ndarray, base: float, data: pd.DataFrame,
                   n_jobs: int) -> tuple[np.ndarray, float]:
    """Values per source column and the largest additivity error, over ``n_jobs`` forked workers.

    Each worker transforms its rows, explains them, checks additivity and folds one-hot parts,
    so the parent only splits and concatenates: the whole computation uses every core, not just
    shap's part (shap's C extension holds the GIL, so threads would not help).
    """
    import numpy as np

    job = (explainer, prep, raw, fold, base)
    if n_jobs <= 1 or len(data) < 2 * n_jobs:
        return _chunk(job, data)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    _WORKER["job"] = job
    try:
        bounds = np.linspace(0, len(data), n_jobs + 1).astype(int)
        chunks = [data.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        with ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            parts = list(pool.map(_inherited_chunk, chunks))
    finally:
        _WORKER.clear()
    return np.concatenate([p[0] for p in parts]), max(p[1] for p in parts)


def _inherited_chunk(data: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Worker: one chunk, with the explainer and pipeline inherited through fork.

    One OpenMP thread: GNU libgomp is not fork-safe, so a model whose predict uses OpenMP
    (HistGradientBoosting) hangs in a forked child once the parent has used its thread team.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _chunk(_WORKER["job"], data)


def _chunk(job: tuple, data: pd.DataFrame) -> tuple[np.ndarray, float]:
    """Transform, explain, check additivity and fold one chunk of rows."""
    import numpy as np

    explainer, prep, raw, fold, base = job
    xt = np.asarray(prep.transform(data), dtype=float)
    values = _values(explainer, xt)
    error = float(np.max(np.abs(values.sum(axis=1) + base - raw(xt)))) if len(xt) else 0.0
    return values @ fold, error


def _values(explainer: Any, xt: np.ndarray) -> np.ndarray:
    """2-D values; the class-1 slice when the explainer returns one per class."""
    import numpy as np
    import shap

    tree = isinstance(explainer, shap.TreeExplainer)  # we check additivity ourselves, on all rows at once
    values = explainer.shap_values(xt, check_additivity=False) if tree else explainer.shap_values(xt)
    if isinstance(values, list):  # pragma: no cover - older shap returned a list per class
        values = values[-1]
    values = np.asarray(values, dtype=float)
    return values[..., -1] if values.ndim == 3 else values


def _permutation(pipeline: Any, data: pd.DataFrame, rows: int, *, raw_output: str, seed: int,
                 n_jobs: int, n_repeats: int = 5) -> Explanation:
    """Fallback: mean absolute change of the model output when each original column is shuffled."""
    import numpy as np
    import pandas as pd
    from sklearn.inspection import permutation_importance

    output = "probability" if raw_output != "prediction" else "prediction"

    def score(estimator: Any, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(estimator.predict_proba(x)[:, 1] if output == "probability" else estimator.predict(x), dtype=float)

    def fidelity(estimator: Any, x: pd.DataFrame, y: np.ndarray) -> float:
        return -float(np.mean(np.abs(score(estimator, x) - y)))

    reference = score(pipeline, data)
    result = permutation_importance(pipeline, data, reference, scoring=fidelity, n_repeats=n_repeats,
                                    random_state=seed, n_jobs=n_jobs)
    imps = pd.Series(result.importances_mean, index=list(data.columns), name="importance")
    return Explanation("permutation", None, float(reference.mean()), data, rows, len(data), None, None, output, imps)
