"""The train phase (``20_train``): the configured pipeline fitted on the reference split and logged to MLflow.

The candidate is the configured estimator behind a column transformer (imputation, one-hot
encoding, scaling for linear models), built from the estimator table in
:mod:`workbench.registry.estimators`. The baseline phase (``25_baseline``) fits the static
baseline on the same split with the same functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench import data
from workbench.data import frames, sources
from workbench.registry import estimators, models
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.data.dataset import Schema
    from workbench.runner.context import PhaseContext


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
    name = m.estimator if role == "candidate" else estimators.baseline_name(m)
    params = m.params if role == "candidate" else {}
    pipeline = estimators.pipeline_for(m.task, name, params, m.seed, schema)
    x, y = frames.features(train, schema), frames.target(train, schema, m.task)
    start = time.perf_counter()
    pipeline.fit(x, y)
    elapsed = time.perf_counter() - start
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
    table = sources.read_reference(phase.config)
    schema = sources.schema(phase.config, table.frame, source=str(table.path))
    data.check_quality(table.frame, schema, source=str(table.path), require_target=True).raise_for_errors()
    frames.check_target(table.frame, schema, phase.config.model.task, source=str(table.path))
    train, holdout = frames.split(table.frame, schema, phase.config)
    phase.save_table(catalog.HOLDOUT_FILE, holdout)
    facts = {"path": str(table.path), "sha256": table.sha256, "rows": table.rows}
    return Prepared(train, holdout, schema, facts)


def summary(prepared: Prepared, trained: Trained) -> dict[str, Any]:
    """What ``result.json`` records for a training phase."""
    return {**trained.summary(), "schema": prepared.schema.to_dict(), "data": prepared.data,
            "train_rows": len(prepared.train), "holdout_rows": len(prepared.holdout)}
