"""Model versions in the MLflow registry: semantic versions, lineage, changelog and aliases.

Semantic-version bump rules (``bump="auto"``), against the highest registered version:

- **MAJOR** when the feature schema changes (features added, removed or retyped);
- **MINOR** for a retrain on new data (the training data's sha256 differs);
- **PATCH** otherwise (a parameter or code change, or a plain re-run).

The first version is ``1.0.0``. The static baseline is registered beside the first
champion as ``<semver>+baseline``. The first accepted version gets the ``champion`` alias;
later ones become ``challenger`` until an approver promotes them (``workbench approve``, see
:mod:`workbench.governance`), which also registers the baseline trained in the same run.
Registering needs the ``train`` permission; every alias move is recorded in the audit event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.exceptions import PhaseError, RegistryError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.phase import PhaseContext

TAG = "workbench."
BUMPS = ("auto", "major", "minor", "patch")


@dataclass(frozen=True)
class LoadedVersion:
    """A registered version, loaded after its hash check."""

    version: str
    semver: str
    model: Any
    tags: dict[str, str]

    @property
    def features(self) -> list[str]:
        """The feature columns the model expects."""
        return self.schema["features"]

    @property
    def schema(self) -> dict[str, Any]:
        """The training schema recorded on the version."""
        return json.loads(self.tags[TAG + "schema"])


def next_semver(previous: dict[str, str] | None, *, schema_sha256: str, data_sha256: str, bump: str = "auto") -> tuple[str, str]:
    """The next semantic version and the bump applied (see the module docstring)."""
    import semver

    if bump not in BUMPS:
        raise RegistryError(f"bump {bump!r} is not valid; use one of {', '.join(BUMPS)}.")
    if previous is None:
        return "1.0.0", "initial"
    if bump == "auto":
        if previous.get(TAG + "schema_sha256") != schema_sha256:
            bump = "major"
        elif previous.get(TAG + "data_sha256") != data_sha256:
            bump = "minor"
        else:
            bump = "patch"
    current = semver.Version.parse(previous[TAG + "semver"])
    return str(getattr(current, f"bump_{bump}")()), bump


def candidate_versions(config: Config) -> list[Any]:
    """Registered candidate (non-baseline) versions, highest semver last."""
    import semver

    client = _client(config)
    found = client.search_model_versions(f"name = '{config.project}'")
    mine = [mv for mv in found if mv.tags.get(TAG + "kind") == "candidate" and TAG + "semver" in mv.tags]
    return sorted(mine, key=lambda mv: semver.Version.parse(mv.tags[TAG + "semver"]))


def alias_version(config: Config, alias: str) -> Any | None:
    """The model version holding ``alias``, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return _client(config).get_model_version_by_alias(config.project, alias)
    except MlflowException:
        return None


def load(config: Config, ref: str) -> LoadedVersion:
    """Load a version by alias (``champion``…) or number, refusing a tampered artifact."""
    from workbench import models

    ref = str(ref)
    mv = alias_version(config, ref) if not ref.isdigit() else _client(config).get_model_version(config.project, ref)
    if mv is None:
        raise RegistryError(f"model {config.project!r} has no version with alias {ref!r}. Fix: run `workbench run` first.")
    expected = mv.tags.get(TAG + "model_sha256")
    if not expected:
        raise RegistryError(f"model {config.project!r} v{mv.version} has no recorded sha256; refusing to load it.")
    label = f"{config.project!r} v{mv.version} ({mv.tags.get(TAG + 'semver')})"
    source = _client(config).get_model_version_download_uri(config.project, mv.version)
    model = models.load_model(source, expected, label=label, tracking_uri=config.mlflow_uri)
    return LoadedVersion(mv.version, mv.tags.get(TAG + "semver", ""), model, dict(mv.tags))


def try_load(config: Config, alias: str) -> LoadedVersion | None:
    """Like :func:`load`, but None when the alias does not exist yet."""
    return load(config, alias) if alias_version(config, alias) is not None else None


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
    from filelock import FileLock

    from workbench import audit, changelog, governance

    cfg = phase.config
    governance.require(cfg, "train", f"{cfg.project} (register)")
    governance.note_config(cfg)
    train, evaluation = phase.input_result("train"), phase.input_result("evaluate")
    decision = evaluation["decision"]
    if decision["decision"] == "reject" and not force:
        raise PhaseError(f"not registered: evaluation rejected the candidate ({decision['reason']}). "
                         "Fix: improve the model, or pass force=True to register it anyway.")
    tags = lineage_tags(phase, train, evaluation)
    with FileLock(str(cfg.store / ".registry.lock")):  # semver + version number + aliases, atomically
        previous = candidate_versions(cfg)
        semver_, applied = next_semver(previous[-1].tags if previous else None, schema_sha256=tags[TAG + "schema_sha256"],
                                       data_sha256=tags[TAG + "data_sha256"], bump=bump)
        tags[TAG + "semver"] = semver_
        entry = changelog.entry(semver_, applied, evaluation, train, note=note, run_id=phase.run_id)
        mv = _create(cfg, train["model"]["uri"], phase.mlflow_run_id, tags | {TAG + "changelog": entry["text"]}, entry["text"])
        moves = _assign_aliases(phase, mv.version, semver_, tags)
        aliases = [m["alias"] for m in moves if m["to"] == str(mv.version)]
        baseline = next((m["to"] for m in moves if m["alias"] == "baseline"), None)
        changelog.append(cfg, entry | {"version": mv.version, "aliases": aliases, "event": "register"})
    audit.record(cfg.store, "register", f"{cfg.project}/{mv.version}", semver=semver_, bump=applied, aliases=aliases,
                 run_id=phase.run_id, model_sha256=tags[TAG + "model_sha256"], reason=entry["reason"], alias_moves=moves)
    return Registered(cfg.project, mv.version, semver_, applied, aliases, baseline, tags)


def lineage_tags(phase: PhaseContext, train: dict[str, Any], evaluation: dict[str, Any]) -> dict[str, str]:
    """Tags recorded on a version: hashes of data, config, schema and model, git commit, packages."""
    import hashlib

    from workbench.lineage import git_commit, package_versions

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


def _create(config: Config, source: str, run_id: str | None, tags: dict[str, str], description: str) -> Any:
    import mlflow

    client = _client(config)
    # the fluent register_model uses the global URIs: set them, as governance verbs run outside a phase
    mlflow.set_tracking_uri(config.mlflow_uri)
    mlflow.set_registry_uri(config.mlflow_uri)
    if not client.search_registered_models(f"name = '{config.project}'"):
        client.create_registered_model(config.project, description="Registered by the workbench; see the changelog.")
    mv = mlflow.register_model(source, config.project, tags=tags, await_registration_for=0)
    client.update_model_version(config.project, mv.version, description=description)
    return mv


def _assign_aliases(phase: PhaseContext, version: str, semver_: str, tags: dict[str, str]) -> list[dict[str, str | None]]:
    """A new version becomes challenger while a champion exists (only a person promotes), else champion."""
    cfg = phase.config
    if alias_version(cfg, "champion") is not None:
        return [set_alias(cfg, "challenger", version)]
    moves = [set_alias(cfg, "champion", version)]
    bversion = _create_baseline(cfg, phase.input_result("baseline")["model"], version, semver_, tags, phase.mlflow_run_id)
    return moves + [set_alias(cfg, "baseline", bversion)]


def _create_baseline(cfg: Config, base: dict[str, Any], version: str, semver_: str, tags: dict[str, str], run_id: str | None) -> str:
    btags = {k: v for k, v in tags.items() if k not in (TAG + "changelog",)}
    btags |= {TAG + "kind": "baseline", TAG + "model_sha256": base["sha256"], TAG + "estimator": base["estimator"],
              TAG + "semver": f"{semver_}+baseline", TAG + "champion_version": str(version)}
    return str(_create(cfg, base["uri"], run_id, btags, f"Static baseline registered with champion v{version}.").version)


def set_alias(config: Config, alias: str, version: str | None) -> dict[str, str | None]:
    """Point ``alias`` at ``version`` (None removes it); return the move for the audit event."""
    client = _client(config)
    before = alias_version(config, alias)
    if version is None:
        if before is not None:
            client.delete_registered_model_alias(config.project, alias)
    else:
        client.set_registered_model_alias(config.project, alias, str(version))
    return {"alias": alias, "from": None if before is None else str(before.version), "to": None if version is None else str(version)}


def resolve(config: Config, ref: str) -> Any:
    """A model version by MLflow number (``3``), semantic version (``1.2.0``) or alias (``challenger``)."""
    ref = str(ref).strip().removeprefix("v")
    client = _client(config)
    found = client.search_model_versions(f"name = '{config.project}'")
    for mv in found:
        if ref == str(mv.version) or ref == mv.tags.get(TAG + "semver"):
            return mv
    if not ref[:1].isdigit() and alias_version(config, ref) is not None:
        return alias_version(config, ref)
    listed = sorted(found, key=lambda mv: int(mv.version))
    known = ", ".join(f"{mv.version} ({mv.tags.get(TAG + 'semver', '?')})" for mv in listed) or "none yet"
    raise RegistryError(f"model {config.project!r} has no version {ref!r}. Fix: pass an MLflow version number or "
                        f"semantic version; registered: {known}.")


def client_tags(config: Config, version: str) -> dict[str, str]:
    """The tags of model version ``version`` (empty when it does not exist)."""
    try:
        return dict(_client(config).get_model_version(config.project, str(version)).tags)
    except Exception:  # noqa: BLE001 - mlflow raises its own errors for an unknown version
        return {}


def baseline_for(config: Config, version: str) -> str | None:
    """The newest baseline version registered beside champion ``version``, or None."""
    found = _client(config).search_model_versions(f"name = '{config.project}'")
    mine = [mv for mv in found if mv.tags.get(TAG + "kind") == "baseline" and mv.tags.get(TAG + "champion_version") == str(version)]
    return str(max(mine, key=lambda mv: int(mv.version)).version) if mine else None


def ensure_baseline(config: Config, mv: Any) -> str | None:
    """The baseline to pair with champion ``mv``: an existing one, else the one trained in its run (registered now).

    Returns None when the run's baseline is gone (reports cleaned up): the current baseline stays.
    Caller holds the registry lock.
    """
    from workbench._io import read_json

    existing = baseline_for(config, mv.version)
    if existing:
        return existing
    result = config.reports / mv.tags.get(TAG + "run_id", "?") / "baseline" / "result.json"
    if not result.is_file():
        return None
    return _create_baseline(config, read_json(result)["model"], str(mv.version), mv.tags[TAG + "semver"], dict(mv.tags), None)


def _client(config: Config) -> Any:
    from workbench.store import client_for

    return client_for(config)
