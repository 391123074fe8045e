"""Confidence and label-free performance estimation on the monitored demo (issue 16's acceptance on the demo).

The demo plants covariate drift from 2026-03 (the inputs move, P(y|x) stays) and concept drift from 2026-05
(tenure stops mattering): the estimate must follow the realised AUC through the first and miss the second,
which the report then flags once labels are joined. Reads the session's shared monitored demo (read-only).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.config import load_config
from workbench.registry import confidence
from workbench.reports import catalog, model_card

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(monitored_demo: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    return monitored_demo[0]


def _estimates(project: Path, config_file: str = "workbench.yaml") -> dict[str, dict]:
    config = load_config(project / config_file)
    return {b.name.split(".")[0]: b.read("drift", catalog.ESTIMATE_FILE)
            for b in catalog.latest_per_batch(config, "drift", name=catalog.ESTIMATE_FILE)}


def test_covariate_drift_is_estimated_within_the_band(project: Path) -> None:
    estimates = _estimates(project)
    for month in ("2026-03", "2026-04"):
        est = estimates[month]
        row = next(r for r in est["realised"]["comparison"] if r["metric"] == "roc_auc")
        assert row["low"] <= row["realised"] <= row["high"], (month, row)
        assert row["within_band"] and not row["concept_drift_likely"]
        assert not est["concept_drift_likely"] and not est["alert"]


def test_concept_drift_keeps_the_estimate_high_while_realised_auc_drops_and_is_flagged(project: Path) -> None:
    est = _estimates(project)["2026-05"]
    estimated = est["estimated"]["roc_auc"]["value"]
    realised = est["realised"]["metrics"]["roc_auc"]
    reference = est["estimated"]["roc_auc"]["reference"]
    assert estimated > reference - 0.03  # the estimate cannot see P(y|x) change: it stays near the reference
    assert realised < estimated - 0.08  # while the realised AUC falls
    assert est["concept_drift_likely"] and "likely concept drift" in est["concept_drift_reason"]
    verdict = json.loads((project / "reports" / est_run(project, "2026-05") / "drift" / catalog.VERDICT_FILE).read_text())
    assert verdict["estimate"]["concept_drift_likely"] is True and verdict["concept_drift"] is True


def est_run(project: Path, month: str) -> str:
    config = load_config(project / "workbench.yaml")
    return next(b.run_id for b in catalog.latest_per_batch(config, "drift", name=catalog.ESTIMATE_FILE) if b.name.startswith(month))


def test_history_and_reliability_are_stored(project: Path) -> None:
    config = load_config(project / "workbench.yaml")
    latest = catalog.latest_per_batch(config, "drift", name=catalog.ESTIMATE_FILE)[-1]
    history = pd.read_parquet(latest.phase_dir("drift") / catalog.ESTIMATE_HISTORY_FILE)
    assert list(history["batch"]) == sorted(history["batch"]) and len(history) >= 8
    assert set(history.loc[history["concept_drift_likely"], "batch"].str[:7]) >= {"2026-05"}
    assert (latest.phase_dir("drift") / catalog.ESTIMATE_PLOT).is_file()
    reliability = pd.read_parquet(latest.phase_dir("drift") / catalog.RELIABILITY_FILE)
    assert reliability["rows"].sum() == latest.batch["rows"] and (reliability["low"] >= 0.5).all()


def test_every_prediction_carries_an_id_a_calibrated_confidence_and_a_conformal_set(project: Path) -> None:
    config = load_config(project / "workbench.yaml")
    first = catalog.latest_per_batch(config)[0]
    predictions = pd.read_parquet(first.phase_dir("score") / catalog.PREDICTIONS_FILE)
    assert predictions["prediction_id"].is_unique and predictions["prediction_id"].str.len().eq(32).all()
    assert predictions["confidence"].between(0, 1).all() and predictions["probability"].between(0, 1).all()
    assert set(predictions["prediction_set"]) <= {"0", "1", "0,1", ""} and predictions["set_size"].isin([0, 1, 2]).all()
    # the conformal sets held the truth about as often as promised on a batch before any drift
    truth = predictions["label"].astype(int).astype(str)
    held = np.mean([t in s.split(",") for t, s in zip(truth, predictions["prediction_set"], strict=True)])
    assert abs(held - config.estimation.coverage) < 0.03, held


def test_the_champion_records_its_calibration_and_coverage_in_evaluate_and_card(project: Path) -> None:
    config = load_config(project / "workbench.yaml")
    from workbench import registry

    mv = registry.alias_version(config, "champion")
    record = confidence.record_of(dict(mv.tags))
    stored = catalog.get_run(config, mv.tags["workbench.run_id"]).read("evaluate", catalog.CONFIDENCE_FILE)
    assert record == stored["candidate"]
    assert record["calibration"]["method"] in {"none", "sigmoid", "isotonic"}
    ece = record["calibration"]["ece"]
    assert ece[record["calibration"]["method"]] <= ece["none"]  # calibrated only when that lowered the cross-fitted ECE
    assert abs(record["conformal"]["holdout_coverage"] - config.estimation.coverage) < 0.03
    baseline = registry.alias_version(config, "baseline")
    assert confidence.record_of(dict(baseline.tags)) == stored["baseline"] != record
    card = model_card.read(config, str(mv.version))
    assert card["calibration"]["holdout_coverage"] == record["conformal"]["holdout_coverage"]
    assert "Confidence and conformal sets" in model_card.render_body(card)


def test_a_regression_model_is_estimated_by_dle_with_intervals_and_an_unlabelled_batch(
        own_regression: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """A team's own regression data: batches from the reference's distribution, one without labels, one whose labels moved.

    The model is the session's ``own_regression`` (its config has only the contract keys): this test adds monitor runs
    of two batch files of its own, in name order."""
    from tests.conftest import workbench

    project, _ = own_regression
    frame = pd.read_csv(project / "mydata.csv")
    (project / "batches").mkdir()
    rng = np.random.default_rng(3)
    frame.sample(600, random_state=2).assign(spend=np.nan).to_csv(project / "batches" / "2026-01.csv", index=False)
    moved = frame.sample(600, random_state=3)
    moved.assign(spend=moved["spend"] + rng.normal(0, 15, 600)).to_csv(project / "batches" / "2026-02.csv", index=False)
    for batch in sorted((project / "batches").iterdir()):
        proc = workbench("monitor", "--config", "other.yaml", "--batch", str(batch), cwd=project)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    estimates = _estimates(project, "other.yaml")
    unlabelled, moved_ = estimates["2026-01"], estimates["2026-02"]
    assert unlabelled["method"] == "DLE" and unlabelled["metric"] == "rmse" and unlabelled["realised"] is None
    assert set(unlabelled["estimated"]) == {"mae", "rmse"} and not unlabelled["concept_drift_likely"]
    assert moved_["realised"]["metrics"]["rmse"] > moved_["estimated"]["rmse"]["high"] and moved_["concept_drift_likely"]
    assert moved_["coverage"]["observed"] < 0.5 < moved_["coverage"]["target"]  # the intervals no longer hold the truth
    config = load_config(project / "other.yaml")
    first = catalog.latest_per_batch(config)[0]
    predictions = pd.read_parquet(first.phase_dir("score") / catalog.PREDICTIONS_FILE)
    width = (predictions["interval_high"] - predictions["interval_low"]).round(9)
    assert width.nunique() == 1 and width.iloc[0] > 0  # split-conformal: one width, from the holdout
