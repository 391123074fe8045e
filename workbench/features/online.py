"""Online feature reads by entity id, for the scoring service: Feast's online store (sqlite or Redis).

Open one :class:`OnlineFeatures` per worker process when it loads (Feast's import and store setup take
seconds; never in the first request). :meth:`OnlineFeatures.lookup` reads every view for a list of
ids and says, per id and view, whether it was a **hit**, a **miss** (an unknown id, or a view not
materialized yet: Feast answers both with nulls) or **stale** (the value is older than the view's
TTL: Feast does not apply TTLs online, so it is applied here from the event time). Stale values are
dropped, like misses. A failure of the store raises :class:`FeatureStoreError`; the caller's retry
and circuit breaker decide what happens next (:mod:`workbench.serving.features`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench.exceptions import FeatureStoreError
from workbench.features import definitions

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.features.metrics import FeatureMetrics


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
    """Feast's online store for one config, opened once (module docstring)."""

    def __init__(self, config: Config, metrics: FeatureMetrics | None = None) -> None:
        from workbench.features import _feast

        if config.features is None:
            raise FeatureStoreError(f"{config.source}: no 'features' section; the online store has nothing to read")
        self.config = config
        self.metrics = metrics
        self.key = definitions.key_column(config)
        self.kind = _feast.online_kind(config)
        self.views = {n: list(v.fields) for n, v in config.features.views.items()}
        self.ttl = {n: v.ttl for n, v in config.features.views.items()}
        self._store = _feast.open_store(config)
        _feast.fail_fast(self._store)  # the serving retry policy and breaker decide, not the Redis client
        self._key_type = "string"
        state_views = (definitions.folder(config) / "state.json")
        if state_views.exists():
            from workbench.features.store import read_state

            self._key_type = "int64" if any(str(v.get("key_type")) == "int64" for v in read_state(config).get("views", {}).values()) else "string"

    def refresh(self) -> None:
        """Re-read the Feast registry (after an apply or materialize elsewhere)."""
        self._store.refresh_registry()

    def lookup(self, ids: list[Any], *, now: datetime | None = None) -> Lookup:
        """Read every view for ``ids``; raise :class:`FeatureStoreError` when the store fails."""
        import pandas as pd

        from workbench.features import _feast

        now = now or datetime.now(UTC)
        keys = [str(i) for i in ids] if self._key_type == "string" else [int(i) for i in ids]
        frame = pd.DataFrame(index=range(len(ids)))
        out = Lookup(frame=frame)
        for view, fields in self.views.items():
            started = time.perf_counter()
            try:
                got = _feast.online(self._store, [f"{view}:{f}" for f in fields], self.key, keys)
            except Exception as exc:
                if self.metrics is not None:
                    self.metrics.cache.labels(view, "error").inc(len(ids))
                raise FeatureStoreError(f"online feature store ({self.kind}) failed reading view '{view}': {type(exc).__name__}: {exc}") from exc
            seconds = time.perf_counter() - started
            out.seconds[view] = seconds
            results = []
            stamps = [_latest(got, f, i) for i in range(len(ids)) for f in [fields]]
            for ts in stamps:
                if ts is None:
                    results.append("miss")
                elif (now.timestamp() - ts) > self.ttl[view]:
                    results.append("stale")
                else:
                    results.append("hit")
            for f in fields:
                values = got.get(f, [None] * len(ids))
                frame[f] = [v if r == "hit" else None for v, r in zip(values, results, strict=True)]
            out.results[view] = results
            if self.metrics is not None:
                self.metrics.load_time.labels(view, self.kind).observe(seconds)
                for r in ("hit", "miss", "stale"):
                    n = results.count(r)
                    if n:
                        self.metrics.cache.labels(view, r).inc(n)
                # workbench_feature_staleness_seconds is the view's newest event, not the looked-up ids' (which would overwrite
                # it with each request's customers): the service sets it from store.status (workbench.serving.features)
        return out


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
