"""Training/serving skew: what the scoring service reads online equals what training reads offline.

A synthetic store with real Feast (file offline store; sqlite, or a real ``redis-server`` online): 2,000
entities, two views on different snapshot schedules (3 and 4 snapshots per entity, some of them after
the materialization time T and so not online yet), string, int64 (some null), float64 (some NaN) and
bool fields, ids with non-ASCII characters, event times with microseconds. After ``apply`` and
``materialize(until=T)``, a holdout of entities is looked up online at times between their latest
snapshot and T and compared, feature for feature, with the offline point-in-time join at the same
times: NaN and None count as equal, ints may come back as floats, nothing else may differ. On Redis,
both readers are checked (Feast's ``get_online_features`` and the direct one, which must also give an
identical :class:`Lookup`). The point-in-time tests compare the offline join with an independent
reference (``pandas.merge_asof``), including rows Feast itself drops (outside the TTL).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench.config import load_config
from workbench.features import offline, store
from workbench.features.online import OnlineFeatures

N = 2_000
T = datetime(2026, 7, 1, tzinfo=UTC)  # materialized until
VIEWS = {
    "profile": {"ttl": 90, "snapshots": 3, "start": "2026-01-01", "fields": {"plan": "string", "tenure": "int64", "score": "float64", "active": "bool"}},
    "usage": {"ttl": 60, "snapshots": 4, "start": "2026-02-01", "fields": {"calls": "int64", "spend": "float64", "segment": "string"}},
}
ALWAYS = {"profile": "plan", "usage": "calls"}  # a field never null in the source: null in a result means "no row"
LAST_BEFORE_T = pd.Timestamp("2026-06-20", tz="UTC")  # every snapshot up to T is before this
HOLDOUT_TIMES = [pd.Timestamp("2026-06-21T00:00:00", tz="UTC"), pd.Timestamp("2026-06-25T12:34:56.789", tz="UTC"), pd.Timestamp(T)]


def _ids() -> list[str]:
    return [f"Ü-{i:05d}" if i % 400 == 7 else f"E{i:05d}" for i in range(N)]


def _view_frame(name: str, rng: np.random.Generator) -> pd.DataFrame:
    """Snapshots of one view: ``snapshots`` per entity before LAST_BEFORE_T, and one after T for a tenth of the entities."""
    spec = VIEWS[name]
    ids = np.array(_ids())
    start, span = pd.Timestamp(spec["start"], tz="UTC"), (LAST_BEFORE_T - pd.Timestamp(spec["start"], tz="UTC")).total_seconds()
    keys = np.repeat(ids, spec["snapshots"])
    offsets = rng.uniform(0, span, len(keys))
    offsets[rng.random(len(keys)) < 0.5] //= 1  # half at whole seconds, half with microseconds
    late = ids[rng.random(N) < 0.1]
    keys = np.concatenate([keys, late])
    times = np.concatenate([start + pd.to_timedelta(offsets, unit="s"), pd.Timestamp(T) + pd.to_timedelta(rng.uniform(1, 30, len(late)), unit="D")])
    n = len(keys)
    out = pd.DataFrame({"entity_id": keys, "event_timestamp": pd.DatetimeIndex(times).as_unit("us")})
    if name == "profile":
        out["plan"] = rng.choice(["basic", "plus", "pro", "équipe"], n)
        out["tenure"] = pd.array(rng.integers(0, 120, n), dtype="Int64")
        out.loc[rng.random(n) < 0.03, "tenure"] = pd.NA
        out["score"] = rng.normal(0, 1, n).round(6)
        out.loc[rng.random(n) < 0.05, "score"] = np.nan
        out["active"] = rng.random(n) < 0.7
    else:
        out["calls"] = rng.integers(0, 40, n)
        out["spend"] = rng.gamma(2.0, 30.0, n)
        out.loc[rng.random(n) < 0.05, "spend"] = np.nan
        out["segment"] = rng.choice(["a", "b", "c"], n).astype(object)
        out.loc[rng.random(n) < 0.03, "segment"] = None
    return out.drop_duplicates(["entity_id", "event_timestamp"]).sort_values(["entity_id", "event_timestamp"], ignore_index=True)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The two view sources, written once for the module (read-only for the tests)."""
    folder = tmp_path_factory.mktemp("skew-sources")
    rng = np.random.default_rng(20261127)
    frames = {name: _view_frame(name, rng) for name in VIEWS}
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return {name: {"path": folder / f"{name}.parquet", "frame": frame} for name, frame in frames.items()}


def _project(folder: Path, sources: dict[str, Any], online: str) -> Any:
    views = {name: {"source": str(sources[name]["path"]), "timestamp": "event_timestamp", "ttl": f"{spec['ttl']}d", "version": "1.0",
                    "fields": spec["fields"]} for name, spec in VIEWS.items()}
    cfg = {"project": "skew-test", "store": ".workbench", "demo": False,
           "data": {"reference": "entities.parquet", "target": "label", "id": "entity_id", "timestamp": "event_time"},
           "features": {"entity": {"name": "customer", "key": "entity_id"}, "online": online, "views": views}}
    (folder / "workbench.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_config(folder / "workbench.yaml")


def _null(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _same(a: Any, b: Any) -> bool:
    """Equal as feature values: NaN and None alike; numbers compared as numbers (an int may come back as a float)."""
    if _null(a) or _null(b):
        return _null(a) and _null(b)
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return float(a) == float(b)


def _mismatches(left: pd.DataFrame, right: pd.DataFrame, ids: list[Any], columns: list[str]) -> list[str]:
    out = []
    for column in columns:
        for i, (a, b) in enumerate(zip(left[column].tolist(), right[column].tolist(), strict=True)):
            if not _same(a, b):
                out.append(f"{ids[i]} {column}: {a!r} != {b!r}")
    return out


FIELDS = [f for spec in VIEWS.values() for f in spec["fields"]]


@pytest.mark.parametrize(("online", "reader"), [("sqlite", "feast"), ("redis", "feast"), ("redis", "redis")],
                         ids=["sqlite", "redis-feast", "redis-direct"])
def test_online_lookup_equals_the_offline_point_in_time_join(tmp_path: Path, sources: dict[str, Any], online: str, reader: str,
                                                             request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("redis_server").url if online == "redis" else "sqlite"
    config = _project(tmp_path, sources, url)
    store.apply(config)
    store.materialize(config, until=T)
    features = OnlineFeatures(config, reader=reader)
    assert features.reader == reader
    reference = OnlineFeatures(config, reader="feast") if reader == "redis" else None
    rng = np.random.default_rng(7)
    holdout = rng.choice(_ids(), 900, replace=False).tolist()
    results: dict[str, list[str]] = {v: [] for v in VIEWS}
    for k, at in enumerate(HOLDOUT_TIMES):
        ids = holdout[k::len(HOLDOUT_TIMES)]
        got = features.lookup(ids, now=at.to_pydatetime())
        joined, _ = offline.join(config, pd.DataFrame({"entity_id": ids, "event_time": at}), {v: list(s["fields"]) for v, s in VIEWS.items()})
        assert list(got.frame.columns) == FIELDS and len(got.frame) == len(ids)
        bad = _mismatches(got.frame, joined, ids, FIELDS)
        assert bad == [], f"{len(bad)} online/offline mismatches at {at} ({reader} reader), e.g. {bad[:5]}"
        for view, per_id in got.results.items():
            results[view] += per_id
            # a hit online is a row offline; a miss or a stale value is none (the TTL applied online as offline)
            assert [r == "hit" for r in per_id] == joined[ALWAYS[view]].notna().tolist()
        if reference is not None:  # the direct reader gives exactly what Feast's own read gives
            feast = reference.lookup(ids, now=at.to_pydatetime())
            pd.testing.assert_frame_equal(got.frame, feast.frame)
            assert got.results == feast.results
    for view, per_id in results.items():  # the comparison covered fresh values and values past the TTL
        assert per_id.count("hit") > 200 and per_id.count("stale") > 50, (view, {r: per_id.count(r) for r in set(per_id)})


def _reference_join(frame: pd.DataFrame, source: pd.DataFrame, view: str) -> pd.DataFrame:
    """The point-in-time rule by pandas alone: per row, the newest source row of that key at or before its time, within the TTL."""
    left = frame.assign(_row=np.arange(len(frame)), event_time=frame["event_time"].astype("datetime64[ns, UTC]")).sort_values("event_time")
    right = source.assign(event_timestamp=source["event_timestamp"].astype("datetime64[ns, UTC]")).sort_values("event_timestamp")
    merged = pd.merge_asof(left, right, left_on="event_time", right_on="event_timestamp", by="entity_id", direction="backward",
                           tolerance=pd.Timedelta(days=VIEWS[view]["ttl"]))
    return merged.sort_values("_row").reset_index(drop=True)


def test_offline_join_is_point_in_time_correct_and_keeps_every_row(tmp_path: Path, sources: dict[str, Any]) -> None:
    config = _project(tmp_path, sources, "sqlite")
    src = sources["profile"]["frame"]
    ttl = pd.Timedelta(days=VIEWS["profile"]["ttl"])
    rng = np.random.default_rng(11)
    # between two consecutive snapshots of an entity (less than the TTL apart): must get the earlier one
    pairs = src.assign(next_time=src.groupby("entity_id")["event_timestamp"].shift(-1)).dropna(subset=["next_time"])
    pairs = pairs[(pairs["next_time"] - pairs["event_timestamp"]) < ttl].sample(400, random_state=1)
    between = pairs["event_timestamp"] + (pairs["next_time"] - pairs["event_timestamp"]) * rng.uniform(0.01, 0.99, len(pairs))
    last = src.groupby("entity_id")["event_timestamp"].max()
    first = src.groupby("entity_id")["event_timestamp"].min()
    some = rng.choice(_ids(), 200, replace=False)
    rows = pd.concat([
        pd.DataFrame({"entity_id": pairs["entity_id"].to_numpy(), "event_time": between.to_numpy(), "case": "between"}),
        pd.DataFrame({"entity_id": some, "event_time": (last[some] + ttl + pd.Timedelta(days=1)).to_numpy(), "case": "past ttl"}),
        pd.DataFrame({"entity_id": some, "event_time": (first[some] - pd.Timedelta(seconds=1)).to_numpy(), "case": "before first"}),
        pd.DataFrame({"entity_id": ["nobody", "E00001", "nobody"], "event_time": [pd.Timestamp(T)] * 3, "case": "unknown"}),
    ], ignore_index=True)
    rows = pd.concat([rows, rows.iloc[:50]], ignore_index=True).sample(frac=1, random_state=3).reset_index(drop=True)  # duplicates, shuffled

    fields = list(VIEWS["profile"]["fields"])
    out, info = offline.join(config, rows[["entity_id", "event_time"]], {"profile": fields})

    assert len(out) == len(rows)  # Feast drops the rows outside the TTL; the join puts them back, in order
    expected = _reference_join(rows, src, "profile")
    bad = _mismatches(out, expected, rows["entity_id"].tolist(), fields)
    assert bad == [], f"{len(bad)} differences from the merge_asof reference, e.g. {bad[:5]}"
    case = rows["case"].to_numpy()
    assert out.loc[case == "between", "plan"].notna().all()
    earlier = pairs.set_index(between.to_numpy())  # no leakage: each 'between' row has its earlier snapshot's values
    got = out.loc[case == "between"].assign(at=rows.loc[case == "between", "event_time"].to_numpy()).set_index("at")
    for f in fields:
        assert all(_same(a, b) for a, b in zip(got[f], earlier.loc[got.index, f], strict=True)), f
    for gone in ("past ttl", "before first"):
        assert out.loc[case == gone, fields].isna().all().all(), gone
    assert out.loc[rows["entity_id"] == "nobody", fields].isna().all().all()
    assert info["rows_without_features"] == {"profile": int(expected["plan"].isna().sum())}
    assert info["rows_without_features"]["profile"] >= int((case == "past ttl").sum() + (case == "before first").sum())
