"""The gate's record in MLflow: each model's holdout metrics computed by ``mlflow.models.evaluate``.

Where MLflow's evaluation API fits, and where it does not (MLflow 3.17, checked by use):

- ``mlflow.models.evaluate`` computes and logs every model's holdout metrics, one nested run per
  model under a ``gate`` run in the project's experiment, so ``mlflow ui`` shows each gate. It is
  given the scores as a predictions column, never a model: evaluating a model means loading it as
  a pyfunc, which bypasses the sha256 check :func:`workbench.registry.load` does. The metrics are
  the evaluate phase's own functions (``make_metric`` over :func:`metric_functions`) rather than
  the ``classifier`` evaluator's: from a predictions column that evaluator takes scores for class
  labels (its ``roc_auc`` needs ``predict_proba`` on a model), so its numbers would not be the
  ones the evaluate phase decided on.
- ``mlflow.validate_evaluation_results`` / ``MetricThreshold`` are not used for the decision. They
  compare point values (``candidate >= reference + min_absolute_change``), while the evaluate
  phase decides on the paired bootstrap interval of the difference on the same rows; a point rule
  would disagree with it (a candidate 0.003 behind with an interval spanning 0 is "no significant
  difference" to the evaluate phase, a failure to MLflow). ``min_absolute_change`` must also be
  positive, so the default required improvement of 0 and non-inferiority margins (a negative
  ``--min-delta``) cannot be written as one. The fairness ceiling is a plain threshold MLflow could
  check, but the responsible phase's :func:`workbench.analyses.fairness.disparity` already decides
  it per attribute, and MLflow reports a failure only as exception text.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from workbench.analyses.evaluation import HIGHER_IS_BETTER, metric_functions
from workbench.registry import store

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from workbench.config import Config


def evaluate(config: Config, y: np.ndarray, scores: dict[str, np.ndarray], *, task: str, run_name: str,
             tags: dict[str, str]) -> tuple[str, dict[str, dict[str, float]]]:
    """Each model's metrics on the holdout by ``mlflow.models.evaluate``; return the gate run's id and ``{role: {metric: value}}``."""
    import mlflow
    import pandas as pd
    from mlflow.models import make_metric

    experiment_id = store.use_store(config)
    extra = [make_metric(eval_fn=_on_rows(fn, task), greater_is_better=HIGHER_IS_BETTER[name], name=name)
             for name, fn in metric_functions(task).items()]
    out: dict[str, dict[str, float]] = {}
    with _quiet(), mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as parent:
        for role, score in scores.items():
            with mlflow.start_run(experiment_id=experiment_id, run_name=role, nested=True, tags={"workbench.gate_role": role}):
                # y as float: MLflow's schema inference warns about integer columns that could hold missing values
                data = pd.DataFrame({"y": y.astype(float), "score": score})
                result = mlflow.models.evaluate(data=data, targets="y", predictions="score", extra_metrics=extra, evaluators="default")
                out[role] = {name: float(result.metrics[name]) for name in metric_functions(task)}
    return parent.info.run_id, out


def finish(config: Config, run_id: str, result: dict[str, Any]) -> None:
    """Put the verdict on the gate run: tags, the gap as metrics and the full result as ``gate.json``."""
    client = store.client_for(config)
    client.set_tag(run_id, "workbench.gate_passed", str(result["passed"]).lower())
    client.set_tag(run_id, "workbench.gate_line", result["line"][:5000])
    gap = result["comparison"]["gap"]
    for key in ("value", "low", "high"):
        if gap[key] == gap[key]:  # MLflow refuses NaN metrics
            client.log_metric(run_id, f"gap_{key}" if key != "value" else "gap", gap[key])
    client.log_dict(run_id, result, "gate.json")


def _on_rows(fn: Any, task: str) -> Any:
    """``fn`` as an MLflow metric; NaN where it is undefined (MLflow first tries every metric on the holdout's first row alone)."""
    def eval_fn(predictions: Any, targets: Any) -> float:
        y = targets.to_numpy().astype(int) if task == "binary" else targets.to_numpy()  # as the evaluate phase passes them
        few = len(y) < 2 or (task == "binary" and len(set(y)) < 2)
        return float("nan") if few else float(fn(y, predictions.to_numpy()))
    return eval_fn


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's INFO lines and schema hints off the console: the gate prints one line."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\.")
            yield
    finally:
        logger.setLevel(level)
