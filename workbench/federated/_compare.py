"""A simulation check, on request only: the federated model against the same model trained on the pooled rows.

Where one machine can read every site's file (the demo, a pilot on copies of the sites' data),
``workbench federated train --compare-pooled`` measures what federating cost: it pools the sites'
training rows (each site split as its own process split it), fits the same preprocessing (the
mean-imputing, standardising transformer fitted on the pooled rows) and the same estimator
(``LogisticRegression``/``Ridge`` fitted to convergence, or one random forest of as many trees),
and scores both models on the pooled holdout rows. The result records both metrics, their gap
(federated - pooled) and how far the federated preprocessing is from the pooled one. This breaks
the federated promise on purpose (the orchestrator reads every site's rows; every read is in the
data-access log): never use it across organisations.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from workbench.analyses.evaluation import metric_functions
from workbench.data import frames, sources
from workbench.federated import _encoding, _model

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def pooled_estimator(spec: dict[str, Any], *, trees: int, seed: int) -> Any:
    """The estimator the federated one stands for, to be fitted on pooled rows."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    if spec["strategy"] == "bagging":
        cls = RandomForestClassifier if spec["task"] == "binary" else RandomForestRegressor
        return cls(n_estimators=trees, min_samples_leaf=_model.MIN_LEAF, random_state=seed, n_jobs=1)
    return LogisticRegression(C=spec["penalty"], max_iter=2000) if spec["task"] == "binary" else Ridge(alpha=spec["penalty"])


def compare(config: Config, federated: Any, spec: dict[str, Any], sites: list[str], *, trees: int) -> dict[str, Any]:
    """Score ``federated`` and the pooled model on the pooled holdout of ``sites``; see the module docstring."""
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

    trains, holdouts = [], []
    for name in sites:
        table = sources.read(config, config.sites[name].data, purpose="federated comparison with pooled training (simulation)")
        schema = sources.schema(config, table.frame, source=f"site {name!r} ({table.path})")
        train, holdout = frames.split(table.frame, schema, config, source=f"site {name!r} ({table.path})")
        trains.append(frames.features(train, schema).assign(_y=frames.target(train, schema, spec["task"])))
        holdouts.append(frames.features(holdout, schema).assign(_y=frames.target(holdout, schema, spec["task"])))
    train, holdout = pd.concat(trains, ignore_index=True), pd.concat(holdouts, ignore_index=True)
    x, y = train.drop(columns="_y"), train["_y"].to_numpy()
    xh, yh = holdout.drop(columns="_y"), holdout["_y"].to_numpy()
    start = time.perf_counter()
    pooled = Pipeline([("preprocess", _encoding.unfitted(spec)), ("model", pooled_estimator(spec, trees=trees, seed=config.model.seed))]).fit(x, y)
    fit_s = time.perf_counter() - start
    fns = metric_functions(spec["task"])
    scored = {name: _model.scores(model, xh, spec["task"]) for name, model in (("federated", federated), ("pooled", pooled))}
    metrics = {name: {k: float(fn(yh, s)) for k, fn in fns.items()} for name, s in scored.items()}
    diff = np.abs(federated[0].transform(xh) - pooled[0].transform(xh))
    return {"federated": metrics["federated"], "pooled": metrics["pooled"],
            "gap": {k: metrics["federated"][k] - metrics["pooled"][k] for k in fns},
            "train_rows": len(train), "holdout_rows": len(holdout), "pooled_fit_s": round(fit_s, 4),
            "preprocessing_max_abs_diff": float(diff.max()) if diff.size else 0.0}
