"""The online readers: the direct Redis reader against Feast's own, on a real ``redis-server``.

The direct reader builds Feast's Redis keys itself (the rest of the layout comes from Feast's helpers),
so its key bytes are compared with Feast's serializer, and whole lookups with Feast's read: integer
keys, unknown and repeated ids, stale values, an empty list, the metrics, and a Redis that went away.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from workbench.config import load_config
from workbench.exceptions import FeatureStoreError, ParameterError
from workbench.features import _feast, store
from workbench.features.metrics import FeatureMetrics
from workbench.features.online import OnlineFeatures, _event_seconds, _hmget, _key_builder

T = datetime(2026, 3, 1, tzinfo=UTC)


def _project(folder: Path, online: str, *, n: int = 300) -> Any:
    """Integer entity keys (negative ones too), two snapshots each, one view with a 30-day TTL."""
    rng = np.random.default_rng(5)
    ids = np.concatenate([np.arange(-5, n - 5) * 7919, [2**62]])
    times = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 55, (len(ids), 2)).ravel(), unit="D")
    src = pd.DataFrame({"account": np.repeat(ids, 2), "event_timestamp": times.as_unit("us"), "tier": rng.choice(["gold", "silver"], 2 * len(ids)),
                        "balance": rng.normal(100, 30, 2 * len(ids)), "flagged": rng.random(2 * len(ids)) < 0.2})
    src.to_parquet(folder / "accounts.parquet", index=False)
    cfg = {"project": "online-test", "store": ".workbench", "data": {"reference": "entities.parquet", "target": "label", "id": "account", "timestamp": "at"},
           "features": {"entity": {"name": "account", "key": "account"}, "online": online,
                        "views": {"accounts": {"source": "accounts.parquet", "ttl": "30d", "version": "1.0",
                                               "fields": {"tier": "string", "balance": "float64", "flagged": "bool"}}}}}
    (folder / "workbench.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    config = load_config(folder / "workbench.yaml")
    store.apply(config)
    store.materialize(config, until=T)
    return config


@pytest.mark.parametrize("value", ["C0000001", "", "é-ü 中文", "x" * 300])
def test_string_keys_are_feasts_bytes(tmp_path: Path, value: str) -> None:
    fs = _feast.open_store(load_config(_write_minimal(tmp_path)))
    assert _key_builder("customer_id", "string", fs.config.project.encode())(value) == _feast.redis_key(fs, "customer_id", value)


@pytest.mark.parametrize("value", [0, 1, -2, 2**62, -(2**63)])
def test_integer_keys_are_feasts_bytes(tmp_path: Path, value: int) -> None:
    fs = _feast.open_store(load_config(_write_minimal(tmp_path)))
    assert _key_builder("account", "int64", fs.config.project.encode())(value) == _feast.redis_key(fs, "account", value)


def _write_minimal(folder: Path) -> Path:
    cfg = {"project": "keys", "store": ".workbench", "data": {"reference": "r.parquet", "target": "y", "id": "customer_id"},
           "features": {"views": {"v": {"source": "v.parquet", "version": "1.0", "fields": {"f": "string"}}}}}
    (folder / "workbench.yaml").write_text(yaml.safe_dump(cfg))
    return folder / "workbench.yaml"


def _samples(registry: FeatureMetrics) -> dict[str, float]:
    return {f"{s.name}{json.dumps(s.labels, sort_keys=True)}": s.value for m in registry.registry.collect() for s in m.samples
            if s.name == "workbench_feature_cache_requests_total" or s.name.startswith("workbench_feature_load_time_seconds_count")}


def test_the_direct_reader_gives_feasts_lookup(tmp_path: Path, redis_server: Any) -> None:
    config = _project(tmp_path, redis_server.url)
    direct, feast = FeatureMetrics(), FeatureMetrics()
    fast, reference = OnlineFeatures(config, direct), OnlineFeatures(config, feast, reader="feast")
    assert (fast.reader, reference.reader) == ("redis", "feast")
    known = pd.read_parquet(tmp_path / "accounts.parquet")["account"].unique().tolist()
    ids = [*known[:150], 123456789, known[3], known[3], str(known[4]), -1]  # unknown ids, repeats, a key given as text
    for now in (T, datetime(2026, 3, 20, tzinfo=UTC)):
        a, b = fast.lookup(ids, now=now), reference.lookup(ids, now=now)
        pd.testing.assert_frame_equal(a.frame, b.frame)
        assert a.results == b.results
        assert set(a.results["accounts"]) == {"hit", "miss", "stale"}
        assert a.frame.loc[[r != "hit" for r in a.results["accounts"]]].isna().all().all()
    empty = fast.lookup([], now=T)
    assert list(empty.frame.columns) == ["tier", "balance", "flagged"] and len(empty.frame) == 0 and empty.results == {"accounts": []}
    assert _samples(direct) == _samples(feast)  # the same hit, miss and stale counts, and one timing per view and lookup


def test_a_redis_that_went_away_is_a_feature_store_error_until_it_is_back(tmp_path: Path, redis_server: Any) -> None:
    config = _project(tmp_path, redis_server.url, n=20)
    metrics = FeatureMetrics()
    features = OnlineFeatures(config, metrics)
    assert features.lookup([0, 7919], now=T).found() == [True, True]
    redis_server.stop(kill=True)
    with pytest.raises(FeatureStoreError, match=r"^online feature store \(redis\) failed reading view 'accounts': ConnectionError: "):
        features.lookup([0, 7919, 15838], now=T)
    assert metrics.registry.get_sample_value("workbench_feature_cache_requests_total", {"view": "accounts", "result": "error"}) == 3
    redis_server.start()  # back, empty (no persistence): the same reader answers again, with misses
    assert features.lookup([0, 7919], now=T).results == {"accounts": ["miss", "miss"]}


def test_the_reader_is_checked(tmp_path: Path) -> None:
    config = load_config(_write_minimal(tmp_path))
    with pytest.raises(ParameterError) as info:
        OnlineFeatures(config, reader="redis")
    assert str(info.value) == ("The 'reader' parameter of OnlineFeatures must be one of 'auto', 'feast', 'redis' "
                               "('redis' only with a Redis online store; this config's is sqlite). Got 'redis' instead.")
    assert OnlineFeatures(config).reader == "feast"


def test_feast_is_imported_without_typeguard_or_environment_side_effects() -> None:
    """Feast's import skips typeguard's instrumentation (2.3 s of it), then puts typeguard and the environment back."""
    code = """
import json, os, time, typeguard, typeguard._decorators as real
from workbench.features import _feast
started = time.perf_counter()
feast = _feast.feast()
seconds = time.perf_counter() - started
names = feast.FeatureView.__init__.__code__.co_names
print(json.dumps({"restored": typeguard.typechecked is real.typechecked, "instrumented": "check_argument_types_internal" in names,
                  "env": [k for k in ("PROMETHEUS_MULTIPROC_DIR", "PROMETHEUS_MULTIPROCESS_DIR") if k in os.environ], "seconds": seconds}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_MULTIPROC")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env | {"PYTHONPATH": str(REPO)}, timeout=120)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["restored"] and not got["instrumented"] and got["env"] == [], got


@pytest.mark.parametrize("nanos", [0, 1, 500_000_000, 999_999_400, 999_999_999])
def test_event_times_are_read_as_feast_reads_them(nanos: int) -> None:
    """Feast reads ``_ts:<view>`` through a float and a datetime (microseconds), then keeps whole seconds: so does the reader."""
    _feast.feast()
    from feast.infra.online_stores.redis import RedisOnlineStore
    from google.protobuf.timestamp_pb2 import Timestamp

    raw = Timestamp(seconds=1_767_225_600, nanos=nanos).SerializeToString()
    when, _ = RedisOnlineStore()._get_features_for_entity([None, raw], "v", ["f", "_ts:v"])
    feast = Timestamp()
    feast.FromDatetime(when)
    assert _event_seconds(raw, Timestamp.FromString) == feast.seconds


def test_the_packed_hmget_is_redis_pys_command() -> None:
    import redis

    fields = [b"q\xec7^", b"_ts:customer_profile", b"\r\n$3\r\n", b""]
    for key in (b"\x01\x00\x00\x00customer_id\x02C1wb_demo", b"", b"x" * 10_000):
        assert _hmget(fields)(key) == b"".join(redis.Connection().pack_command("HMGET", key, *fields))
