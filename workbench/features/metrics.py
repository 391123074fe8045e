"""Feature store metrics (prometheus-client), on the scoring service's registry or a batch run's.

==========================================  =========  ==============  =====================================================
name                                        type       labels          meaning
==========================================  =========  ==============  =====================================================
workbench_feature_load_time_seconds         histogram  view, store     time to read one view's features (store: sqlite,
                                                                       redis, offline)
workbench_feature_cache_requests_total      counter    view, result    entity lookups in the online store: hit, miss (unknown
                                                                       entity or never materialized), stale (older than the
                                                                       view's ttl), error (store unavailable)
workbench_feature_staleness_seconds         gauge      view            now - the newest event time the view holds
workbench_feature_stale                     gauge      view            1 when that staleness exceeds the view's ttl
==========================================  =========  ==============  =====================================================

Hit rate over 5 minutes, per view (PromQL)::

    sum by (view) (rate(workbench_feature_cache_requests_total{result="hit"}[5m]))
      / sum by (view) (rate(workbench_feature_cache_requests_total[5m]))
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from workbench._io import atomic_path

LOAD_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RESULTS = ("hit", "miss", "stale", "error")


class FeatureMetrics:
    """The feature metric objects on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        gauge_mode = {"multiprocess_mode": "mostrecent"} if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else {}
        self.load_time = Histogram("workbench_feature_load_time_seconds", "Time to read one feature view", ["view", "store"],
                                   buckets=LOAD_BUCKETS, registry=r)
        self.cache = Counter("workbench_feature_cache_requests_total", "Online feature lookups by result", ["view", "result"], registry=r)
        self.staleness = Gauge("workbench_feature_staleness_seconds", "Now minus the newest event time of the view", ["view"], registry=r, **gauge_mode)
        self.stale = Gauge("workbench_feature_stale", "1 when the view's staleness exceeds its ttl", ["view"], registry=r, **gauge_mode)

    def observe_status(self, status: dict) -> None:
        """Set the staleness gauges from :func:`workbench.features.store.status`."""
        for view, info in status.get("views", {}).items():
            if info.get("staleness_s") is not None:
                self.staleness.labels(view).set(info["staleness_s"])
                self.stale.labels(view).set(1 if info.get("stale") else 0)


def textfile_path(config) -> Path:  # noqa: ANN001  (Config; kept import-free)
    """``<store>/metrics/workbench_features_<project>.prom``, beside the score phase's textfile, for node-exporter."""
    return Path(config.store) / "metrics" / f"workbench_features_{config.project}.prom"


def write_batch(config, *, seconds: dict[str, float] | None = None, store: str = "offline", status: dict | None = None) -> Path:  # noqa: ANN001
    """Add batch feature loads (``seconds`` per view) to the textfile's totals and set the staleness gauges; rewrite it atomically.

    Batch reads (training sets, scored and monitored batches) go through the offline store; the
    histogram keeps every observation (a histogram has no merge), capped at the last 10,000 per view.
    """
    from filelock import FileLock
    from prometheus_client import write_to_textfile

    path = textfile_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    totals_path = path.with_suffix(".totals.json")
    with FileLock(str(path) + ".lock"):
        try:
            totals = json.loads(totals_path.read_text()) if totals_path.exists() else {}
        except ValueError:
            totals = {}
        loads = totals.setdefault("load_seconds", {})
        for view, s in (seconds or {}).items():
            key = f"{view}\t{store}"
            loads[key] = (loads.get(key, []) + [float(s)])[-10_000:]
        if status is not None:
            totals["status"] = {v: {"staleness_s": i.get("staleness_s"), "stale": bool(i.get("stale"))} for v, i in status.get("views", {}).items()}
        m = FeatureMetrics()
        for key, values in loads.items():
            view, kind = key.split("\t")
            for value in values:
                m.load_time.labels(view, kind).observe(value)
        m.observe_status({"views": totals.get("status", {})})
        with atomic_path(totals_path) as tmp:
            tmp.write_text(json.dumps(totals, sort_keys=True))
        with atomic_path(path) as tmp:
            write_to_textfile(str(tmp), m.registry)
    return path
