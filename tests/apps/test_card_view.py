"""The model-card app: its answer from the card's JSON, the card inline at full height (no fixed-height
frame), and no server path on the page or in the download."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.conftest import demo_config
from workbench.apps import _context
from workbench.apps import card as app
from workbench.config import Config
from workbench.reports import model_card


def _card(**changes: object) -> dict:
    card = {
        "schema_version": 1, "generated": "2026-08-02T00:00:00+00:00",
        "model": {"name": "churn-demo", "version": "1", "semver": "1.0.0", "aliases": ["champion"], "task": "binary",
                  "estimator": "HistGradientBoostingClassifier", "registered": "2026-08-01T00:00:00+00:00", "run_id": "r1", "mlflow_run_id": "m1"},
        "intended_use": {"purpose": "Estimate churn.", "users": ["retention team"], "out_of_scope": "Automated decisions."},
        "training_data": {"source": "/srv/secret/project/data/reference.parquet", "sha256": "f69daba2fe5706f0458611f52e1046f3", "rows": 8000,
                          "columns": 15, "target": "churned", "period": {"column": "snapshot_date", "start": "2025-07-01", "end": "2025-12-31"}},
        "features": [{"name": "contract", "type": "object"}],
        "metrics": {"dataset": "holdout", "rows": 2000, "primary": "roc_auc", "confidence": 0.95, "baseline_primary": 0.87, "decision": "champion",
                    "values": [{"metric": "roc_auc", "value": 0.921, "low": 0.908, "high": 0.932}]},
        "fairness": {"status": "assessed", "dataset": "holdout", "failed_attributes": ["gender & age_band"], "monitored": [],
                     "checks": [{"attribute": "gender", "disparate_impact": 0.96, "equalized_odds_difference": 0.01, "passed": True},
                                {"attribute": "gender & age_band", "disparate_impact": 0.81, "equalized_odds_difference": 0.13, "passed": False}]},
        "explanations": {"method": "tree", "dataset": "holdout", "top_features": [{"feature": "contract", "importance": 1.7}]},
        "drift": {"status": "alert", "batch": "2026-08.parquet", "run_id": "r9", "data_drift": False, "concept_drift": True, "feature_drift": True,
                  "reasons": ["batch /srv/secret/project/data/batches/2026-08.parquet: performance degraded"], "batches_monitored": 8,
                  "alert_batches": ["2026-08.parquet"]},
        "kpis": {"batch": "2026-08.parquet", "run_id": "r9", "rows": [
            {"kpi": "cost", "label": "Cost", "unit": "EUR", "direction": "lower", "baseline": 1.0, "target": 1.0, "current": 2.0, "ci_low": 1.5,
             "ci_high": 2.5, "gap": 1.0, "on_target": False}]},
        "changelog": [], "approvals": [], "lineage": {"data_sha256": "f69daba2fe5706f0458611f52e1046f3"},
        "limitations": [{"source": "records", "text": "The records are unreadable (/srv/secret/project/reports/r1/manifest.json is missing)."}],
    }
    return card | changes


def _config(tmp_path: Path) -> Config:
    return Config.model_validate({**demo_config(), "source": tmp_path / "workbench.yaml"})


def test_the_answer_summarises_the_card(tmp_path: Path) -> None:
    assert app.lead_sentence(_card(), _config(tmp_path)) == (
        "Model v1 (1.0.0), a hist gradient boosting classifier trained on 8,000 rows, is the champion; holdout AUC 0.92; "
        "one fairness check fails (gender & age_band equalized odds).", "warn", "Latest monitored batch 2026-08: drift alert; 1 of 1 KPIs off target.")
    calm = _card(model={**_card()["model"], "aliases": [], "estimator": ""}, drift={**_card()["drift"], "status": "no drift"},
                 fairness={**_card()["fairness"], "checks": _card()["fairness"]["checks"][:1]}, kpis={"batch": None, "run_id": None, "rows": []})
    assert app.lead_sentence(calm, _config(tmp_path)) == (
        "Model v1 (1.0.0), a binary model trained on 8,000 rows, holds no alias (not in use); holdout AUC 0.92; its one fairness check passes.",
        "ok", "Latest monitored batch 2026-08: no drift.")


def test_the_card_renders_inline_without_server_paths(tmp_path: Path) -> None:
    body = model_card.render_body(_card())
    page = model_card.render_html(_card())
    for text in (body, page):
        assert "/srv/secret" not in text and "<iframe" not in text
        assert "<td>reference.parquet</td>" in text and "<code>f69daba2fe57</code>…" in text
        assert "batch 2026-08.parquet: performance degraded" in text and "(manifest.json is missing)" in text
    assert body.startswith('<div class="wb-card">\n<style>') and "<html" not in body and "body {" not in body
    assert app.render(_card()) == body
    assert app.render({"model": {"name": "x <b>"}}) == '<div class="wb-card"><dl><h3>model</h3><dl><dt><b>name</b></dt><dd>x &lt;b&gt;</dd></dl></dl></div>'


@pytest.mark.parametrize(("name", "words"), [("HistGradientBoostingClassifier", "hist gradient boosting classifier"),
                                             ("LogisticRegression", "logistic regression"), ("XGBClassifier", "XGB classifier")])
def test_estimator_names_read_as_words(name: str, words: str) -> None:
    assert app.estimator_words(name) == words


@pytest.mark.slow
def test_the_demo_card_is_inline_at_full_height_without_project_paths(monitored_demo) -> None:
    project, _ = monitored_demo
    ctx = _context.context(str(project / "workbench.yaml"))
    version = app.versions(ctx)[0]
    view = app.CardApp(ctx, app.versions(ctx), version)
    page = view.card.value + view.frame.lead.value
    assert str(project) not in page and "<iframe" not in page and "height:900px" not in page
    assert view.card.value.startswith('<div class="wb-card">') and 'id="training-data"' in view.card.value
    assert view.frame.lead.value.startswith(f'<div class="wb-msg wb-warn wb-lead"><p class="wb-answer">Model v{version} (')
    href = re.search(r'href="data:text/html;charset=utf-8;base64,([^"]+)"', view.frame.download.value).group(1)
    download = base64.b64decode(href).decode()
    assert download == model_card.render_html(model_card.read(ctx.config, version)) and str(project) not in download
