"""The federated models: local training steps at a site, the aggregated scikit-learn pipeline, and federated evaluation.

**fedavg** (logistic regression for binary tasks, linear regression for regression): the global
model is a coefficient vector and an intercept over the spec's encoded columns. Each round a site
starts scikit-learn's ``SGDClassifier`` (log loss) or ``SGDRegressor`` (squared error) from the
global coefficients and makes ``federated.local_epochs`` passes over its training rows (averaged
SGD with a constant step of 0.03 on the standardised inputs, L2 penalty); the server averages the
sites' coefficients weighted by their rows (FedAvg).
The penalty is the pooled model's spread over the rows: ``alpha = 1 / (C * rows)`` for the
logistic loss (scikit-learn's ``LogisticRegression(C)``), ``alpha / rows`` for the squared error
(``Ridge(alpha)``), so the federated objective is the pooled one. The registered model is a
plain ``LogisticRegression`` or ``Ridge`` holding the averaged coefficients behind the spec's
preprocessor: the same types the registry already trusts, so it scores, serves and is
monitored like any other version.

**bagging** (tree ensembles): each site grows its own random forest on its rows, its number of
trees proportional to its rows; the server pools every site's trees into one
``RandomForestClassifier``/``RandomForestRegressor``, whose prediction averages all trees (soft
voting, each site weighted by its rows). Limits: one round only (trees cannot be averaged, so
rounds add nothing); every tree sees one site's rows only, so an interaction that shows only
across sites is missed, and a site with few rows grows few, noisier trees; the trees themselves
travel, and a leaf of a small site describes few rows (``min_samples_leaf`` = 5 bounds how few).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from workbench.analyses.evaluation import metric_functions
from workbench.exceptions import FederatedError
from workbench.federated import _encoding
from workbench.registry.estimators import TRUSTED_TYPES

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

BINS = 2000  # score histogram per class, over the log-odds in [-LOGIT, LOGIT]: the pooled ROC AUC from these is within ~1e-3 of the exact one
LOGIT = 15.0
ETA0 = 0.03  # constant SGD step on standardised inputs (averaged): a schedule restarting every round ("optimal") overshoots
MIN_LEAF = 5  # bagging: rows in a leaf of a site's tree
DEFAULT_TREES = 200  # bagging: trees over all sites (the estimator table's forest)
EXACT = ("accuracy", "brier", "log_loss", "rmse", "mae", "r2")  # pooled exactly from the sites' sums


def penalty(task: str, estimator: str, params: dict[str, Any]) -> float:
    """``C`` of the logistic model or ``alpha`` of the linear one: from model.params when model.estimator names it, else 1."""
    name, key = ("logistic_regression", "C") if task == "binary" else ("ridge", "alpha")
    return float(params.get(key, 1.0)) if estimator == name else 1.0


def width(spec: dict[str, Any]) -> int:
    """Columns after encoding."""
    return int(_encoding.preprocessor(spec).transform(_encoding.example(spec, 1)).shape[1])


def initial_parameters(spec: dict[str, Any]) -> list[np.ndarray]:
    """Zero coefficients and the pooled intercept: the log-odds of the positive share, or the target mean."""
    import numpy as np

    if spec["task"] == "binary":
        share = min(max(spec["positive_share"], 1e-6), 1 - 1e-6)
        intercept = float(np.log(share / (1 - share)))
    else:
        intercept = float(spec["target_mean"])
    return [np.zeros(width(spec)), np.array([intercept])]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    import numpy as np

    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


def loss(task: str, y: np.ndarray, score: np.ndarray) -> float:
    """Log loss (binary) or mean squared error (regression)."""
    import numpy as np

    if task == "binary":
        p = np.clip(score, 1e-15, 1 - 1e-15)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return float(np.mean((y - score) ** 2))


def local_step(spec: dict[str, Any], params: list[np.ndarray], x: np.ndarray, y: np.ndarray, *, epochs: int, seed: int) -> tuple[list[np.ndarray], float]:
    """One site's FedAvg step from the global ``params`` on its encoded rows ``x``; returns its parameters and the global model's loss on them."""
    import numpy as np
    from sklearn.linear_model import SGDClassifier, SGDRegressor

    coef, intercept = (np.array(p, dtype=float) for p in params)  # copies: scikit-learn updates its initial arrays in place
    before = x @ coef + intercept[0]
    rows = spec["rows"]
    if spec["task"] == "binary":
        start = loss("binary", y, _sigmoid(before))
        model = SGDClassifier(loss="log_loss", penalty="l2", alpha=1.0 / (spec["penalty"] * rows), max_iter=epochs, tol=None,
                              learning_rate="constant", eta0=ETA0, average=True, random_state=seed)
        model.fit(x, y, coef_init=coef.reshape(1, -1), intercept_init=intercept)
    else:
        start = loss("regression", y, before)
        model = SGDRegressor(loss="squared_error", penalty="l2", alpha=spec["penalty"] / rows, max_iter=epochs, tol=None,
                             learning_rate="constant", eta0=ETA0, average=True, random_state=seed)
        model.fit(x, y, coef_init=coef, intercept_init=intercept)
    return [model.coef_.ravel().astype(float), model.intercept_.astype(float).reshape(1)], start


def linear_model(spec: dict[str, Any], params: list[np.ndarray]) -> Any:
    """The registry's linear estimator holding the global coefficients (``LogisticRegression`` or ``Ridge``)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression, Ridge

    coef, intercept = (np.asarray(p, dtype=float) for p in params)
    if spec["task"] == "binary":
        model = LogisticRegression(C=spec["penalty"], max_iter=2000)
        model.coef_, model.intercept_ = coef.reshape(1, -1), intercept.reshape(1)
        model.classes_ = np.array([0, 1])
    else:
        model = Ridge(alpha=spec["penalty"])
        model.coef_, model.intercept_ = coef.ravel(), float(intercept.ravel()[0])
    model.n_features_in_ = int(coef.size)
    return model


def local_forest(spec: dict[str, Any], x: np.ndarray, y: np.ndarray, *, trees: int, seed: int) -> np.ndarray:
    """Bagging: a site's random forest on its encoded rows, as the bytes of its skops file (a uint8 array)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if spec["task"] == "binary" else RandomForestRegressor
    return dump_forest(cls(n_estimators=max(1, trees), min_samples_leaf=MIN_LEAF, random_state=seed, n_jobs=1).fit(x, y))


def dump_forest(forest: Any) -> np.ndarray:
    """A forest as the bytes of its skops file (a uint8 array: what a Flower message carries)."""
    import numpy as np
    import skops.io

    return np.frombuffer(skops.io.dumps(forest), dtype=np.uint8)


def load_forest(blob: np.ndarray) -> Any:
    """A forest from its skops bytes, loading only the types the estimator table trusts."""
    import skops.io
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    forest = skops.io.loads(bytes(blob.tobytes()), trusted=list(TRUSTED_TYPES))
    if not isinstance(forest, RandomForestClassifier | RandomForestRegressor):
        raise FederatedError(f"a site sent a {type(forest).__name__}, not a random forest; refusing it.")
    return forest


def assemble_forest(forests: list[Any]) -> Any:
    """One forest holding every site's trees: its prediction is the average over all of them (soft voting)."""
    import copy

    import numpy as np

    first = forests[0]
    for other in forests[1:]:
        if type(other) is not type(first) or other.n_features_in_ != first.n_features_in_ or (
                hasattr(first, "classes_") and not np.array_equal(other.classes_, first.classes_)):
            raise FederatedError("the sites' forests differ in type, encoded columns or classes; they cannot be pooled.")
    pooled = copy.deepcopy(first)
    pooled.estimators_ = [tree for forest in forests for tree in forest.estimators_]
    pooled.n_estimators = len(pooled.estimators_)
    return pooled


def pipeline(spec: dict[str, Any], estimator: Any) -> Any:
    """The registered model: the spec's preprocessor followed by ``estimator`` (a plain scikit-learn Pipeline)."""
    from sklearn.pipeline import Pipeline

    return Pipeline([("preprocess", _encoding.preprocessor(spec)), ("model", estimator)])


def scores(model: Any, x: Any, task: str) -> np.ndarray:
    """Positive-class probabilities (binary) or predictions (regression)."""
    return model.predict_proba(x)[:, 1] if task == "binary" else model.predict(x)


def site_metrics(task: str, y: np.ndarray, score: np.ndarray) -> tuple[float, dict[str, Any]]:
    """A site's holdout metrics (the evaluate phase's set) and the sums that pool them; returns (loss, metrics)."""
    import numpy as np

    out: dict[str, Any] = {name: float(fn(y, score)) for name, fn in metric_functions(task).items()}
    if task == "binary":
        p = np.clip(score, 1e-300, 1 - 1e-16)
        logit = np.clip(np.log(p) - np.log1p(-p), -LOGIT, LOGIT)  # bins in log-odds keep confident scores apart
        edges = np.linspace(-LOGIT, LOGIT, BINS + 1)
        pos, _ = np.histogram(logit[y == 1], bins=edges)
        neg, _ = np.histogram(logit[y == 0], bins=edges)
        out["wb.hist"] = json.dumps([pos.tolist(), neg.tolist()])
    else:
        err = y - score
        out["wb.sums"] = json.dumps({"sse": float(err @ err), "sae": float(np.abs(err).sum()), "mean": float(y.mean()),
                                     "m2": float(((y - y.mean()) ** 2).sum())})
    return loss(task, y, score), out


def _binned_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC from per-class score histograms (pairs in one bin count one half)."""
    import numpy as np

    below = np.cumsum(neg) - neg
    total = pos.sum() * neg.sum()
    return float((pos * (below + 0.5 * neg)).sum() / total) if total else float("nan")


def merge_metrics(task: str, sites: dict[str, tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Pool the sites' holdout metrics: ``metrics`` (pooled), ``site_mean`` (row-weighted means), ``per_site`` and ``rows``.

    Accuracy, Brier score, log loss, RMSE, MAE and R² are pooled exactly (from sums); ROC AUC from
    the sites' score histograms (within ~1/1000 of the exact pooled value); average precision and F1
    are the row-weighted means of the sites' values (not exact).
    """
    import numpy as np

    rows = sum(n for n, _ in sites.values())
    names = list(metric_functions(task))
    mean = {k: float(sum(n * m[k] for n, m in sites.values()) / rows) for k in names}
    pooled = dict(mean)
    if task == "binary":
        hists = [np.array(json.loads(m["wb.hist"])) for _, m in sites.values()]
        pooled["roc_auc"] = _binned_auc(sum(h[0] for h in hists), sum(h[1] for h in hists))
    else:
        sums = {s: json.loads(m["wb.sums"]) for s, (_, m) in sites.items()}
        ns = {s: n for s, (n, _) in sites.items()}
        grand = sum(ns[s] * v["mean"] for s, v in sums.items()) / rows
        sst = sum(v["m2"] + ns[s] * (v["mean"] - grand) ** 2 for s, v in sums.items())
        sse = sum(v["sse"] for v in sums.values())
        pooled |= {"rmse": float(np.sqrt(sse / rows)), "mae": float(sum(v["sae"] for v in sums.values()) / rows),
                   "r2": float(1 - sse / sst) if sst else float("nan")}
    per_site = {s: {"rows": n, **{k: m[k] for k in names}} for s, (n, m) in sites.items()}
    exactness = {k: "exact" if k in EXACT else ("binned" if k == "roc_auc" else "site mean") for k in names}
    return {"metrics": pooled, "site_mean": mean, "per_site": per_site, "rows": rows, "how_pooled": exactness}
