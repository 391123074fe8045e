"""The impact phase on the monitored demo: KPI figures recomputed by hand, the trend, and the planted concept drift."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

KPI_COLUMNS = ["kpi", "direction", "baseline", "target", "current", "gap", "ci_low", "ci_high", "model_version", "batch"]


def _latest_monitor_runs(project: Path) -> dict[str, Path]:
    """Batch name -> folder of its latest monitor run, read from the manifests (not through workbench)."""
    out: dict[str, Path] = {}
    for manifest in sorted((project / "reports").glob("*/manifest.json")):
        data = json.loads(manifest.read_text())
        score = manifest.parent / "score" / "result.json"
        if data.get("kind") == "monitor" and score.is_file():
            out[json.loads(score.read_text())["batch"]["name"]] = manifest.parent
    return out


@pytest.fixture(scope="module")
def demo(monitored_demo):
    from workbench.config import load_config

    project, _ = monitored_demo
    return project, load_config(project / "workbench.yaml"), _latest_monitor_runs(project)


def test_impact_phase_ran_in_every_monitor_run(demo) -> None:
    project, _, runs = demo
    assert sorted(runs)[:8] == [f"2026-0{m}.parquet" for m in range(1, 9)]
    for folder in runs.values():
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["phases"]["impact"]["status"] == "succeeded", manifest["phases"]["impact"]
        for name in ("kpis.parquet", "trend.parquet", "impact.json", "trend.png", "result.json"):
            assert (folder / "impact" / name).is_file(), name
        assert (folder / "impact" / "trend.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_kpi_figures_match_a_recomputation_by_hand(demo) -> None:
    from workbench import registry
    from workbench.data import Schema
    from workbench.registry import estimators

    project, config, runs = demo
    folder = runs["2026-02.parquet"]
    predictions = pd.read_parquet(folder / "score" / "predictions.parquet")
    y, score = predictions["label"].to_numpy(), predictions["score"].to_numpy()
    batch = pd.read_parquet(json.loads((folder / "score" / "result.json").read_text())["batch"]["path"])
    baseline = registry.load(config, "baseline")
    base = estimators.predict(baseline.model, batch, Schema.from_dict(baseline.schema), "binary")

    def cells(s: np.ndarray) -> tuple[int, int, int]:
        flagged = s >= 0.5
        return int((flagged & (y == 1)).sum()), int((flagged & (y == 0)).sum()), int((~flagged & (y == 1)).sum())

    tp, fp, fn = cells(score)
    btp, bfp, bfn = cells(base)
    values = {k.name: k.values for k in config.kpis}
    save, contact = values["churn_reduction"]["save_rate"], values["cost_per_saved_customer"]["contact_cost"]
    table = pd.read_parquet(folder / "impact" / "kpis.parquet")
    assert set(KPI_COLUMNS) <= set(table.columns)
    assert sorted(table["kpi"]) == ["churn_reduction", "cost_per_saved_customer"]  # forecast accuracy is for regression models
    row = table.set_index("kpi")
    reduction, cost = row.loc["churn_reduction"], row.loc["cost_per_saved_customer"]
    assert reduction["current"] == pytest.approx(save * tp / (tp + fn))
    assert reduction["baseline"] == pytest.approx(save * btp / (btp + bfn))
    assert reduction["gap"] == pytest.approx(reduction["target"] - reduction["current"])
    assert cost["current"] == pytest.approx(contact * (tp + fp) / (save * tp))
    assert cost["baseline"] == pytest.approx(contact * (btp + bfp) / (save * btp))
    assert cost["gap"] == pytest.approx(cost["current"] - cost["target"])
    for r in (reduction, cost):
        assert r["ci_low"] < r["current"] < r["ci_high"]
        assert r["model_version"] == str(predictions["model_version"].iloc[0]) and r["batch"] == "2026-02.parquet"


def test_trend_has_one_row_per_kpi_per_batch_with_its_model_version(demo) -> None:
    _, _, runs = demo
    latest = max(runs.values(), key=lambda f: f.name)
    trend = pd.read_parquet(latest / "impact" / "trend.parquet")
    labelled = [b for b, f in runs.items() if len(pd.read_parquet(f / "impact" / "kpis.parquet"))]
    assert sorted(trend["batch"].unique()) == sorted(labelled)
    assert (trend.groupby("batch")["kpi"].count() == 2).all()
    for batch, folder in runs.items():
        if batch in labelled:
            version = str(pd.read_parquet(folder / "score" / "predictions.parquet")["model_version"].iloc[0])
            assert set(trend.loc[trend["batch"] == batch, "model_version"]) == {version}


def test_planted_concept_drift_visibly_hurts_the_kpis(demo) -> None:
    _, _, runs = demo
    rows = {b: pd.read_parquet(f / "impact" / "kpis.parquet").set_index("kpi") for b, f in runs.items()}
    before = [rows[f"2026-0{m}.parquet"] for m in (1, 2, 3, 4)]
    after = rows["2026-05.parquet"]
    # Churn reduction falls (higher is better): the drifted interval lies entirely below every earlier one.
    assert after.loc["churn_reduction", "ci_high"] < min(r.loc["churn_reduction", "ci_low"] for r in before)
    # The cost per saved customer rises (lower is better) beyond every earlier interval.
    assert after.loc["cost_per_saved_customer", "ci_low"] > max(r.loc["cost_per_saved_customer", "ci_high"] for r in before)
    assert all(after.loc[k, "gap"] > max(r.loc[k, "gap"] for r in before) for k in ("churn_reduction", "cost_per_saved_customer"))
    summary = json.loads((runs["2026-05.parquet"] / "impact" / "impact.json").read_text())
    assert summary["status"] == "measured" and sorted(summary["off_target"]) == ["churn_reduction", "cost_per_saved_customer"]
    assert summary["skipped_kpis"] == [{"kpi": "forecast_accuracy", "reason": "defined for regression models, this one is binary"}]
