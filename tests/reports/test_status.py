"""The status page's sentences, from run folders, requests, approvals and audit records written by the same writers the phases use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench._io import write_json
from workbench.config import load_config
from workbench.governance import approvals, audit, requests
from workbench.reports import catalog, manifest, status

CHURN = {"name": "churn_reduction", "label": "Churn reduction", "unit": "share", "formula": "save_rate * tp / actual_positive",
         "values": {"save_rate": 0.35}, "direction": "higher", "target": 0.26}
COST = {"name": "cost", "label": "Cost per saved customer", "unit": "EUR", "formula": "25 * predicted_positive / tp", "direction": "lower", "target": 90}
NOW = datetime.now(UTC)


def _config(folder: Path, **extra: object):
    """A project in ``folder``; its clock (``NOW``) starts now, so its runs come after the audit records the test writes."""
    global NOW
    NOW = datetime.now(UTC)
    body = {"project": "p", "data": {"reference": "ref.parquet", "target": "y", "sensitive": ["age"]}} | extra
    (folder / "workbench.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
    return load_config(folder / "workbench.yaml")


def _monitor(cfg, n: int, batch: str, *, version: str = "1", semver: str = "1.0.0", role: str = "champion", fallback: str | None = None,
             drifted: list[str] | None = None, dataset: bool = False, perf: tuple[str, float, float, bool] | None = None, bias: list[dict] | None = None,
             kpis: list[dict] | None = None, at: datetime | None = None, estimate: dict | str | None = None) -> str:
    """A monitor run folder of batch ``batch`` started at ``at``, else ``n`` minutes from now (after every audit record the test writes first)."""
    when = at or NOW + timedelta(minutes=n)
    run_id = f"{when:%Y%m%dT%H%M%SZ}-monitor-{n:04d}"
    run = cfg.reports / run_id
    started = when.isoformat()
    manifest.write(run, {"schema_version": 1, "run_id": run_id, "kind": "monitor", "status": "succeeded", "started": started,
                         "phases": {p: {"status": "succeeded"} for p in ("score", "drift", "fairness", "impact")}})
    info = {"name": f"{batch}.parquet", "path": f"/data/{batch}.parquet", "sha256": "0" * 64, "rows": 100}
    write_json(run / "score" / catalog.RESULT_FILE, {"schema_version": 1, "phase": "score", "batch": info,
                                                     "model": {"version": version, "semver": semver, "role": role},
                                                     "fallback": {"used": fallback is not None, "reason": fallback}})
    if drifted is not None:
        concept = bool(perf and perf[3])
        write_json(run / "drift" / catalog.VERDICT_FILE, {"schema_version": 1, "batch": info, "model": {"version": version, "semver": semver},
                                                          "data_drift": dataset, "concept_drift": concept, "feature_drift": False,
                                                          "alert": bool(drifted) or concept, "reasons": [], "drifted_columns": drifted})
    if perf is not None:
        metric, ref, now, degraded = perf
        write_json(run / "drift" / catalog.CONCEPT_FILE, {"schema_version": 1, "performance": {
            "status": "ok", "task": "binary", "metric": metric, "higher_is_better": metric not in ("rmse", "mae"), "degraded": degraded,
            "reference": ref, "batch": now}, "verdict": {"concept_drift": degraded}})
    if bias is not None:
        moved = [f"{r['attribute']}={r['group']}" for r in bias if r["moved"]]
        write_json(run / "fairness" / catalog.FAIRNESS_FILE, {"schema_version": 1, "status": "assessed", "attributes": ["age"],
                                                              "failed_attributes": [], "bias_drift": moved})
        pd.DataFrame([{"metric": "tpr", "relative": True, **r} for r in bias]).to_parquet(run / "fairness" / catalog.BIAS_DRIFT_FILE)
    if isinstance(estimate, dict):
        write_json(run / "drift" / catalog.ESTIMATE_FILE, estimate)
    elif estimate is not None:  # a torn or foreign file
        (run / "drift").mkdir(parents=True, exist_ok=True)
        (run / "drift" / catalog.ESTIMATE_FILE).write_text(estimate)
    if kpis is not None:
        write_json(run / "impact" / catalog.IMPACT_FILE, {"schema_version": 1, "status": "measured", "batch": info, "kpis": kpis})
    return run_id


def estimate_json(value: float = 0.91, se: float = 0.2 / 30, *, metric: str = "roc_auc", reference: float = 0.92, realised: float | None = None,
                  rows: int = 5000, alert: bool | None = None, others: dict[str, float] | None = None, **extra: object) -> dict:
    """An ``estimate.json`` body as the drift phase writes it: ``metric`` estimated at ``value`` ± 3 ``se``; realised (from labels) when given.

    ``others``: further metrics estimated at 0.8 (band 0.77–0.83), realised at the given values.
    """
    higher = metric not in ("rmse", "mae")
    threshold = reference * (0.95 if higher else 1.05)
    metrics = {metric: (value, se, reference, realised)} | {m: (0.8, 0.01, 0.81, r) for m, r in (others or {}).items()}
    estimated = {m: {"value": v, "se": e, "reference": ref, "rows": rows, "low": v - 3 * e, "high": v + 3 * e} for m, (v, e, ref, _) in metrics.items()}
    out = {"schema_version": 1, "task": "binary" if higher else "regression", "metric": metric, "scored_by": "champion", "rows": rows, "band": 3.0,
           "method": "CBPE" if higher else "DLE", "calibration": "isotonic" if higher else None, "estimated": estimated, "alert_threshold": threshold,
           "alert": bool(value < threshold if higher else value > threshold) if alert is None else alert, "realised": None, "feedback": None,
           "concept_drift_likely": False}
    if realised is not None:
        comparison = []
        for m, (v, e, _, r) in metrics.items():
            low, high = v - 3 * e, v + 3 * e
            inside = low <= r <= high
            comparison.append({"metric": m, "estimated": v, "se": e, "low": low, "high": high, "realised": r, "gap": r - v, "within_band": inside,
                               "concept_drift_likely": not inside and ((r < v) if m not in ("rmse", "mae") else (r > v)), "rows": rows})
        out["realised"] = {"source": "labels", "rows": rows, "metrics": {c["metric"]: c["realised"] for c in comparison}, "comparison": comparison}
        out["concept_drift_likely"] = any(c["concept_drift_likely"] for c in comparison)
    return out | extra


def _tpr(group: str, ref: float, now: float, typical: float, moved: bool) -> dict:
    return {"attribute": "age", "group": group, "reference_rate": ref, "batch_rate": now, "reference": 0.0, "batch": now - typical,
            "gap": now - typical, "moved": moved}


def _champion(cfg, version: str = "1", semver: str = "1.0.0") -> None:
    audit.record(cfg.store, "register", f"p/{version}", semver=semver, reason="first version",
                 alias_moves=[{"alias": "challenger", "from": None, "to": version}])
    audit.record(cfg.store, "activate", f"p/{version}", semver=semver, reason="first champion",
                 alias_moves=[{"alias": "champion", "from": None, "to": version}, {"alias": "challenger", "from": version, "to": None}])


def test_no_runs_at_all_says_what_to_run(tmp_path: Path) -> None:
    st = status.status(_config(tmp_path))
    assert st.headline == ("Nothing has been recorded yet: run “workbench run” to train and register a model, then “workbench monitor” "
                           "to score and check batches.")
    assert (st.kind, st.events, st.costs, st.pending, st.batches) == ("info", [], [], [], [])
    assert st.costs_note == "No business KPI is configured for this project, so no cost can be given."
    assert st.pending_note == "Nothing waits for a decision: no retrain request is open and no new version awaits approval."
    assert json.loads(json.dumps(st.to_dict()))["headline"] == st.headline


def test_a_champion_without_monitored_batches(tmp_path: Path) -> None:
    cfg = _config(tmp_path, kpis=[CHURN])
    _champion(cfg)
    st = status.status(cfg)
    assert st.headline == "Model v1 (1.0.0) is the champion; no batch has been monitored yet: run “workbench monitor” to score and check one."
    assert [(e.kind, e.sentence, e.app, e.version) for e in st.events] == [
        ("registered", "v1 (1.0.0) was registered as a candidate model.", "card", "1"),
        ("promoted", "v1 (1.0.0) became the first champion.", "card", "1")]
    assert st.events[0].date == NOW.date().isoformat()
    assert st.costs_note == "No KPI has been measured yet: that needs a monitored batch whose outcomes are known."


@pytest.fixture
def story(tmp_path: Path):
    """Five batches: quiet, then x drifts from 2026-02 on, AUC falls in 2026-03, recall for age 60+ halves in 2026-04
    (scored by the baseline: a fallback), y drifts in 2026-05; a retrain request after 2026-03 and an approval pending."""
    cfg = _config(tmp_path, kpis=[CHURN | {"volume": 600, "volume_unit": "churners"}, COST | {"volume": 110, "volume_unit": "saved customers"}],
                  roles={"alice": "data_scientist", "bob": "approver", "carol": "admin", "*": "viewer"})
    _champion(cfg)
    quiet = [_tpr("18-29", 0.7, 0.7, 0.7, False), _tpr("60+", 0.7, 0.68, 0.7, False)]
    shifted = [_tpr("18-29", 0.7, 0.66, 0.64, False), _tpr("60+", 0.69, 0.33, 0.64, True)]
    kpis = [{"kpi": "churn_reduction", "unit": "share", "direction": "higher", "current": 0.187, "target": 0.26, "gap": 0.073},
            {"kpi": "cost", "unit": "EUR", "direction": "lower", "current": 93.41, "target": 90.0, "gap": 3.41}]
    runs = [_monitor(cfg, 1, "2026-01", drifted=[], perf=("roc_auc", 0.92, 0.91, False), bias=quiet),
            _monitor(cfg, 2, "2026-02", drifted=["x"], perf=("roc_auc", 0.92, 0.91, False), bias=quiet),
            _monitor(cfg, 3, "2026-03", drifted=["x"], perf=("roc_auc", 0.921, 0.771, True), bias=quiet),
            _monitor(cfg, 4, "2026-04", version="2", semver="1.0.0-baseline", role="baseline", drifted=["x"],
                     fallback="champion: ModelIntegrityError: sha256 mismatch", perf=("roc_auc", 0.921, 0.70, True), bias=shifted),
            _monitor(cfg, 5, "2026-05", drifted=["x", "y"], perf=("roc_auc", 0.921, 0.69, True), bias=shifted, kpis=kpis)]
    filed = requests.request(cfg, trigger="drift", run_id=runs[2], reasons=["performance degraded"], model_version="1", batch="2026-03.parquet")
    requests.update(cfg, filed["id"], created=(NOW + timedelta(minutes=3, seconds=30)).isoformat())
    approvals.file_approval(cfg, version="3", semver="1.1.0", run_id="20260101T000000Z-retrain-0001", trigger="drift", request_id=None, evidence={})
    return cfg, runs


def test_the_stories_their_months_and_who_must_act(story) -> None:
    cfg, runs = story
    st = status.status(cfg)
    assert st.headline == ("Model v1 (1.0.0) is the champion; since 2026-02 production data has drifted, in 2026-03 its AUC fell from 0.92 "
                           "to 0.77, in 2026-04 recall for age 60+ halved (0.69 to 0.33), and the baseline scored in its place in 2026-04; "
                           "1 retrain request awaits a data scientist and 1 approval awaits an approver.")
    assert st.kind == "error"
    batch_events = [(e.date, e.kind, e.sentence, e.app, e.run_id) for e in st.events if e.kind not in ("registered", "promoted")]
    assert batch_events == [
        ("2026-02", "drift_began", "Since 2026-02, x has drifted away from the training data in every batch.", "drift", runs[1]),
        ("2026-03", "concept_drift", "In 2026-03, the model's AUC fell from 0.92 to 0.77: it predicts the outcome less well than at training "
                                     "(concept drift). It has not recovered since (AUC 0.69 in 2026-05).", "drift", runs[2]),
        (NOW.date().isoformat(), "retrain_requested", "A retrain was requested after 2026-03 because the model's AUC fell from 0.92 to 0.77; "
                                                      "it is still open.", "drift", runs[2]),
        ("2026-04", "bias_shift", "In 2026-04, recall for age 60+ fell from 0.69 to 0.33 (about half), against 0.64 for the typical age group. "
                                  "It has not recovered since (recall 0.33 in 2026-05).", "fairness", runs[3]),
        ("2026-04", "fallback", "In 2026-04, the baseline model v2 (1.0.0-baseline) scored the batch instead of the champion: the champion's "
                                "model file failed its integrity check.", "drift", runs[3]),
        ("2026-05", "drift_began", "In 2026-05, y drifted away from the training data.", "drift", runs[4]),
    ]
    assert [(b.batch, b.data_drift, b.concept_drift, b.bias_shift, b.fallback) for b in st.batches] == [
        ("2026-01", False, False, False, False), ("2026-02", True, False, False, False), ("2026-03", True, True, False, False),
        ("2026-04", True, True, True, True), ("2026-05", True, True, True, False)]
    assert [p.sentence for p in st.pending] == [
        "1 retrain request waits for the model to be retrained (filed after 2026-03); who must act: data_scientist (alice), approver (bob), admin (carol).",
        f"v3 (1.1.0), retrained after a drift alert, awaits approval since {NOW.date().isoformat()}; who must act: approver (bob), admin (carol)."]
    assert [p.roles for p in st.pending] == [["data_scientist", "approver", "admin"], ["approver", "admin"]]


def test_costs_in_the_kpi_unit_and_per_period(story) -> None:
    cfg, runs = story
    costs = status.status(cfg).costs
    assert [c.sentence for c in costs] == [
        "Churn reduction is 7.3 percentage points below its 26% target (18.7% on 2026-05): about 44 of 600 churners a month short of the target.",
        "Cost per saved customer is 3.41 EUR above its 90 EUR target (93.41 EUR on 2026-05): about 375 EUR a month more than at the target, "
        "over 110 saved customers a month."]
    assert [(c.per_period, c.period, c.run_id) for c in costs] == [(pytest.approx(43.8), "month", runs[4]), (pytest.approx(375.1), "month", runs[4])]


def test_drift_that_stops_and_a_kpi_on_target_without_volume(tmp_path: Path) -> None:
    cfg = _config(tmp_path, kpis=[CHURN])
    _champion(cfg)
    _monitor(cfg, 1, "2026-01", drifted=["x", "z"], dataset=True)
    _monitor(cfg, 2, "2026-02", drifted=["x", "z"])
    end = _monitor(cfg, 3, "2026-03", drifted=["z"], kpis=[{"kpi": "churn_reduction", "unit": "share", "direction": "higher", "current": 0.27,
                                                             "target": 0.26, "gap": -0.01}])
    st = status.status(cfg)
    assert [(e.date, e.kind, e.sentence) for e in st.events[2:]] == [
        ("2026-01", "drift_began", "In 2026-01, x, z and the data as a whole began to drift away from the training data; z has drifted in every batch since."),
        ("2026-02", "drift_ended", "In 2026-02, the data as a whole no longer drifted (drifting since 2026-01)."),
        ("2026-03", "drift_ended", "In 2026-03, x no longer drifted (drifting since 2026-01).")]
    assert st.events[-1].run_id == end
    assert st.headline == "Model v1 (1.0.0) is the champion; since 2026-01 production data has drifted; nothing waits for a decision."
    assert [c.sentence for c in st.costs] == ["Churn reduction meets its 26% target (27% on 2026-03)."]
    assert st.costs[0].on_target and st.costs[0].per_period is None


def test_regression_error_rose_and_no_kpis_no_sensitive_columns(tmp_path: Path) -> None:
    cfg = _config(tmp_path, model={"task": "regression"}, data={"reference": "ref.parquet", "target": "y"})
    _champion(cfg)
    _monitor(cfg, 1, "2026-01", drifted=[], perf=("rmse", 10.0, 10.4, False))
    _monitor(cfg, 2, "2026-02", drifted=[], perf=("rmse", 10.0, 14.25, True))
    st = status.status(cfg)
    assert st.headline == ("Model v1 (1.0.0) is the champion; in 2026-02 its RMSE (typical error) rose from 10 to 14.25; "
                           "nothing waits for a decision.")
    assert [e.sentence for e in st.events if e.kind == "concept_drift"] == [
        "In 2026-02, the model's RMSE (typical error) rose from 10 to 14.25: it predicts the outcome less well than at training (concept drift)."]
    assert [b.bias_shift for b in st.batches] == [None, None]  # no fairness results: not checked, not "no shift"
    assert st.costs == [] and st.costs_note == "No business KPI is configured for this project, so no cost can be given."


def test_quiet_batches(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _champion(cfg)
    for n in (1, 2):
        _monitor(cfg, n, f"2026-0{n}", drifted=[], perf=("roc_auc", 0.9, 0.9, False), bias=[_tpr("60+", 0.7, 0.7, 0.7, False)])
    st = status.status(cfg)
    assert st.headline == ("Model v1 (1.0.0) is the champion; its 2 monitored batches (2026-01 and 2026-02) showed no drift, no loss of "
                           "accuracy and no bias shift; nothing waits for a decision.")
    assert st.kind == "ok" and [e.kind for e in st.events] == ["registered", "promoted"]


def test_approved_promoted_rolled_back_from_the_audit_log(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _champion(cfg)
    _monitor(cfg, 1, "2026-01", drifted=[], at=datetime.now(UTC))  # scored by v1 before the records below
    audit.record(cfg.store, "register", "p/3", semver="1.1.0", reason="drift retrain", alias_moves=[{"alias": "challenger", "from": None, "to": "3"}])
    audit.record(cfg.store, "approve", "p/3", semver="1.1.0", reason="better AUC on unseen rows")
    audit.record(cfg.store, "promote", "p/3", semver="1.1.0", reason="better AUC on unseen rows", champion="3", champion_semver="1.1.0",
                 previous_champion="1", alias_moves=[{"alias": "champion", "from": "1", "to": "3"}, {"alias": "challenger", "from": "3", "to": None}])
    audit.record(cfg.store, "rollback", "p/3", semver="1.1.0", reason="complaints from the 60+ segment", champion="1", champion_semver="1.0.0",
                 previous_champion="3", alias_moves=[{"alias": "champion", "from": "3", "to": "1"}])
    audit.record(cfg.store, "reject", "p/4", semver="1.2.0", reason="worse recall")
    who = audit.actor()
    st = status.status(cfg)
    assert [(e.kind, e.sentence, e.version) for e in st.events if e.kind != "drift_began"][2:] == [
        ("registered", "v3 (1.1.0) was registered as a candidate model.", "3"),
        ("approved", f"{who} approved v3 (1.1.0): “better AUC on unseen rows”.", "3"),
        ("promoted", f"{who} made v3 (1.1.0) the champion, replacing v1: “better AUC on unseen rows”.", "3"),
        ("rolled_back", f"{who} rolled the champion back from v3 to v1 (1.0.0): “complaints from the 60+ segment”.", "1"),
        ("rejected", f"{who} rejected v4 (1.2.0): “worse recall”.", "4")]
    assert all(e.date == NOW.date().isoformat() and e.app == "card" for e in st.events)
    assert st.champion == {"version": "1", "semver": "1.0.0", "since": NOW.date().isoformat()}
    assert st.headline == "Model v1 (1.0.0) is the champion; its 1 monitored batch (2026-01) showed no drift and no loss of accuracy; nothing waits for a decision."


def test_a_new_champion_that_scored_nothing_yet(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _champion(cfg)
    _monitor(cfg, -5, "2026-01", drifted=["x"])
    audit.record(cfg.store, "promote", "p/3", semver="1.1.0", champion="3", champion_semver="1.1.0", previous_champion="1",
                 alias_moves=[{"alias": "champion", "from": "1", "to": "3"}])
    st = status.status(cfg)
    assert st.headline == ("Model v3 (1.1.0) is the champion and has not scored a batch yet; under earlier versions, in 2026-01 production "
                           "data drifted; nothing waits for a decision.")


def test_missing_partial_and_older_results_never_raise(tmp_path: Path) -> None:
    cfg = _config(tmp_path, kpis=[CHURN])
    _champion(cfg)
    _monitor(cfg, 1, "2026-01")  # the drift phase failed: no verdict, no concept
    broken = _monitor(cfg, 2, "2026-02", drifted=["x"])
    (cfg.reports / broken / "drift" / catalog.VERDICT_FILE).write_text("{not json")  # torn
    old = _monitor(cfg, 3, "2026-03")
    write_json(cfg.reports / old / "drift" / catalog.DATA_DRIFT_FILE, {"columns": [{"column": "x", "drifted": True}], "dataset": {"drift": False}})
    write_json(cfg.reports / old / "fairness" / catalog.FAIRNESS_FILE, {"status": "assessed", "bias_drift": ["age=60+"]})  # no parquet
    write_json(cfg.reports / old / "impact" / catalog.IMPACT_FILE, {"kpis": [{"kpi": "churn_reduction", "current": None}]})
    (cfg.reports / "20260101T000000Z-monitor-zzzz").mkdir(parents=True)
    (cfg.reports / "20260101T000000Z-monitor-zzzz" / "manifest.json").write_text("{")
    st = status.status(cfg)
    assert [(e.date, e.kind, e.sentence) for e in st.events[2:]] == [
        ("2026-03", "drift_began", "In 2026-03, x drifted away from the training data."),
        ("2026-03", "bias_shift", "In 2026-03, recall for age 60+ shifted away from the other age groups.")]
    assert [(b.batch, b.data_drift, b.bias_shift) for b in st.batches] == [("2026-01", None, None), ("2026-02", None, None), ("2026-03", True, True)]
    assert st.costs == [] and st.costs_note.startswith("No KPI has been measured yet")


def test_signature_changes_with_audit_requests_and_approvals(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    before = status.signature(cfg)
    _champion(cfg)
    after_audit = status.signature(cfg)
    requests.request(cfg, trigger="manual", run_id="r1", reasons=["by hand"])
    after_request = status.signature(cfg)
    approvals.file_approval(cfg, version="2", semver="1.1.0", run_id="r1", trigger="manual", request_id=None, evidence={})
    assert len({before, after_audit, after_request, status.signature(cfg)}) == 4


def test_performance_estimated_without_labels_its_alert_and_the_concept_drift_it_could_not_see(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _champion(cfg)
    runs = [_monitor(cfg, 1, "2026-01", drifted=[], perf=("roc_auc", 0.92, 0.91, False), estimate=estimate_json(realised=0.912)),
            _monitor(cfg, 2, "2026-02", drifted=[], perf=("roc_auc", 0.92, 0.9, False), estimate=estimate_json(0.9, realised=0.9)),
            _monitor(cfg, 3, "2026-03", drifted=[], perf=("roc_auc", 0.921, 0.771, True), estimate=estimate_json(realised=0.771)),
            _monitor(cfg, 4, "2026-04", estimate=estimate_json(0.9)),
            _monitor(cfg, 5, "2026-05", estimate=estimate_json(0.85)),
            _monitor(cfg, 6, "2026-06", estimate=estimate_json(0.84)),
            _monitor(cfg, 7, "2026-07", estimate="{torn")]
    st = status.status(cfg)
    assert st.headline == ("Model v1 (1.0.0) is the champion; in 2026-03 its AUC fell from 0.92 to 0.77 and in 2026-05 its AUC, estimated "
                           "without labels, fell from 0.92 to 0.85; nothing waits for a decision.")
    assert [(e.date, e.kind, e.sentence, e.app, e.run_id) for e in st.events[2:]] == [
        ("2026-03", "concept_drift", "In 2026-03, the model's AUC fell from 0.92 to 0.77: it predicts the outcome less well than at training "
                                     "(concept drift). Estimated from the inputs alone it stayed at 0.91 (band 0.89–0.93): what changed is how the "
                                     "outcome follows from the inputs.", "drift", runs[2]),
        ("2026-05", "estimate_alert", "In 2026-05, without labels, the model's AUC was estimated at 0.85 (band 0.83–0.87), worse than its alert "
                                      "threshold of 0.874: it likely predicts less well than at training; labels will tell. It stayed past the "
                                      "threshold through 2026-06 (AUC estimated at 0.84).", "drift", runs[4])]
    assert status.ESTIMATE_ROWS == 6
    assert [(e.batch, e.metric, e.cells, e.alert, e.side, e.run_id) for e in st.estimates] == [
        ("2026-01", "AUC", ("0.91", "0.89–0.93", "0.912, within the band"), False, "within", runs[0]),
        ("2026-02", "AUC", ("0.9", "0.88–0.92", "0.9, within the band"), False, "within", runs[1]),
        ("2026-03", "AUC", ("0.91", "0.89–0.93", "0.77, worse than the band"), False, "worse", runs[2]),
        ("2026-04", "AUC", ("0.9", "0.88–0.92", "no labels yet"), False, None, runs[3]),
        ("2026-05", "AUC", ("0.85", "0.83–0.87", "no labels yet"), True, None, runs[4]),
        ("2026-06", "AUC", ("0.84", "0.82–0.86", "no labels yet"), True, None, runs[5])]
    assert [b.batch for b in st.batches][-1] == "2026-07"  # its torn estimate is left out, the batch is not


def test_an_estimate_alert_that_labels_answered_and_that_ended_leaves_the_headline(tmp_path: Path) -> None:
    cfg = _config(tmp_path, model={"task": "regression"}, data={"reference": "ref.parquet", "target": "y"})
    _champion(cfg)
    rmse = {"metric": "rmse", "reference": 10.0, "se": 0.1}
    _monitor(cfg, 1, "2026-01", estimate=estimate_json(10.2, **rmse))
    _monitor(cfg, 2, "2026-02", estimate=estimate_json(11.0, **rmse, realised=11.1, rows=800))
    _monitor(cfg, 3, "2026-03", estimate=estimate_json(10.3, **rmse))
    st = status.status(cfg)
    assert [(e.date, e.kind, e.sentence) for e in st.events[2:]] == [
        ("2026-02", "estimate_alert", "In 2026-02, without labels, the model's RMSE (typical error) was estimated at 11 (band 10.7–11.3), worse than "
                                      "its alert threshold of 10.5; realised 11.1 once labels arrived. It was back within the threshold in 2026-03.")]
    assert st.headline == ("Model v1 (1.0.0) is the champion; its 3 monitored batches (2026-01, 2026-02 and 2026-03) were scored, with no drift "
                           "or fairness results stored; nothing waits for a decision.")
    assert [e.cells for e in st.estimates] == [("10.2", "9.9–10.5", "no labels yet"), ("11", "10.7–11.3", "11.1, within the band"),
                                               ("10.3", "10–10.6", "no labels yet")]


def test_an_ongoing_regression_alert_without_labels_rose_in_the_headline(tmp_path: Path) -> None:
    cfg = _config(tmp_path, model={"task": "regression"}, data={"reference": "ref.parquet", "target": "y"})
    _champion(cfg)
    _monitor(cfg, 1, "2026-01", drifted=[], estimate=estimate_json(11.0, 0.1, metric="mae", reference=10.0))
    st = status.status(cfg)
    assert st.headline == ("Model v1 (1.0.0) is the champion; in 2026-01 its MAE (mean absolute error), estimated without labels, rose from 10 "
                           "to 11; nothing waits for a decision.")
    assert st.kind == "warn" and [e.kind for e in st.events] == ["registered", "promoted", "estimate_alert"]
