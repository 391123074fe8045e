"""The register phase (``40_register``): the evaluated candidate becomes a registered model version.

It gets a semantic version (see :func:`workbench.registry.versions.next_semver`), lineage tags,
a changelog entry and the alias ``challenger``. When no champion exists yet, the version is due
to become it, but only once its fairness and explanations (``45_responsible``) and its model card
(``48_model_card``) exist: the model-card phase then calls :func:`activate`, which makes it
``champion`` and registers the baseline trained in the same run beside it (``<semver>+baseline``,
alias ``baseline``). So no champion is ever left without its audit and card. Later versions stay
``challenger`` until a person promotes them. Registering needs the ``train`` permission and is
audited: an ``intent`` record before the version is created, then the ``register`` record with
every alias move (:mod:`~workbench.governance.intents`), then the changelog entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench._io import read_json
from workbench.exceptions import PhaseError
from workbench.governance import config_log, intents, roles
from workbench.registry import changelog, confidence
from workbench.registry.lineage import git_commit, package_versions
from workbench.registry.versions import TAG, alias_version, candidate_versions, create_baseline, create_version, next_semver, resolve
from workbench.reports.catalog import CONFIDENCE_FILE

if TYPE_CHECKING:  # pragma: no cover
    from workbench.runner.context import PhaseContext


@dataclass(frozen=True)
class Registered:
    """What registration did."""

    name: str
    version: str
    semver: str
    bump: str
    aliases: list[str]
    baseline_version: str | None
    tags: dict[str, str]
    pending: str | None = None  # "champion": becomes champion once the model-card phase has run (see activate)

    def summary(self) -> dict[str, Any]:
        """JSON-safe form for ``result.json``."""
        return {"model_name": self.name, "version": self.version, "semver": self.semver, "bump": self.bump,
                "aliases": self.aliases, "baseline_version": self.baseline_version, "pending": self.pending, "lineage": self.tags}

    def _repr_html_(self) -> str:
        import pandas as pd

        rows = {"model": self.name, "version": self.version, "semver": self.semver, "bump": self.bump,
                "aliases": ", ".join(self.aliases), "baseline version": self.baseline_version}
        rows |= {k.removeprefix(TAG): v[:80] for k, v in self.tags.items() if k != TAG + "schema"}
        return pd.Series(rows).to_frame("value")._repr_html_()


def register(phase: PhaseContext, *, bump: str = "auto", note: str = "", force: bool = False) -> Registered:
    """Register the evaluated candidate as a new version with lineage, changelog and aliases."""
    cfg = phase.config
    roles.require(cfg, "train", f"{cfg.project} (register)")
    config_log.note_config(cfg)
    train, evaluation = phase.input_result("train"), phase.input_result("evaluate")
    decision = evaluation["decision"]
    if decision["decision"] == "reject" and not force:
        raise PhaseError(f"not registered: evaluation rejected the candidate ({decision['reason']}). "
                         "Fix: improve the model, or pass force=True to register it anyway.")
    tags = lineage_tags(phase, train, evaluation) | confidence.tag_for(_confidence_record(phase, "candidate"))
    with intents.registry_lock(cfg):  # semver + version number + aliases, atomically
        previous = candidate_versions(cfg)
        semver_, applied = next_semver(previous[-1].tags if previous else None, schema_sha256=tags[TAG + "schema_sha256"],
                                       data_sha256=tags[TAG + "data_sha256"], bump=bump)
        tags[TAG + "semver"] = semver_
        entry = changelog.entry(semver_, applied, evaluation, train, note=note, run_id=phase.run_id)
        pending = "champion" if alias_version(cfg, "champion") is None else None
        with intents.intent(cfg, "register", None, [("challenger", "new")], semver=semver_, run_id=phase.run_id, reason=entry["reason"]) as moving:
            mv = create_version(cfg, train["model"]["uri"], phase.mlflow_run_id, tags | {TAG + "changelog": entry["text"]}, entry["text"])
            moving.move("challenger", mv.version)
            moving.commit("register", f"{cfg.project}/{mv.version}", semver=semver_, bump=applied, aliases=["challenger"], run_id=phase.run_id,
                          model_sha256=tags[TAG + "model_sha256"], reason=entry["reason"], pending=pending)
        changelog.append(cfg, entry | {"version": mv.version, "aliases": ["challenger"], "event": "register"})
    return Registered(cfg.project, mv.version, semver_, applied, ["challenger"], None, tags, pending)


def activate(phase: PhaseContext) -> dict[str, Any]:
    """Make the version registered in this run champion, when it was due to be and no champion exists yet.

    Called by the model-card phase, after the responsible-AI audit and the card: the first champion
    never exists without them. Its baseline (trained in the same run) is registered beside it. If a
    champion appeared meanwhile (a concurrent run), the version stays ``challenger``. Returns the
    version's aliases afterwards, whether it became champion and whether any alias of it moved.
    """
    cfg, registered = phase.config, phase.input_result("register")
    version = str(registered["version"])
    if registered.get("pending") != "champion":
        return {"aliases": list(registered["aliases"]), "activated": False, "moved": False}
    with intents.registry_lock(cfg):
        if alias_version(cfg, "champion") is not None:  # a concurrent run's version became champion first
            holder, moved = alias_version(cfg, "challenger"), False
            if holder is None:  # that run took the challenger alias from this version when it activated: give it back
                reason = "a champion appeared while this version was audited: it stays challenger"
                with intents.intent(cfg, "activate", version, [("challenger", version)], run_id=phase.run_id, reason=reason) as moving:
                    moving.move("challenger", version)
                    moving.commit("activate", f"{cfg.project}/{version}", aliases=["challenger"], run_id=phase.run_id, reason=reason)
                holder, moved = alias_version(cfg, "challenger"), True
            return {"aliases": ["challenger"] if str(holder.version) == version else [], "activated": False, "moved": moved}
        mv = resolve(cfg, version)
        semver_ = mv.tags[TAG + "semver"]
        holder = alias_version(cfg, "challenger")
        planned = [("champion", version), ("baseline", "new")] + ([("challenger", None)] if holder is not None and str(holder.version) == version else [])
        reason = "first champion: registered, audited for fairness and explanations, and carded"
        with intents.intent(cfg, "activate", version, planned, semver=semver_, run_id=phase.run_id, reason=reason) as moving:
            moving.move("champion", version)
            if len(planned) == 3:
                moving.move("challenger", None)
            base = phase.input_result("baseline")["model"] | {"confidence": _confidence_record(phase, "baseline")}
            baseline = create_baseline(cfg, base, version, semver_, dict(mv.tags), phase.mlflow_run_id)
            moving.move("baseline", baseline)
            moving.commit("activate", f"{cfg.project}/{version}", semver=semver_, aliases=["champion"], run_id=phase.run_id, reason=reason)
        changelog.append(cfg, changelog.event_entry("activate", dict(mv.tags), version, reason=reason, previous=None, aliases=["champion"]))
    return {"aliases": ["champion"], "activated": True, "moved": True, "baseline_version": baseline}


def _confidence_record(phase: PhaseContext, role: str) -> dict[str, Any] | None:
    """The evaluate phase's confidence record of ``role`` (None for a run evaluated before confidence existed)."""
    path = phase.input_dir("evaluate") / CONFIDENCE_FILE
    return read_json(path).get(role) if path.is_file() else None


def lineage_tags(phase: PhaseContext, train: dict[str, Any], evaluation: dict[str, Any]) -> dict[str, str]:
    """Tags recorded on a version: hashes of data, config, schema and model, git commit, packages."""
    schema_json = json.dumps(train["schema"], sort_keys=True)
    feature_spec = json.dumps({c: train["schema"]["dtypes"].get(c) for c in train["schema"]["features"]}, sort_keys=True)
    primary = evaluation["primary_metric"]
    views = train["data"].get("feature_views") or {}
    return {
        **({TAG + "feature_views": json.dumps(views, sort_keys=True)} if views else {}),  # checked when the version scores
        TAG + "kind": "candidate",
        TAG + "model_sha256": train["model"]["sha256"],
        TAG + "data_sha256": train["data"]["sha256"],
        TAG + "data_path": train["data"]["path"],
        TAG + "config_sha256": phase.config.sha256(),
        TAG + "schema_sha256": hashlib.sha256(feature_spec.encode()).hexdigest(),
        TAG + "schema": schema_json,
        TAG + "git_commit": git_commit(phase.config.source.parent),
        TAG + "packages": json.dumps(package_versions(), sort_keys=True),
        TAG + "run_id": phase.run_id,
        TAG + "estimator": train["model"]["estimator"],
        TAG + "task": phase.config.model.task,
        TAG + f"holdout_{primary}": str(round(evaluation["metrics"]["candidate"][primary]["value"], 6)),
        TAG + "decision": evaluation["decision"]["decision"],
    }
