"""The scoring phase: score a production batch by the routing rule ``workbench api`` uses online.

Routing, fallback, canary split, retries and circuit breakers are :mod:`workbench.serving.routing`
and :mod:`workbench.serving.resilience`, one implementation for batch and online scoring. The
champion is loaded only after its artifact's hash check; when it cannot serve (a failed load, an
error on the batch, its breaker open) the static ``baseline`` version scores the batch instead and
the fallback (with its reason) is recorded in the result, the predictions (``model_role`` per row),
the MLflow run and the audit log. Only when both fail does the phase fail. The batch's counts go to
the Prometheus textfile (:func:`workbench.serving.metrics.write_batch`) under the service's names.

**Canary.** With ``canary.share`` above 0 and a ``challenger`` registered, that share of the
rows (deterministic by id) is served the challenger's score; the champion still scores every row
(``champion_score``), so the arms can be compared on the same customers once labels arrive
(``canary.json``, and the challenger's pending approval gets the comparison as evidence).
``model_role``/``model_version`` and ``canary_arm`` say per row which model served it. A failing
challenger never fails the batch: its rows are served by the champion and the reason is recorded.
After a fallback to the baseline there is no canary.

**Confidence.** Every prediction gets an id (``prediction_id``, shaped as online; feedback refers to it; the
same batch file scored again gives each row the same id, so labels given once still apply),
the calibrated probability and confidence of its label and its conformal set (binary) or interval
(regression), from the confidence record of the version that scored it (:func:`workbench.serving.routing.annotate`).

**Batch contract (checked before any model scores).** Each numeric feature of the champion's
schema is checked: its stored type, its missing share and the share of its non-missing values
that are not numbers ("EUR 58.52"), which the model would otherwise see as missing and impute.
Above ``thresholds.invalid_share`` (1 %) in any feature the batch is refused with a
:class:`~workbench.exceptions.DataError` naming each such column, its share and an example, and
nothing is scored: the baseline would impute the same values, so falling back would not help. At
or below it the batch is scored, those values count as missing, and ``data_issues`` says so on
each affected row. The check is kept in ``result.json`` (``schema_check``), per feature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.analyses import canary as canary_arms
from workbench.data import sources
from workbench.data.dataset import Schema
from workbench.exceptions import DataError, PhaseError, ServingError
from workbench.governance import approvals, audit, config_log, feedback
from workbench.reports import catalog
from workbench.serving import metrics, routing
from workbench.serving.models import ModelSource

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.data.dataset import Table
    from workbench.runner.context import PhaseContext

SCORE = "score"
PREDICTION_ID = "prediction_id"  # as the online service names it: feedback refers to predictions by it


def pick_batch(config: Config, batch: str) -> Path:
    """The batch file to score: ``batch`` (relative to the config folder), else the latest configured batch."""
    if batch:
        path = Path(batch).expanduser()
        path = path if path.is_absolute() else (config.source.parent / path)
        if not path.exists():
            raise PhaseError(f"batch file {path} does not exist. Fix: pass an existing CSV or Parquet file, or a folder of parts (--batch).")
        return path.resolve()

    batches = sources.list_batches(config)
    if not batches:
        raise PhaseError(f"no batch files found under data.batches ({config.data.batches}). Fix: add a batch or pass --batch.")
    return batches[-1]


@dataclass
class Scored:
    """The batch's predictions and how they were made."""

    batch: dict[str, Any]
    model: dict[str, Any]
    fallback: dict[str, Any]
    predictions: pd.DataFrame = field(repr=False)
    canary: dict[str, Any] = field(default_factory=lambda: {"used": False, "reason": "canary.share is 0"})
    schema_check: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """JSON-safe form for ``result.json``."""
        scores = self.predictions[SCORE]
        return {"batch": self.batch, "model": self.model, "fallback": self.fallback, "canary": self.canary, "rows": len(self.predictions),
                "schema_check": self.schema_check,
                "labelled_rows": int(self.predictions["label"].notna().sum()) if "label" in self.predictions else 0,
                "score_mean": float(scores.mean()), "score_min": float(scores.min()), "score_max": float(scores.max())}

    def _repr_html_(self) -> str:
        import pandas as pd

        facts = {"batch": self.batch["name"], "rows": self.batch["rows"], "model": f"v{self.model['version']} ({self.model['semver']})",
                 "role": self.model["role"], "fallback": self.fallback["reason"] or "no", "mean score": round(float(self.predictions[SCORE].mean()), 4),
                 "canary": _canary_text(self.canary)}
        return pd.Series(facts).to_frame("value")._repr_html_() + self.predictions.head(10)._repr_html_()


def score(phase: PhaseContext, batch: str = "") -> Scored:
    """Score one batch (see the module docstring) and save ``predictions.parquet``."""
    cfg = phase.config
    config_log.note_config(cfg)  # thresholds or canary share changed since the last use: audited
    path = pick_batch(cfg, batch)
    table = sources.read(cfg, path, purpose="score")
    check, issues = check_batch(cfg, table)
    routed, counts, annotated = _route(cfg, table)
    model, fallback, canary = routed.model, routed.fallback, routed.canary
    predictions = _predictions_frame(table.frame, routed, cfg, annotated, name=path.name, sha256=table.sha256)
    predictions["data_issues"] = issues.to_numpy()
    phase.save_table(catalog.PREDICTIONS_FILE, predictions)
    _index(cfg, predictions, path.name, phase.run_id)
    metrics.write_batch(cfg, {**routed.counts(), **counts, "served": {model["role"]: (model["version"], model["semver"])}})
    info = {"name": path.name, "path": str(path), "sha256": table.sha256, "rows": table.rows}
    if table.features and table.features.get("fetched"):  # features read from the store (offline, at each row's time)
        info["features"] = {"views": table.features["views"], "rows_without_features": table.features["rows_without_features"],
                            "source": "offline"}
    if canary["used"]:
        _record_canary(phase, canary, predictions, info)
    phase.log_metrics({"rows": table.rows, "fallback": float(fallback["used"]), "score_mean": float(predictions[SCORE].mean()),
                       "canary_rows": float(canary.get("rows", 0))})
    audit.record(cfg.store, "score", f"{cfg.project}/{model['version']}", batch=str(path), sha256=table.sha256,
                 rows=table.rows, role=model["role"], fallback=fallback["reason"], run_id=phase.run_id,
                 canary={k: canary.get(k) for k in ("used", "version", "rows", "reason")})
    return Scored(info, model, fallback, predictions, canary, check)


def _index(config: Config, predictions: pd.DataFrame, batch: str, run_id: str) -> None:
    """Index the batch's predictions in the feedback store, so reviewers' labels and the review queue can name them."""
    frame = predictions.rename(columns={config.data.id: "entity_id"}) if config.data.id and config.data.id in predictions else predictions
    if "set_size" in frame:
        frame = frame.assign(set_size=frame["set_size"].where(frame["set_size"] >= 0))  # -1: the version has no conformal record
    feedback.index_predictions(config, frame, source="batch", batch=batch, run_id=run_id)


def check_batch(config: Config, table: Table) -> tuple[dict[str, Any], pd.Series]:
    """Check the numeric features before scoring (see the module docstring); the check and each row's issues.

    Raises :class:`DataError` when a feature's share of values that are not numbers is above
    ``thresholds.invalid_share``.
    """
    import pandas as pd

    frame, limit = table.frame, config.thresholds.invalid_share
    mv = registry.alias_version(config, "champion") or registry.alias_version(config, "baseline")
    schema = Schema.from_dict(json.loads(mv.tags[registry.TAG + "schema"])) if mv is not None else None
    numeric = [c for c in schema.features if c in schema.numeric and c in frame] if schema else []
    check: dict[str, Any] = {"invalid_share_limit": limit, "columns": {}}
    issues = pd.Series("", index=frame.index, dtype=object)
    refused = []
    for col in numeric:
        series = frame[col]
        text = not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))
        invalid = series.notna() & pd.to_numeric(series.astype(object), errors="coerce").isna() if text else series.isna() & False
        share = float(invalid.sum() / max(1, int(series.notna().sum())))
        example = repr(series[invalid].iloc[0]) if invalid.any() else None
        action = "refused" if share > limit else "scored as missing" if invalid.any() else "parsed as numbers" if text else "ok"
        check["columns"][col] = {"stored_as": str(series.dtype), "expected": "numeric", "missing_share": float(series.isna().mean()),
                                 "invalid": int(invalid.sum()), "invalid_share": share, "example": example, "action": action}
        if action == "refused":
            refused.append(f"column '{col}' has {share:.1%} values that are not numbers (e.g. {example})")
        elif invalid.any():
            note = f"{col}=" + series[invalid].astype(str).map(repr) + " is not a number, scored as missing"
            issues[invalid] = (issues[invalid] + "; ").str.lstrip("; ") + note
    if refused:
        raise DataError(f"{table.path}: batch refused, nothing scored: {'; '.join(refused)}, above thresholds.invalid_share "
                        f"({limit:.0%}) for a numeric model feature. Fix: write plain numbers in "
                        f"{'these columns' if len(refused) > 1 else 'the column'} (no units or currency), or re-export the "
                        "batch with the reference's numeric types.")
    return check, issues


def _record_canary(phase: PhaseContext, info: dict[str, Any], predictions: pd.DataFrame, batch: dict[str, Any]) -> None:
    """Compare the arms (when labels are in), save ``canary.json`` and add it to the challenger's approval evidence."""
    cfg = phase.config
    info["comparison"] = canary_arms.compare(predictions, cfg.model.task, seed=cfg.model.seed)
    phase.save_json(catalog.CANARY_FILE, info | {"batch": batch})
    if info["comparison"]["status"] == "compared":
        approvals.attach_evidence(cfg, info["version"], "canary", {"batch": batch["name"], "run_id": phase.run_id, **info["comparison"]})


def _canary_text(info: dict[str, Any]) -> str:
    if not info.get("used"):
        return f"off ({info.get('reason')})"
    verdict = info.get("comparison", {}).get("verdict", info.get("comparison", {}).get("status", ""))
    return f"{info['rows']} rows to challenger v{info['version']} ({info['semver']}); {verdict}"


def _route(config: Config, table: Table) -> tuple[routing.Routed, dict[str, Any], dict[str, Any]]:
    """The batch through the routing rule shared with ``workbench api`` (same breakers, retries and canary split)."""
    source = ModelSource(config)
    id_col = config.data.id if config.data.id and config.data.id in table.frame else None
    try:
        source.refresh()
        routed = routing.route(table.frame, source, config, keys=table.frame[id_col] if id_col else None, routed_by=id_col)
        annotated = routing.annotate(routed, source, config)
        counts = {**source.counts, "breakers": {n: b.state for n, b in source.breakers.items()}}
    except ServingError as exc:
        raise PhaseError(f"{table.path}: {exc}") from exc
    finally:
        source.close()
    return routed, counts, annotated


def _predictions_frame(batch: pd.DataFrame, routed: routing.Routed, config: Config, annotated: dict[str, Any], *, name: str,
                       sha256: str) -> pd.DataFrame:
    import hashlib

    import pandas as pd

    d = config.data
    out = pd.DataFrame(index=batch.index)
    # The row's identity in this batch file: the same file scored again (monitored again, or by a later champion) gives
    # its rows the same ids, so labels reviewers gave once still apply. Same shape as the service's ids (24 + 8 hex).
    base = hashlib.blake2b(f"{config.project}|{name}|{sha256}".encode(), digest_size=12).hexdigest()
    out[PREDICTION_ID] = [f"{base}{i:08x}" for i in range(len(batch))]
    for col in (d.id, d.timestamp):
        if col and col in batch:
            out[col] = batch[col]
    out[SCORE] = routed.scores
    out["label"] = batch[d.target] if d.target in batch else pd.Series(float("nan"), index=batch.index)
    out["model_version"] = routed.version
    out["model_semver"] = routed.semver
    out["model_role"] = routed.role
    # each prediction's calibrated confidence and conformal set (binary) or interval (regression): see routing.annotate
    for name, column in (("prob", "probability"), ("confidence", "confidence"), ("set", "prediction_set"), ("set_size", "set_size"),
                         ("low", "interval_low"), ("high", "interval_high"), ("uncertainty", "uncertainty")):
        if name in annotated:
            out[column] = annotated[name]
    if not routed.fallback["used"]:
        out["champion_score"] = routed.champion_scores
        out["canary_arm"] = routed.arm
    return out.reset_index(drop=True)

