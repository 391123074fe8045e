"""The train phase (``20_train``): the configured pipeline fitted on the reference split and logged to MLflow.

The candidate is the configured estimator behind a column transformer (imputation, one-hot
encoding, scaling for linear models), built from the estimator table in
:mod:`workbench.registry.estimators`. With ``model.estimator: auto`` it is the winner of a
cross-validated selection on the training split only (:func:`choose`,
:mod:`workbench.analyses.selection`); the leaderboard is saved as ``leaderboard.parquet`` and
logged to MLflow. The baseline phase (``25_baseline``) fits the static baseline on the same
split with the same functions.

With ``privacy.features`` both fit on private features: the configured columns of the training
split carry the Laplace noise of one release of the reference (:mod:`workbench.phases._privacy`,
spent once in the privacy ledger); the holdout stays clean, so the evaluate phase measures the
model on the features it will score.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench import data
from workbench.analyses import selection as selection_
from workbench.data import frames, sources
from workbench.phases import _privacy
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
    name: str = ""  # the estimator table's name for the fitted estimator
    selection: dict[str, Any] | None = None  # the cross-validated selection that chose it (model.estimator auto)
    params: dict[str, Any] | None = None  # the estimator's parameters (the evaluate phase refits it for the privacy utility table)

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary for ``result.json``."""
        out = {"role": self.role, "model": self.logged.to_dict(), "estimator_name": self.name, "params": self.params or {},
               "fit_seconds": round(self.fit_seconds, 3), "rows": self.rows}
        return out | ({"selection": self.selection} if self.selection else {})

    def _repr_html_(self) -> str:
        import pandas as pd

        return pd.Series(self.summary()["model"] | {"role": self.role, "rows": self.rows, "fit_seconds": round(self.fit_seconds, 2)}).to_frame("value")._repr_html_()


@dataclass(frozen=True)
class Choice:
    """The candidate estimator to train: named in the config, or chosen by cross-validation (``auto``)."""

    name: str
    params: dict[str, Any]
    selection: selection_.Selection | None = None

    def _repr_html_(self) -> str:
        if self.selection is not None:
            return self.selection._repr_html_()
        return f"<p><b>Estimator:</b> {self.name} (named in model.estimator: no selection)</p>"


def choose(phase: PhaseContext, train: pd.DataFrame, schema: Schema) -> Choice:
    """The candidate: ``model.estimator`` itself, or for ``auto`` the cross-validated winner on ``train``.

    Selection scores every row of :func:`workbench.registry.estimators.candidates` with its
    ``auto`` settings on the same folds of the training split (see
    :func:`workbench.analyses.selection.select` for folds, metric, subsample and ties), saves
    the leaderboard (``leaderboard.parquet``, logged as an MLflow artifact) and logs each
    candidate's mean and std as metrics and the choice as parameters.
    """
    import mlflow

    m = phase.config.model
    if m.estimator != estimators.AUTO:
        return Choice(m.estimator, dict(m.params))
    rows = {row.name: row for row in estimators.candidates(m.task)}
    pipelines = {name: estimators.build_pipeline(schema, row.make(row.auto, m.seed), scale=row.scaled) for name, row in rows.items()}
    x, y = frames.features(train, schema), frames.target(train, schema, m.task)
    chosen = selection_.select(x, y, pipelines, task=m.task, seed=m.seed)
    phase.save_table(catalog.LEADERBOARD_FILE, chosen.to_frame())
    phase.log_metrics({f"cv_{r['estimator']}_{stat}": r[stat] for r in chosen.board for stat in ("mean", "std")})
    mlflow.log_params({"selection_winner": chosen.winner, "selection_metric": chosen.metric, "selection_folds": chosen.folds,
                       "selection_rows": chosen.rows, "selection_candidates": ",".join(rows)})
    return Choice(chosen.winner, dict(rows[chosen.winner].auto or {}), chosen)


def fit_and_log(phase: PhaseContext, train: pd.DataFrame, schema: Schema, *, role: str, choice: Choice | None = None) -> Trained:
    """Fit the candidate (``role="candidate"``: ``choice``, else :func:`choose`) or the baseline and log it to MLflow."""
    m = phase.config.model
    if role == "candidate":
        choice = choice or choose(phase, train, schema)
    else:
        choice = Choice(estimators.baseline_name(m), {})
    pipeline = estimators.pipeline_for(m.task, choice.name, choice.params, m.seed, schema)
    x, y = frames.features(train, schema), frames.target(train, schema, m.task)
    start = time.perf_counter()
    pipeline.fit(x, y)
    elapsed = time.perf_counter() - start
    logged = models.log_model(pipeline, name=role, input_example=x.head(5))
    phase.log_metrics({f"{role}_fit_seconds": elapsed})
    picked = choice.selection.summary() if choice.selection else None
    return Trained(role, logged, elapsed, len(train), choice.name, picked, dict(choice.params))


@dataclass(frozen=True)
class Prepared:
    """The reference set split into train and holdout, with its schema and file facts."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    schema: Schema
    data: dict[str, Any]
    privacy: dict[str, Any] | None = None  # the private-features release the training split carries (privacy.features)

    def _repr_html_(self) -> str:
        import pandas as pd

        facts = {"file": self.data["path"], "sha256": self.data["sha256"][:16] + "…", "rows": self.data["rows"],
                 "train rows": len(self.train), "holdout rows": len(self.holdout),
                 "features": ", ".join(self.schema.features), "target": self.schema.target}
        if self.privacy:
            p = self.privacy
            facts["private features"] = (f"{', '.join(p['columns'])}: Laplace noise, epsilon {p['epsilon']:g} per row "
                                         f"({'released before, reused' if p['reused'] else 'released now'}; {p['remaining']:g} left of "
                                         f"{p['dataset']}'s budget when released); holdout clean")
        return pd.Series(facts).to_frame("value")._repr_html_()


def prepare(phase: PhaseContext) -> Prepared:
    """Read the reference, refuse it on data errors, split it and save the holdout.

    With ``privacy.features`` the configured columns of the training split are replaced by their
    private release (made and spent on first use, see :func:`workbench.phases._privacy.private_training`);
    a refused spend (``BudgetExceeded``) fails the phase before anything is trained.
    """
    table = sources.read_reference(phase.config)
    schema = sources.schema(phase.config, table.frame, source=str(table.path))
    data.check_quality(table.frame, schema, source=str(table.path), require_target=True).raise_for_errors()
    frames.check_target(table.frame, schema, phase.config.model.task, source=str(table.path))
    train, holdout = frames.split(table.frame, schema, phase.config, source=str(table.path))
    private = None
    if phase.config.privacy is not None and phase.config.privacy.features is not None:  # before any write: a refused spend leaves nothing
        train, private = _privacy.private_training(phase.config, table, train, run_id=phase.run_id)
    phase.save_table(catalog.HOLDOUT_FILE, holdout)
    facts = {"path": str(table.path), "sha256": table.sha256, "rows": table.rows}
    if table.features and table.features.get("fetched"):  # the feature views (and versions) the model's inputs came from
        used = {n for n, fields in table.features["fetched"].items() if set(fields) & set(schema.features)}
        shas = table.features.get("sources", {})
        facts["feature_views"] = {n: v | ({"source_sha256": shas[n]} if n in shas else {}) for n, v in table.features["views"].items() if n in used}
        facts["rows_without_features"] = {n: c for n, c in table.features["rows_without_features"].items() if n in used}
    return Prepared(train, holdout, schema, facts, private)


def summary(prepared: Prepared, trained: Trained) -> dict[str, Any]:
    """What ``result.json`` records for a training phase."""
    out = {**trained.summary(), "schema": prepared.schema.to_dict(), "data": prepared.data,
           "train_rows": len(prepared.train), "holdout_rows": len(prepared.holdout)}
    return out | ({"privacy": prepared.privacy} if prepared.privacy else {})
