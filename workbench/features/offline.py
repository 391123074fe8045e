"""Point-in-time reads from the offline store: training sets, batches to score or monitor, and the online fallback.

For each row of an *entity frame* (the entity key and an event time: a label table, a batch), each
view's fields are the values of the newest source row with the same key whose event time is at or
before the row's time and not older than the view's TTL — Feast's point-in-time join, so a training
row never sees a value from its future. Feast's file offline store drops entity rows that have no
source row in that window; the rows are re-aligned here by an explicit row number, so the result
always has the input's rows in the input's order, and a row without features has nulls (counted per
view in ``features["rows_without_features"]``).

**Which columns come from the store**: a view field the input file does not have. A column the
input carries is used as given (a batch or a request may bring its own values); so a flat file with
every column needs no store, and an entity frame (key, time, label) gets every feature from it.

**Cache**: the join result is a pure function of the entity file's bytes, the view definitions and
the sources' bytes, so it is kept in ``<store>/features/offline/<sha256>.parquet`` and reused (a
kernel that hits the cache never imports Feast). Any change to one of them is another key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

from workbench._io import atomic_path
from workbench.exceptions import ConfigError, DataError, FeatureStoreError
from workbench.features import _feast, definitions, metrics, store

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.data import Table

ROW = "__workbench_row"
TS = "event_timestamp"  # the entity-frame time column Feast expects


def fetched_views(config: Config, columns: list[str]) -> dict[str, list[str]]:
    """``{view: fields}`` the input lacks (those are read from the store)."""
    assert config.features is not None
    have = set(columns)
    out = {n: [f for f in v.fields if f not in have] for n, v in config.features.views.items()}
    return {n: fs for n, fs in out.items() if fs}


def enrich(config: Config, table: Table) -> Table:
    """``table`` with the view fields it lacks joined from the offline store at each row's time (module docstring)."""
    if config.features is None:
        return table
    key = definitions.key_column(config)
    views = fetched_views(config, table.columns)
    lineage = definitions.lineage(config)
    info: dict[str, Any] = {"views": lineage, "fetched": views, "rows_without_features": {}, "cache": None, "seconds": {}}
    if not views:
        return dataclasses.replace(table, features=info)
    ts = config.data.timestamp
    if not ts:
        raise ConfigError(f"{config.source}: feature views need each row's time for point-in-time joins, and key 'data.timestamp' is not set. "
                          f"Fix: set data.timestamp to the column with the row's event time (in {table.path.name}).")
    for column, where in ((key, "features.entity.key"), (ts, "data.timestamp")):
        if column not in table.columns:
            raise DataError(f"{table.path}: column '{column}' ({where}) is missing; the feature store joins on it. "
                            f"Fix: add it to the file or correct {where}. The file has: {', '.join(table.columns[:20])}.")
    joined, info2 = join(config, table.frame[[key, ts]], views, cache_key=table.sha256)
    info.update(info2)
    if info2["seconds"]:
        metrics.write_batch(config, seconds=info2["seconds"], store="offline")
    frame = table.frame.copy()
    for column in joined.columns:
        frame[column] = joined[column].to_numpy()
    return dataclasses.replace(table, frame=frame, columns=[str(c) for c in frame.columns], features=info)


def _entity_frame(frame: pd.DataFrame, key: str, ts: str) -> pd.DataFrame:
    import pandas as pd

    times = pd.to_datetime(frame[ts], errors="coerce", utc=False)
    if getattr(times.dt, "tz", None) is None:
        times = times.dt.tz_localize("UTC")
    else:
        times = times.dt.tz_convert("UTC")
    out = pd.DataFrame({ROW: range(len(frame)), key: frame[key].to_numpy(), TS: times.to_numpy()})
    return out


def join(config: Config, frame: pd.DataFrame, views: dict[str, list[str]], *, cache_key: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The point-in-time join of ``views`` onto ``frame`` (its key and ``data.timestamp`` columns), row-aligned with ``frame``."""
    import pandas as pd

    key = definitions.key_column(config)
    ts = config.data.timestamp or TS
    infos = store.ensure_applied(config)
    entity = _entity_frame(frame, key, ts)
    digest = _cache_name(config, infos, views, cache_key) if cache_key else None
    cached = definitions.folder(config) / "offline" / f"{digest}.parquet" if digest else None
    if cached is not None and cached.exists():
        try:
            out = pd.read_parquet(cached)
            if len(out) == len(frame):
                return out, {"cache": "hit", "rows_without_features": _missing(out, views), "seconds": {}, "sources": _shas(infos, views)}
        except Exception:  # a damaged cache file is recomputed
            pass
    valid = entity[entity[TS].notna() & entity[key].notna()]
    key_type = next(iter(infos.values())).key_type
    try:
        valid = valid.assign(**{key: valid[key].astype(str) if key_type == "string" else valid[key].astype("int64")})
    except (TypeError, ValueError) as exc:
        raise DataError(f"entity key '{key}' holds values that are not {key_type} like the feature sources' ({exc}). "
                        "Fix: store the key with one type everywhere.") from exc
    # Feast keeps one entity row per (key, time) and drops its twins (the dask store's _drop_duplicates): join the
    # distinct pairs, then give every row the features of its first twin.
    first = valid.groupby([key, TS], sort=False)[ROW].transform("first").to_numpy()
    distinct = valid[valid[ROW].to_numpy() == first]
    seconds: dict[str, float] = {}
    out = pd.DataFrame(index=range(len(frame)))
    fs = _feast.open_store(config)
    for view, fields in views.items():
        started = time.perf_counter()
        try:
            got = _feast.historical(fs, config, distinct, [f"{view}:{f}" for f in fields])
        except Exception as exc:
            raise FeatureStoreError(f"feature view '{view}': the offline point-in-time join failed ({type(exc).__name__}: {exc}). "
                                    f"Fix: run 'workbench features apply' and check {config.features.views[view].source}.") from exc
        seconds[view] = time.perf_counter() - started
        got = got.drop_duplicates(ROW).set_index(ROW).reindex(first).set_axis(valid[ROW].to_numpy()).reindex(range(len(frame)))
        for f in fields:
            out[f] = got[f].to_numpy() if f in got.columns else None
    import pyarrow as pa

    out = pa.Table.from_pandas(out, preserve_index=False).to_pandas()  # the dtypes a cache hit reads back: hits and misses agree
    if cached is not None:
        with atomic_path(cached) as tmp:
            out.to_parquet(tmp, index=False)
    return out, {"cache": "miss", "rows_without_features": _missing(out, views), "seconds": seconds, "sources": _shas(infos, views)}


def _shas(infos: dict[str, Any], views: dict[str, list[str]]) -> dict[str, str]:
    """sha256 of each joined view's source file (lineage: which bytes the features came from)."""
    return {n: infos[n].sha256 for n in views}


def _missing(out: pd.DataFrame, views: dict[str, list[str]]) -> dict[str, int]:
    return {v: int(out[fs].isna().all(axis=1).sum()) for v, fs in views.items() if all(f in out.columns for f in fs)}


def _cache_name(config: Config, infos: dict[str, Any], views: dict[str, list[str]], entity_sha: str) -> str:
    cur = definitions.current(config)
    payload = {"entity": entity_sha, "ts": config.data.timestamp, "key": definitions.key_column(config), "views": views,
               "defs": {n: cur[n]["hash"] for n in views}, "sources": {n: infos[n].sha256 for n in views}, "v": 2}  # v2: twin rows get features
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

