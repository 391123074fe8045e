"""``workbench api`` end to end with real processes: scoring, bad input, breaker and fallback, live alias moves, the prediction log."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import workbench
from tests.serving.conftest import Api, set_config, start_api
from workbench import registry
from workbench._io import sha256_file
from workbench.analyses import estimation
from workbench.config import load_config
from workbench.data.dataset import Schema
from workbench.governance import audit
from workbench.registry import confidence, estimators

pytestmark = pytest.mark.slow
BATCH = "data/demo/batches/{}.parquet"


def _records(project: Path, month: str, n: int | None = None) -> tuple[pd.DataFrame, list[dict]]:
    batch = pd.read_parquet(project / BATCH.format(month))
    batch = batch.head(n) if n else batch
    return batch, json.loads(batch.drop(columns=["churned"]).to_json(orient="records", date_format="iso"))


def _champion_file(project: Path) -> Path:
    config = load_config(project / "workbench.yaml")
    expected = registry.alias_version(config, "champion").tags["workbench.model_sha256"]
    return next(p for p in (config.store / "artifacts").rglob("model.skops") if sha256_file(p) == expected)


def test_scores_match_the_registered_model_and_say_who_served(trained_api_project: Path, api_factory: list[Api]) -> None:
    api = start_api(trained_api_project)
    api_factory.append(api)
    batch, records = _records(trained_api_project, "2026-02", 300)
    answer = api.post({"records": records})
    assert answer.status_code == 200, answer.text
    rows = answer.json()["predictions"]
    config = load_config(trained_api_project / "workbench.yaml")
    loaded = registry.load(config, "champion")
    expected = estimators.predict(loaded.model, batch, Schema.from_dict(loaded.schema), "binary")
    assert np.max(np.abs(np.array([r["score"] for r in rows]) - expected)) < 1e-12
    assert {(r["role"], r["model_version"], r["model_semver"]) for r in rows} == {("champion", "1", "1.0.0")}
    assert len({r["prediction_id"] for r in rows}) == 300
    assert all(r["label"] == int(r["score"] >= 0.5) for r in rows)
    # the calibrated probability of the predicted label, and the conformal set, from the version's own record
    record = confidence.record_of(loaded.tags)
    annotated = estimation.annotate(expected, record, task="binary", threshold=0.5)
    assert np.allclose([r["probability"] for r in rows], annotated["prob"]) and np.allclose([r["confidence"] for r in rows], annotated["confidence"])
    assert all(r["confidence"] == pytest.approx(r["probability"] if r["label"] else 1 - r["probability"]) for r in rows)
    assert [r["prediction_set"] for r in rows] == [[int(v) for v in s.split(",") if v] for s in annotated["set"]]
    assert {len(r["prediction_set"]) for r in rows} >= {1}
    single = api.post(records[0])  # one bare record is accepted too
    assert single.status_code == 200 and single.json()["predictions"][0]["score"] == pytest.approx(rows[0]["score"])
    spec = api.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    record = body["oneOf"][0]
    assert set(loaded.features) <= set(record["required"]) and record["additionalProperties"] is False
    assert "customer_id" in record["properties"] and "customer_id" not in record["required"]
    assert api.metric("workbench_predictions_total", version="1", role="champion") == 301
    assert api.metric("workbench_served_version", role="champion", version="1", semver="1.0.0") == 1
    assert api.get("/health").json()["status"] == "ok"


BAD = [
    ("empty body", b"", 400, "body"),
    ("not JSON", b"{tenure_months: 3", 400, "body"),
    ("no records", b"[]", 422, "records"),
    ("not an object", b"[1, 2]", 422, "records[0]"),
    ("wrong type", None, 422, "tenure_months"),
    ("missing field", None, 422, "monthly_charges"),
    ("extra field", None, 422, "favourite_colour"),
    ("NaN", None, 422, "total_charges"),
    ("Infinity", None, 422, "support_calls"),
    ("categorical as a list", None, 422, "contract"),
]


def _bad_body(name: str, record: dict) -> bytes:
    r = dict(record)
    if name == "wrong type":
        r["tenure_months"] = "twelve"
    elif name == "missing field":
        del r["monthly_charges"]
    elif name == "extra field":
        r["favourite_colour"] = "red"
    elif name == "categorical as a list":
        r["contract"] = ["monthly"]
    text = json.dumps(r)
    if name == "NaN":
        text = text.replace(f'"total_charges": {json.dumps(r["total_charges"])}', '"total_charges": NaN')
    if name == "Infinity":
        text = text.replace(f'"support_calls": {json.dumps(r["support_calls"])}', '"support_calls": Infinity')
    return text.encode()


def test_bad_requests_get_4xx_naming_the_field_and_the_service_stays_up(trained_api_project: Path, api_factory: list[Api]) -> None:
    api = start_api(trained_api_project)
    api_factory.append(api)
    _, records = _records(trained_api_project, "2026-01", 1)
    for name, body, status, field in BAD:
        answer = api.post(content=body if body is not None else _bad_body(name, records[0]))
        assert answer.status_code == status, (name, answer.text)
        assert field in {d["field"] for d in answer.json()["detail"]}, (name, answer.text)
    huge = api.post(content=b"[" + b" " * 10_000_000 + b"]")
    assert huge.status_code == 413 and "serving.max_body_bytes" in huge.text
    too_many = api.post(records * 1001)
    assert too_many.status_code == 413 and "serving.max_records" in too_many.text
    assert api.get("/predict").status_code == 405
    assert api.get("/health").status_code == 200 and api.post(records).status_code == 200
    assert api.get("/", headers={"host": "attacker.example"}).status_code == 400  # DNS rebinding: only loopback host names
    assert api.metric("workbench_requests_total", route="/predict", role="none", status="422") >= 7


def test_breaker_opens_on_a_broken_champion_serves_the_baseline_and_recovers(trained_api_project: Path, api_factory: list[Api],
                                                                             tmp_path: Path) -> None:
    set_config(trained_api_project, resilience={"fail_max": 3, "reset_timeout_s": 4, "success_threshold": 2})
    project, config = trained_api_project, load_config(trained_api_project / "workbench.yaml")
    api = start_api(project, "--reset-breakers")
    api_factory.append(api)
    _, records = _records(project, "2026-01", 5)
    assert {r["role"] for r in api.post(records).json()["predictions"]} == {"champion"}
    target = _champion_file(project)
    shutil.copy(target, tmp_path / "model.skops")
    try:
        target.write_bytes(target.read_bytes() + b"tampered")
        api.proc.send_signal(signal.SIGHUP)  # reload: the tampered file fails its hash check
        time.sleep(1.5)
        roles = [api.post(records).json()["predictions"] for _ in range(4)]
        assert all({r["role"] for r in rows} == {"baseline"} for rows in roles)
        assert "ModelIntegrityError" in roles[0][0]["fallback_reason"]  # the reload, then the first two requests, failed
        assert "circuit breaker opened" in roles[1][0]["fallback_reason"]
        assert api.metric("workbench_breaker_state", breaker="champion") == 1
        failed = api.metric("workbench_model_loads_total", role="champion", outcome="failed")
        assert failed == 3  # fail_max failures, then the champion is no longer touched
        assert "circuit breaker open" in roles[2][0]["fallback_reason"]
        for _ in range(5):
            rows = api.post(records).json()["predictions"]
            assert {r["role"] for r in rows} == {"baseline"} and "circuit breaker open" in rows[0]["fallback_reason"]
        assert api.metric("workbench_model_loads_total", role="champion", outcome="failed") == failed
        assert api.metric("workbench_fallbacks_total", reason="breaker_open") == 7 * 5  # all but the two calls that failed
    finally:
        shutil.copy(tmp_path / "model.skops", target)
    time.sleep(4.2)  # reset_timeout_s: the next call is a trial
    rows = api.post(records).json()["predictions"]
    assert {r["role"] for r in rows} == {"champion"}
    assert api.metric("workbench_breaker_state", breaker="champion") == 0
    moves = [(e["details"]["from"], e["details"]["to"]) for e in audit.read(config.store) if e["action"] == "breaker"]
    assert moves[-3:] == [("closed", "open"), ("open", "half-open"), ("half-open", "closed")]
    assert audit.verify(config.store).ok


def test_canary_and_live_alias_moves_drop_no_request(trained_api_project: Path, api_factory: list[Api]) -> None:
    project = trained_api_project
    second = workbench("run", cwd=project)  # registers v3 as challenger (pending approval)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    set_config(project, canary={"share": 0.3}, resilience={"fail_max": 5, "reset_timeout_s": 30, "success_threshold": 3})
    api = start_api(project, "--reset-breakers")
    api_factory.append(api)
    _, records = _records(project, "2026-03", 400)
    first = api.post(records).json()["predictions"]
    arms = {r["role"] for r in first}
    assert arms == {"champion", "challenger"} and 0.15 < sum(r["role"] == "challenger" for r in first) / 400 < 0.45
    again = api.post(records).json()["predictions"]
    assert [r["role"] for r in again] == [r["role"] for r in first]  # a customer always lands on the same arm
    assert api.metric("workbench_canary_predictions_total", arm="challenger") == 2 * sum(r["role"] == "challenger" for r in first)

    served, failures, stop = [], [], threading.Event()

    def load() -> None:
        while not stop.is_set():
            answer = api.post(records[:20])
            if answer.status_code != 200:
                failures.append(answer.text)
            else:
                served.append({r["model_version"] for r in answer.json()["predictions"] if r["role"] == "champion"})

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        approved = workbench("approve", "3", cwd=project)
        assert approved.returncode == 0, approved.stderr
        _wait_for(lambda: served and served[-1] == {"3"})
        rolled = workbench("rollback", "--reason", "load test", cwd=project)
        assert rolled.returncode == 0, rolled.stderr
        _wait_for(lambda: served and served[-1] == {"1"})
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == [] and len(served) > 20
    seen = [v for s in served for v in s]
    assert "3" in seen and seen[-1] == "1"
    switches = [e for e in audit.read(load_config(project / "workbench.yaml").store) if e["action"] == "api_switch"]
    assert len(switches) >= 2


def _wait_for(check, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the service to switch versions")


def test_the_prediction_log_monitors_like_the_batch_file(trained_api_project: Path, api_factory: list[Api]) -> None:
    project = trained_api_project
    set_config(project, canary={"share": 0.0})
    config = load_config(project / "workbench.yaml")
    shutil.rmtree(config.store / "predictions", ignore_errors=True)
    api = start_api(project)
    batch, records = _records(project, "2026-07")
    ids = []
    for start in range(0, len(records), 1000):
        answer = api.post(records[start:start + 1000])
        assert answer.status_code == 200
        ids += [r["prediction_id"] for r in answer.json()["predictions"]]
    api.stop()  # flushes the log
    labels = pd.DataFrame({"prediction_id": ids, "churned": batch["churned"].to_numpy()})
    labels.to_csv(project / "labels.csv", index=False)
    export = workbench("predictions", "export", "--labels", "labels.csv", "--out", "online.parquet", cwd=project)
    assert export.returncode == 0, export.stderr
    assert f"{len(batch)} predictions" in export.stdout and f"{len(batch)} labelled" in export.stdout
    folders = {}
    for name, path in (("online", "online.parquet"), ("batch", BATCH.format("2026-07"))):
        proc = workbench("monitor", "--batch", path, cwd=project, timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:]
        folders[name] = max((project / "reports").glob("*-monitor-*"), key=os.path.getmtime)
    for table in ("drift/columns.parquet", "drift/feature_drift.parquet", "fairness/groups.parquet", "fairness/disparity.parquet"):
        online, offline = (pd.read_parquet(folders[n] / table) for n in ("online", "batch"))
        assert len(online) >= 3, table
        pd.testing.assert_frame_equal(online, offline, check_exact=False, rtol=1e-12)
    for result in ("drift/data_drift.json", "drift/concept.json", "fairness/fairness.json"):
        online, offline = (_numbers(json.loads((folders[n] / result).read_text())) for n in ("online", "batch"))
        assert len(online) > 1 and online == offline, result


def _numbers(obj: object, path: str = "") -> dict[str, float]:
    """Every number in a result, by its JSON path (names, paths and times left out)."""
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k not in ("batch", "path", "sha256", "run_id", "started", "ended", "name", "created", "generated"):
                out.update(_numbers(v, f"{path}.{k}"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(_numbers(v, f"{path}[{i}]"))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[path] = round(float(obj), 12)
    return out


def test_worker_processes_share_metrics_and_breaker_state(trained_api_project: Path, api_factory: list[Api]) -> None:
    api = start_api(trained_api_project, "--workers", "2", "--reset-breakers")
    api_factory.append(api)
    _, records = _records(trained_api_project, "2026-01", 10)
    for _ in range(20):
        assert api.post(records).status_code == 200
    assert api.metric("workbench_predictions_total", version="1", role="champion") == 200  # summed over both workers
    pids = {line.split('pid="')[1].split('"')[0] for line in api.get("/metrics").text.splitlines()
            if line.startswith("workbench_served_version{")}
    assert len(pids) == 2


def test_a_request_checked_against_a_swapped_out_schema_is_refused_not_imputed(trained_api_project: Path) -> None:
    from workbench.serving import app, requests

    config = load_config(trained_api_project / "workbench.yaml")
    service = app.Service(config)
    service.source.refresh()
    current = service.request_schema()
    loaded = registry.load(config, "champion")
    narrower = Schema.from_dict(loaded.schema | {"features": loaded.features[:-1]})
    service._schemas["999"] = requests.build(narrower, "999")  # as if v999 served when this request was validated
    _, records = _records(trained_api_project, "2026-01", 4)
    old = service._schemas["999"].parse(json.dumps([{k: v for k, v in r.items() if k != loaded.features[-1]} for r in records[:2]]).encode(),
                                        max_records=10)
    old[0][app._VERSION_KEY] = "999"
    fresh = current.parse(json.dumps(records[2:]).encode(), max_records=10)
    fresh[0][app._VERSION_KEY] = current.version
    answers = service.score([old, fresh])
    assert answers[0][0] == 409 and "send it again" in answers[0][1]["detail"][0]["msg"]
    assert answers[1][0] == 200 and len(answers[1][1]["predictions"]) == 2
