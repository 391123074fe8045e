"""Feature store operations: apply the definitions, materialize the online store, report status.

``apply`` and ``materialize`` hold ``<store>/features/.lock`` (a file lock), so two commands never
rewrite the registry at once; readers keep reading meanwhile. State the commands learned is kept in
``<store>/features/state.json`` (source hashes, newest event time per view, what was materialized
until) so the weekly review and ``workbench features status`` report staleness without Feast.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench._io import now, read_json, write_json
from workbench.exceptions import ConfigError, ParameterError
from workbench.features import _feast, definitions, metrics, sources
from workbench.governance import audit

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

    from workbench.config import Config

STATE = "state.json"


def require(config: Config) -> None:
    """Raise :class:`ConfigError` when the config has no ``features:`` section."""
    if config.features is None:
        raise ConfigError(f"{config.source}: there is no 'features' section. Fix: define features.views (see README, 'Feature store').")


@contextmanager
def locked(config: Config) -> Iterator[None]:
    """Serialize registry writers (apply, materialize) across processes."""
    from filelock import FileLock

    where = definitions.folder(config)
    where.mkdir(parents=True, exist_ok=True)
    with FileLock(str(where / ".lock")):
        yield


def read_state(config: Config) -> dict[str, Any]:
    path = definitions.folder(config) / STATE
    try:
        data = read_json(path) if path.exists() else {}
    except (OSError, ValueError):
        data = {}
    return data if isinstance(data, dict) else {}


def _write_state(config: Config, **update: Any) -> None:
    state = read_state(config)
    state.update(update)
    write_json(definitions.folder(config) / STATE, state)


def fingerprint(config: Config, infos: dict[str, sources.SourceInfo]) -> str:
    """What must not change for an applied registry to stay valid: definitions and source bytes."""
    import hashlib

    cur = definitions.current(config)
    parts = [f"{n}:{cur[n]['version']}:{cur[n]['hash']}:{i.sha256}:{i.path}" for n, i in sorted(infos.items())]
    return hashlib.sha256("|".join([config.features.online if config.features else "", *parts]).encode()).hexdigest()


def _views_state(infos: dict[str, sources.SourceInfo], config: Config) -> dict[str, Any]:
    assert config.features is not None
    return {n: {"version": config.features.views[n].version, "ttl_s": config.features.views[n].ttl, "source": str(i.path),
                "sha256": i.sha256, "rows": i.rows, "key_type": i.key_type, "oldest": i.oldest.isoformat() if i.oldest else None,
                "newest": i.newest.isoformat() if i.newest else None} for n, i in infos.items()}


def apply(config: Config) -> dict[str, Any]:
    """Check the sources and the version ledger, then register the definitions with Feast (idempotent)."""
    require(config)
    with locked(config):
        return _apply(config)


def _apply(config: Config) -> dict[str, Any]:
    status = definitions.check(config)  # the version rule first: it names the view and the field
    infos = sources.check_all(config)
    fp = fingerprint(config, infos)
    state = read_state(config)
    registry = definitions.folder(config) / "registry.db"
    if state.get("applied") != fp or not registry.exists():
        started = time.perf_counter()
        store = _feast.open_store(config)
        _feast.apply(store, config, infos)
        definitions.record(config)
        _write_state(config, applied=fp, applied_at=now(), views=_views_state(infos, config))
        changed = {n: s for n, s in status.items() if s != "same"}
        audit.record(config.store, "features_apply", config.project, views={n: v["version"] for n, v in definitions.current(config).items()},
                     changed=changed, seconds=round(time.perf_counter() - started, 3))
    return {"views": status, "sources": {n: {"rows": i.rows, "newest": i.newest.isoformat() if i.newest else None} for n, i in infos.items()}}


def ensure_applied(config: Config) -> dict[str, sources.SourceInfo]:
    """Apply when the definitions or the sources changed since the last apply (cheap when nothing did)."""
    require(config)
    definitions.check(config)
    infos = sources.check_all(config)
    if read_state(config).get("applied") != fingerprint(config, infos) or not (definitions.folder(config) / "registry.db").exists():
        with locked(config):
            _apply(config)
    return infos


def parse_until(text: str | None) -> datetime:
    """``--until``: an ISO date or time (UTC when no zone is given); default now."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ParameterError(f"--until {text!r} is not an ISO date or time. Fix: use e.g. 2026-08-31 or 2026-08-31T23:59:59+00:00.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def materialize(config: Config, *, until: datetime | None = None) -> dict[str, Any]:
    """Load the online store with each view's latest values up to ``until`` (default now).

    ``seconds`` is the materialization itself (opening the store and Feast's ``materialize``). Feast is
    imported first, outside it: the import (~1 s) used to land inside only when the registry was already
    applied (an apply imports it earlier), which made the same materialization report 2.5 s or 6.3 s.
    """
    require(config)
    _feast.feast()
    end = until or datetime.now(UTC)
    with locked(config):
        _apply(config)
        infos = sources.check_all(config)
        oldest = [i.oldest for i in infos.values() if i.oldest is not None]
        start = min(oldest) if oldest else end
        if start >= end:
            raise ParameterError(f"--until {end.isoformat()} is before every event in the feature sources (the oldest is {start.isoformat()}). "
                                 "Fix: materialize until a later time.")
        started = time.perf_counter()
        store = _feast.open_store(config)
        _feast.materialize(store, start, end)
        seconds = time.perf_counter() - started
        views = {n: {"newest_materialized": min(i.newest, end).isoformat() if i.newest else None} for n, i in infos.items()}
        _write_state(config, materialized={"until": end.isoformat(), "at": now(), "online": _feast.online_kind(config),
                                           "fingerprint": fingerprint(config, infos), "views": views})
        audit.record(config.store, "features_materialize", config.project, until=end.isoformat(), seconds=round(seconds, 3),
                     online=_feast.online_kind(config))
    metrics.write_batch(config, status=status(config))
    return {"until": end.isoformat(), "seconds": round(seconds, 3), "views": views, "online": _feast.online_kind(config)}


def status(config: Config, *, at: datetime | None = None) -> dict[str, Any]:
    """Per view: version, newest event time, staleness (seconds) against its TTL, and what was materialized. No Feast."""
    require(config)
    assert config.features is not None
    at = at or datetime.now(UTC)
    state = read_state(config)
    views = state.get("views", {})
    mat = state.get("materialized") or {}
    out: dict[str, Any] = {"online": config.features.online if config.features.online == "sqlite" else "redis",
                           "materialized_until": mat.get("until"), "views": {}}
    for name, view in config.features.views.items():
        known = views.get(name, {})
        newest = known.get("newest")
        try:
            info = sources.check_view(config, name, view, definitions.key_column(config))
            newest = info.newest.isoformat() if info.newest else None
        except Exception as exc:  # status reports a broken source, it does not fail on it
            out["views"][name] = {"version": view.version, "error": str(exc)}
            continue
        staleness = (at - datetime.fromisoformat(newest)).total_seconds() if newest else None
        out["views"][name] = {"version": view.version, "ttl_s": view.ttl, "newest_event": newest, "staleness_s": staleness,
                              "stale": staleness is not None and staleness > view.ttl,
                              "materialized": bool(mat) and name in (mat.get("views") or {})}
    return out

