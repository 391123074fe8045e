"""Issue 17's DP acceptance on the demo: private features with their utility table in the evaluate report and the card,
the budget ledger, and the private drift and fairness releases of a monitored batch (one lifecycle, one batch).

The demo's ``tenure_months`` runs from 1 to 72 months in the reference and every batch, so its declared bounds are [0, 72].
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import copy_demo_config, workbench
from workbench.config import load_config
from workbench.governance import privacy_ledger
from workbench.reports import catalog, model_card

pytestmark = pytest.mark.slow

PRIVACY = {"features": {"columns": ["tenure_months"], "epsilon": 1.0}, "bounds": {"tenure_months": [0, 72]},
           "releases": {"drift": 1.0, "fairness": 1.0}}
BATCH = "2026-01.parquet"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo with privacy on: trained once, then its first batch monitored."""
    folder = tmp_path_factory.mktemp("private-project")
    copy_demo_config(folder, privacy=PRIVACY)
    for args in (("run",), ("monitor", "--batch", f"data/demo/batches/{BATCH}")):
        proc: subprocess.CompletedProcess[str] = workbench(*args, cwd=folder)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return folder


def _trained(project: Path) -> tuple[object, Path]:
    from workbench import registry

    config = load_config(project / "workbench.yaml")
    mv = registry.alias_version(config, "champion")
    return config, catalog.get_run(config, mv.tags["workbench.run_id"]).path


def _monitored(project: Path) -> Path:
    config = load_config(project / "workbench.yaml")
    [batch] = catalog.latest_per_batch(config)
    return batch.path


def test_the_utility_table_is_in_the_evaluate_report_mlflow_and_the_model_card(project: Path) -> None:
    from workbench.registry.store import client_for

    config, run = _trained(project)
    table = pd.read_parquet(run / "evaluate" / catalog.PRIVACY_UTILITY_FILE)
    assert table["setting"].tolist() == ["clean", "epsilon=0.5", "epsilon=1", "epsilon=2", "epsilon=8"]
    assert table["configured"].tolist() == [False, False, True, False, False] and table["metric_name"].eq("roc_auc").all()
    at = table[table["configured"]].iloc[0]
    assert at["loss"] == pytest.approx(table["metric"].iloc[0] - at["metric"])
    assert 60 < at["mean_abs_noise"] < 84  # ~72 months of error per row at epsilon 1 on a 72-month range: the warning
    html = (run / "html" / "30_evaluate.html").read_text()
    assert "Privacy: utility of private features" in html and f"At epsilon 1 it loses {at['loss']:.4f}" in html
    assert all(f"<td>{s}</td>" in html for s in table["setting"])
    evaluate_run = (run / "evaluate" / catalog.MLFLOW_RUN_ID_FILE).read_text()
    logged = client_for(config).get_run(evaluate_run).data.metrics
    assert logged["privacy_roc_auc_eps_1"] == pytest.approx(at["metric"]) and logged["privacy_roc_auc_clean"] == pytest.approx(table["metric"][0])
    card = model_card.read(config)
    section = card["privacy"]
    assert (section["epsilon"], section["columns"], section["bounds"]) == (1.0, ["tenure_months"], {"tenure_months": [0.0, 72.0]})
    assert section["loss"] == pytest.approx(at["loss"]) and section["metric"] == "roc_auc"
    assert [u["setting"] for u in section["utility"]] == table["setting"].tolist()
    assert [u["metric"] for u in section["utility"]] == pytest.approx(table["metric"].tolist())
    assert [(r["release"], r["private"], r["epsilon"]) for r in section["releases"]] == [("features", True, 1.0), ("drift", True, 1.0),
                                                                                          ("fairness", True, 1.0)]
    assert sorted((m["batch"], m["release"]) for m in section["monitored"]) == [(BATCH, "drift"), (BATCH, "fairness")]
    page = re.sub(r"\s+", " ", model_card.html_path(config).read_text())
    assert 'id="privacy"' in page and "tenure_months carry per-row Laplace noise at ε = 1" in page
    assert f"a loss of {model_card._num(section['loss'], 3)}" in page and "<td>epsilon=0.5</td>" in page


def test_train_and_baseline_share_one_private_release_spent_once_from_the_reference(project: Path) -> None:
    config, run = _trained(project)
    train, baseline = (json.loads((run / p / catalog.RESULT_FILE).read_text()) for p in ("train", "baseline"))
    assert sorted([train["privacy"]["reused"], baseline["privacy"]["reused"]]) == [False, True]
    assert train["privacy"]["sha256"] == train["data"]["sha256"] and train["privacy"]["epsilon"] == 1.0
    holdout = pd.read_parquet(run / "train" / catalog.HOLDOUT_FILE)
    reference = pd.read_parquet(project / "data" / "demo" / "reference.parquet").set_index("customer_id")
    assert holdout["tenure_months"].tolist() == reference.loc[holdout["customer_id"], "tenure_months"].tolist()  # the holdout stays clean
    rows = {r["sha256"]: r for r in privacy_ledger.ledger(config.store)}
    ref = rows[train["data"]["sha256"]]
    assert (ref["dataset"], ref["releases"], ref["epsilon_spent"], ref["budget_epsilon"]) == ("reference.parquet", 1, 1.0, 10.0)
    shown = workbench("privacy", "budget", "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    assert {r["sha256"]: r["epsilon_spent"] for r in json.loads(shown.stdout)}[train["data"]["sha256"]] == 1.0


def test_the_monitored_batch_publishes_private_drift_and_fairness_releases(project: Path) -> None:
    from workbench.apps import drift as drift_app
    from workbench.apps import fairness as fairness_app
    from workbench.apps import prepare
    from workbench.apps._context import AppContext

    config, run = load_config(project / "workbench.yaml"), _monitored(project)
    batch = json.loads((run / "score" / catalog.RESULT_FILE).read_text())["batch"]
    released = json.loads((run / "drift" / catalog.PRIVACY_FILE).read_text())
    assert (released["release"], released["epsilon"], released["dataset"], released["sha256"]) == ("drift", 1.0, BATCH, batch["sha256"])
    assert [p["epsilon"] for p in released["parts"]] == [0.5, 0.5]  # distributions and the bounded mean share the release's epsilon
    dist = pd.read_parquet(run / "drift" / catalog.DISTRIBUTIONS_FILE)
    k = dist["column"].nunique()
    assert dist["epsilon"].eq(0.5).all() and dist["noise_scale"].eq(k / 0.5).all() and released["parts"][0]["scale"] == k / 0.5
    frame = pd.read_parquet(project / "data" / "demo" / "batches" / BATCH)
    tenure = dist[dist["column"] == "tenure_months"]
    exact = [int(((frame["tenure_months"] >= lo) & (frame["tenure_months"] < hi)).sum()) for lo, hi in zip(tenure["low"], tenure["high"], strict=True)]
    noise = tenure["batch_count"].to_numpy() - np.array(exact)
    assert (noise != 0).any() and np.abs(noise).max() < 12 * k / 0.5  # Laplace(20) on every count, none wildly off
    [mean] = pd.read_parquet(run / "drift" / catalog.PRIVATE_MEANS_FILE).to_dict(orient="records")
    assert mean["column"] == "tenure_months" and abs(mean["mean"] - frame["tenure_months"].mean()) < 2
    groups = pd.read_parquet(run / "fairness" / catalog.GROUPS_FILE)
    assert groups["noise_scale"].eq(3.0).all() and groups["epsilon"].eq(1.0).all()  # gender, age_band and their intersection
    assert not (run / "fairness" / catalog.BIAS_DRIFT_FILE).exists() and not (run / "fairness" / catalog.THRESHOLD_FILE).exists()
    assert json.loads((run / "fairness" / catalog.FAIRNESS_FILE).read_text())["private"] is True
    spent = {r["sha256"]: r for r in privacy_ledger.ledger(config.store)}[batch["sha256"]]
    assert (spent["dataset"], spent["releases"], spent["epsilon_spent"]) == (BATCH, 2, 2.0)
    # the apps say so beside the tables
    ctx = AppContext(prepare("drift", config=str(project / "workbench.yaml")).ctx.config, {"run": run.name})
    view = drift_app.DriftApp(ctx, ctx.choices("drift"), ctx.pick("drift", run.name))
    view.feature.value = "tenure_months"
    view.show_feature()
    assert "The batch counts: noise added (ε = 1)." in view.feature_html.value
    view = fairness_app.FairnessApp(ctx, ctx.choices("fairness"), ctx.pick("fairness", run.name))
    view.page_groups()
    assert "The group counts and rates: noise added (ε = 1)." in view.groups_html.value


def test_a_release_the_budget_cannot_pay_is_refused_and_nothing_is_published(project: Path) -> None:
    """Last in the module: it leaves a failed standalone run behind."""
    import mlflow

    import workbench as wb
    from workbench.exceptions import BudgetExceeded
    from workbench.phases import drift, fairness

    settings = yaml.safe_load((project / "workbench.yaml").read_text())
    settings["privacy"]["datasets"] = {BATCH: {"epsilon": 2.5}}  # 2 of it already spent by the monitor run
    (project / "refuse.yaml").write_text(yaml.safe_dump(settings))
    sha = json.loads((_monitored(project) / "score" / catalog.RESULT_FILE).read_text())["batch"]["sha256"]
    refusal = (f"privacy budget of dataset {BATCH} (sha256 {sha[:12]}) exceeded: release '{{}}' asks epsilon 1, 0.5 of 2.5 remain "
               f"(2 spent by 2 release(s)); nothing was released. Fix: raise privacy.budget.epsilon (or privacy.datasets.{BATCH}.epsilon) "
               "in the config, or release with a smaller epsilon.")
    for name, module, call in (("drift", drift, lambda p, r, b: drift.data_drift(p, r, b)),
                               ("fairness", fairness, lambda p, r, b: fairness.audit(p, r, b))):
        phase = wb.start_phase(name, config=str(project / "refuse.yaml"), run_id="", params={})
        try:
            ref = module.reference(phase.config)
            batch, _ = module.scored_batch(phase)
            with pytest.raises(BudgetExceeded) as err:
                call(phase, ref, batch)
        finally:
            mlflow.end_run("FAILED")
        assert str(err.value) == refusal.format(name)
        assert sorted(p.name for p in phase.dir.iterdir()) == [catalog.MLFLOW_RUN_ID_FILE]  # no exact table in place of the private one
    [row] = [r for r in privacy_ledger.ledger(load_config(project / "refuse.yaml").store) if r["sha256"] == sha]
    assert (row["releases"], row["epsilon_spent"], row["refused"]) == (2, 2.0, 2)
