"""The drift phase: data, concept and feature drift of one scored batch against the champion.

Reference statistics are computed once per model version and cached in
``<store>/profiles/<project>/v<version>/`` (the drift profile of the training data, and the
holdout scored by that version with its labels), so monitoring a batch never rescans the
reference. When any threshold is crossed a retrain request is recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.exceptions import PhaseError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.data import Schema
    from workbench.phase import PhaseContext

SCORED_HOLDOUT = {"champion": "reference_scored.parquet", "baseline": "reference_scored_baseline.parquet"}
VERDICT_FILE = "verdict.json"
# Column statuses that raise an alert on their own, whatever the dataset-level verdict.
ALERT_STATUSES = ("high missing share", "empty column", "type changed", "missing column")


@dataclass
class Reference:
    """What a batch is compared with: the champion's cached reference statistics."""

    version: str
    semver: str
    schema: Schema
    scored_by: dict[str, pd.DataFrame]
    folder: Path
    mode: str = "exact"
    config: Config | None = field(default=None, repr=False)

    @cached_property
    def profile(self) -> Any:
        """The data-drift profile of the training data, built on first use (only the drift phase needs it)."""
        from filelock import FileLock

        from workbench import drift
        from workbench.store import client_for

        with FileLock(str(self.folder / ".lock")):
            if not (self.folder / self.mode / "profile.json").exists():
                tags = dict(client_for(self.config).get_model_version(self.config.project, self.version).tags)
                drift.build_profile(_reference_frame(self.config, tags), numeric=self.numeric, categorical=self.categorical,
                                    mode=self.mode).save(self.folder / self.mode)
        return drift.ReferenceProfile.load(self.folder / self.mode)

    @property
    def scored(self) -> pd.DataFrame:
        """The holdout with labels (``y``) and the champion's scores (``score``)."""
        return self.scored_by["champion"]

    @property
    def numeric(self) -> list[str]:
        """Numeric model features."""
        return [c for c in self.schema.features if c in self.schema.numeric]

    @property
    def categorical(self) -> list[str]:
        """Categorical model features."""
        return [c for c in self.schema.features if c not in self.schema.numeric]


def reference(config: Config, *, mode: str = "exact", alias: str = "champion") -> Reference:
    """The reference statistics of the version holding ``alias``, built on first use and cached per version.

    ``scored_by["champion"]`` holds that version's own scores on its holdout (the champion when
    monitoring; a new challenger when audited at registration), ``scored_by["baseline"]`` the baseline's.
    """
    from filelock import FileLock

    from workbench import registry
    from workbench.data import Schema

    mv = registry.alias_version(config, alias)
    if mv is None:
        raise PhaseError(f"model {config.project!r} has no {alias} version. Fix: run `workbench run` first.")
    tags = mv.tags
    schema = Schema.from_dict(json.loads(tags[registry.TAG + "schema"]))
    folder = config.store / "profiles" / config.project / f"v{mv.version}"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".lock")):
        for role, name in SCORED_HOLDOUT.items():
            if not (folder / name).exists():
                _score_holdout(config, tags, schema, folder / name, alias if role == "champion" else role)
    import pandas as pd

    scored = {role: pd.read_parquet(folder / name) for role, name in SCORED_HOLDOUT.items()}
    return Reference(str(mv.version), tags.get(registry.TAG + "semver", ""), schema, scored, folder, mode, config)


def _reference_frame(config: Config, tags: dict[str, str]) -> pd.DataFrame:
    """The training data of the version, refused if its bytes changed since registration."""
    from workbench import registry, sources

    path = Path(tags.get(registry.TAG + "data_path", str(config.data.reference)))
    table = sources.read(config, path, purpose="reference profile")
    if table.sha256 != tags[registry.TAG + "data_sha256"]:
        raise PhaseError(f"{path}: the reference data changed since the champion was registered "
                         f"(sha256 {table.sha256[:12]}… vs {tags[registry.TAG + 'data_sha256'][:12]}…). "
                         "Fix: restore the file, or register a new champion trained on it.")
    return table.frame


def _score_holdout(config: Config, tags: dict[str, str], schema: Schema, target: Path, alias: str) -> None:
    """Score the champion's holdout (its labels kept) with the model holding ``alias``.

    The baseline's scores are kept too: when a batch falls back to the baseline, its
    prediction drift is measured against the baseline's own reference scores.
    """
    import pandas as pd

    from workbench import registry, training
    from workbench._io import atomic_path

    holdout_path = config.reports / tags.get(registry.TAG + "run_id", "") / "train" / training.HOLDOUT_FILE
    if holdout_path.is_file():
        holdout = pd.read_parquet(holdout_path)
    else:  # reports cleaned up: the split is deterministic, so recompute it
        holdout = training.split(_reference_frame(config, tags), schema, config)[1]
    model = registry.load(config, alias)
    scored = training.features(holdout, schema)
    for col in (c for c in schema.sensitive if c not in scored):  # for the fairness audit
        scored[col] = holdout[col].to_numpy()
    scored["y"] = training.target(holdout, schema, config.model.task).to_numpy()
    scored["score"] = training.predict(model.model, holdout, schema, config.model.task)
    with atomic_path(target) as tmp:
        scored.reset_index(drop=True).to_parquet(tmp, index=False)


def scored_batch(phase: PhaseContext) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The batch the score phase scored (re-read and hash-checked) with its predictions joined."""
    import pandas as pd

    from workbench import scoring, sources

    result = phase.input_result("score")
    table = sources.read(phase.config, result["batch"]["path"], purpose="drift")
    if table.sha256 != result["batch"]["sha256"]:
        raise PhaseError(f"{table.path}: the batch changed after it was scored. Fix: score it again (`workbench monitor --batch`).")
    predictions = pd.read_parquet(phase.input_dir("score") / scoring.PREDICTIONS_FILE)
    frame = table.frame.reset_index(drop=True)
    frame["score"], frame["y"] = predictions["score"].to_numpy(), predictions["label"].to_numpy()
    return frame, result


def data_drift(phase: PhaseContext, ref: Reference, batch: pd.DataFrame) -> Any:
    """Per-column drift and the dataset verdict, saved as ``columns.parquet`` and ``data_drift.json``."""
    from workbench import drift

    t = phase.config.thresholds
    result = drift.compare(ref.profile, batch, alpha=t.data_drift, min_effect_numeric=t.data_drift,
                           min_effect_categorical=t.data_drift)
    phase.save_table("columns.parquet", result.columns)
    from workbench.apps.distributions import distribution_table  # reference vs batch per bin, for the drift app

    phase.save_table("distributions.parquet", distribution_table(ref.profile, batch))
    phase.save_json("data_drift.json", result.to_dict())
    phase.log_metrics({"drifted_columns": result.dataset["drifted_columns"], "drifted_share": result.dataset["drifted_share"]})
    return result


def concept_drift(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, *, role: str = "champion") -> dict[str, Any]:
    """Prediction drift, performance change and residual (feature) drift; saved as ``concept.json``.

    ``role`` is the model that scored the batch (``baseline`` after a fallback): the batch is
    compared with that model's scores on the reference holdout. Residual drift is tested
    per feature at alpha / number of features (Bonferroni), so ten clean features do not
    give a ~40 % chance of some false alarm in every batch.
    """
    from workbench import concept

    cfg, task = phase.config, phase.config.model.task
    scored = ref.scored_by[role]
    pred = concept.prediction_drift(scored["score"].to_numpy(), batch["score"].to_numpy(), task=task,
                                    threshold=cfg.thresholds.concept_drift)
    labelled = batch[batch["y"].notna()]
    perf = concept.performance_change(scored["y"].to_numpy(), scored["score"].to_numpy(),
                                      labelled["y"].to_numpy() if len(labelled) else None,
                                      labelled["score"].to_numpy() if len(labelled) else None, task=task, seed=cfg.model.seed)
    residuals = None
    if perf.get("status", "ok") == "ok" and len(labelled):
        alpha = cfg.thresholds.data_drift / max(1, len(ref.schema.features))
        residuals = concept.residual_drift(scored, labelled, features=ref.schema.features, numeric=ref.numeric, task=task,
                                           threshold=cfg.thresholds.feature_drift, alpha=alpha)
        phase.save_table("feature_drift.parquet", residuals)
    verdict = concept.concept_verdict(pred, perf, residuals)
    out = {"scored_by": role, "prediction_drift": pred, "performance": perf, "verdict": verdict}
    phase.save_json("concept.json", out)
    phase.log_metrics({"score_psi": pred["psi"], "concept_drift": float(verdict["concept_drift"]),
                       "feature_drift": float(verdict["feature_drift"])} | ({"performance_delta": perf["difference"]} if "difference" in perf else {}))
    return out


def evidently_html(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, *, sample: int = 20_000) -> dict[str, Any]:
    """The evidently DataDriftPreset HTML for the same batch, saved as ``evidently.html``."""
    from workbench import evidently_report

    table = _reference_frame(phase.config, _champion_tags(phase.config))
    info = evidently_report.write_report(phase.dir / "evidently.html", table, batch, numeric=ref.numeric,
                                         categorical=ref.categorical, sample=sample, seed=phase.config.model.seed)
    phase._logged(phase.dir / "evidently.html")
    return info


def _champion_tags(config: Config) -> dict[str, str]:
    from workbench import registry

    return dict(registry.alias_version(config, "champion").tags)


def verdict(phase: PhaseContext, ref: Reference, scored: dict[str, Any], data: Any, concept_result: dict[str, Any]) -> dict[str, Any]:
    """The batch's overall verdict; files a retrain request when a threshold is crossed."""
    from workbench import audit, retrain

    reasons = []
    if data.dataset["drift"]:
        reasons.append(f"data drift in {data.dataset['drifted_columns']} of {data.dataset['columns']} columns")
    bad = data.columns[data.columns["status"].isin(ALERT_STATUSES)]
    if len(bad):
        reasons.append("data problems: " + ", ".join(f"{r.column} ({r.status})" for r in bad.itertuples()))
    reasons += concept_result["verdict"]["reasons"]
    out = {"batch": scored["batch"], "model": {"version": ref.version, "semver": ref.semver},
           "data_drift": bool(data.dataset["drift"]), "concept_drift": concept_result["verdict"]["concept_drift"],
           "feature_drift": concept_result["verdict"]["feature_drift"], "alert": bool(reasons), "reasons": reasons,
           "drifted_columns": data.columns.loc[data.columns["drifted"], "column"].tolist(), "fallback": scored["fallback"]}
    if reasons:
        out["retrain_request"] = retrain.request(phase.config, trigger="drift", run_id=phase.run_id, reasons=reasons,
                                                 model_version=ref.version, batch=scored["batch"]["name"])
        audit.record(phase.config.store, "retrain_request", f"{phase.config.project}/{ref.version}", reasons=reasons, run_id=phase.run_id)
    phase.save_json(VERDICT_FILE, out)
    return out


def plot(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, data: Any) -> Any:
    """Effect size per column against its threshold, and the score distributions; saved as ``drift.png``."""
    import numpy as np
    from IPython.display import Image
    from matplotlib.figure import Figure

    cols = data.columns.sort_values("effect_size", ascending=True)
    fig = Figure(figsize=(10, 0.3 * len(cols) + 2.5))
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    colors = np.where(cols["drifted"], "#c53030", "#a0aec0")
    left.barh(cols["column"], cols["effect_size"].fillna(0), color=colors)
    left.axvline(float(cols["effect_threshold"].iloc[0]), color="black", linestyle="--", linewidth=1, label="effect threshold")
    left.set_xlabel("effect size (normalised Wasserstein / Jensen–Shannon)")
    left.legend(loc="lower right", fontsize=8)
    left.set_title("Data drift per column (red: drifted)")
    bins = np.linspace(0, 1, 21) if phase.config.model.task == "binary" else 30
    right.hist(ref.scored["score"], bins=bins, density=True, alpha=0.5, label="reference (holdout)")
    right.hist(batch["score"], bins=bins, density=True, alpha=0.5, label="batch")
    right.set_title("Model score distribution")
    right.legend(fontsize=8)
    fig.tight_layout()
    return Image(filename=str(phase.save_figure("drift.png", fig)))
