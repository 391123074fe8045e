"""The feedback loop end to end: a batch without labels is estimated, the review queue asks for labels, reviewers
give them, and monitoring the batch again sets the inverse-propensity-weighted realised AUC beside the estimate.

The batch is the demo's concept-drift month (2026-05) with its labels removed: the estimate (which cannot see
concept drift) stays high, and only the reviewed labels reveal the drop.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tests.conftest import workbench
from workbench import registry
from workbench.config import load_config
from workbench.data.dataset import Schema
from workbench.registry import estimators
from workbench.reports import catalog

pytestmark = pytest.mark.slow


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def trained(trained_demo: Path) -> Path:
    """The flat demo trained once (the session's shared ``trained_demo``); each test monitors batches of its own names."""
    (trained_demo / "incoming").mkdir(exist_ok=True)
    return trained_demo


def _latest_estimate(project: Path, name: str) -> tuple[dict, pd.DataFrame]:
    config = load_config(project / "workbench.yaml")
    run = next(b for b in catalog.latest_per_batch(config, "drift", name=catalog.ESTIMATE_FILE) if b.name == name)
    return run.read("drift", catalog.ESTIMATE_FILE), pd.read_parquet(run.phase_dir("score") / catalog.PREDICTIONS_FILE)


def test_reviewed_labels_weighted_by_their_propensity_reveal_what_the_estimate_cannot(trained: Path) -> None:
    project = trained
    batch = pd.read_parquet(project / "data" / "demo" / "batches" / "2026-05.parquet")
    truth = batch.set_index("customer_id")["churned"]
    name = "2026-05-unlabelled.parquet"
    batch.assign(churned=np.nan).to_parquet(project / "incoming" / name)
    _ok(workbench("monitor", "--batch", f"incoming/{name}", cwd=project))
    before, scored = _latest_estimate(project, name)
    assert before["realised"] is None and before["feedback"] is None and not before["concept_drift_likely"]
    band = before["estimated"]["roc_auc"]

    queue = _ok(workbench("feedback", "queue", "--budget", "600", "--batch", name, "--control-share", "0.5", "--seed", "3",
                          "--out", "review.csv", cwd=project))
    assert "600" in queue.stdout
    sheet = pd.read_csv(project / "review.csv")
    assert len(sheet) == 600 and set(sheet["reason"]) == {"uncertain", "random"} and sheet["label"].isna().all()
    sheet["label"] = sheet["entity_id"].map(truth).astype(int)  # the reviewers' answers: the labels that arrive later
    sheet.to_csv(project / "review.csv", index=False)
    _ok(workbench("feedback", "import", "review.csv", cwd=project))

    _ok(workbench("monitor", "--batch", f"incoming/{name}", cwd=project))  # the same file: its rows keep their prediction ids
    after, rescored = _latest_estimate(project, name)
    assert list(rescored["prediction_id"]) == list(scored["prediction_id"])
    fb = after["feedback"]
    assert fb["status"] == "compared" and fb["from_queue"] == 600 and fb["self_selected"] == 0
    weighted = fb["metrics"]["roc_auc"]["value"]
    realised = roc_auc_score(batch["churned"], rescored["score"])  # what all 2,000 labels would say
    picked = rescored.set_index("prediction_id").loc[sheet["prediction_id"]]
    unweighted = roc_auc_score(sheet["label"], picked["score"])
    assert abs(weighted - realised) < 0.05 and abs(weighted - realised) < abs(unweighted - realised)
    row = next(r for r in fb["comparison"] if r["metric"] == "roc_auc")
    assert row["concept_drift_likely"] and after["concept_drift_likely"] and realised < band["low"]
    assert "likely concept drift" in after["concept_drift_reason"]
    verdict = json.loads((project / "reports").glob("*").__next__().parent.joinpath(
        next(b.run_id for b in catalog.latest_per_batch(load_config(project / "workbench.yaml"), "drift") if b.name == name),
        "drift", catalog.VERDICT_FILE).read_text())
    assert any("likely concept drift" in r for r in verdict["reasons"])


def test_a_batch_of_hard_cases_raises_the_estimate_alert_without_labels(trained: Path) -> None:
    """Covariate shift the model finds hard (only customers it scores near the threshold): the estimate falls, and alerts."""
    project = trained
    champion = registry.load(load_config(project / "workbench.yaml"), "champion")
    batch = pd.read_parquet(project / "data" / "demo" / "batches" / "2026-01.parquet")
    score = pd.Series(estimators.predict(champion.model, batch, Schema.from_dict(champion.schema), "binary"), index=batch.index)
    hard = batch[score.between(0.2, 0.8)]
    assert len(hard) >= 200
    hard.assign(churned=np.nan).to_parquet(project / "incoming" / "hard.parquet")
    proc = _ok(workbench("monitor", "--batch", "incoming/hard.parquet", cwd=project))
    est, _ = _latest_estimate(project, "hard.parquet")
    auc = est["estimated"]["roc_auc"]
    assert est["alert"] and auc["value"] < est["alert_threshold"] < auc["reference"]
    assert est["alert_reason"] == (f"estimated roc_auc {auc['value']:.3f} below {est['alert_threshold']:.3f} "
                                   f"(5% under the reference {auc['reference']:.3f}; no labels needed)")
    assert "retrain request" in proc.stdout
    labelled_auc = roc_auc_score(hard["churned"], score[score.between(0.2, 0.8)])
    assert auc["low"] <= labelled_auc <= auc["high"]  # the labels, once they come, will confirm it: the drop is real
