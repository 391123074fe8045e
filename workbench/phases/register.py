"""The register phase (``40_register``): the evaluated candidate becomes a registered model version.

It gets a semantic version (see :func:`workbench.registry.versions.next_semver`), lineage tags,
a changelog entry and an alias: ``champion`` when none exists yet (the baseline trained in the
same run is registered beside it as ``<semver>+baseline`` with alias ``baseline``), else
``challenger`` until a person promotes it. Registering needs the ``train`` permission and is
audited: an ``intent`` record before the version is created, then the ``register`` record with
every alias move (:mod:`~workbench.governance.intents`), then the changelog entry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.exceptions import PhaseError
from workbench.governance import config_log, intents, roles
from workbench.registry import changelog
from workbench.registry.lineage import git_commit, package_versions
from workbench.registry.versions import TAG, alias_version, candidate_versions, create_baseline, create_version, next_semver

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

    def summary(self) -> dict[str, Any]:
        """JSON-safe form for ``result.json``."""
        return {"model_name": self.name, "version": self.version, "semver": self.semver, "bump": self.bump,
                "aliases": self.aliases, "baseline_version": self.baseline_version, "lineage": self.tags}

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
    tags = lineage_tags(phase, train, evaluation)
    with intents.registry_lock(cfg):  # semver + version number + aliases, atomically
        previous = candidate_versions(cfg)
        semver_, applied = next_semver(previous[-1].tags if previous else None, schema_sha256=tags[TAG + "schema_sha256"],
                                       data_sha256=tags[TAG + "data_sha256"], bump=bump)
        tags[TAG + "semver"] = semver_
        entry = changelog.entry(semver_, applied, evaluation, train, note=note, run_id=phase.run_id)
        first = alias_version(cfg, "champion") is None
        planned = [("champion", "new"), ("baseline", "new")] if first else [("challenger", "new")]
        with intents.intent(cfg, "register", None, planned, semver=semver_, run_id=phase.run_id, reason=entry["reason"]) as moving:
            mv = create_version(cfg, train["model"]["uri"], phase.mlflow_run_id, tags | {TAG + "changelog": entry["text"]}, entry["text"])
            moves = _assign_aliases(phase, moving, first, mv.version, semver_, tags)
            aliases = [m["alias"] for m in moves if m["to"] == str(mv.version)]
            baseline = next((m["to"] for m in moves if m["alias"] == "baseline"), None)
            moving.commit("register", f"{cfg.project}/{mv.version}", semver=semver_, bump=applied, aliases=aliases, run_id=phase.run_id,
                          model_sha256=tags[TAG + "model_sha256"], reason=entry["reason"])
        changelog.append(cfg, entry | {"version": mv.version, "aliases": aliases, "event": "register"})
    return Registered(cfg.project, mv.version, semver_, applied, aliases, baseline, tags)


def lineage_tags(phase: PhaseContext, train: dict[str, Any], evaluation: dict[str, Any]) -> dict[str, str]:
    """Tags recorded on a version: hashes of data, config, schema and model, git commit, packages."""
    schema_json = json.dumps(train["schema"], sort_keys=True)
    feature_spec = json.dumps({c: train["schema"]["dtypes"].get(c) for c in train["schema"]["features"]}, sort_keys=True)
    primary = evaluation["primary_metric"]
    return {
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


def _assign_aliases(phase: PhaseContext, moving: intents.Intent, first: bool, version: str, semver_: str,
                    tags: dict[str, str]) -> list[dict[str, str | None]]:
    """A new version becomes challenger while a champion exists (only a person promotes), else champion."""
    if not first:
        return [moving.move("challenger", version)]
    moves = [moving.move("champion", version)]
    bversion = create_baseline(phase.config, phase.input_result("baseline")["model"], version, semver_, tags, phase.mlflow_run_id)
    return moves + [moving.move("baseline", bversion)]
