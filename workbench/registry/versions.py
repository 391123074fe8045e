"""Model versions in the MLflow registry: semantic versions, lineage, changelog and aliases.

Semantic-version bump rules (``bump="auto"``), against the highest registered version:

- **MAJOR** when the feature schema changes (features added, removed or retyped);
- **MINOR** for a retrain on new data (the training data's sha256 differs);
- **PATCH** otherwise (a parameter or code change, or a plain re-run).

The first version is ``1.0.0``. The static baseline is registered beside the first
champion as ``<semver>+baseline``. The first accepted version gets the ``champion`` alias;
later ones become ``challenger`` until an approver promotes them (``workbench approve``, see
:mod:`workbench.governance`), which also registers the baseline trained in the same run.
Registering (:mod:`workbench.phases.register`) needs the ``train`` permission; every alias move is
recorded in the audit event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.exceptions import RegistryError
from workbench.registry import models
from workbench.registry.store import client_for

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

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


def federated_sites(tags: dict[str, str]) -> list[str] | None:
    """The sites a version was trained across (``workbench federated train``: lineage ``data_path`` ``federated:a,b``), else None."""
    path = str(tags.get(TAG + "data_path", ""))
    return [s for s in path.removeprefix("federated:").split(",") if s] if path.startswith("federated:") else None


def load(config: Config, ref: str) -> LoadedVersion:
    """Load a version by alias (``champion``…) or number, refusing a tampered artifact."""
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


def version_file(config: Config, version: str) -> tuple[bytes, dict[str, str]]:
    """Version ``version``'s skops file (hash-checked) and tags: what :func:`from_file` loads elsewhere (a federated site)."""
    mv = _client(config).get_model_version(config.project, str(version))
    expected = mv.tags.get(TAG + "model_sha256")
    if not expected:
        raise RegistryError(f"model {config.project!r} v{mv.version} has no recorded sha256; refusing to load it.")
    source = _client(config).get_model_version_download_uri(config.project, mv.version)
    label = f"{config.project!r} v{mv.version} ({mv.tags.get(TAG + 'semver')})"
    return models.model_file(source, expected, label=label, tracking_uri=config.mlflow_uri), dict(mv.tags)


def from_file(data: bytes, version: str, tags: dict[str, str]) -> LoadedVersion:
    """The version :func:`version_file` gave, loaded from its bytes: refused unless they hash to its ``model_sha256`` tag."""
    expected = tags.get(TAG + "model_sha256")
    if not expected:
        raise RegistryError(f"version {version} came without a recorded sha256; refusing to load it.")
    label = f"v{version} ({tags.get(TAG + 'semver')})"
    return LoadedVersion(str(version), tags.get(TAG + "semver", ""), models.load_bytes(data, expected, label=label), dict(tags))


def try_load(config: Config, alias: str) -> LoadedVersion | None:
    """Like :func:`load`, but None when the alias does not exist yet."""
    return load(config, alias) if alias_version(config, alias) is not None else None


def create_version(config: Config, source: str, run_id: str | None, tags: dict[str, str], description: str) -> Any:
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


def create_baseline(cfg: Config, base: dict[str, Any], version: str, semver_: str, tags: dict[str, str], run_id: str | None) -> str:
    # the champion's confidence record describes the champion's scores: the baseline gets its own (or none)
    btags = {k: v for k, v in tags.items() if k not in (TAG + "changelog", TAG + "confidence")}
    if base.get("confidence"):
        btags[TAG + "confidence"] = json.dumps(base["confidence"], sort_keys=True, separators=(",", ":"))
    btags |= {TAG + "kind": "baseline", TAG + "model_sha256": base["sha256"], TAG + "estimator": base["estimator"],
              TAG + "semver": f"{semver_}+baseline", TAG + "champion_version": str(version)}
    return str(create_version(cfg, base["uri"], run_id, btags, f"Static baseline registered with champion v{version}.").version)


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


def _client(config: Config) -> Any:
    return client_for(config)
