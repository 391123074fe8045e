"""``workbench api`` with a feature store: id-only requests, the fallback rule (online, offline, baseline), Redis killed and back.

One small synthetic project per module (event times in the last weeks, so TTLs and staleness are real),
trained with ``workbench run`` and materialized with ``workbench features materialize``; real services,
a real redis-server, a real sqlite MLflow store.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import RedisServer, demo_config, workbench
from tests.serving.conftest import Api, set_config, start_api
from workbench.config import load_config
from workbench.governance import audit
from workbench.serving import predlog

pytestmark = pytest.mark.slow
N = 1500  # customers in the reference and the batch
UNKNOWN, STALE = "C9999999", "C0009001"  # an id no view holds; one whose only values are older than the ttl
VIEWS = {"profile": {"contract": "string", "tenure_months": "int64"}, "usage": {"monthly_charges": "float64", "support_calls": "int64"}}
FIELDS = [f for fields in VIEWS.values() for f in fields]
SMALL_POLICY = {"attempts": 1, "fail_max": 2, "reset_timeout_s": 1, "success_threshold": 1}


def _features(online: str = "sqlite") -> dict:
    return {"entity": {"name": "customer", "key": "customer_id"}, "online": online,
            "views": {name: {"source": f"data/{name}.parquet", "ttl": "30d", "version": "1.0", "fields": fields} for name, fields in VIEWS.items()}}


def _write_project(project: Path) -> None:
    """Entity files (id, time, label) and two view sources; a third of the customers also have an older, superseded row."""
    rng = np.random.default_rng(7)
    now = pd.Timestamp.now(tz="UTC").floor("s")
    ids = [f"C{i:07d}" for i in range(1, N + 1)]
    event = (now - pd.to_timedelta(rng.uniform(3, 25, N), unit="D")).floor("s")
    contract = rng.choice(["monthly", "one_year", "two_year"], N, p=[0.5, 0.3, 0.2])
    tenure, charges, calls = rng.integers(1, 72, N), np.round(rng.uniform(20, 120, N), 2), rng.poisson(1.5, N)
    logit = -2.0 + 3.0 * ((contract == "monthly") & (tenure < 18)) + 2.5 * (calls >= 3) * (charges > 70) - 1.5 * (contract == "two_year")
    churned = (rng.random(N) < 1 / (1 + np.exp(-logit))).astype(int)
    data = project / "data"
    (data / "batches").mkdir(parents=True)
    entities = pd.DataFrame({"customer_id": ids, "snapshot_date": (event + pd.Timedelta(days=1)).tz_localize(None), "churned": churned})
    entities.iloc[:-200].to_parquet(data / "reference.parquet", index=False)
    entities.iloc[-200:].to_parquet(data / "batches" / "batch-01.parquet", index=False)
    old = np.arange(0, N, 3)
    columns = {"profile": {"contract": contract, "tenure_months": tenure}, "usage": {"monthly_charges": charges, "support_calls": calls}}
    for name, values in columns.items():
        current = pd.DataFrame({"customer_id": ids, "event_timestamp": event, **values})
        superseded = current.iloc[old].assign(event_timestamp=event[old] - pd.Timedelta(days=2))
        superseded[list(values)[0]] = superseded[list(values)[0]].iloc[::-1].to_numpy()  # other values: only the newest may be served
        stale = current.iloc[:1].assign(customer_id=STALE, event_timestamp=now - pd.Timedelta(days=40))
        pd.concat([current, superseded, stale], ignore_index=True).to_parquet(data / f"{name}.parquet", index=False)
    config = demo_config() | {
        "project": "feature-api", "demo": False, "kpis": [], "serving": {"alias_poll_s": 0.5},
        "data": {"reference": "data/reference.parquet", "batches": "data/batches", "target": "churned", "id": "customer_id",
                 "timestamp": "snapshot_date", "sensitive": []},
        "features": _features()}
    (project / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture(scope="module")
def feature_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained once (champion v1, baseline v2) on features joined from the store, then materialized into sqlite."""
    project = tmp_path_factory.mktemp("feature-api")
    _write_project(project)
    run = workbench("run", cwd=project)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    done = workbench("features", "materialize", cwd=project)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return project


def _latest(project: Path, ids: list[str]) -> list[dict]:
    """Full records: each id's newest values in the view sources (what the point-in-time join gives as of now)."""
    out = pd.DataFrame({"customer_id": ids})
    for name in VIEWS:
        source = pd.read_parquet(project / "data" / f"{name}.parquet").sort_values("event_timestamp")
        out = out.merge(source.drop_duplicates("customer_id", keep="last").drop(columns="event_timestamp"), on="customer_id", how="left")
    return json.loads(out.to_json(orient="records"))


def _scores(answer: object) -> list[float]:
    return [p["score"] for p in answer.json()["predictions"]]


def _sources(answer: object) -> list[str]:
    return [p["feature_source"] for p in answer.json()["predictions"]]


def test_an_id_only_request_is_scored_with_online_features_like_the_full_record(feature_project: Path, api_factory: list[Api]) -> None:
    project = feature_project
    api = start_api(project, "--reset-breakers")
    api_factory.append(api)
    ids = [f"C{i:07d}" for i in range(1, 41)]
    full = _latest(project, ids)
    by_id = api.post({"records": [{"customer_id": i} for i in ids]})
    assert by_id.status_code == 200, by_id.text
    assert set(_sources(by_id)) == {"online"} and {p["role"] for p in by_id.json()["predictions"]} == {"champion"}
    sent = api.post({"records": full})
    assert set(_sources(sent)) == {"request"}
    assert np.max(np.abs(np.array(_scores(by_id)) - np.array(_scores(sent)))) < 1e-12
    assert len(set(np.round(_scores(sent), 6))) > 5  # the features matter: not one constant score

    # step 1: fields sent are used as given (a null too); the rest come from the store
    mixed = api.post([{"customer_id": ids[0], "contract": "two_year"}, {k: v for k, v in full[1].items() if k != "customer_id"},
                      {"customer_id": ids[2], "monthly_charges": None}])
    expected = api.post([full[0] | {"contract": "two_year"}, full[1], full[2] | {"monthly_charges": None}])
    assert _sources(mixed) == ["online", "request", "online"]
    assert _scores(mixed) == pytest.approx(_scores(expected), abs=1e-12)

    # step 5 and the schema: an id no store holds, a record with neither id nor features, a wrong type sent
    unknown = api.post([{"customer_id": ids[0]}, {"customer_id": UNKNOWN}])
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == [{"record": 1, "field": "customer_id", "msg": f"no features for customer_id '{UNKNOWN}' in the feature store; "
                                         "send the features in the record or materialize the view (`workbench features materialize`)"}]
    stale = api.post({"customer_id": STALE})  # online: stale (older than the ttl); offline as of now: nothing within the ttl
    assert stale.status_code == 422 and STALE in stale.json()["detail"][0]["msg"]
    empty = api.post({"records": [{}]})
    assert empty.status_code == 422
    assert empty.json()["detail"] == [{"record": 0, "field": "customer_id", "type": "missing",
                                       "msg": "missing: the record lacks contract, tenure_months, monthly_charges, support_calls (feature store "
                                              "fields) and has no 'customer_id' to read them by. Fix: send 'customer_id', or send those features "
                                              "in the record"}]
    wrong = api.post({"customer_id": ids[0], "tenure_months": "ten"})
    assert wrong.status_code == 422 and [d["field"] for d in wrong.json()["detail"]] == ["tenure_months"]

    record = api.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert not set(FIELDS) & set(record.get("required", [])) and set(FIELDS) <= set(record["properties"])
    assert record["anyOf"] == [{"required": ["customer_id"]}, {"required": FIELDS}] and record["additionalProperties"] is False
    ready = api.get("/ready").json()
    assert ready["features"]["open"] is True and ready["features"]["online"] == "sqlite"

    assert api.metric("workbench_feature_cache_requests_total", view="profile", result="hit") >= 43
    assert api.metric("workbench_feature_cache_requests_total", view="usage", result="miss") >= 1  # the unknown id
    assert api.metric("workbench_feature_cache_requests_total", view="profile", result="stale") >= 1
    assert api.metric("workbench_feature_load_time_seconds_count", view="profile", store="sqlite") >= 4
    assert api.metric("workbench_feature_load_time_seconds_count", view="usage", store="offline") >= 2  # the unknown and the stale id
    # the view's newest event (3+ days old), set from the store's status: not the 40-day-old customer looked up last
    assert 3 * 86400 <= api.metric("workbench_feature_staleness_seconds", view="usage") <= 4 * 86400
    assert api.metric("workbench_feature_stale", view="usage") == 0

    api.stop()  # flushes the prediction log
    export = workbench("predictions", "export", "--out", "online.parquet", cwd=project)
    assert export.returncode == 0, export.stderr
    logged = pd.read_parquet(project / "online.parquet")
    by_source = logged.groupby("feature_source").size().to_dict()
    assert by_source["online"] == 42 and by_source["request"] == 44  # refused requests are not logged
    first = logged[logged["feature_source"] == "online"].drop_duplicates("customer_id").set_index("customer_id")
    assert first.loc[ids[5], FIELDS].to_dict() == {k: v for k, v in full[5].items() if k in FIELDS}  # the features it was scored with


def test_redis_down_serves_offline_features_then_the_baseline_and_recovers(feature_project: Path, api_factory: list[Api],
                                                                          redis_server: RedisServer, tmp_path: Path) -> None:
    project = feature_project
    set_config(project, features=_features(redis_server.url), resilience=SMALL_POLICY)
    done = workbench("features", "materialize", cwd=project)
    assert done.returncode == 0 and "redis" in done.stdout, done.stdout + done.stderr
    api = start_api(project, "--reset-breakers")
    api_factory.append(api)
    ids = [f"C{i:07d}" for i in range(100, 120)]
    body = {"records": [{"customer_id": i} for i in ids]}
    online = api.post(body)
    assert set(_sources(online)) == {"online"}

    redis_server.stop(kill=True)
    for _ in range(3):  # steps 2-3: every request answered from the offline store, same scores; the breaker opens after fail_max
        answer = api.post(body)
        assert answer.status_code == 200 and set(_sources(answer)) == {"offline"}
        assert _scores(answer) == pytest.approx(_scores(online), abs=1e-12)
        assert {p["role"] for p in answer.json()["predictions"]} == {"champion"}
    assert api.metric("workbench_breaker_state", breaker="features-online") == 1
    assert api.get("/ready").json()["features"]["breakers"]["features-online"] == "open"
    assert api.metric("workbench_feature_cache_requests_total", view="profile", result="error") >= 2 * len(ids)

    source, full = project / "data" / "profile.parquet", _latest(project, ids[:1])[0]
    shutil.move(source, tmp_path / "profile.parquet")
    try:  # step 4: no store answers: the baseline scores what the record carried; a record with every feature still gets the champion
        answer = api.post([{"customer_id": ids[0]}, full, {"customer_id": ids[1], "contract": "monthly"}])
        assert answer.status_code == 200, answer.text
        rows = answer.json()["predictions"]
        assert [(r["role"], r["feature_source"]) for r in rows] == [("baseline", "none"), ("champion", "request"), ("baseline", "none")]
        reason = rows[0]["fallback_reason"]
        assert reason.startswith("features unavailable: online store ") and "circuit breaker open" in reason
        assert "offline store failed: FeatureStoreError: offline feature store: " in reason and "profile.parquet" in reason
        assert "fallback_reason" not in rows[1] and rows[2]["fallback_reason"] == reason
        assert api.metric("workbench_fallbacks_total", reason="features_unavailable") == 2
    finally:
        shutil.move(tmp_path / "profile.parquet", source)

    time.sleep(1.2)  # reset_timeout_s: both breakers let a trial through; Redis is still down, the offline store is back
    assert set(_sources(api.post(body))) == {"offline"}
    redis_server.start()  # the same port, empty: every id is a miss until materialized again
    time.sleep(1.2)
    assert set(_sources(api.post(body))) == {"offline"}
    assert api.metric("workbench_breaker_state", breaker="features-online") == 0  # the trial read succeeded (misses are answers)
    misses = api.metric("workbench_feature_cache_requests_total", view="profile", result="miss")
    assert misses >= len(ids)
    done = workbench("features", "materialize", cwd=project)
    assert done.returncode == 0, done.stderr
    back = api.post(body)
    assert set(_sources(back)) == {"online"} and _scores(back) == pytest.approx(_scores(online), abs=1e-12)

    breakers = api.get("/version").json()["breakers"]
    assert (breakers["features-online"], breakers["features-offline"], breakers["champion"]) == ("closed", "closed", "closed")
    api.stop()
    config = load_config(project / "workbench.yaml")
    moves = [(e["details"]["from"], e["details"]["to"]) for e in audit.read(config.store)
             if e["action"] == "breaker" and e["subject"] == f"{config.project}/features-online"]
    assert moves[0] == ("closed", "open") and moves[-1] == ("half-open", "closed") and audit.verify(config.store).ok
    lines = [json.loads(line) for path in sorted(predlog.log_dir(config).glob("*.jsonl")) for line in path.read_text().splitlines()]
    none = next(line for line in lines if "none" in line.get("feature_source", []))
    assert none["feature_source"] == ["none", "request", "none"] and none["fallback"] == [reason, None, reason]
    assert none["record"][0] == {"customer_id": ids[0]}  # nothing was read for it: logged as sent
    set_config(project, features=_features(), resilience={})


def test_a_model_trained_on_another_major_view_version_is_not_served(feature_project: Path, api_factory: list[Api]) -> None:
    from mlflow import MlflowClient

    project = feature_project
    config = load_config(project / "workbench.yaml")
    client = MlflowClient(tracking_uri=config.mlflow_uri, registry_uri=config.mlflow_uri)
    recorded = client.get_model_version(config.project, "1").tags.get("workbench.feature_views")  # what training recorded, if anything
    client.set_model_version_tag(config.project, "1", "workbench.feature_views", json.dumps({"profile": {"version": "2.0", "hash": "x"}}))
    try:
        api = start_api(project, "--reset-breakers")
        api_factory.append(api)
        rows = api.post({"customer_id": "C0000007"}).json()["predictions"]
        assert (rows[0]["role"], rows[0]["feature_source"]) == ("baseline", "online")
        assert "FeatureSchemaError" in rows[0]["fallback_reason"] and "trained on feature view 'profile' 2.0; the store now serves 1.0" \
            in rows[0]["fallback_reason"]
        client.set_model_version_tag(config.project, "1", "workbench.feature_views", json.dumps({"profile": {"version": "1.3", "hash": "y"}}))
        api.proc.send_signal(signal.SIGHUP)  # a compatible minor version: served again after the reload
        deadline = time.monotonic() + 20
        while api.post({"customer_id": "C0000007"}).json()["predictions"][0]["role"] != "champion":
            assert time.monotonic() < deadline, "the champion was not served after the reload"
            time.sleep(0.3)
    finally:
        if recorded is None:
            client.delete_model_version_tag(config.project, "1", "workbench.feature_views")
        else:
            client.set_model_version_tag(config.project, "1", "workbench.feature_views", recorded)
