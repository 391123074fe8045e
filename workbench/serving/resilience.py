"""Retries and circuit breakers, built from the ``resilience:`` config keys; one set used online and in batch.

**Retries** (tenacity): only a *transient* failure is tried again — an ``OSError`` (a store on a
network disk that blinked), a ``TimeoutError`` or connection error (redis-py's too: the online
feature store), a locked or busy sqlite database, anywhere in the exception's cause chain. Waits
are exponential with full jitter (uniform in ``[0, min(max_wait_s, 0.05 s * 2^n)]``), at most
``attempts`` tries and no new try after ``total_s``. Only reads are retried (alias lookups, model
and feature loads); writes that are not idempotent (the prediction log, the audit trail) never are.

**Circuit breakers** (pybreaker): one per guarded resource (``champion``, ``challenger``, and the
feature reads ``features-online`` and ``features-offline``). ``fail_max`` consecutive failures open
it; while open, calls fail at once with ``CircuitBreakerError`` (the caller falls back: to the
baseline, or from one feature store to the next) without touching the resource; after
``reset_timeout_s`` it is half-open and lets calls through, and ``success_threshold`` successes
close it again (one failure re-opens it). Input errors (:class:`DataError`) are the caller's fault
and never count.

The breaker's state lives in a small memory-mapped file under ``<store>/serving/breakers/``, so
every worker process of the service, and the batch score phase, see one state: pybreaker ships
only in-memory and Redis storage, and a service on one host should not need Redis for this (a
fleet of hosts would use pybreaker's ``CircuitRedisStorage`` with the same listener). pybreaker
holds a lock for the whole guarded call, so each thread gets its own ``CircuitBreaker`` object over
the shared storage: a slow call in one thread never blocks another thread's fallback decision.

Each transition is written to the audit trail once, by whichever process or thread claims it
first (a transition counter in the shared file), and counted in the metrics.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pybreaker

from workbench.exceptions import DataError
from workbench.governance import audit

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

    from workbench.config import Config, ResilienceConfig

T = TypeVar("T")
CLOSED, OPEN, HALF_OPEN = pybreaker.STATE_CLOSED, pybreaker.STATE_OPEN, pybreaker.STATE_HALF_OPEN
STATES = (CLOSED, OPEN, HALF_OPEN)  # index = the code stored in the file and exported as workbench_breaker_state
CircuitBreakerError = pybreaker.CircuitBreakerError
_TRANSIENT_TEXT = ("database is locked", "database is busy", "disk i/o error", "unable to open database file", "connection refused",
                   "timed out", "temporarily unavailable")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or anything in its cause chain) is worth another try: see the module docstring."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (OSError, TimeoutError, ConnectionError)) and not isinstance(current, FileNotFoundError | PermissionError):
            return True
        if type(current).__name__ in ("ConnectionError", "TimeoutError") and type(current).__module__.startswith("redis"):
            return True  # redis-py's own classes (not the builtins): an online feature store that dropped or timed out
        if isinstance(current, sqlite3.OperationalError) or type(current).__name__ == "OperationalError":
            return any(text in str(current).lower() for text in _TRANSIENT_TEXT)
        if type(current).__name__ == "MlflowException" and any(text in str(current).lower() for text in _TRANSIENT_TEXT):
            return True
        current = current.__cause__ or current.__context__
    return False


def retry(policy: ResilienceConfig, operation: str, fn: Callable[..., T], *args: Any, on_retry: Callable[[str], None] | None = None,
          **kwargs: Any) -> T:
    """Call ``fn`` with tenacity's retries on transient errors (see the module docstring); the last error is re-raised.

    Built per call (tens of microseconds): retries wrap loads and registry reads, never the per-request path.
    """
    import tenacity

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts) | tenacity.stop_after_delay(policy.total_s),
        wait=tenacity.wait_random_exponential(multiplier=0.05, max=policy.max_wait_s),
        retry=tenacity.retry_if_exception(is_transient), reraise=True,
        before_sleep=(lambda state: on_retry(operation)) if on_retry else None)
    return retrying(fn, *args, **kwargs)


class SharedStorage(pybreaker.CircuitBreakerStorage):
    """pybreaker storage in a memory-mapped file: one breaker state for every process on this host.

    Layout (little endian): state code, failure counter, success counter (int32 each), a
    transition counter and the last state audited (int64 each), opened-at (float64, epoch s).
    Single fields are read without a lock (aligned, so never torn); changes that read then write
    take a thread lock and an exclusive ``flock`` on the file.
    """

    _FORMAT = "<iiiqqd"
    _SIZE = 64
    _STATE, _COUNTER, _SUCCESS, _EPOCH, _AUDITED, _OPENED = 0, 4, 8, 12, 20, 28

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._thread_lock = threading.Lock()
        with self._locked():
            if os.fstat(self._fd).st_size < self._SIZE:
                os.ftruncate(self._fd, self._SIZE)  # zeros: closed, no failures
        self._map = mmap.mmap(self._fd, self._SIZE)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _get(self, fmt: str, offset: int) -> Any:
        return struct.unpack_from(fmt, self._map, offset)[0]

    def _put(self, fmt: str, offset: int, value: Any) -> None:
        struct.pack_into(fmt, self._map, offset, value)

    @property
    def state(self) -> str:
        code = self._get("<i", self._STATE)
        return STATES[code] if 0 <= code < len(STATES) else CLOSED

    @state.setter
    def state(self, state: str) -> None:
        with self._locked():
            self._put("<i", self._STATE, STATES.index(state))
            self._put("<q", self._EPOCH, self._get("<q", self._EPOCH) + 1)

    def increment_counter(self) -> None:
        with self._locked():
            self._put("<i", self._COUNTER, self._get("<i", self._COUNTER) + 1)

    def reset_counter(self) -> None:
        if self._get("<i", self._COUNTER):  # the healthy path reads only: no lock, no write
            with self._locked():
                self._put("<i", self._COUNTER, 0)

    def increment_success_counter(self) -> None:
        with self._locked():
            self._put("<i", self._SUCCESS, self._get("<i", self._SUCCESS) + 1)

    def reset_success_counter(self) -> None:
        if self._get("<i", self._SUCCESS):
            with self._locked():
                self._put("<i", self._SUCCESS, 0)

    @property
    def counter(self) -> int:
        return int(self._get("<i", self._COUNTER))

    @property
    def success_counter(self) -> int:
        return int(self._get("<i", self._SUCCESS))

    @property
    def opened_at(self) -> datetime | None:
        value = self._get("<d", self._OPENED)
        return datetime.fromtimestamp(value, UTC) if value else None

    @opened_at.setter
    def opened_at(self, when: datetime) -> None:
        with self._locked():
            self._put("<d", self._OPENED, when.timestamp())

    def close(self) -> None:
        """Unmap and close the file (the state stays in it)."""
        if not self._map.closed:
            self._map.close()
            os.close(self._fd)

    def claim_transition(self, new: str) -> bool:
        """True for exactly one caller per transition into ``new`` (across processes): that caller records it.

        Successive transitions always change the state, so "``new`` differs from the last state
        recorded" identifies a transition; a breaker object that merely notices another's
        transition finds it recorded already. (pybreaker notifies listeners before it writes the
        new state to the storage, so the storage's own state cannot tell.)
        """
        code = STATES.index(new)
        with self._locked():
            if self._get("<q", self._AUDITED) == code:
                return False
            self._put("<q", self._AUDITED, code)
            return True

    def reset(self) -> None:
        """Closed, no failures (``workbench api --reset-breakers`` and tests)."""
        with self._locked():
            for fmt, offset, value in (("<i", self._STATE, 0), ("<i", self._COUNTER, 0), ("<i", self._SUCCESS, 0), ("<q", self._AUDITED, 0),
                                       ("<d", self._OPENED, 0.0)):
                self._put(fmt, offset, value)


def breaker_dir(config: Config) -> Path:
    """Where the project's breaker states live."""
    return config.store / "serving" / "breakers" / config.project


class Breaker:
    """A named circuit breaker over :class:`SharedStorage` (see the module docstring).

    ``on_change(name, old, new, reason)`` is called once per transition (by the claiming caller).
    """

    def __init__(self, config: Config, name: str, *, on_change: Callable[[str, str, str, str], None] | None = None) -> None:
        self.name = name
        self.policy = config.resilience
        self.storage = SharedStorage(breaker_dir(config) / f"{name}.state", name)
        self._store, self._subject = config.store, f"{config.project}/{name}"
        self._on_change = on_change
        self._local = threading.local()
        self._last_error = threading.local()

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open``, as every process sees it."""
        state = self.storage.state
        if state == OPEN and (opened := self.storage.opened_at) and time.time() >= opened.timestamp() + self.policy.reset_timeout_s:
            return HALF_OPEN  # the next call is a trial
        return state

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn`` through the breaker; raises ``CircuitBreakerError`` while open."""
        return self._breaker().call(fn, *args, **kwargs)

    def close(self, reason: str) -> None:
        """Close the breaker now (a new version took the alias); recorded like any transition."""
        self._last_error.text = reason
        self._breaker().close()

    def _breaker(self) -> pybreaker.CircuitBreaker:
        cb = getattr(self._local, "cb", None)
        if cb is None:
            cb = pybreaker.CircuitBreaker(fail_max=self.policy.fail_max, reset_timeout=self.policy.reset_timeout_s,
                                          success_threshold=self.policy.success_threshold, exclude=[DataError],
                                          state_storage=self.storage, listeners=[_Listener(self)], name=self.name)
            self._local.cb = cb
        return cb

    def transition(self, old: str | None, new: str) -> None:
        """Record a transition once (audit event and the ``on_change`` hook)."""
        if not self.storage.claim_transition(new):
            return
        reason = getattr(self._last_error, "text", "")
        audit.record(self._store, "breaker", self._subject, **{"from": old, "to": new, "reason": reason or None,
                                                                "fail_max": self.policy.fail_max,
                                                                "reset_timeout_s": self.policy.reset_timeout_s,
                                                                "success_threshold": self.policy.success_threshold, "pid": os.getpid()})
        if self._on_change:
            self._on_change(self.name, old or "", new, reason)


class _Listener(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: Breaker) -> None:
        self.owner = owner

    def failure(self, cb: pybreaker.CircuitBreaker, exc: BaseException) -> None:
        self.owner._last_error.text = f"{type(exc).__name__}: {exc}"[:300]

    def state_change(self, cb: pybreaker.CircuitBreaker, old: Any, new: Any) -> None:
        self.owner.transition(old.name if old is not None else None, new.name)
