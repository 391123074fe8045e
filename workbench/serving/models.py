"""The versions being served: champion, challenger and baseline, loaded hash-checked and swapped live.

:class:`ModelSource` is used by the online service and by the batch score phase alike. It reads
the aliases from the registry (with retries), loads each version with the registry's hash-checked
skops load (retried on transient errors, and for ``champion`` and ``challenger`` through their
circuit breaker), and keeps the loaded versions in an immutable snapshot. :meth:`ModelSource.refresh`
(the service calls it every ``serving.alias_poll_s``) notices an alias move — promote, approve,
rollback — loads the new version *before* it swaps the snapshot, so requests in flight finish on the
version they started with and none is dropped. A version that cannot be loaded is not served: the
routing rule then falls back to the baseline.

With a feature store configured, a version whose tag ``workbench.feature_views`` says it was trained
on another MAJOR version of a feature view than the config defines fails its load the same way
(:func:`workbench.features.check_model`; the reason names both versions).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.data.dataset import Schema
from workbench.exceptions import RegistryError
from workbench.features import check_model
from workbench.registry import estimators
from workbench.registry.confidence import record_of
from workbench.serving import resilience

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.serving.metrics import Metrics

ROLES = ("champion", "challenger", "baseline")
FEATURE_VIEWS_TAG = registry.TAG + "feature_views"  # JSON {view: {"version": "1.0", "hash": …}}: the views a version was trained on
GUARDED = ("champion", "challenger")  # behind a circuit breaker; the baseline is the last resort


class LoadInProgress(RuntimeError):
    """Another thread is loading this version; the request does not wait for it."""


@dataclass(frozen=True)
class Served:
    """One loaded version and the role it serves."""

    role: str
    version: str
    semver: str
    model: Any = field(repr=False)
    schema: Schema = field(repr=False)
    confidence: dict[str, Any] | None = field(default=None, repr=False)  # the version's calibration and conformal record


@dataclass(frozen=True)
class _Snapshot:
    aliases: dict[str, tuple[str, str] | None]
    loaded: dict[str, Served]
    errors: dict[str, str]
    checked: float


class ModelSource:
    """Aliases and loaded versions of one project (see the module docstring)."""

    def __init__(self, config: Config, *, metrics: Metrics | None = None, on_breaker: Callable[[str, str, str, str], None] | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self.counts: dict[str, Any] = {"loads": {}, "load_seconds": {}, "retries": {}}
        self.breakers = {role: resilience.Breaker(config, role, on_change=on_breaker) for role in GUARDED}
        self._snapshot = _Snapshot({}, {}, {}, 0.0)
        self._locks = {role: threading.Lock() for role in ROLES}
        self._refresh_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._schemas: dict[str, Schema] = {}

    def schema_of(self, role: str) -> tuple[str, Schema] | None:
        """(version, training schema) of the version holding ``role``, from its registry tags (no model load)."""
        current = self.version_of(role)
        return None if current is None or current[0] not in self._schemas else (current[0], self._schemas[current[0]])

    # -- reading the registry -------------------------------------------------------------
    def aliases(self) -> dict[str, tuple[str, str] | None]:
        """``{role: (version, semver) or None}`` as the registry says now (retried on transient errors)."""
        def read() -> dict[str, tuple[str, str] | None]:
            out: dict[str, tuple[str, str] | None] = {}
            for role in ROLES:
                mv = registry.alias_version(self.config, role)
                out[role] = None if mv is None else (str(mv.version), mv.tags.get(registry.TAG + "semver", ""))
                if mv is not None and str(mv.version) not in self._schemas and registry.TAG + "schema" in mv.tags:
                    self._schemas[str(mv.version)] = Schema.from_dict(json.loads(mv.tags[registry.TAG + "schema"]))
            return out
        return resilience.retry(self.config.resilience, "alias_lookup", read, on_retry=self._retried)

    def refresh(self, *, force: bool = False) -> dict[str, tuple[str | None, str | None]]:
        """Re-read the aliases; load what moved (or everything with ``force``) and swap. Returns the moves."""
        with self._refresh_lock:
            aliases = self.aliases()
            old = self._snapshot
            loaded = {} if force else {r: s for r, s in old.loaded.items() if aliases.get(r) and aliases[r][0] == s.version}
            errors: dict[str, str] = {}
            moves = {r: ((old.aliases.get(r) or (None,))[0], (aliases[r] or (None,))[0]) for r in ROLES
                     if (old.aliases.get(r) or (None,))[0] != (aliases[r] or (None,))[0]}
            for role in ROLES:
                if aliases[role] is None or role in loaded:
                    continue
                if not force and role not in moves and old.checked > 0:  # failed before, alias unchanged: loaded on demand,
                    if role in old.errors:                                 # through its breaker, not by every poll
                        errors[role] = old.errors[role]
                    continue
                moved = role in moves and old.checked > 0
                try:
                    # a version that just took the alias gets a fresh breaker; a reload goes through the current one
                    loaded[role] = self._load(role, aliases[role][0]) if (moved or role not in GUARDED) else \
                        self.breakers[role].call(self._load, role, aliases[role][0])
                    if moved and role in GUARDED and self.breakers[role].storage.state != resilience.CLOSED:
                        self.breakers[role].close(f"alias moved to v{aliases[role][0]}")
                except Exception as exc:  # noqa: BLE001 - not served; the routing rule falls back and says why
                    errors[role] = f"{type(exc).__name__}: {exc}"
                    kept = old.loaded.get(role)
                    if force and kept is not None and kept.version == aliases[role][0] and resilience.is_transient(exc):
                        loaded[role] = kept  # a reload during a store blip keeps serving what was loaded; a failed hash check does not
            with self._publish_lock:
                self._snapshot = _Snapshot(aliases, loaded, errors, time.time())
            if self.metrics:
                for role in ROLES:
                    s = loaded.get(role)
                    self.metrics.serving(role, s.version if s else None, s.semver if s else None)
            return moves if old.checked else {}  # the first load is not a move

    # -- serving --------------------------------------------------------------------------
    def version_of(self, role: str) -> tuple[str, str] | None:
        """The (version, semver) holding ``role`` at the last :meth:`refresh` (None before the first)."""
        return self._snapshot.aliases.get(role)

    def get(self, role: str) -> Served:
        """The loaded version serving ``role``; loads it on demand (guarded roles through their breaker).

        Raises the load's error, ``CircuitBreakerError`` while the breaker is open, or
        :class:`LoadInProgress` while another thread loads it.
        """
        snap = self._snapshot  # one read: the alias and what is loaded come from the same snapshot
        current = snap.aliases.get(role)
        if current is None:
            raise RegistryError(f"model {self.config.project!r} has no version with alias {role!r}"
                                + ("." if snap.checked else " loaded yet (the registry has not been read)."))
        served = snap.loaded.get(role)
        if served is not None and served.version == current[0]:
            return served
        if role in GUARDED:
            if self._locks[role].locked():
                raise LoadInProgress(f"{role} v{current[0]} is being loaded")
            served = self.breakers[role].call(self._load, role, current[0])
        else:
            served = self._load(role, current[0])
        with self._publish_lock:
            snap = self._snapshot
            if snap.aliases.get(role) == current:  # still the right version: publish it for the next requests
                self._snapshot = _Snapshot(snap.aliases, {**snap.loaded, role: served}, {k: v for k, v in snap.errors.items() if k != role},
                                           snap.checked)
                if self.metrics:
                    self.metrics.serving(role, served.version, served.semver)
        return served

    def predict(self, served: Served, frame: Any) -> Any:
        """Scores of ``served`` on ``frame`` (guarded roles through their breaker)."""
        if served.role in GUARDED:
            return self.breakers[served.role].call(estimators.predict, served.model, frame, served.schema, self.config.model.task)
        return estimators.predict(served.model, frame, served.schema, self.config.model.task)

    def confidence_of(self, version: str) -> dict[str, Any] | None:
        """The confidence record of a loaded ``version`` (None when it has none or is not loaded)."""
        return next((s.confidence for s in self._snapshot.loaded.values() if s.version == version), None)

    def status(self) -> dict[str, Any]:
        """What is served, what failed to load, and each breaker's state (``/ready`` and ``/version``)."""
        snap = self._snapshot
        return {"served": {r: {"version": s.version, "semver": s.semver} for r, s in snap.loaded.items()},
                "aliases": {r: (None if a is None else {"version": a[0], "semver": a[1]}) for r, a in snap.aliases.items()},
                "errors": dict(snap.errors), "breakers": {r: b.state for r, b in self.breakers.items()},
                "checked": snap.checked}

    def close(self) -> None:
        """Release the breakers' shared files."""
        for breaker in self.breakers.values():
            breaker.storage.close()

    # -- internals ------------------------------------------------------------------------
    def _load(self, role: str, version: str) -> Served:
        started = time.perf_counter()
        with self._locks[role]:
            try:
                loaded = resilience.retry(self.config.resilience, f"load_{role}", registry.load, self.config, version, on_retry=self._retried)
                self._check_views(loaded)
            except Exception:
                self._count_load(role, "failed", None)
                raise
        self._count_load(role, "ok", time.perf_counter() - started)
        return Served(role, str(loaded.version), loaded.semver, loaded.model, Schema.from_dict(loaded.schema), record_of(loaded.tags))

    def _check_views(self, loaded: registry.LoadedVersion) -> None:
        """Refuse a version trained on an incompatible MAJOR version of a feature view (a failed load; the routing rule falls back)."""
        text = loaded.tags.get(FEATURE_VIEWS_TAG)
        if not text or self.config.features is None:  # without a feature store the request carries every feature itself
            return
        try:
            trained_on = json.loads(text)
        except ValueError as exc:
            raise RegistryError(f"model {self.config.project!r} v{loaded.version}: tag {FEATURE_VIEWS_TAG} is not JSON ({exc}). "
                                "Fix: re-register the version, or set the tag to {view: {\"version\": \"1.0\"}}.") from exc
        check_model(self.config, trained_on if isinstance(trained_on, dict) else {}, model=f"model v{loaded.version} ({loaded.semver})")

    def _count_load(self, role: str, outcome: str, seconds: float | None) -> None:
        key = (role, outcome)
        self.counts["loads"][key] = self.counts["loads"].get(key, 0) + 1
        if seconds is not None:
            self.counts["load_seconds"].setdefault(role, []).append(seconds)
        if self.metrics:
            self.metrics.loads.labels(role, outcome).inc()
            if seconds is not None:
                self.metrics.load_time.labels(role).observe(seconds)

    def _retried(self, operation: str) -> None:
        self.counts["retries"][operation] = self.counts["retries"].get(operation, 0) + 1
        if self.metrics:
            self.metrics.retry(operation)
