"""Monitoring end to end on the demo: scoring with fallback, drift verdicts per planted scenario, history."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import workbench
from workbench._io import sha256_file
from workbench.config import load_config
from workbench.governance import audit, requests
from workbench.reports import history

pytestmark = pytest.mark.slow


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def monitored(monitored_demo: tuple[Path, subprocess.CompletedProcess[str]]) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The demo trained once, then every batch monitored in order (the session's shared history)."""
    return monitored_demo


def _verdicts(project: Path) -> dict[str, dict]:
    out = {}
    for folder in sorted((project / "reports").glob("*-monitor-*")):
        v = json.loads((folder / "drift" / "verdict.json").read_text())
        out[v["batch"]["name"].removesuffix(".parquet")] = v
    return out


def test_every_batch_was_monitored_by_the_champion(monitored) -> None:
    project, proc = monitored
    verdicts = _verdicts(project)
    assert sorted(verdicts) == [f"2026-0{m}" for m in range(1, 9)]
    assert all(v["model"]["version"] == "1" and not v["fallback"]["used"] for v in verdicts.values())
    assert proc.stdout.count("verdict:  batch 2026-") == 8


def test_clean_batches_raise_no_alarm(monitored) -> None:
    verdicts = _verdicts(monitored[0])
    for month in ("2026-01", "2026-02"):
        v = verdicts[month]
        assert not v["data_drift"] and v["drifted_columns"] == [] and not v["concept_drift"] and not v["alert"], (month, v["reasons"])


def test_gradual_data_drift_flags_the_drifted_column(monitored) -> None:
    verdicts = _verdicts(monitored[0])
    for month in ("2026-03", "2026-04", "2026-06", "2026-08"):
        assert "monthly_charges" in verdicts[month]["drifted_columns"], month
    assert "region" not in verdicts["2026-08"]["drifted_columns"]  # never drifted


def test_concept_drift_batch_raises_concept_and_feature_drift(monitored) -> None:
    project, _ = monitored
    verdicts = _verdicts(project)
    for month in ("2026-01", "2026-02", "2026-03", "2026-04"):
        assert not verdicts[month]["concept_drift"] and not verdicts[month]["feature_drift"], (month, verdicts[month]["reasons"])
    v = verdicts["2026-05"]
    assert v["concept_drift"] and v["feature_drift"] and v["alert"]
    assert v["retrain_request"]["status"] == "pending"
    concept = json.loads((project / "reports" / v["retrain_request"]["run_id"] / "drift" / "concept.json").read_text())
    assert concept["performance"]["degraded"] and concept["performance"]["difference"] < -0.05
    residuals = pd.read_parquet(project / "reports" / v["retrain_request"]["run_id"] / "drift" / "feature_drift.parquet")
    assert {"tenure_months", "contract"} & set(residuals.loc[residuals["drifted"], "feature"])


def test_run_folder_holds_every_result(monitored) -> None:
    project, _ = monitored
    folder = sorted((project / "reports").glob("*-monitor-*"))[-1]
    drift = folder / "drift"
    for name in ("columns.parquet", "data_drift.json", "concept.json", "feature_drift.parquet", "verdict.json",
                 "evidently.html", "drift.png", "history.parquet", "history.png"):
        assert (drift / name).is_file(), name
    columns = pd.read_parquet(drift / "columns.parquet")
    assert {"column", "statistic", "p_value", "effect_size", "effect_threshold", "drifted", "n_reference", "n_batch",
            "missing_share_batch"} <= set(columns.columns)
    assert "evidently DataDriftPreset on a seeded sample" in (drift / "evidently.html").read_text()
    assert (folder / "html" / "60_drift.html").is_file()


def test_history_shows_when_drift_began(monitored) -> None:
    project, _ = monitored
    dataset, columns = history.build(load_config(project / "workbench.yaml"))
    assert dataset["batch"].tolist() == [f"2026-0{m}.parquet" for m in range(1, 9)]
    first_concept = dataset.loc[dataset["concept_drift"], "batch"].iloc[0]
    assert first_concept == "2026-05.parquet"
    charges = columns[columns["column"] == "monthly_charges"].set_index("batch")["effect_size"]
    assert charges["2026-08.parquet"] > charges["2026-04.parquet"] > charges["2026-01.parquet"]
    stored = pd.read_parquet(sorted((project / "reports").glob("*-monitor-*"))[-1] / "drift" / "history.parquet")
    assert len(stored) == 8


def test_retrain_requests_and_audit(monitored) -> None:
    project, _ = monitored
    config = load_config(project / "workbench.yaml")
    pending = requests.pending(config)
    assert pending and all(r["trigger"] == "drift" for r in pending)
    events = audit.read(config.store)
    assert sum(e["action"] == "score" for e in events) == 8
    assert sum(e["action"] == "retrain_request" for e in events) == len(pending)
    assert audit.verify(config.store).ok


def test_tampered_champion_falls_back_to_the_baseline(monitored, tmp_path: Path) -> None:
    project, _ = monitored
    config = load_config(project / "workbench.yaml")
    from workbench import registry

    expected = registry.alias_version(config, "champion").tags["workbench.model_sha256"]
    target = next(p for p in (config.store / "artifacts").rglob("model.skops") if sha256_file(p) == expected)
    backup = tmp_path / "model.skops"
    shutil.copy(target, backup)
    try:
        target.write_bytes(target.read_bytes() + b"x")
        proc = _ok(workbench("monitor", "--batch", "data/demo/batches/2026-01.parquet", cwd=project))
    finally:
        shutil.copy(backup, target)
    assert "scored by the BASELINE (champion failed)" in proc.stdout
    folder = sorted((project / "reports").glob("*-monitor-*"), key=lambda p: json.loads((p / "manifest.json").read_text())["started"])[-1]
    result = json.loads((folder / "score" / "result.json").read_text())
    assert result["fallback"]["used"] and "ModelIntegrityError" in result["fallback"]["reason"]
    assert result["model"]["role"] == "baseline"
    concept = json.loads((folder / "drift" / "concept.json").read_text())
    assert concept["scored_by"] == "baseline" and not concept["prediction_drift"]["drift"]  # against the baseline's own reference
    predictions = pd.read_parquet(folder / "score" / "predictions.parquet")
    assert set(predictions["model_role"]) == {"baseline"} and set(predictions["model_version"]) == {"2"}


def test_batch_missing_a_feature_fails_with_its_name(monitored) -> None:
    project, _ = monitored
    broken = pd.read_parquet(project / "data" / "demo" / "batches" / "2026-01.parquet").drop(columns=["tenure_months"])
    broken.to_parquet(project / "broken.parquet")
    proc = workbench("monitor", "--batch", "broken.parquet", cwd=project)
    assert proc.returncode == 1
    assert "lacks feature column(s) tenure_months" in proc.stdout and "baseline fallback failed too" in proc.stdout


@pytest.fixture(scope="module")
def holes_asked_by_id(monitored) -> tuple[subprocess.CompletedProcess[str], Path, str]:
    """One monitor run read by two tests: 2026-02 with 70% of ``avg_session_minutes`` missing (a high missing share), and
    two rows a person asks to be explained by id (``-p ids=``: one in the batch, one not). Returns the command, its run
    folder and the id asked for that is in the batch."""
    project, _ = monitored
    batch = pd.read_parquet(project / "data" / "demo" / "batches" / "2026-02.parquet")
    batch.loc[batch.index[: int(0.7 * len(batch))], "avg_session_minutes"] = float("nan")
    batch.to_parquet(project / "holes.parquet")
    wanted = str(batch["customer_id"].iloc[7])
    proc = _ok(workbench("monitor", "--batch", "holes.parquet", "-p", f"ids={wanted},NOPE", cwd=project))
    folder = sorted((project / "reports").glob("*-monitor-*"), key=lambda p: json.loads((p / "manifest.json").read_text())["started"])[-1]
    return proc, folder, wanted


def test_high_missing_share_is_an_alert_of_its_own(holes_asked_by_id) -> None:
    proc, folder, _ = holes_asked_by_id
    assert "avg_session_minutes" in proc.stdout
    verdict = json.loads((folder / "drift" / "verdict.json").read_text())
    assert verdict["alert"] and "data problems: avg_session_minutes (high missing share)" in verdict["reasons"]
    row = pd.read_parquet(folder / "drift" / "columns.parquet").set_index("column").loc["avg_session_minutes"]
    assert row["status"] == "high missing share" and row["missing_share_batch"] == pytest.approx(0.7)


def _fairness(project: Path) -> dict[str, dict]:
    out = {}
    for folder in sorted((project / "reports").glob("*-monitor-*")):
        verdict = folder / "drift" / "verdict.json"
        if verdict.exists() and (folder / "fairness" / "fairness.json").exists():
            out.setdefault(json.loads(verdict.read_text())["batch"]["name"].removesuffix(".parquet"), json.loads((folder / "fairness" / "fairness.json").read_text()))
    return out


def test_planted_bias_shift_is_detected_where_planted_and_not_before(monitored) -> None:
    audits = _fairness(monitored[0])
    for month in ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"):
        assert not [g for g in audits[month]["bias_drift"] if g.startswith("age_band=")], (month, audits[month]["bias_drift"])
    assert "age_band=60+" in audits["2026-07"]["bias_drift"]
    assert "age_band" in audits["2026-07"]["failed_attributes"] and "age_band" not in audits["2026-01"]["failed_attributes"]
    project = monitored[0]
    last = max((f for f in (project / "reports").glob("*-monitor-*") if (f / "fairness" / "bias_history.parquet").exists()),
               key=lambda p: json.loads((p / "manifest.json").read_text())["started"])
    hist = pd.read_parquet(last / "fairness" / "bias_history.parquet")
    moved = hist[hist["moved"] & (hist["attribute"] == "age_band")]
    assert "2026-07.parquet" in set(moved["batch"]) and not {f"2026-0{m}.parquet" for m in range(1, 7)} & set(moved["batch"])


def test_explanations_are_stored_with_drift_impact(monitored) -> None:
    project, _ = monitored
    folder = next(f for f in sorted((project / "reports").glob("*-monitor-*")) if (f / "explain" / "explain.json").exists())
    summary = json.loads((folder / "explain" / "explain.json").read_text())
    assert summary["batch"]["method"] == "tree" and summary["batch"]["additivity_ok"]
    ranking = pd.read_parquet(folder / "explain" / "explanation_drift.parquet")
    assert {"feature", "drift_impact", "reference_share"} <= set(ranking.columns)
    for name in ("importance.png", "beeswarm.png", "importance_by_age_band.parquet", "local.parquet"):
        assert (folder / "explain" / name).is_file(), name
    local = pd.read_parquet(folder / "explain" / "local.parquet")
    drawn = local.dropna(subset=["waterfall"]).drop_duplicates("id")
    assert summary["local"] == {"id_column": "customer_id", "rows": 2000, "drawn": drawn["id"].tolist()} and list(drawn["rank"]) == [1, 2, 3]
    assert all((folder / "explain" / f"waterfall_id_{i}.png").is_file() for i in drawn["id"])


def test_explain_rows_a_person_asks_for_by_id(holes_asked_by_id) -> None:
    _, folder, wanted = holes_asked_by_id
    summary = json.loads((folder / "explain" / "explain.json").read_text())
    assert summary["ids_not_found"] == ["NOPE"]
    assert (folder / "explain" / f"waterfall_id_{wanted}.png").is_file()
    importance = pd.read_parquet(folder / "explain" / "importance.parquet")
    assert (importance["stderr"] > 0).all() and "explained 2,000 of 2,000 batch rows" in summary["sample_note"]
