"""A real Prometheus (Debian's package) scrapes ``workbench api`` on loopback; the series are read back through its HTTP API."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.conftest import free_port
from tests.serving.conftest import Api, start_api

pytestmark = pytest.mark.slow
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


@pytest.fixture
def prometheus(tmp_path: Path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("Debian's prometheus package is not installed and `make prometheus` could not install it (no apt or no network)")
    procs = []

    def start(target: str) -> str:
        port = free_port()
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"scrape_configs:\n  - job_name: workbench\n    static_configs:\n      - targets: ['{target}']\n")
        log = (tmp_path / "prometheus.log").open("w")
        proc = subprocess.Popen([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        procs.append(proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def _query(base: str, promql: str, timeout: float = 45) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = httpx.get(base + "/api/v1/query", params={"query": promql}, timeout=5).json()["data"]["result"]
            if found:
                return found
        except (httpx.TransportError, KeyError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"Prometheus returned no series for {promql}")


def test_prometheus_scrapes_the_service_metrics(trained_demo: Path, api_factory: list[Api], prometheus) -> None:
    api = start_api(trained_demo)
    api_factory.append(api)
    batch = pd.read_parquet(trained_demo / "data/demo/batches/2026-01.parquet").head(50)
    records = json.loads(batch.drop(columns=["churned"]).to_json(orient="records", date_format="iso"))
    for record in records[:20]:
        assert api.post(record).status_code == 200
    assert api.post({"records": records[:30]}).status_code == 200
    assert api.post(content=b"not json").status_code == 400
    base = prometheus(api.url.removeprefix("http://"))
    up = _query(base, 'up{job="workbench"} == 1')
    assert up[0]["value"][1] == "1"
    predictions = _query(base, 'workbench_predictions_total{role="champion"}')
    assert float(predictions[0]["value"][1]) == 50 and predictions[0]["metric"]["version"] == "1"
    requests = {s["metric"]["status"]: float(s["value"][1]) for s in _query(base, 'workbench_requests_total{route="/predict"}')}
    assert requests == {"200": 21, "400": 1}
    assert _query(base, 'workbench_breaker_state{breaker="champion"}')[0]["value"][1] == "0"
    served = _query(base, "workbench_served_version")
    assert {(s["metric"]["role"], s["metric"]["version"]) for s in served} >= {("champion", "1"), ("baseline", "2")}
    latency = _query(base, 'histogram_quantile(0.99, sum by (le) (workbench_request_latency_seconds_bucket{role="champion"}))')
    assert 0 < float(latency[0]["value"][1]) < 5
