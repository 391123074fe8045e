"""Retries and circuit breakers: transient errors only, bounded tries, shared breaker state, one audit event per transition."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from redis import exceptions as redis_errors

from workbench.config import Config
from workbench.exceptions import DataError, FeatureStoreError, ModelIntegrityError
from workbench.governance import audit
from workbench.serving import resilience


def _config(tmp_path: Path, **policy: float) -> Config:
    return Config(project="p", store=tmp_path / "store", data={"reference": str(tmp_path / "r.parquet"), "target": "y"},
                  resilience={"attempts": 3, "max_wait_s": 0.01, "total_s": 5, "fail_max": 3, "reset_timeout_s": 0.3,
                              "success_threshold": 2, **policy})


@pytest.mark.parametrize(("exc", "transient"), [
    (OSError("network disk gone"), True),
    (TimeoutError(), True),
    (ConnectionRefusedError(), True),
    (sqlite3.OperationalError("database is locked"), True),
    (sqlite3.OperationalError("no such table: runs"), False),
    (FileNotFoundError("model.skops"), False),
    (ModelIntegrityError("hash differs"), False),
    (ValueError("bad"), False),
    (redis_errors.ConnectionError("Connection closed by server."), True),  # redis-py's classes are not the builtins
    (redis_errors.TimeoutError("Timeout reading from socket"), True),
    (redis_errors.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), False),
    (FeatureStoreError("online feature store (redis) failed"), False),
])
def test_only_transient_errors_are_retried(exc: BaseException, transient: bool) -> None:
    assert resilience.is_transient(exc) is transient


def test_a_transient_error_in_the_cause_chain_counts() -> None:
    try:
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.OperationalError as inner:
            raise RuntimeError("mlflow wrapped it") from inner
    except RuntimeError as outer:
        assert resilience.is_transient(outer)


def test_a_feature_store_error_caused_by_a_redis_connection_error_is_transient() -> None:
    try:
        try:
            raise redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        except redis_errors.ConnectionError as inner:
            raise FeatureStoreError("online feature store (redis) failed reading view 'profile'") from inner
    except FeatureStoreError as outer:
        assert resilience.is_transient(outer)


def test_retry_tries_again_on_transient_errors_then_succeeds(tmp_path: Path) -> None:
    policy = _config(tmp_path).resilience
    calls, retried = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("blip")
        return "ok"

    assert resilience.retry(policy, "load", flaky, on_retry=retried.append) == "ok"
    assert len(calls) == 3 and retried == ["load", "load"]


def test_retry_gives_up_after_attempts_and_reraises_the_last_error(tmp_path: Path) -> None:
    policy = _config(tmp_path).resilience
    calls = []

    def down() -> None:
        calls.append(1)
        raise OSError(f"down {len(calls)}")

    with pytest.raises(OSError, match="down 3"):
        resilience.retry(policy, "load", down)
    assert len(calls) == 3


def test_retry_never_repeats_a_permanent_error(tmp_path: Path) -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise ModelIntegrityError("tampered")

    with pytest.raises(ModelIntegrityError):
        resilience.retry(_config(tmp_path).resilience, "load", broken)
    assert calls == [1]


def test_retry_stops_at_the_total_time(tmp_path: Path) -> None:
    policy = _config(tmp_path, attempts=20, max_wait_s=0.2, total_s=0.3).resilience
    calls = []
    started = time.monotonic()

    def down() -> None:
        calls.append(1)
        raise TimeoutError

    with pytest.raises(TimeoutError):
        resilience.retry(policy, "load", down)
    assert time.monotonic() - started < 1.0 and len(calls) < 20


def _fail() -> None:
    raise OSError("champion down")


def test_breaker_opens_after_fail_max_and_stops_calling(tmp_path: Path) -> None:
    breaker = resilience.Breaker(_config(tmp_path), "champion")
    for _ in range(2):
        with pytest.raises(OSError):
            breaker.call(_fail)
    with pytest.raises(resilience.CircuitBreakerError):  # the third failure trips it
        breaker.call(_fail)
    assert breaker.state == "open"
    calls = []
    with pytest.raises(resilience.CircuitBreakerError):
        breaker.call(calls.append, 1)
    assert calls == []  # an open breaker does not touch the resource


def test_half_open_needs_success_threshold_successes(tmp_path: Path) -> None:
    config = _config(tmp_path)
    breaker = resilience.Breaker(config, "champion")
    for _ in range(3):
        with pytest.raises((OSError, resilience.CircuitBreakerError)):
            breaker.call(_fail)
    time.sleep(0.35)
    assert breaker.state == "half-open"
    assert breaker.call(lambda: 1) == 1
    assert breaker.storage.state == "half-open"  # one success is not enough (success_threshold 2)
    assert breaker.call(lambda: 2) == 2
    assert breaker.storage.state == "closed"
    moves = [(e["details"]["from"], e["details"]["to"]) for e in audit.read(config.store) if e["action"] == "breaker"]
    assert moves == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    assert "champion down" in next(e for e in audit.read(config.store) if e["action"] == "breaker")["details"]["reason"]


def test_a_failure_in_half_open_opens_again(tmp_path: Path) -> None:
    breaker = resilience.Breaker(_config(tmp_path), "champion")
    for _ in range(3):
        with pytest.raises((OSError, resilience.CircuitBreakerError)):
            breaker.call(_fail)
    time.sleep(0.35)
    with pytest.raises(resilience.CircuitBreakerError):
        breaker.call(_fail)
    assert breaker.storage.state == "open"


def test_input_errors_never_count(tmp_path: Path) -> None:
    breaker = resilience.Breaker(_config(tmp_path), "champion")

    def bad_input() -> None:
        raise DataError("batch lacks column x")

    for _ in range(10):
        with pytest.raises(DataError):
            breaker.call(bad_input)
    assert breaker.state == "closed" and breaker.storage.counter == 0


def test_two_processes_share_one_state_and_audit_each_transition_once(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = resilience.Breaker(config, "champion")
    _in_two_processes(_fail_n, config, 2)
    assert first.state == "open"  # 4 failures in two other processes opened it for this one too
    assert sum(e["action"] == "breaker" for e in audit.read(config.store)) == 1
    with pytest.raises(resilience.CircuitBreakerError):
        first.call(lambda: 1)
    assert sum(e["action"] == "breaker" for e in audit.read(config.store)) == 1  # noticing it is not a new transition


def _in_two_processes(target, *args: object) -> None:
    workers = [multiprocessing.get_context("fork").Process(target=target, args=args) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert [w.exitcode for w in workers] == [0, 0]


def _fail_n(config: Config, n: int) -> None:
    breaker = resilience.Breaker(config, "champion")
    for _ in range(n):
        try:
            breaker.call(_fail)
        except (OSError, resilience.CircuitBreakerError):
            pass


def test_counter_increments_are_not_lost_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "b.state"
    _in_two_processes(_increment, path, 500)
    assert resilience.SharedStorage(path, "b").counter == 1000


def _increment(path: Path, n: int) -> None:
    storage = resilience.SharedStorage(path, "b")
    for _ in range(n):
        storage.increment_counter()


def test_a_slow_call_does_not_block_another_threads_decision(tmp_path: Path) -> None:
    breaker = resilience.Breaker(_config(tmp_path), "champion")
    release = threading.Event()
    slow = threading.Thread(target=breaker.call, args=(release.wait, 5))
    slow.start()
    time.sleep(0.05)
    started = time.monotonic()
    assert breaker.call(lambda: "fast") == "fast"
    assert time.monotonic() - started < 0.5  # pybreaker locks per breaker object: each thread has its own
    release.set()
    slow.join()
