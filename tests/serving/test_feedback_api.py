"""Feedback on online predictions: the prediction log indexes what it writes, and ``POST /feedback`` on a real service."""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.serving.conftest import Api, start_api
from workbench.config import Config, load_config
from workbench.governance import audit, feedback
from workbench.serving import predlog

BATCH = "data/demo/batches/{}.parquet"


def _config(tmp_path: Path) -> Config:
    return Config(project="p", store=tmp_path / "store", data={"reference": str(tmp_path / "r.parquet"), "target": "churned",
                                                                "id": "customer_id"})


def _entry(i: int, n: int = 3) -> dict:
    return {"predicted_at": "2026-11-27T10:00:00.000+00:00", "prediction_id": [f"p{i}-{k}" for k in range(n)], "score": [0.2, 0.5, 0.9][:n],
            "model_version": ["4"] * n, "record": [{"customer_id": 100 * i + k, "tenure_months": k} for k in range(n)]}


def _indexed(config: Config) -> list[tuple]:
    with sqlite3.connect(feedback.db_path(config)) as conn:
        return conn.execute("SELECT prediction_id, source, batch, model_version, entity_id, score, predicted_at FROM predictions "
                            "ORDER BY prediction_id").fetchall()


def test_the_prediction_log_indexes_what_it_writes(tmp_path: Path) -> None:
    config = _config(tmp_path)
    log = predlog.PredictionLog(config, flush_s=0.01)
    log.start()
    for i in range(20):
        log.append(_entry(i))
    log.close()
    rows = _indexed(config)
    assert log.written == 20 and log.indexed == 60 and log.index_failed == 0 and len(rows) == 60
    assert rows[0] == ("p0-0", "online", "online-2026-11-27", "4", "0", 0.2, "2026-11-27T10:00:00.000000+00:00")
    assert feedback.record(config, {"prediction_id": "p7-2", "label": 1}, actor="api")["stored"] == 1


def test_a_locked_feedback_store_never_holds_up_or_loses_a_log_line(tmp_path: Path) -> None:
    config = _config(tmp_path)
    feedback.connect(config).close()
    blocker = sqlite3.connect(feedback.db_path(config), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process's long import holds the write lock
    log = predlog.PredictionLog(config)
    log.append(_entry(1))
    started = time.monotonic()
    log.flush()
    assert time.monotonic() - started < predlog.INDEX_WAIT_S + 2
    day = next(predlog.log_dir(config).glob("*.jsonl"))
    assert log.written == 1 and json.loads(day.read_text())["prediction_id"] == ["p1-0", "p1-1", "p1-2"]
    assert log.indexed == 0 and log.index_error == "OperationalError: database is locked" and log.index_failed == 0
    blocker.execute("ROLLBACK")
    blocker.close()
    log.append(_entry(2))
    log.flush()  # the passes that failed are indexed with the next flush
    assert log.indexed == 6 and len(_indexed(config)) == 6


def test_passes_beyond_the_retry_limit_are_dropped_and_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path)
    monkeypatch.setattr(predlog, "MAX_PENDING", 2)
    feedback.db_path(config).mkdir(parents=True)  # a folder where the database should be: every index attempt fails
    log = predlog.PredictionLog(config)
    for i in range(5):
        log.append(_entry(i))
        log.flush()
    assert log.written == 5 and log.index_failed == 3 and log.index_error.startswith("OperationalError: unable to open database file")
    feedback.db_path(config).rmdir()
    log.flush()
    assert [r[0] for r in _indexed(config)] == [f"p{i}-{k}" for i in (3, 4) for k in range(3)]


def _records(project: Path, n: int) -> list[dict]:
    batch = pd.read_parquet(project / BATCH.format("2026-02")).head(n)
    return json.loads(batch.drop(columns=["churned"]).to_json(orient="records", date_format="iso"))


def _send(api: Api, body: object, **kw: object) -> httpx.Response:
    return httpx.post(api.url + "/feedback", json=body, timeout=30, **kw)


def _stored(project: Path) -> int:
    with sqlite3.connect(feedback.db_path(load_config(project / "workbench.yaml"))) as conn:
        return conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]


@pytest.mark.slow
def test_feedback_on_predictions_just_served_is_stored_and_bad_feedback_is_refused_whole(trained_demo: Path,
                                                                                        api_factory: list[Api]) -> None:
    api = start_api(trained_demo)
    api_factory.append(api)
    records = _records(trained_demo, 50)
    served = api.post({"records": records}).json()["predictions"]
    ids = [p["prediction_id"] for p in served]
    answer = _send(api, {"feedback": [{"prediction_id": pid, "label": i % 2, "given_by": "crm"} for i, pid in enumerate(ids[:40])]})
    assert answer.status_code == 200 and answer.json() == {"stored": 40}
    config = load_config(trained_demo / "workbench.yaml")
    labels = feedback.labels_for(config, prediction_ids=ids)
    assert len(labels) == 40 and set(labels["given_by"]) == {"crm"} and labels["batch"].str.startswith("online-").all()
    by_id = dict(zip(ids, (str(r["customer_id"]) for r in records), strict=True))
    assert labels.set_index("prediction_id")["entity_id"].to_dict() == {pid: by_id[pid] for pid in labels["prediction_id"]}
    assert _send(api, {"prediction_id": ids[40], "rating": 2}).json() == {"stored": 1}  # one bare item, a rating, default given_by
    before = _stored(trained_demo)
    bad = _send(api, [{"prediction_id": ids[41], "label": 1}, {"prediction_id": "nope", "label": 0}, {"prediction_id": ids[0], "label": 1,
                                                                                                     "given_by": "crm"},
                      {"prediction_id": ids[42], "label": "maybe"}])
    assert bad.status_code == 422
    assert bad.json()["detail"] == [
        {"item": 1, "field": "prediction_id", "msg": "'nope' is not a known prediction. Fix: use an id the service returned or the score "
                                                     "phase indexed (a typo, or a batch not scored yet)"},
        {"item": 2, "field": "prediction_id", "msg": f"label by 'crm' on prediction '{ids[0]}' is already stored. Fix: drop the row "
                                                     "(feedback is append-only: a second opinion comes from another given_by)"},
        {"item": 3, "field": "label", "msg": "'maybe' is not a binary label. Fix: write 0 or 1 (or false/true)"}]
    assert _stored(trained_demo) == before  # item 0 was fine, and was not stored either
    assert _send(api, []).json()["detail"][0]["msg"] == 'no feedback items. Fix: send one item, a list of items or {"feedback": [...]}'
    not_json = httpx.post(api.url + "/feedback", content=b"{label: 1", headers={"content-type": "application/json"}, timeout=30)
    assert not_json.status_code == 400 and not_json.json()["detail"][0]["field"] == "body"
    assert api.metric("workbench_requests_total", route="/feedback", role="none", status="422") == 2
    events = [e for e in audit.read(config.store) if e["action"] == "feedback"]
    assert [(e["subject"], e["details"]["stored"]) for e in events[-2:]] == [("api", 40), ("api", 1)]
    log = api.get("/version").json()["prediction_log"]
    assert log["indexed"] >= 50 and log["index_failed"] == 0


@pytest.mark.slow
def test_every_worker_accepts_feedback_on_what_any_worker_served_behind_the_token(trained_demo: Path, api_factory: list[Api]) -> None:
    api = start_api(trained_demo, "--workers", "2", "--token", "s3cret")
    api_factory.append(api)
    auth = {"authorization": "Bearer s3cret"}
    records = _records(trained_demo, 30)
    with ThreadPoolExecutor(6) as pool:
        served = list(pool.map(lambda r: api.post(r, headers=auth).json()["predictions"][0]["prediction_id"], records))
        answers = list(pool.map(lambda pid: _send(api, {"prediction_id": pid, "label": 1}, headers=auth), served))
    assert [a.status_code for a in answers] == [200] * 30, [a.text for a in answers if a.status_code != 200]
    refused = _send(api, {"prediction_id": served[0], "label": 0})
    assert refused.status_code == 401 and refused.json()["detail"].startswith("missing or wrong token")
    stranger = _send(api, {"prediction_id": served[0], "label": 0}, headers={**auth, "host": "evil.example"})
    assert stranger.status_code == 400
    config = load_config(trained_demo / "workbench.yaml")
    assert len(feedback.labels_for(config, prediction_ids=served)) == 30
    assert feedback.labels_for(config, prediction_ids=served)["batch"].str.fullmatch(r"online-\d{4}-\d{2}-\d{2}").all()
