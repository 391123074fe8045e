"""Feature view definitions: canonical form, content hash, and the version ledger that refuses silent changes.

A view's *definition* is what a model depends on: the entity key, the event-time column, the TTL and
the fields with their types (not where the file lives: moving data is not a schema change). Its
content hash is the sha256 of that canonical JSON. The ledger ``<store>/features/definitions.json``
keeps every version ever applied, per view, with its hash and definition:

* same version, same hash: nothing to do;
* same version, another hash: refused (:class:`FeatureSchemaError`, exit 2), naming the view and the
  fields that changed — bump the version;
* a new MINOR version (``1.0`` → ``1.1``) may only add fields or change the TTL or description; a
  removed or retyped field, or another key or timestamp column, needs a new MAJOR version;
* a version lower than one already applied is refused (versions only go up).

A model version records ``{view: version}`` for the views it was trained on; scoring it against a
view whose MAJOR differs is refused naming both, and a MINOR change scores (the fields the model
uses are all still there, with the same types).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import now, read_json, write_json
from workbench.exceptions import ConfigError, FeatureSchemaError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config, FeaturesConfig, ViewConfig

LEDGER = "definitions.json"


def folder(config: Config) -> Path:
    """``<store>/features``: the Feast registry, the sqlite online store, the ledger, the offline cache."""
    return Path(config.store) / "features"


def key_column(config: Config) -> str:
    """The entity's join key column (``features.entity.key``, else ``data.id``)."""
    assert config.features is not None
    key = config.features.entity.key or config.data.id
    if not key:
        raise ConfigError(f"{config.source}: key 'features.entity.key' is not set and neither is 'data.id'. "
                          "Fix: set features.entity.key (or data.id) to the column that identifies the entity, e.g. customer_id.")
    return key


def canonical(config: Config, name: str, view: ViewConfig) -> dict[str, Any]:
    """The parts of a view a model depends on, in a stable form."""
    return {"entity_key": key_column(config), "timestamp": view.timestamp, "ttl_s": view.ttl,
            "fields": {k: view.fields[k] for k in sorted(view.fields)}}


def content_hash(definition: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of a definition."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def current(config: Config) -> dict[str, dict[str, Any]]:
    """``{view: {version, hash, definition}}`` for the config's views."""
    features: FeaturesConfig | None = config.features
    if features is None:
        return {}
    out = {}
    for name, view in features.views.items():
        definition = canonical(config, name, view)
        out[name] = {"version": view.version, "hash": content_hash(definition), "definition": definition}
    return out


def ledger(config: Config) -> dict[str, Any]:
    """The applied versions: ``{view: {version: {hash, definition, applied_at}}}`` (empty before the first apply)."""
    path = folder(config) / LEDGER
    if not path.exists():
        return {}
    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        raise FeatureSchemaError(f"{path}: the feature definition ledger is unreadable ({exc}). "
                                 "Fix: restore it from a backup, or delete it to accept the current definitions as new.") from exc
    return data.get("views", {}) if isinstance(data, dict) else {}


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two definitions, one phrase per field or attribute."""
    out = []
    for attr in ("entity_key", "timestamp", "ttl_s"):
        if old.get(attr) != new.get(attr):
            out.append(f"{attr} {old.get(attr)!r} -> {new.get(attr)!r}")
    of, nf = old.get("fields", {}), new.get("fields", {})
    for f in sorted(set(of) | set(nf)):
        if f not in nf:
            out.append(f"field '{f}' removed")
        elif f not in of:
            out.append(f"field '{f}' added")
        elif of[f] != nf[f]:
            out.append(f"field '{f}' type {of[f]} -> {nf[f]}")
    return out


def _breaking(changes: list[str]) -> list[str]:
    return [c for c in changes if not c.endswith(" added") and not c.startswith("ttl_s")]


def check(config: Config) -> dict[str, str]:
    """Refuse definitions that changed without the version bump they need; return ``{view: "new"|"same"|"bumped"}``."""
    applied = ledger(config)
    status: dict[str, str] = {}
    src = config.source
    for name, cur in current(config).items():
        versions = applied.get(name, {})
        if not versions:
            status[name] = "new"
            continue
        version = cur["version"]
        latest = max(versions, key=_version)
        if version in versions and versions[version]["hash"] == cur["hash"]:
            status[name] = "same"  # also a return to an earlier, identical definition
            continue
        if _version(version) < _version(latest):
            raise FeatureSchemaError(f"{src}: feature view '{name}' is at version {version} but {latest} was already applied "
                                     f"(key features.views.{name}.version). Fix: versions only go up; use {_next(latest, ['x'])} or higher.")
        if version in versions:
            old = versions[version]
            what = "; ".join(_changes(old["definition"], cur["definition"])) or "the definition"
            raise FeatureSchemaError(
                f"{src}: feature view '{name}' changed ({what}) but its version is still {version} (key features.views.{name}.version). "
                f"Fix: bump the version ({_next(version, _breaking(_changes(old['definition'], cur['definition'])))}), or undo the change.")
        changes = _changes(versions[latest]["definition"], cur["definition"])
        breaking = _breaking(changes)
        if _version(version)[0] == _version(latest)[0] and breaking:
            raise FeatureSchemaError(
                f"{src}: feature view '{name}' {latest} -> {version} is a minor bump, but {'; '.join(breaking)} breaks models trained on {latest} "
                f"(key features.views.{name}.version). Fix: bump the major version ({_next(latest, breaking)}).")
        status[name] = "bumped"
    return status


def _next(version: str, breaking: list[str]) -> str:
    major, minor = _version(version)
    return f"{major + 1}.0" if breaking else f"{major}.{minor + 1}"


def record(config: Config) -> Path:
    """Add the config's view versions to the ledger (after :func:`check` passed)."""
    applied = ledger(config)
    stamp = now()
    for name, cur in current(config).items():
        entry = applied.setdefault(name, {})
        entry.setdefault(cur["version"], {"hash": cur["hash"], "definition": cur["definition"], "applied_at": stamp})
    return write_json(folder(config) / LEDGER, {"schema_version": 1, "views": applied})


def lineage(config: Config, columns: list[str] | None = None) -> dict[str, dict[str, str]]:
    """``{view: {version, hash}}`` for the views that supply any of ``columns`` (all views when None): what a model records."""
    if config.features is None:
        return {}
    cur = current(config)
    return {name: {"version": cur[name]["version"], "hash": cur[name]["hash"]}
            for name, view in config.features.views.items() if columns is None or any(f in columns for f in view.fields)}


def check_model(config: Config, trained_on: dict[str, Any], *, model: str) -> None:
    """Refuse scoring ``model`` when a view it was trained on is missing or at another MAJOR version (naming both)."""
    if not trained_on:
        return
    cur = current(config)
    for name, rec in trained_on.items():
        want = str(rec.get("version") if isinstance(rec, dict) else rec)
        if name not in cur:
            raise FeatureSchemaError(f"{config.source}: {model} was trained on feature view '{name}' {want}, which the config no longer defines "
                                     f"(key features.views). Fix: restore the view, or retrain.")
        have = cur[name]["version"]
        if _version(have)[0] != _version(want)[0]:
            raise FeatureSchemaError(f"{config.source}: {model} was trained on feature view '{name}' {want}; the store now serves {have}, "
                                     f"an incompatible major version (key features.views.{name}.version). Fix: retrain on {have}, "
                                     f"or serve the {_version(want)[0]}.x definition.")
