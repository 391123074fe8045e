"""Online feature reads by entity id, for the scoring service: Feast's online store (sqlite or Redis).

Open one :class:`OnlineFeatures` per worker process when it loads (Feast's import and store setup take
about a second; never in the first request). :meth:`OnlineFeatures.lookup` reads every view for a list of
ids and says, per id and view, whether it was a **hit**, a **miss** (an unknown id, or a view not
materialized yet: Feast answers both with nulls) or **stale** (the value is older than the view's
TTL: Feast does not apply TTLs online, so it is applied here from the event time). Stale values are
dropped, like misses. A failure of the store raises :class:`FeatureStoreError`; the caller's retry
and circuit breaker decide what happens next (:mod:`workbench.serving.features`).

**Two readers, one result.** With sqlite, the values come from Feast's ``get_online_features`` (one
call per view). With Redis they come from Feast's own Redis layout, read directly with the ``redis``
client: for every entity one ``HMGET`` of all views' fields, all of them sent in one write and the replies
read in order (pipelining), the values decoded with Feast's ``Value`` protobuf class: the bytes Feast reads,
no second copy. It is hand-written because Feast's read is unfit for the scoring service's budget, measured
(``benchmarks/features.py``, 2026-11-28, 2 cores, loopback Redis 7.0, the demo's two views and ten fields):
100 entities p50 7.9 / p95 9.1 ms against a target of p95 <= 2 ms, 1,000 entities p50 67 / p95 171 ms: ~40 us
per entity and view of Python work in Feast (building and converting protobuf responses), since the direct
reader gets the same replies and builds the same Lookup in p50 1.2 / p95 1.5 ms and p50 6.4 / p95 7.7 ms. The layout is not re-invented: the hash fields
(``mmh3('<view>:<field>')``, ``_ts:<view>``) come from Feast's own helpers and registry
(:func:`workbench.features._feast.redis_fields`); only the entity key (serialization v3 + project) is built
here, and it is compared with Feast's serializer when the reader opens (a mismatch falls back to Feast's
path, with a warning). ``reader="feast"`` forces Feast's path, the reference the tests compare with
(``tests/features/test_skew.py``, ``test_online.py``: the same :class:`Lookup` from both readers, and the
same values as the offline point-in-time join). One difference: the direct reader reads all views in one
round trip, so each view's ``Lookup.seconds`` is its share of it (their sum is the lookup's time, as on
Feast's path, where each view is its own call).
"""

from __future__ import annotations

import logging
import struct
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench.exceptions import FeatureStoreError, ParameterError
from workbench.features import _feast, definitions
from workbench.features.store import read_state

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    import pandas as pd

    from workbench.config import Config
    from workbench.features.metrics import FeatureMetrics

READERS = ("auto", "feast", "redis")
_NO_FRAME: Any = None  # Lookup.frame until lookup() builds it
_MEMO = 100_000  # decoded values the Redis reader keeps (~12 MB at most), then forgets at once
_SCALARS = frozenset({"string_val", "int64_val", "double_val", "bool_val", "int32_val", "float_val", "bytes_val"})
_log = logging.getLogger(__name__)


@dataclass
class Lookup:
    """Features for ``ids`` (rows in ``ids`` order) and, per view, each id's result (hit, miss or stale)."""

    frame: pd.DataFrame
    results: dict[str, list[str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def found(self) -> list[bool]:
        """Per id: every view a hit."""
        n = len(self.frame)
        return [all(r[i] == "hit" for r in self.results.values()) for i in range(n)]


class OnlineFeatures:
    """The online store for one config, opened once (module docstring).

    Parameters
    ----------
    config : Config
        A config with a ``features:`` section.
    metrics : FeatureMetrics, optional
        Where lookups are counted and timed.
    reader : {"auto", "feast", "redis"}
        ``auto``: the direct Redis reader when ``features.online`` is Redis, else Feast's. ``feast``:
        always Feast's ``get_online_features`` (the reference). ``redis``: the direct reader (Redis only).
    """

    def __init__(self, config: Config, metrics: FeatureMetrics | None = None, *, reader: str = "auto") -> None:
        if config.features is None:
            raise FeatureStoreError(f"{config.source}: no 'features' section; the online store has nothing to read")
        self.config = config
        self.metrics = metrics
        self.key = definitions.key_column(config)
        self.kind = _feast.online_kind(config)
        if reader not in READERS or (reader == "redis" and self.kind != "redis"):
            raise ParameterError(f"The 'reader' parameter of OnlineFeatures must be one of {', '.join(map(repr, READERS))} "
                                 f"('redis' only with a Redis online store; this config's is {self.kind}). Got {reader!r} instead.")
        self.views = {n: list(v.fields) for n, v in config.features.views.items()}
        self.ttl = {n: v.ttl for n, v in config.features.views.items()}
        self._store = _feast.open_store(config)
        _feast.fail_fast(self._store)  # the serving retry policy and breaker decide, not the Redis client
        self._key_type = "string"
        if (definitions.folder(config) / "state.json").exists():
            self._key_type = "int64" if any(str(v.get("key_type")) == "int64" for v in read_state(config).get("views", {}).values()) else "string"
        self._redis = _RedisReader(config, self._store, self.key, self._key_type) if self.kind == "redis" and reader != "feast" else None
        if self._redis is not None and not self._redis.matches_feast():
            _log.warning("Feast's Redis key layout differs from the direct reader's (Feast upgraded?): reading through Feast instead")
            self._redis = None
        self.reader = "redis" if self._redis is not None else "feast"

    def refresh(self) -> None:
        """Re-read the Feast registry (after an apply or materialize elsewhere)."""
        self._store.refresh_registry()
        if self._redis is not None:
            self._redis.layout = None

    def lookup(self, ids: list[Any], *, now: datetime | None = None) -> Lookup:
        """Read every view for ``ids``; raise :class:`FeatureStoreError` when the store fails."""
        import pandas as pd

        now = now or datetime.now(UTC)
        keys = [str(i) for i in ids] if self._key_type == "string" else [int(i) for i in ids]
        if not keys:  # nothing to read or count (Feast's own read refuses an empty list)
            return Lookup(frame=pd.DataFrame({f: [] for fs in self.views.values() for f in fs}, index=range(0)),
                          results={v: [] for v in self.views}, seconds={v: 0.0 for v in self.views})
        out = Lookup(frame=_NO_FRAME)
        columns: dict[str, list[Any]] = {}
        if self._redis is not None:
            started = time.perf_counter()
            try:
                stamps, values = self._redis.read(keys)
            except Exception as exc:
                raise self._failed(list(self.views), len(keys), exc) from exc
            share = (time.perf_counter() - started) / len(self.views)  # one round trip for all views: each gets its share
            for view, fields in self.views.items():
                self._finish(out, columns, view, fields, stamps[view], values, share, now)
        else:
            for view, fields in self.views.items():
                started = time.perf_counter()
                try:
                    got = _feast.online(self._store, [f"{view}:{f}" for f in fields], self.key, keys)
                except Exception as exc:
                    raise self._failed([view], len(keys), exc) from exc
                seconds = time.perf_counter() - started
                self._finish(out, columns, view, fields, [_latest(got, fields, i) for i in range(len(keys))], got, seconds, now)
        out.frame = pd.DataFrame(columns)  # a RangeIndex; every view has a field, so never empty here
        return out

    def _failed(self, views: list[str], n: int, exc: Exception) -> FeatureStoreError:
        if self.metrics is not None:
            for view in views:
                self.metrics.cache.labels(view, "error").inc(n)
        what = f"view '{views[0]}'" if len(views) == 1 else "views " + ", ".join(f"'{v}'" for v in views)
        return FeatureStoreError(f"online feature store ({self.kind}) failed reading {what}: {type(exc).__name__}: {exc}")

    def _finish(self, out: Lookup, columns: dict[str, list[Any]], view: str, fields: list[str], stamps: list[float | None],
                values: dict[str, list[Any]], seconds: float, now: datetime) -> None:
        """One view's results (hit, miss, stale from the event times), its columns (values of hits only) and metrics."""
        at, ttl = now.timestamp(), self.ttl[view]
        results = ["miss" if ts is None else "stale" if at - ts > ttl else "hit" for ts in stamps]
        every = results.count("hit") == len(results)
        for f in fields:
            got = values.get(f, [None] * len(results))
            columns[f] = got if every else [v if r == "hit" else None for v, r in zip(got, results, strict=True)]
        out.results[view] = results
        out.seconds[view] = seconds
        if self.metrics is not None:
            self.metrics.load_time.labels(view, self.kind).observe(seconds)
            for r in ("hit", "miss", "stale"):
                n = results.count(r)
                if n:
                    self.metrics.cache.labels(view, r).inc(n)
            # workbench_feature_staleness_seconds is the view's newest event, not the looked-up ids' (which would overwrite
            # it with each request's customers): the service sets it from store.status (workbench.serving.features)


def _latest(got: dict[str, list[Any]], fields: list[str], i: int) -> float | None:
    """The newest event time (epoch seconds) among a row's fields, None when Feast has none (0 or None)."""
    best = None
    for f in fields:
        stamps = got.get(f"{f}__ts")
        if not stamps:
            continue
        ts = stamps[i]
        if hasattr(ts, "timestamp"):
            ts = ts.timestamp()
        if ts:
            best = ts if best is None else max(best, ts)
    return best


class _RedisReader:
    """Feast's Redis layout read with one pipelined ``HMGET`` per entity (module docstring: why and how)."""

    def __init__(self, config: Config, store: Any, key: str, key_type: str) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        assert config.features is not None
        self.views = {n: list(v.fields) for n, v in config.features.views.items()}
        self.layout: tuple[Callable[[bytes], bytes], list[tuple[str, list[str], int, int]]] | None = None  # resolve(); refresh() clears it
        self._store = store
        # Fail fast (the caller's retry and circuit breaker decide): one immediate retry covers a pooled connection that a
        # Redis restart closed; redis-py's default retries three times with up to 2 + 4 + 8 s of backoff, and never times out.
        self._client = redis.Redis.from_url(config.features.online, socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 1))
        self._key, self._probe = _key_builder(key, key_type, store.config.project.encode()), (key, "é-1" if key_type == "string" else -2)
        self._parse, self._to_python = _feast.value_decoding()
        from google.protobuf.timestamp_pb2 import Timestamp

        self._parse_ts = Timestamp.FromString
        # Decoded values by their bytes: categories, counts and flags repeat, and a dict lookup is ~3x cheaper than a parse.
        self._memo: dict[bytes | None, Any] = {None: None}
        self._stamps: dict[bytes | None, float | None] = {None: None}  # the same for event times (a few snapshot times)

    def matches_feast(self) -> bool:
        """Whether the key builder gives Feast's bytes (checked once, when the reader opens)."""
        key, value = self._probe
        return self._key(value) == _feast.redis_key(self._store, key, value)

    def resolve(self) -> tuple[Callable[[bytes], bytes], list[tuple[str, list[str], int, int]]]:
        """One entity's HMGET (every view's field hashes, then its ``_ts``), and where each view's fields sit in the reply."""
        if self.layout is None:
            hashes = _feast.redis_fields(self._store, self.views)
            fields: list[bytes] = []
            where = []
            for view, names in self.views.items():
                where.append((view, names, len(fields), len(fields) + len(names)))
                fields += [*hashes[view][0], hashes[view][1]]
            self.layout = (_hmget(fields), where)
        return self.layout

    def read(self, keys: list[Any]) -> tuple[dict[str, list[float | None]], dict[str, list[Any]]]:
        """``({view: event time per key}, {field: value per key})``, like Feast's ``to_dict`` (None where absent)."""
        hmget, where = self.resolve()
        build = self._key
        rows = self._exchange(b"".join([hmget(build(k)) for k in keys]), len(keys))
        parse, to_python, parse_ts, memo, seen = self._parse, self._to_python, self._parse_ts, self._memo, self._stamps
        if len(memo) + len(seen) > _MEMO:
            memo.clear()
            seen.clear()
            memo[None] = seen[None] = None

        def value(raw: bytes) -> Any:
            proto = parse(raw)
            kind = proto.WhichOneof("val")
            if kind is None or kind in _SCALARS:  # immutable: safe to share between lookups
                got = memo[raw] = None if kind is None else getattr(proto, kind)
                return got
            return to_python(proto)

        def stamp(raw: bytes) -> float | None:
            got = seen[raw] = _event_seconds(raw, parse_ts)
            return got

        # Known bytes are a dict lookup inside the comprehension; only new ones cost a call (each memo marks "unknown" itself).
        get, known = memo.get, seen.get
        stamps, values = {}, {}
        for view, names, start, at in where:
            stamps[view] = [v if (v := known(row[at], seen)) is not seen else stamp(row[at]) for row in rows]
            for i, name in enumerate(names, start):
                values[name] = [v if (v := get(row[i], memo)) is not memo else value(row[i]) for row in rows]
        return stamps, values

    def _exchange(self, commands: bytes, n: int) -> list[Any]:
        """Send ``n`` packed commands in one write, then read the ``n`` replies: a redis-py pipeline in one system call.

        ``Pipeline.execute`` packs each command through redis-py's packer, writes them in ~6 kB chunks (four writes
        for 100 HMGETs) and handles each reply through several Python calls. Measured against it on the demo (the same
        replies), with :func:`_hmget`: 100 entities p50 0.79 -> 0.42 ms (CPU 0.56 -> 0.17 ms), 1,000 entities 5.5 -> 2.5 ms.
        Errors are handled as the pipeline handles them: the connection's retry policy, and a connection that failed
        mid-exchange is dropped (its unread replies must never reach the next reader).
        """
        pool = self._client.connection_pool
        conn = pool.get_connection()

        def exchange() -> list[Any]:
            conn.send_packed_command([commands])
            return [conn.read_response() for _ in range(n)]

        try:
            return conn.retry.call_with_retry(exchange, lambda _: conn.disconnect())
        except BaseException:
            conn.disconnect()
            raise
        finally:
            pool.release(conn)


def _hmget(fields: list[bytes]) -> Callable[[bytes], bytes]:
    """``HMGET <key> <fields...>`` in the Redis protocol (RESP), the fields packed once: redis-py's packer re-encodes
    every field for every entity (1.5 us per command with the demo's twelve, a third of a 100-entity lookup's CPU time)."""
    head = b"*%d\r\n$5\r\nHMGET\r\n" % (len(fields) + 2)
    tail = b"".join(b"$%d\r\n%s\r\n" % (len(f), f) for f in fields)
    return lambda key: b"%s$%d\r\n%s\r\n%s" % (head, len(key), key, tail)


def _key_builder(key: str, key_type: str, project: bytes) -> Callable[[Any], bytes]:
    """Feast's Redis key for one entity: entity key serialization v3 (one join key) + the project name."""
    name = key.encode()
    head = struct.pack("<III", 1, 2, len(name)) + name  # one join key, its name as a STRING (2)
    if key_type == "string":
        tag = struct.pack("<I", 2)

        def string_key(value: str) -> bytes:
            raw = value.encode()
            return head + tag + struct.pack("<I", len(raw)) + raw + project

        return string_key
    tag = struct.pack("<II", 4, 8)  # INT64 (4), eight bytes

    def int_key(value: int) -> bytes:
        return head + tag + struct.pack("<q", value) + project

    return int_key


def _event_seconds(raw: bytes | None, parse: Callable[[bytes], Any]) -> float | None:
    """A ``_ts:<view>`` value (a protobuf ``Timestamp``) as Feast's ``to_dict`` reports it: whole seconds; None when absent or 0."""
    if not raw:
        return None
    ts = parse(raw)
    seconds = ts.seconds
    if ts.nanos:  # Feast goes through a datetime (microseconds, rounded) before keeping whole seconds
        seconds = int(datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, tz=UTC).replace(microsecond=0).timestamp())
    return seconds or None
