"""A first run on real-looking data: a survey nobody here designed the model for.

The data imitates a public social survey (3,800 respondents, a CSV with string categories of
many levels, missing values in numeric and categorical columns, a mostly additive signal).
On such data a default gradient-boosting model is significantly worse than the logistic
baseline, so naming it fails the gate (exit 1, no model); the default ``model.estimator: auto``
chooses by cross-validation on the training split and registers a champion.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import workbench
from workbench.registry import estimators

pytestmark = pytest.mark.slow


def survey(n: int = 3800, seed: int = 12) -> pd.DataFrame:
    """Seeded survey-like data: did the respondent vote, from demographics, attitudes and 10 Likert items."""
    rng = np.random.default_rng(seed)
    regions = [f"Region {i:02d}" for i in range(45)]
    jobs = [f"occupation_{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + ["other", "retired", "student", "unemployed"]
    edu = ["none", "primary", "lower secondary", "upper secondary", "vocational", "bachelor", "master", "doctorate"]
    df = pd.DataFrame({
        "respondent": [f"R{i:05d}" for i in range(n)],
        "age": rng.integers(18, 90, n).astype(float),
        "income_k": np.round(rng.lognormal(3.4, 0.6, n), 1),
        "hours_week": np.round(rng.normal(36, 10, n).clip(0, 80)),
        "household": rng.integers(1, 7, n).astype(float),
        "trust_gov": rng.integers(1, 6, n).astype(float),
        "trust_media": rng.integers(1, 6, n).astype(float),
        "satisfaction": rng.integers(0, 11, n).astype(float),
        "region": rng.choice(regions, n),
        "occupation": rng.choice(jobs, n),
        "education": rng.choice(edu, n, p=[.03, .1, .15, .25, .17, .17, .1, .03]),
        "marital": rng.choice(["single", "married", "partner", "divorced", "widowed"], n),
    })
    items = rng.integers(1, 6, (n, 10)).astype(float)
    for k in range(10):
        df[f"q{k + 1:02d}"] = items[:, k]
    region_effect = dict(zip(regions, rng.normal(0, 0.25, len(regions)), strict=True))
    job_effect = dict(zip(jobs, rng.normal(0, 0.3, len(jobs)), strict=True))
    edu_effect = dict(zip(edu, np.linspace(-0.6, 0.6, len(edu)), strict=True))
    z = (0.03 * (df.age - 50) + 0.35 * (np.log(df.income_k) - 3.4) + 0.015 * (df.hours_week - 36) - 0.08 * (df.household - 3)
         + 0.22 * (df.trust_gov - 3) + 0.12 * (df.trust_media - 3) + 0.1 * (df.satisfaction - 5)
         + df.region.map(region_effect) + df.occupation.map(job_effect) + df.education.map(edu_effect)
         + (items - 3) @ np.array([0.2, -0.15, 0.12, 0.1, -0.1, 0.08, 0.06, 0.0, 0.0, 0.0]) - 0.9)
    df["voted"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    for col, share in (("income_k", .18), ("hours_week", .1), ("trust_media", .07), ("satisfaction", .05), ("occupation", .08),
                       ("education", .04), ("region", .02), ("q03", .06), ("q07", .09)):
        df.loc[rng.random(n) < share, col] = np.nan if df[col].dtype.kind == "f" else None
    return df


def _project(folder: Path, model: dict | None = None) -> Path:
    """A project with only the contract keys (and ``model`` when given)."""
    survey().to_csv(folder / "survey.csv", index=False)
    config = {"project": "survey", "data": {"reference": "survey.csv", "target": "voted", "id": "respondent"}}
    (folder / "workbench.yaml").write_text(yaml.safe_dump(config | ({"model": model} if model else {}), sort_keys=False))
    return folder


def _result(project: Path, phase: str, name: str = "result.json") -> dict:
    return json.loads((project / "reports" / "first" / phase / name).read_text())


def _client(project: Path) -> MlflowClient:
    uri = f"sqlite:///{project / '.workbench' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _out(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout[-3000:] + proc.stderr[-3000:]


def test_the_data_is_what_a_real_survey_looks_like() -> None:
    df = survey()
    assert df.shape == (3800, 23) and 0.25 < df["voted"].mean() < 0.4
    assert df["region"].nunique() == 45 and df["occupation"].nunique() == 30
    assert df["income_k"].isna().mean() > 0.15 and df["occupation"].isna().mean() > 0.05


def test_a_named_default_gradient_boosting_fails_the_baseline_gate(tmp_path: Path) -> None:
    project = _project(tmp_path, {"estimator": "hist_gradient_boosting"})
    proc = workbench("run", "--run-id", "first", cwd=project)
    assert proc.returncode == 1, _out(proc)
    evaluation = _result(project, "evaluate")
    assert evaluation["decision"]["decision"] == "reject"
    auc = {m: evaluation["metrics"][m]["roc_auc"]["value"] for m in ("candidate", "baseline")}
    assert auc["candidate"] < auc["baseline"] - 0.02, auc
    assert evaluation["comparisons"]["candidate_vs_baseline"]["high"] < 0
    assert "selection" not in _result(project, "train")  # a named estimator is exactly that estimator
    assert not (project / "reports" / "first" / "train" / "leaderboard.parquet").exists()


def test_auto_chooses_by_cross_validation_and_registers_a_champion(tmp_path: Path) -> None:
    project = _project(tmp_path)
    proc = workbench("run", "--run-id", "first", cwd=project)
    assert proc.returncode == 0, _out(proc)
    assert "model:    survey v1 (semver 1.0.0, champion)" in proc.stdout

    train = _result(project, "train")
    selection = train["selection"]
    board = pd.read_parquet(project / "reports" / "first" / "train" / "leaderboard.parquet")
    assert sorted(board["estimator"]) == sorted(r.name for r in estimators.candidates("binary"))
    assert board["mean"].is_monotonic_decreasing and (board["std"] > 0).all() and board["chosen"].tolist() == [True, False, False]
    assert selection["winner"] == board["estimator"][0] == train["estimator_name"]
    assert (selection["metric"], selection["folds"], selection["train_rows"], selection["subsampled"]) == ("roc_auc", 5, 2850, False)

    evaluation = _result(project, "evaluate")
    assert evaluation["decision"]["decision"] == "champion"
    assert evaluation["comparisons"]["candidate_vs_baseline"]["high"] >= 0
    manifest = json.loads((project / "reports" / "first" / "manifest.json").read_text())
    html = (project / "reports" / "first" / manifest["phases"]["evaluate"]["html"]).read_text()
    assert all(name in html for name in board["estimator"])  # the leaderboard is in the evaluate report

    client = _client(project)
    champion = client.get_model_version_by_alias("survey", "champion")
    winner_class = type(estimators.get("binary", selection["winner"]).make()).__name__
    assert champion.tags["workbench.estimator"] == winner_class
    children = client.search_runs([manifest["mlflow_experiment_id"]], f"tags.mlflow.parentRunId = '{manifest['mlflow_parent_run_id']}'")
    train_run = next(r for r in children if r.data.tags["workbench.phase"] == "train")
    assert train_run.data.params["selection_winner"] == selection["winner"]
    for row in board.itertuples():
        assert train_run.data.metrics[f"cv_{row.estimator}_mean"] == pytest.approx(row.mean)
        assert train_run.data.metrics[f"cv_{row.estimator}_std"] == pytest.approx(row.std)
    artifacts = [a.path for a in client.list_artifacts(train_run.info.run_id, "train")]
    assert "train/leaderboard.parquet" in artifacts
