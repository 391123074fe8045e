"""Prometheus metrics (prometheus-client): the service's ``/metrics`` and the batch phases' textfile.

The same names serve both, so one dashboard covers online and batch scoring:

=====================================  =========  ===========================  =================================================
name                                   type       labels                       meaning
=====================================  =========  ===========================  =================================================
workbench_requests_total               counter    route, role, status          HTTP requests (role: the model that served it)
workbench_request_latency_seconds      histogram  route, role                  time from request to response
workbench_predictions_total            counter    version, role                predictions made (one per record)
workbench_fallbacks_total              counter    reason                       predictions served by the baseline, by cause
workbench_canary_predictions_total     counter    arm                          predictions per canary arm
workbench_breaker_state                gauge      breaker                      0 closed, 1 open, 2 half-open
workbench_retries_total                counter    operation                    retries after a transient error
workbench_model_load_seconds           histogram  role                         time to load and hash-check a version
workbench_model_loads_total            counter    role, outcome                loads by outcome (ok, failed, skipped_open)
workbench_served_version               gauge      role, version, semver        1 for each version being served
=====================================  =========  ===========================  =================================================

With a ``features:`` section the service's registry also carries the feature store's metrics
(``workbench_feature_*``, :mod:`workbench.features.metrics`); ``workbench_breaker_state`` then covers the
breakers ``features-online`` and ``features-offline`` too, and ``workbench_fallbacks_total{reason="features_unavailable"}``
counts the rows the baseline scored because no feature store answered (:mod:`workbench.serving.features`).

With several worker processes the service uses prometheus-client's multiprocess mode (the
``PROMETHEUS_MULTIPROC_DIR`` folder ``workbench api`` sets up), so ``/metrics`` sums every worker.
The batch score phase writes the same names to ``<store>/metrics/workbench_<project>.prom`` for
node-exporter's textfile collector; its counters add up across batches.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from workbench._io import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LOAD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BREAKER_CODES = {"closed": 0, "open": 1, "half-open": 2}


class Metrics:
    """The metric objects on one registry (the service's, or a batch run's)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        multi = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        gauge_mode = {"multiprocess_mode": "mostrecent"} if multi else {}
        self.requests = Counter("workbench_requests_total", "HTTP requests", ["route", "role", "status"], registry=r)
        self.latency = Histogram("workbench_request_latency_seconds", "Request latency", ["route", "role"], buckets=LATENCY_BUCKETS, registry=r)
        self.predictions = Counter("workbench_predictions_total", "Predictions made", ["version", "role"], registry=r)
        self.fallbacks = Counter("workbench_fallbacks_total", "Predictions served by the baseline", ["reason"], registry=r)
        self.canary = Counter("workbench_canary_predictions_total", "Predictions per canary arm", ["arm"], registry=r)
        self.breaker = Gauge("workbench_breaker_state", "Circuit breaker: 0 closed, 1 open, 2 half-open", ["breaker"], registry=r, **gauge_mode)
        self.retries = Counter("workbench_retries_total", "Retries after a transient error", ["operation"], registry=r)
        self.load_time = Histogram("workbench_model_load_seconds", "Model load and hash check", ["role"], buckets=LOAD_BUCKETS, registry=r)
        self.loads = Counter("workbench_model_loads_total", "Model loads by outcome", ["role", "outcome"], registry=r)
        self.served = Gauge("workbench_served_version", "1 for each version served", ["role", "version", "semver"], registry=r,
                            **({"multiprocess_mode": "liveall"} if multi else {}))
        self._served: dict[str, tuple[str, str]] = {}

    def retry(self, operation: str) -> None:
        """tenacity's ``before_sleep`` hook: count one retry."""
        self.retries.labels(operation).inc()

    def serving(self, role: str, version: str | None, semver: str | None) -> None:
        """Say which version serves ``role`` now (None: none)."""
        old = self._served.pop(role, None)
        if old is not None:
            self.served.labels(role, *old).set(0)  # remove() is a no-op in multiprocess mode: 0 first
            self.served.remove(role, *old)
        if version is not None:
            self._served[role] = (str(version), semver or "")
            self.served.labels(role, str(version), semver or "").set(1)

    def breaker_state(self, name: str, state: str) -> None:
        """Export a breaker's state."""
        self.breaker.labels(name).set(BREAKER_CODES.get(state, 0))


def fallback_reason(reason: str) -> str:
    """A low-cardinality label for a fallback's reason (the full text goes to the prediction and the log)."""
    text = reason.lower()
    if text.startswith("features unavailable"):  # neither feature store answered (workbench.serving.features, rule 4)
        return "features_unavailable"
    if "modelintegrityerror" in text:
        return "champion_integrity"
    if "no version with alias" in text or "not registered" in text:
        return "champion_missing"
    if "circuit breaker open" in text:  # skipped without a call (the call that trips it is labelled by its cause)
        return "breaker_open"
    return "champion_error"


def textfile_path(config: Config) -> Path:
    """Where batch phases write their metrics for node-exporter."""
    return config.store / "metrics" / f"workbench_{config.project}.prom"


def write_batch(config: Config, counts: dict[str, Any]) -> Path:
    """Add one scored batch's counts to the textfile's totals and rewrite it (atomically, under a lock).

    ``counts``: ``predictions`` {(version, role): n}, ``fallbacks`` {reason: n}, ``canary`` {arm: n},
    ``retries`` {operation: n}, ``load_seconds`` {role: [s…]}, ``loads`` {(role, outcome): n},
    ``served`` {role: (version, semver)}, ``breakers`` {name: state}.
    """
    from filelock import FileLock
    from prometheus_client import write_to_textfile

    path = textfile_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    totals_path = path.with_suffix(".totals.json")
    with FileLock(str(path) + ".lock"):
        totals = json.loads(totals_path.read_text()) if totals_path.exists() else {}
        for kind in ("predictions", "fallbacks", "canary", "retries", "loads"):
            bucket = totals.setdefault(kind, {})
            for key, n in counts.get(kind, {}).items():
                label = "\t".join(key) if isinstance(key, tuple) else key
                bucket[label] = bucket.get(label, 0) + n
        m = Metrics()
        for label, n in totals.get("predictions", {}).items():
            m.predictions.labels(*label.split("\t")).inc(n)
        for label, n in totals.get("fallbacks", {}).items():
            m.fallbacks.labels(label).inc(n)
        for label, n in totals.get("canary", {}).items():
            m.canary.labels(label).inc(n)
        for label, n in totals.get("retries", {}).items():
            m.retries.labels(label).inc(n)
        for label, n in totals.get("loads", {}).items():
            m.loads.labels(*label.split("\t")).inc(n)
        loads = totals.setdefault("load_seconds", {})
        for role, seconds in counts.get("load_seconds", {}).items():
            loads[role] = (loads.get(role, []) + list(seconds))[-10_000:]  # a histogram has no merge: keep the observations
        for role, seconds in loads.items():
            for value in seconds:
                m.load_time.labels(role).observe(value)
        for role, (version, semver) in counts.get("served", {}).items():
            m.serving(role, version, semver)
        for name, state in counts.get("breakers", {}).items():
            m.breaker_state(name, state)
        with atomic_path(totals_path) as tmp:
            tmp.write_text(json.dumps(totals, sort_keys=True))
        with atomic_path(path) as tmp:
            write_to_textfile(str(tmp), m.registry)
    return path
