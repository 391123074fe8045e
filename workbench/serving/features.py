"""Features for online requests: what a record lacks is read from the feature store, by one fallback rule.

With a ``features:`` section in the config, a ``POST /predict`` record may carry only the entity key,
``{"records": [{"customer_id": "C0012345"}]}``, and the service reads the features it lacks from the
feature store. **The fallback rule**, per record; each prediction says which step supplied its
features in ``feature_source``, in the response and in the prediction log:

1. **request**: feature fields present in a record are used as given (``null`` too: a missing value
   the model imputes). A record that sends every feature never touches the store.
2. **online**: the fields a record lacks are read from the online store (sqlite, or Redis) by the
   entity key, retried on transient errors only (the ``resilience:`` policy) and behind the circuit
   breaker ``features-online``.
3. **offline**: if the online store is unavailable (an error, or its breaker open), or an id is a miss
   or stale there (a value older than the view's ``ttl``), those ids are read from the offline store
   as of now (the point-in-time join: each view's newest value within its ``ttl``), behind the
   breaker ``features-offline``.
4. **none**: if the offline store is unavailable too, those rows are scored by the **baseline** with
   whatever the record carried (its pipeline imputes the rest). The fallback reason says
   ``features unavailable: …``; it is recorded per prediction and counted in
   ``workbench_fallbacks_total{reason="features_unavailable"}``.
5. An id unknown to both stores (they answered, but hold no value for it in any view the model uses)
   is the input's fault: **422** naming the record, the key and the id. An id with values in some
   views only is scored: the fields of the others are imputed.

A record that lacks a feature-store field must carry the key (the request schema refuses it with
422 otherwise); the fields it sends keep their strict type checks.

The online store is opened once per worker process when the service starts, by the thread that first
loads the models (never in a request). If that fails the service still starts, features come from
the offline store (step 3), the open is tried again on the alias polls (at most every
``REOPEN_S``), and ``/ready`` says why. ``SIGHUP`` re-reads the Feast registry (after ``workbench
features apply``). The staleness gauges (``workbench_feature_staleness_seconds``,
``workbench_feature_stale``) are set on every alias poll from :func:`workbench.features.store.status`,
which is read at start, on ``SIGHUP`` and at most every ``STATUS_S`` (it re-checks every source file).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench.exceptions import FeatureStoreError, WorkbenchError
from workbench.features import definitions, offline, store
from workbench.features.metrics import FeatureMetrics
from workbench.features.online import OnlineFeatures
from workbench.serving import resilience, routing

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    import pandas as pd
    from prometheus_client import CollectorRegistry

    from workbench.config import Config

ONLINE, OFFLINE = "features-online", "features-offline"  # the breakers
BREAKERS = (ONLINE, OFFLINE)
SOURCES = ("request", "online", "offline", "none")  # feature_source, by step of the rule
UNAVAILABLE = "features unavailable"
REOPEN_S = 30.0  # a failed open of the online store is tried again at most this often
STATUS_S = 60.0  # the views' newest event times are re-read at most this often (the gauges move with the clock in between)


@dataclass
class Filled:
    """One pass's features: the frame with what was read filled in, where each row's came from, what was refused."""

    frame: pd.DataFrame
    source: list[str]
    fetched: dict[int, dict[str, Any]] = field(default_factory=dict)  # row -> the fields read from a store (logged with the record)
    refused: dict[int, str] = field(default_factory=dict)  # row -> why (step 5, or a key of the wrong type)
    reason: str | None = None  # "features unavailable: …" for the rows whose source is "none"


class FeatureReader:
    """The feature store as the scoring service reads it (module docstring); one per worker process."""

    def __init__(self, config: Config, *, registry: CollectorRegistry | None = None,
                 on_breaker: Callable[[str, str, str, str], None] | None = None, on_retry: Callable[[str], None] | None = None) -> None:
        assert config.features is not None
        self.config = config
        self.key = definitions.key_column(config)
        self.views = {name: dict(view.fields) for name, view in config.features.views.items()}
        self.kind = "sqlite" if config.features.online == "sqlite" else "redis"
        self.metrics = FeatureMetrics(registry)
        self.breakers = {name: resilience.Breaker(config, name, on_change=on_breaker) for name in BREAKERS}
        self.online: OnlineFeatures | None = None
        self.error: str | None = "not opened yet"
        self.staleness: dict[str, Any] = {}
        self._on_retry = on_retry
        self._key_type = "string"
        self._opened_at = self._status_at = -math.inf
        self._status: dict[str, Any] = {}

    @property
    def fields(self) -> list[str]:
        """Every field the views hold."""
        return [f for fields in self.views.values() for f in fields]

    # -- lifecycle (the alias poller's thread) ---------------------------------------------
    def poll(self, *, reload: bool = False) -> None:
        """Open the online store when it is not open, re-read the Feast registry on ``reload``, set the staleness gauges. Never raises."""
        if self.online is None:
            if reload or time.monotonic() - self._opened_at >= REOPEN_S:
                self._open()
        elif reload:
            try:
                self.online.refresh()
                self._read_key_type()
                self.error = None
            except Exception as exc:  # noqa: BLE001 - keep the store open: reads go through the breaker, and fall back
                self.error = f"registry refresh failed: {type(exc).__name__}: {exc}"
        self._observe_staleness(reread=reload)

    def _open(self) -> None:
        self._opened_at = time.monotonic()
        try:
            self.online = resilience.retry(self.config.resilience, "features_open", OnlineFeatures, self.config, self.metrics,
                                           on_retry=self._on_retry)
            self.error = None
        except Exception as exc:  # noqa: BLE001 - the service starts anyway; features come from the offline store
            self.online, self.error = None, f"{type(exc).__name__}: {exc}"[:500]
        self._read_key_type()

    def _read_key_type(self) -> None:
        views = store.read_state(self.config).get("views", {})
        self._key_type = "int64" if any(str(v.get("key_type")) == "int64" for v in views.values()) else "string"

    def _observe_staleness(self, *, reread: bool = False) -> None:
        """Set the gauges: now minus each view's newest event time (read from the store's status when due)."""
        if reread or time.monotonic() - self._status_at >= STATUS_S:
            self._status_at = time.monotonic()
            try:
                self._status = store.status(self.config)
            except Exception as exc:  # noqa: BLE001 - the gauges keep moving with the clock; /version shows why
                self._status = {"views": self._status.get("views", {}), "error": f"{type(exc).__name__}: {exc}"[:500]}
        now = datetime.now(UTC)
        views = {}
        for name, info in self._status.get("views", {}).items():
            if info.get("newest_event"):
                age = (now - datetime.fromisoformat(info["newest_event"])).total_seconds()
                info = info | {"staleness_s": round(age, 3), "stale": age > info["ttl_s"]}
            views[name] = info
        self.metrics.observe_status({"views": views})
        self.staleness = views

    def status(self) -> dict[str, Any]:
        """The online store (open or why not), the breakers and each view's staleness (``/ready`` and ``/version``)."""
        return {"online": self.kind, "open": self.online is not None, "error": self.error,
                "breakers": {name: b.state for name, b in self.breakers.items()}, "views": self.staleness,
                **({"status_error": self._status["error"]} if "error" in self._status else {})}

    def close(self) -> None:
        """Release the breakers' shared files."""
        for breaker in self.breakers.values():
            breaker.storage.close()

    # -- requests (the micro-batcher's thread) --------------------------------------------
    def fill(self, records: list[dict[str, Any]], frame: pd.DataFrame, features: tuple[str, ...]) -> Filled:
        """``frame`` (one row per record) with the ``features`` each record lacks read by the rule (module docstring)."""
        wanted = {view: [f for f in fields if f in features] for view, fields in self.views.items()}
        wanted = {view: fields for view, fields in wanted.items() if fields}
        fetchable = [f for fields in wanted.values() for f in fields]
        out = Filled(frame, ["request"] * len(records))
        rows: dict[Any, list[int]] = {}
        for i, record in enumerate(records):
            if all(f in record for f in fetchable):
                continue
            key, problem = self._entity(record.get(self.key))
            if problem:
                out.refused[i] = problem
            else:
                rows.setdefault(key, []).append(i)
        if not rows:
            return out
        found, online_problem = self._online(list(rows), wanted)
        rest = [k for k in rows if k not in found]
        sources = dict.fromkeys(found, "online")
        if rest:
            known, offline_problem = self._offline(rest, wanted)
            if known is None:
                sources |= dict.fromkeys(rest, "none")
                out.reason = f"{UNAVAILABLE}: {online_problem or f'{len(rest)} id(s) not in the online store'}; {offline_problem}"
            else:
                for k, values in known.items():
                    if values is None:
                        for i in rows[k]:
                            out.refused[i] = (f"no features for {self.key} {k!r} in the feature store; send the features in the record "
                                              "or materialize the view (`workbench features materialize`)")
                    else:
                        found[k], sources[k] = values, "offline"
        self._write(out, records, rows, found, sources, fetchable)
        return out

    def _write(self, out: Filled, records: list[dict[str, Any]], rows: dict[Any, list[int]], found: dict[Any, dict[str, Any]],
               sources: dict[Any, str], fetchable: list[str]) -> None:
        """Put what was read into the frame, only where the record lacks the field (step 1), and note each row's source."""
        for k, positions in rows.items():
            for i in positions:
                if i not in out.refused:
                    out.source[i] = sources[k]
                    if k in found:
                        out.fetched[i] = {f: found[k][f] for f in fetchable if f not in records[i]}
        for f in fetchable:
            filled = [(i, values[f]) for i, values in out.fetched.items() if f in values]
            if filled:
                column = out.frame[f].to_numpy(dtype=object, copy=True)  # object: a store's string may land in an all-null column
                for i, value in filled:
                    column[i] = value
                out.frame[f] = column

    def _entity(self, value: Any) -> tuple[Any, str | None]:
        """The key as the store holds it, or why it cannot be one."""
        if value is None:
            return None, f"missing: no '{self.key}' to read the features by. Fix: send '{self.key}', or send every feature"
        if self._key_type == "string":
            return str(value), None
        if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
            return int(value), None
        return None, f"{self.key} {value!r} is not an integer, and the feature store's keys are (int64). Fix: send the integer id"

    def _online(self, ids: list[Any], wanted: dict[str, list[str]]) -> tuple[dict[Any, dict[str, Any]], str | None]:
        """Step 2: ``{id: values}`` for the ids every wanted view holds (a hit), and why the store could not answer."""
        if self.online is None:
            return {}, f"online store not open ({self.error})"
        try:
            lookup = self.breakers[ONLINE].call(resilience.retry, self.config.resilience, "features_online", self.online.lookup, ids,
                                                on_retry=self._on_retry)
        except Exception as exc:  # noqa: BLE001 - any failure of the online store falls back to the offline store
            return {}, routing.describe("online store", exc)
        columns = {f: lookup.frame[f].tolist() for fields in wanted.values() for f in fields}
        found = {}
        for j, k in enumerate(ids):
            if all(lookup.results[view][j] == "hit" for view in wanted):
                found[k] = {f: _plain(columns[f][j], self.views[view][f]) for view, fields in wanted.items() for f in fields}
        return found, None

    def _offline(self, ids: list[Any], wanted: dict[str, list[str]]) -> tuple[dict[Any, dict[str, Any] | None] | None, str | None]:
        """Step 3: ``{id: values, or None when no view holds any}``; ``(None, why)`` when the offline store is unavailable."""
        try:
            got, info = self.breakers[OFFLINE].call(resilience.retry, self.config.resilience, "features_offline", self._join, ids, wanted,
                                                    on_retry=self._on_retry)
        except Exception as exc:  # noqa: BLE001 - step 4: the baseline scores these rows
            return None, routing.describe("offline store", exc)
        for view, seconds in info.get("seconds", {}).items():
            self.metrics.load_time.labels(view, "offline").observe(seconds)
        columns = {f: got[f].tolist() if f in got.columns else [None] * len(ids) for fields in wanted.values() for f in fields}
        out: dict[Any, dict[str, Any] | None] = {}
        for j, k in enumerate(ids):
            values = {f: _plain(columns[f][j], self.views[view][f]) for view, fields in wanted.items() for f in fields}
            out[k] = values if any(v is not None for v in values.values()) else None
        return out, None

    def _join(self, ids: list[Any], wanted: dict[str, list[str]]) -> tuple[pd.DataFrame, dict[str, Any]]:
        """The point-in-time join as of now; a missing or broken source is the store's failure here (it counts against the breaker)."""
        import pandas as pd

        frame = pd.DataFrame({self.key: ids, (self.config.data.timestamp or offline.TS): pd.Timestamp(datetime.now(UTC))})
        try:
            return offline.join(self.config, frame, wanted)
        except FeatureStoreError:
            raise
        except WorkbenchError as exc:  # DataError and ConfigError would be the input's fault elsewhere; not for a request
            raise FeatureStoreError(f"offline feature store: {exc}") from exc


def _plain(value: Any, kind: str) -> Any:
    """A store's value as the JSON type a request would send (an int64 field read back as 3.0 is 3 again); None when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if kind == "int64":
        return int(value)
    if kind == "float64":
        return float(value)
    if kind == "bool":
        return bool(value)
    return str(value)
