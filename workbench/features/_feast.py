"""The one module that imports Feast (0.67): lazily, inside functions, and without its side effects.

Importing ``feast`` takes ~3 s and ~166 MiB and sets ``PROMETHEUS_MULTIPROC_DIR`` and
``PROMETHEUS_MULTIPROCESS_DIR`` to a temporary folder when they are unset, which would switch
the scoring service's ``/metrics`` to an empty multiprocess scrape; :func:`feast` fixes
prometheus-client's value class first and restores both variables. Everything else in
``workbench.features`` talks to Feast through the functions here, so config checks, hashing and the
CLI's argument handling stay importable without it.

The repository is built in code (no ``feature_store.yaml``): a file registry and the sqlite online
store under ``<store>/features/``, or Redis when ``features.online`` is a ``redis://`` URL; the
``file`` offline store reads the views' Parquet sources. ``serve_features_while_materializing`` is
on: without it, reads during a materialization failed ~99 % of the time in our measurements.

**Import cost.** Most of Feast's import is typeguard's ``@typechecked``: at import it re-parses and
re-compiles the module source of each of ~240 decorated Feast functions and classes (typeguard issue
#468). :func:`feast` imports Feast with that decorator as a no-op, which is what typeguard does itself
under ``python -O`` (it documents the checks as not meant for production): Feast's own argument type
checks are skipped, nothing else changes (Feast catches no typeguard error), and the import takes 0.8 s
instead of 2.8 s (``benchmarks/features.py``, 2 cores). The patch is undone as soon as Feast is imported.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from workbench.features.definitions import current, folder, key_column

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.features.sources import SourceInfo

_ENV = ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR")
_LOCK = threading.Lock()
_TYPES = {"string": "String", "int64": "Int64", "float64": "Float64", "bool": "Bool"}


def feast() -> Any:
    """``import feast`` without its environment side effects (module docstring)."""
    import sys

    if "feast" in sys.modules:
        return sys.modules["feast"]
    with _LOCK:
        import prometheus_client.values  # noqa: F401  the value class is chosen now, before feast sets the variables
        import typeguard

        keep = {k: os.environ.get(k) for k in _ENV}
        typechecked = typeguard.typechecked
        typeguard.typechecked = _unchecked  # module docstring: 2.3 s of the import
        try:
            import feast as module
            import feast.repo_config  # noqa: F401
            import feast.types  # noqa: F401
        finally:
            typeguard.typechecked = typechecked
            for k, v in keep.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        import logging

        # Measured: with a file registry the flag does matter (reads during a materialization failed without it).
        logging.getLogger("feast.repo_config").addFilter(lambda r: "serve_features_while_materializing" not in r.getMessage())
    return module


def _unchecked(target: Any = None, **_: Any) -> Any:
    """``typeguard.typechecked`` as under ``python -O``: the target unchanged (also as ``@typechecked(...)``)."""
    return (lambda t: t) if target is None else target


def project_name(config: Config) -> str:
    """A Feast project name (letters, digits, underscores) for the workbench project."""
    return "wb_" + re.sub(r"[^A-Za-z0-9_]", "_", config.project)


def redis_connection(url: str) -> str:
    """``redis://[user:password@]host:port[/db]`` as Feast's ``host:port,db=N,password=…,ssl=true`` string."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    out = [f"{host}:{parts.port or 6379}"]
    db = parts.path.strip("/")
    if db:
        out.append(f"db={int(db)}")
    if parts.password:
        out.append(f"password={unquote(parts.password)}")
    if parts.username:
        out.append(f"username={unquote(parts.username)}")
    if parts.scheme == "rediss":
        out.append("ssl=true")
    return ",".join(out)


def online_kind(config: Config) -> str:
    """``sqlite`` or ``redis`` (a metrics label)."""
    assert config.features is not None
    return "sqlite" if config.features.online == "sqlite" else "redis"


def repo_config(config: Config) -> Any:
    assert config.features is not None
    feast()
    from feast.repo_config import RepoConfig

    where = folder(config)
    where.mkdir(parents=True, exist_ok=True)
    online = config.features.online
    online_store = ({"type": "sqlite", "path": str(where / "online.db")} if online == "sqlite"
                    else {"type": "redis", "connection_string": redis_connection(online)})
    return RepoConfig(project=project_name(config), provider="local",
                      registry={"registry_type": "file", "path": str(where / "registry.db"), "serve_features_while_materializing": True},
                      online_store=online_store, offline_store={"type": "file"}, entity_key_serialization_version=3, repo_path=str(where))


def open_store(config: Config) -> Any:
    """A ``feast.FeatureStore`` for the project (nothing is created until :func:`apply`)."""
    feast()
    from feast import FeatureStore

    return FeatureStore(config=repo_config(config))


def fail_fast(store: Any, *, timeout_s: float = 2.0) -> None:
    """Leave retries to the caller's policy: redis-py retries a refused connection 3 times with backoff up to
    10 s (6-10 s per read, measured) and waits forever on a server that hangs; both off for online reads."""
    if getattr(store.config.online_store, "type", "") != "redis":
        return
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = store._get_provider().online_store._get_client(store.config.online_store)
    client.set_retry(Retry(NoBackoff(), 0))
    client.connection_pool.connection_kwargs.update(socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


def objects(config: Config, infos: dict[str, SourceInfo]) -> list[Any]:
    """The Feast entity and feature views the config defines (tags carry the schema version and content hash)."""
    assert config.features is not None
    fm = feast()
    from feast import types as ft

    key = key_column(config)
    key_type = next(iter(infos.values())).key_type if infos else "string"
    entity = fm.Entity(name=config.features.entity.name, join_keys=[key],
                       value_type=fm.ValueType.STRING if key_type == "string" else fm.ValueType.INT64)
    defs = current(config)
    out: list[Any] = [entity]
    for name, view in config.features.views.items():
        source = fm.FileSource(name=f"{name}_source", path=str(view.source), timestamp_field=view.timestamp)
        out.append(fm.FeatureView(
            name=name, entities=[entity], ttl=timedelta(seconds=view.ttl), source=source, online=True,
            schema=[fm.Field(name=f, dtype=getattr(ft, _TYPES[t])) for f, t in view.fields.items()],
            tags={"schema_version": view.version, "content_hash": defs[name]["hash"]}, description=view.description))
    return out


def apply(store: Any, config: Config, infos: dict[str, SourceInfo]) -> None:
    """Register the entity and views; views no longer in the config are removed from the registry."""
    objs = objects(config, infos)
    names = {o.name for o in objs[1:]}
    stale = [v for v in store.list_feature_views(allow_cache=False) if v.name not in names]
    store.apply(objs, objects_to_delete=stale, partial=False)


def references(config: Config, views: list[str] | None = None) -> list[str]:
    """``view:field`` for every field (of ``views``)."""
    assert config.features is not None
    return [f"{n}:{f}" for n, v in config.features.views.items() if views is None or n in views for f in v.fields]


def historical(store: Any, config: Config, entity_df: pd.DataFrame, refs: list[str]) -> pd.DataFrame:
    """Feast's point-in-time join (``event_timestamp`` in ``entity_df``); callers re-align the rows (Feast may drop some)."""
    return store.get_historical_features(entity_df=entity_df, features=refs, full_feature_names=False).to_df()


def materialize(store: Any, start: datetime, end: datetime, views: list[str] | None = None) -> str:
    """Load the online store with every view's latest values in ``[start, end]``; returns Feast's progress output."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):  # Feast prints coloured progress to stdout
        store.materialize(start_date=start, end_date=end, feature_views=views)
    return buffer.getvalue()


def online(store: Any, refs: list[str], key: str, ids: list[Any]) -> dict[str, list[Any]]:
    """The online values of ``refs`` for ``ids``, with ``<field>__ts`` event times (epoch seconds; 0 or None when absent)."""
    response = store.get_online_features(features=refs, entity_rows=[{key: i} for i in ids], full_feature_names=False)
    return response.to_dict(include_event_timestamps=True)


def redis_fields(store: Any, views: dict[str, list[str]]) -> dict[str, tuple[list[bytes], bytes]]:
    """Per view, the hash fields Feast's Redis store writes: one per field (``mmh3('<view>:<field>')``) and ``_ts:<view>``.

    Read from the registry, like Feast's own read: a view not applied, or a field it lacks, raises.
    """
    from feast.infra.online_stores.helpers import _mmh3
    from feast.infra.online_stores.redis import _versioned_fv_name

    out = {}
    for name, fields in views.items():
        view = store.get_feature_view(name, allow_registry_cache=True)
        missing = sorted(set(fields) - {f.name for f in view.features})
        if missing:
            raise KeyError(f"feature view '{name}' as applied has no field(s) {', '.join(missing)} (run: workbench features apply)")
        versioned = _versioned_fv_name(view, store.config)
        out[name] = ([_mmh3(f"{versioned}:{f}") for f in fields], f"_ts:{versioned}".encode())
    return out


def redis_key(store: Any, key: str, value: Any) -> bytes:
    """The Redis key Feast's store uses for one entity (entity key serialization v3 + project): the reference for a faster builder."""
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    proto = Value(string_val=value) if isinstance(value, str) else Value(int64_val=value)
    return _redis_key(store.config.project, EntityKey(join_keys=[key], entity_values=[proto]),
                      entity_key_serialization_version=store.config.entity_key_serialization_version)


def value_decoding() -> tuple[Any, Any]:
    """Feast's ``Value`` protobuf parser and its proto-to-Python conversion (``to_dict``'s)."""
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.type_map import feast_value_type_to_python_type

    return Value.FromString, feast_value_type_to_python_type
