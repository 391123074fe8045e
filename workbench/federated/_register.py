"""Registering a federated model like any other version: MLflow run, skops model, semver, lineage, changelog, audit.

The version gets the tags every version has (:func:`workbench.phases.register.lineage_tags` lists
them: hashes of model, data, config and schema, git commit, packages, run id, estimator, task,
holdout metric) with the federated meaning of each: ``data_sha256`` is the hash of the sites'
hashes, ``data_path`` names the sites (``federated:a,b,c``), the holdout metric is the federated
evaluation's. It adds ``workbench.federated`` (strategy, rounds, each site's data sha256 and row
counts, dropped and refused sites; never a row) and ``workbench.federated_rounds`` (per-round loss
and holdout metric). Registration is the register phase's: under the registry lock, an ``intent``
audit record, the version with alias ``challenger``, the ``register`` record, the changelog
entry. A federated version becomes champion the governed way (``workbench approve``/``promote``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import now
from workbench.analyses.evaluation import PRIMARY
from workbench.governance import audit, config_log, intents
from workbench.registry import changelog, models
from workbench.registry.lineage import git_commit, package_versions
from workbench.registry.store import client_for, use_store
from workbench.registry.versions import TAG, candidate_versions, create_version, next_semver

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

TAG_LIMIT = 5000  # characters of one tag value kept (MLflow's store limit is higher; keep tags readable)
ESTIMATOR = {("fedavg", "binary"): "logistic_regression", ("fedavg", "regression"): "ridge",
             ("bagging", "binary"): "random_forest", ("bagging", "regression"): "random_forest"}


def data_sha256(sites: dict[str, dict[str, Any]]) -> str:
    """One hash for the training data of all sites: the sha256 of their names and hashes (a change at any site changes it)."""
    return hashlib.sha256(json.dumps({s: v["sha256"] for s, v in sorted(sites.items())}, sort_keys=True).encode()).hexdigest()


def _rounds_tag(history: list[dict[str, Any]], primary: str) -> str:
    rows = [{"round": h["round"], "sites": h["sites"], "train_loss": h.get("train_loss"), "holdout_loss": h.get("holdout_loss"),
             primary: h.get("evaluation", {}).get("metrics", {}).get(primary)} for h in history]
    text, keep = json.dumps(rows, separators=(",", ":")), len(rows)
    while len(text) > TAG_LIMIT and keep > 1:  # keep the first and the latest rounds; result.json has them all
        keep //= 2
        text = json.dumps([rows[0], {"elided_rounds": len(rows) - 1 - keep}, *rows[-keep:]], separators=(",", ":"))
    return text


def lineage_tags(config: Config, result: dict[str, Any], model_sha256: str, run_id: str) -> dict[str, str]:
    """The tags of a federated version (see the module docstring)."""
    task, spec = config.model.task, result["spec"]
    schema = spec["schema"]
    primary = PRIMARY[task]
    feature_spec = json.dumps({c: schema["dtypes"].get(c) for c in schema["features"]}, sort_keys=True)
    federated = {"strategy": result["strategy"], "rounds": result["rounds"], "local_epochs": result["local_epochs"],
                 "min_sites": result["min_sites"], "sites": {s: {k: v[k] for k in ("sha256", "rows", "holdout_rows")} for s, v in result["sites"].items()},
                 "dropped": [d["site"] for d in result["dropped"]], "refused": len(result["refused"]), "tls": result["tls"]}
    return {
        TAG + "kind": "candidate",
        TAG + "model_sha256": model_sha256,
        TAG + "data_sha256": data_sha256(result["sites"]),
        TAG + "data_path": "federated:" + ",".join(sorted(result["sites"])),
        TAG + "config_sha256": config.sha256(),
        TAG + "schema_sha256": hashlib.sha256(feature_spec.encode()).hexdigest(),
        TAG + "schema": json.dumps(schema, sort_keys=True),
        TAG + "git_commit": git_commit(config.source.parent),
        TAG + "packages": json.dumps(package_versions(), sort_keys=True),
        TAG + "run_id": run_id,
        TAG + "estimator": ESTIMATOR[(result["strategy"], task)],
        TAG + "task": task,
        TAG + f"holdout_{primary}": str(round(result["evaluation"]["metrics"][primary], 6)),
        TAG + "decision": "federated",  # no champion comparison: a person decides with `workbench approve`
        TAG + "federated": json.dumps(federated, sort_keys=True)[:TAG_LIMIT],
        TAG + "federated_rounds": _rounds_tag(result["history"], primary),
    }


def _entry(semver: str, bump: str, result: dict[str, Any], tags: dict[str, str], primary: str, run_id: str) -> dict[str, Any]:
    sites = sorted(result["sites"])
    dropped = [d["site"] for d in result["dropped"]]
    reason = f"federated {result['strategy']} training across {len(sites)} sites"
    text = (f"{semver} ({bump}): {reason} ({', '.join(sites)}; {result['rounds']} round(s)"
            + (f"; dropped: {', '.join(dropped)}" if dropped else "") + f"). Federated holdout {primary} "
            f"{result['evaluation']['metrics'][primary]:.4f} over {result['evaluation']['rows']} rows; data sha256 {tags[TAG + 'data_sha256'][:12]}.")
    return {"semver": semver, "bump": bump, "reason": reason, "date": now(), "actor": audit.actor(), "run_id": run_id, "note": "", "text": text}


def log_run(config: Config, result: dict[str, Any], run_id: str) -> str:
    """Start the MLflow run of a federated training, with its parameters and per-round metrics; return its id."""
    import mlflow

    use_store(config)
    if mlflow.active_run() is not None:
        mlflow.end_run()
    run = mlflow.start_run(run_name="federated", tags={TAG + "run_id": run_id, TAG + "phase": "federated"})
    mlflow.log_params({"strategy": result["strategy"], "rounds": result["rounds"], "local_epochs": result["local_epochs"],
                       "min_sites": result["min_sites"], "sites": ",".join(sorted(result["sites"]))})
    for entry in result["history"]:
        metrics = {f"holdout_{k}": v for k, v in entry.get("evaluation", {}).get("metrics", {}).items() if v == v}
        metrics |= {k: entry[k] for k in ("train_loss", "holdout_loss") if entry.get(k) is not None}
        mlflow.log_metrics(metrics, step=entry["round"])
    return run.info.run_id


def register(config: Config, pipeline: Any, example: Any, result: dict[str, Any], run_id: str, mlflow_run_id: str,
             publish: Callable[[dict[str, Any]], Path], *, store: Callable[[str], Path] | None = None) -> dict[str, Any]:
    """Log ``pipeline`` to the active MLflow run and register it as a new version with alias ``challenger``.

    ``store(version)`` writes what belongs to the version outside MLflow (its reference profile
    folder), then ``publish(registered)`` the run's result (atomically), once the version exists and
    before the alias moves; if either or the move fails, the version is deleted again with what
    they wrote and no alias moved, so a failure leaves neither a version, nor a profile, nor a
    result (the audit log shows the aborted intent).
    """
    config_log.note_config(config)
    logged = models.log_model(pipeline, name="candidate", input_example=example)
    tags = lineage_tags(config, result, logged.sha256, run_id)
    primary = PRIMARY[config.model.task]
    with intents.registry_lock(config):
        previous = candidate_versions(config)
        semver_, bump = next_semver(previous[-1].tags if previous else None, schema_sha256=tags[TAG + "schema_sha256"],
                                    data_sha256=tags[TAG + "data_sha256"])
        tags[TAG + "semver"] = semver_
        entry = _entry(semver_, bump, result, tags, primary, run_id)
        with intents.intent(config, "register", None, [("challenger", "new")], semver=semver_, run_id=run_id, reason=entry["reason"]) as moving:
            mv = create_version(config, logged.uri, mlflow_run_id, tags | {TAG + "changelog": entry["text"]}, entry["text"])
            registered = {"model": logged.to_dict(), "version": str(mv.version), "semver": semver_, "bump": bump, "aliases": ["challenger"]}
            written: list[Path] = []
            try:
                if store is not None:
                    written.append(store(str(mv.version)))
                written.append(publish(registered))
                moving.move("challenger", mv.version)
            except BaseException:
                _withdraw(config, str(mv.version), written)
                raise
            moving.commit("register", f"{config.project}/{mv.version}", semver=semver_, bump=bump, aliases=["challenger"], run_id=run_id,
                          model_sha256=logged.sha256, reason=entry["reason"], federated=json.loads(tags[TAG + "federated"]))
        changelog.append(config, entry | {"version": mv.version, "aliases": ["challenger"], "event": "register"})
    return registered


def _withdraw(config: Config, version: str, written: list[Path]) -> None:
    """Undo a registration that could not be completed: delete the version (its aliases go with it), its profile and the result."""
    import shutil

    from mlflow.exceptions import MlflowException

    try:
        client_for(config).delete_model_version(config.project, version)
    except MlflowException:  # the store is unreachable: the abort record names the version for a person to remove
        pass
    for path in written:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
