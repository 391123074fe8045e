"""What a model card says, gathered from the records of a version (see :mod:`workbench.reports.model_card`).

Every section is read from something stored: the version's tags in MLflow, the results of
the run that trained and registered it, the monitor runs that scored with it, the changelog
and the audit log. Nothing is recomputed, so a card is cheap to refresh after each batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.exceptions import WorkbenchError
from workbench.governance import audit
from workbench.registry import changelog, confidence
from workbench.registry.store import client_for
from workbench.reports import catalog, manifest, privacy
from workbench.reports.catalog import BatchRun

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

# Audit actions listed on a card as its approvals.
GOVERNANCE_ACTIONS = ("register", "approve", "reject", "promote", "rollback")


def collect(config: Config, version: str, *, previous: dict[str, Any] | None, intended_use: str, users: str,
            out_of_scope: str, limitations: str) -> dict[str, Any]:
    """Every section of the card of ``version`` (without ``schema_version``)."""
    client = client_for(config)
    mv = client.get_model_version(config.project, version)
    tags = dict(mv.tags)
    run_id = tags.get(registry.TAG + "run_id", "")
    monitored = _monitor_runs(config, version)
    drift = _drift(monitored)
    fairness = _fairness(config, run_id, monitored)
    kpis = _kpis(monitored)
    authored = _authored(config, previous, intended_use, users, out_of_scope, limitations)
    card = {
        "generated": manifest.now(),
        "model": _model(config, mv, tags),
        "intended_use": authored["intended_use"],
        "training_data": _training_data(config, tags),
        "features": _features(tags),
        "metrics": _metrics(config, run_id),
        "calibration": _calibration(config, tags),
        "privacy": privacy.card_section(config, run_id, monitored),
        "fairness": fairness,
        "explanations": _explanations(config, run_id),
        "drift": drift,
        "kpis": kpis,
        "changelog": _changelog(config, version),
        "approvals": _approvals(config, version),
        "lineage": {k.removeprefix(registry.TAG): v for k, v in tags.items() if k.removeprefix(registry.TAG) in
                    ("data_sha256", "config_sha256", "schema_sha256", "model_sha256", "git_commit", "run_id")} | _feature_views(tags),
    }
    card["limitations"] = authored["limitations"] + _derived_limitations(config, card)
    problem = _unreadable(config, run_id)
    if problem:
        _keep_holdout_sections(card, previous, problem)
    return card


def _feature_views(tags: dict[str, str]) -> dict[str, str]:
    """The feature views (schema version, content hash) the version was trained on, as one lineage line."""
    try:
        views = json.loads(tags.get(registry.TAG + "feature_views", "{}"))
    except ValueError:
        return {}
    text = "; ".join(f"{n} {v.get('version')} (definition sha256 {str(v.get('hash', ''))[:12]})" for n, v in sorted(views.items()) if isinstance(v, dict))
    return {"feature_views": text} if text else {}


def _model(config: Config, mv: Any, tags: dict[str, str]) -> dict[str, Any]:
    from datetime import UTC, datetime

    held = client_for(config).get_registered_model(config.project).aliases
    aliases = sorted(a for a, v in held.items() if str(v) == str(mv.version))
    return {"name": config.project, "version": str(mv.version), "semver": tags.get(registry.TAG + "semver", ""), "aliases": aliases,
            "task": tags.get(registry.TAG + "task", config.model.task), "estimator": tags.get(registry.TAG + "estimator", ""),
            "registered": datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(timespec="seconds"),
            "run_id": tags.get(registry.TAG + "run_id", ""), "mlflow_run_id": mv.run_id or ""}


def _authored(config: Config, previous: dict[str, Any] | None, intended_use: str, users: str, out_of_scope: str,
              limitations: str) -> dict[str, Any]:
    """Authored text: given now, else kept from the previous card, else a default from the config."""
    before = (previous or {}).get("intended_use", {})
    split = lambda text: [s.strip() for s in text.replace("\n", ",").split(",") if s.strip()]
    what = f"the probability that '{config.data.target}' is 1" if config.model.task == "binary" else f"'{config.data.target}'"
    use = {"purpose": intended_use or before.get("purpose") or
           f"Estimate {what} for each row of the production batches of project {config.project}, "
           "to support decisions that a person reviews (batch scoring, not automated action).",
           "users": split(users) or before.get("users") or ["data science team (monitoring, retraining)", "business owners of the KPIs below"],
           "out_of_scope": out_of_scope or before.get("out_of_scope") or
           "Decisions about individuals without human review; populations or periods unlike the training data; "
           f"use of the sensitive attributes ({', '.join(config.data.sensitive) or 'none configured'}) as decision criteria."}
    authored_limits = split(limitations) or [x["text"] for x in (previous or {}).get("limitations", []) if x.get("source") == "authored"]
    return {"intended_use": use, "limitations": [{"source": "authored", "text": t} for t in authored_limits]}


def _training_data(config: Config, tags: dict[str, str]) -> dict[str, Any]:
    import pandas as pd

    path = tags.get(registry.TAG + "data_path", str(config.data.reference))
    schema = json.loads(tags.get(registry.TAG + "schema", "{}"))
    out = {"source": path, "sha256": tags.get(registry.TAG + "data_sha256", ""), "rows": 0, "columns": len(schema.get("dtypes", {})),
           "target": schema.get("target", config.data.target), "period": {"column": config.data.timestamp, "start": None, "end": None}}
    if Path(path).is_file():
        columns = [c for c in (config.data.timestamp,) if c]
        frame = pd.read_parquet(path, columns=columns) if path.endswith(".parquet") else pd.read_csv(path, usecols=columns or [0])
        out["rows"] = len(frame)
        if columns:
            stamps = frame[columns[0]]
            stamps = stamps if pd.api.types.is_datetime64_any_dtype(stamps) else pd.to_datetime(stamps, errors="coerce")
            out["period"] |= {"start": str(stamps.min().date()), "end": str(stamps.max().date())}
    return out


def _features(tags: dict[str, str]) -> list[dict[str, str]]:
    schema = json.loads(tags.get(registry.TAG + "schema", "{}"))
    return [{"name": f, "type": schema.get("dtypes", {}).get(f, "unknown")} for f in schema.get("features", [])]


def _result(config: Config, phase: str, run_id: str) -> dict[str, Any] | None:
    """A result of the version's run (else of the latest run where the phase succeeded), or None."""
    try:
        return catalog.phase_result(config, phase, run_id=run_id or None)
    except (WorkbenchError, OSError):
        return None


def _unreadable(config: Config, run_id: str) -> str | None:
    """Why the version's training run cannot be read (a truncated or missing manifest), or None."""
    try:
        catalog.get_run(config, run_id)
    except WorkbenchError as exc:
        return str(exc)
    return None


def _keep_holdout_sections(card: dict[str, Any], previous: dict[str, Any] | None, problem: str) -> None:
    """The training run is unreadable: keep the holdout sections of the previous card rather than empty ones."""
    if previous:
        card["metrics"], card["explanations"] = previous["metrics"], previous["explanations"]
        card["fairness"] = {**card["fairness"], **{k: previous["fairness"][k] for k in ("status", "dataset", "failed_attributes", "checks")}}
    card["limitations"].append({"source": "records", "text": f"The records of the training run are unreadable ({problem}); "
                                f"the holdout metrics, fairness and explanations {'are kept from the previous card' if previous else 'are missing'}."})


def _metrics(config: Config, run_id: str) -> dict[str, Any]:
    evaluation = _result(config, "evaluate", run_id) or {}
    primary = evaluation.get("primary_metric", "")
    candidate = evaluation.get("metrics", {}).get("candidate", {})
    order = [primary] + [m for m in candidate if m != primary]
    rows = [{"metric": m, "value": candidate[m]["value"], "low": candidate[m]["low"], "high": candidate[m]["high"]} for m in order if m in candidate]
    base = evaluation.get("metrics", {}).get("baseline", {}).get(primary)
    return {"dataset": "holdout", "rows": evaluation.get("rows", 0), "primary": primary, "confidence": 0.95, "values": rows,
            "baseline_primary": base["value"] if base else None, "decision": evaluation.get("decision", {}).get("decision", "")}


def _calibration(config: Config, tags: dict[str, str]) -> dict[str, Any] | None:
    """The version's confidence record as the card states it (None for a version registered before calibration existed)."""
    record = confidence.record_of(tags)
    if not record:
        return None
    cal, conf = record.get("calibration") or {}, record.get("conformal") or {}
    binary = config.model.task == "binary"
    return {"method": cal.get("method", "none"), "ece_raw": cal.get("ece", {}).get("none"), "ece_calibrated": cal.get("ece", {}).get(cal.get("method")),
            "coverage_target": conf.get("coverage", config.estimation.coverage), "holdout_coverage": conf.get("holdout_coverage"),
            "set_size": conf.get("holdout_size") if binary else None, "interval_width": None if binary else conf.get("holdout_size"),
            "check_rows": conf.get("check_rows"), "notes": list(record.get("notes") or [])}


def _fairness(config: Config, run_id: str, monitored: list[BatchRun]) -> dict[str, Any]:
    import pandas as pd

    audit = _result(config, "responsible", run_id)
    out: dict[str, Any] = {"status": "not assessed", "dataset": "holdout", "failed_attributes": [], "checks": [], "monitored": []}
    if audit is None:
        out["status"] = "not assessed: the responsible phase has not run for this version"
    elif "fairness" in audit:
        out["status"] = audit["fairness"]
    else:
        path = catalog.get_run(config, audit["run_id"]).phase_dir("responsible") / catalog.DISPARITY_FILE
        table = pd.read_parquet(path) if path.is_file() else pd.DataFrame()
        out["status"] = "assessed"
        out["failed_attributes"] = audit.get("failed_attributes", [])
        out["checks"] = [{"attribute": str(r.attribute), "disparate_impact": _f(r.disparate_impact),
                          "equalized_odds_difference": _f(r.equalized_odds_difference), "passed": None if pd.isna(r.passed) else bool(r.passed)}
                         for r in table.itertuples()]
    for info in monitored:
        f = info.read("fairness", catalog.FAIRNESS_FILE)
        if f is not None:
            out["monitored"].append({"batch": info.name, "status": f.get("status", ""), "failed_attributes": f.get("failed_attributes", []),
                                     "bias_drift": f.get("bias_drift", [])})
    return out


def _f(value: Any) -> float | None:
    import math

    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _explanations(config: Config, run_id: str) -> dict[str, Any]:
    import pandas as pd

    audit = _result(config, "responsible", run_id)
    if audit is None:
        return {"method": "not computed", "dataset": "holdout", "top_features": []}
    path = catalog.get_run(config, audit["run_id"]).phase_dir("responsible") / catalog.IMPORTANCE_FILE
    table = pd.read_parquet(path).head(5) if path.is_file() else pd.DataFrame(columns=["feature", "importance"])
    return {"method": audit.get("explanation", {}).get("method", ""), "dataset": "holdout",
            "top_features": [{"feature": str(r.feature), "importance": float(r.importance)} for r in table.itertuples()]}


def _monitor_runs(config: Config, version: str) -> list[BatchRun]:
    """Monitor runs whose batch this version scored (latest such run of each batch), in batch order."""
    return catalog.latest_per_batch(config, "score", where=lambda score: str(score["model"]["version"]) == str(version))


def _drift(monitored: list[BatchRun]) -> dict[str, Any]:
    with_verdict = [i for i in monitored if (i.phase_dir("drift") / catalog.VERDICT_FILE).is_file()]
    alerts = [i.name for i in with_verdict if i.read("drift", catalog.VERDICT_FILE)["alert"]]
    if not with_verdict:
        return {"status": "not monitored yet", "batch": None, "run_id": None, "data_drift": None, "concept_drift": None,
                "feature_drift": None, "reasons": [], "batches_monitored": 0, "alert_batches": []}
    last = with_verdict[-1]
    v = last.read("drift", catalog.VERDICT_FILE)
    return {"status": "alert" if v["alert"] else "no drift", "batch": v["batch"]["name"], "run_id": last.run_id,
            "data_drift": v["data_drift"], "concept_drift": v["concept_drift"], "feature_drift": v["feature_drift"],
            "reasons": v["reasons"], "batches_monitored": len(with_verdict), "alert_batches": alerts}


def _kpis(monitored: list[BatchRun]) -> dict[str, Any]:
    import pandas as pd

    for info in reversed(monitored):
        path = info.phase_dir("impact") / catalog.KPIS_FILE
        if path.is_file():
            table = pd.read_parquet(path)
            if len(table):
                cols = ["kpi", "label", "unit", "direction", "baseline", "target", "current", "ci_low", "ci_high", "gap", "on_target"]
                rows = [{k: (_f(v) if isinstance(v, float) else v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                        for r in table[cols].to_dict(orient="records")]
                return {"batch": str(table["batch"].iloc[0]), "run_id": info.run_id, "rows": rows}
    return {"batch": None, "run_id": None, "rows": []}


def _changelog(config: Config, version: str) -> list[dict[str, Any]]:
    entries = [e for e in changelog.read(config) if str(e.get("version")) == str(version)]
    return [{"semver": e["semver"], "date": e["date"], "bump": e["bump"], "text": e["text"]} for e in entries]


def _approvals(config: Config, version: str) -> list[dict[str, Any]]:
    subject = f"{config.project}/{version}"
    return [{"ts": e["ts"], "actor": e["actor"], "action": e["action"], "semver": str(e.get("details", {}).get("semver", "")),
             "reason": str(e.get("details", {}).get("reason", "")), "aliases": e.get("details", {}).get("aliases", [])}
            for e in audit.read(config.store) if e.get("subject") == subject and e.get("action") in GOVERNANCE_ACTIONS]


def _derived_limitations(config: Config, card: dict[str, Any]) -> list[dict[str, str]]:
    """Limitations the records show: fairness failures, drift alerts, KPIs off target, data period."""
    out = []
    period = card["training_data"]["period"]
    if period.get("start"):
        out.append(f"Trained on data from {period['start']} to {period['end']}; quality on later periods is only known from monitoring.")
    if card["metrics"]["rows"]:
        out.append(f"Metrics come from a random holdout of {card['metrics']['rows']:,} rows of the same period, not from production.")
    for check in card["fairness"]["checks"]:
        if check["passed"] is False:
            out.append(f"Fairness check failed on the holdout for {check['attribute']}: disparate impact {check['disparate_impact']:.3f} "
                       f"(threshold {config.thresholds.disparate_impact}), equalized-odds difference {check['equalized_odds_difference']:.3f} "
                       f"(threshold {config.thresholds.equalized_odds}).")
    failing = sorted({f"{m['batch']}: {', '.join(m['failed_attributes'])}" for m in card["fairness"]["monitored"] if m["failed_attributes"]})
    if failing:
        out.append("Fairness checks failed on monitored batches: " + "; ".join(failing) + ".")
    drift = card["drift"]
    if drift["alert_batches"]:
        out.append(f"Drift alerts on {len(drift['alert_batches'])} of {drift['batches_monitored']} monitored batches "
                   f"({', '.join(drift['alert_batches'])}); latest: {'; '.join(drift['reasons']) or 'none'}.")
    off = [r for r in card["kpis"]["rows"] if r["on_target"] is False]
    if off:
        out.append(f"KPIs off target on {card['kpis']['batch']}: " + ", ".join(f"{r['label'] or r['kpi']} (gap {r['gap']:.3g})" if r["gap"] is not None
                                                                     else f"{r['label'] or r['kpi']} (not measurable)" for r in off) + ".")
    if config.data.sensitive:
        out.append(f"Sensitive attributes ({', '.join(config.data.sensitive)}) are not model features, but other features may act as proxies.")
    return [{"source": "records", "text": t} for t in out]
