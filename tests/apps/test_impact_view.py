"""The impact app: its answer names each KPI's gap in the KPI's unit (shares as percentages), furthest off
target first, or says plainly why no KPI was measured; tables and axes carry the units."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.apps.conftest import stored_choice
from tests.conftest import demo_config
from workbench.apps import _context
from workbench.apps import impact as app
from workbench.apps._context import AppContext
from workbench.config import Config
from workbench.reports import catalog


def _config(tmp_path: Path, **overrides: object) -> Config:
    return Config.model_validate({**demo_config(), **overrides, "source": tmp_path / "workbench.yaml"})


def _kpis(cost: float = 93.406593, churn: float = 0.247199) -> pd.DataFrame:
    return pd.DataFrame([
        {"kpi": "churn_reduction", "label": "Churn reduction (share of churners retained)", "unit": "share", "direction": "higher", "baseline": 0.21511,
         "target": 0.26, "current": churn, "gap": 0.26 - churn, "ci_low": 0.234333, "ci_high": 0.259178, "on_target": churn >= 0.26, "model_version": "1",
         "batch": "2026-08.parquet"},
        {"kpi": "cost_per_saved_customer", "label": "Retention cost per saved customer (CAC analogue)", "unit": "EUR", "direction": "lower",
         "baseline": 101.815312, "target": 90.0, "current": cost, "gap": cost - 90, "ci_low": 89.6, "ci_high": 98.0, "on_target": cost <= 90,
         "model_version": "1", "batch": "2026-08.parquet"}])


@pytest.mark.parametrize(("value", "unit", "shown"), [(93.406593, "EUR", "93.41 EUR"), (90.0, "EUR", "90 EUR"), (0.247199, "share", "24.7%"),
                                                      (0.26, "share", "26%"), (12345.6, "", "12,346"), (0.004123, "orders", "0.00412 orders"),
                                                      (float("nan"), "EUR", "—"), (42.5, "%", "42.5%")])
def test_amounts_carry_their_unit(value: float, unit: str, shown: str) -> None:
    assert app.amount(value, unit) == shown


def test_the_answer_gives_each_gap_in_its_unit_furthest_off_target_first(tmp_path: Path) -> None:
    sentence, kind = app.lead_sentence("2026-08", _kpis(), {"status": "measured"}, _config(tmp_path))
    # churn reduction is 4.9% of its target short, the cost 3.8% above its target: churn reduction comes first
    assert sentence == ("In 2026-08 churn reduction was 24.7%, 1.3 points short of its 26% target; "
                        "retention cost per saved customer was 93.41 EUR, 3.41 EUR above the 90 EUR target.")
    assert kind == "warn"
    sentence, kind = app.lead_sentence("2026-02", _kpis(cost=80.0, churn=0.3), {"status": "measured"}, _config(tmp_path))
    # both on target: the one with the smaller margin (11% of its target, against 15%) first
    assert sentence == ("In 2026-02 retention cost per saved customer was 80 EUR, better than its 90 EUR target by 10 EUR; "
                        "churn reduction was 30%, better than its 26% target by 4 points.")
    assert kind == "ok"


def test_the_answer_says_why_no_kpi_was_measured(tmp_path: Path) -> None:
    empty = _kpis().iloc[:0]
    assert app.lead_sentence("2026-09", empty, {"status": "not measured", "reason": "no labels in this batch yet (KPIs need outcomes)"},
                             _config(tmp_path)) == ("In 2026-09 no KPI was measured: the batch has no outcomes (labels) yet, and KPIs need them.", "info")
    assert app.lead_sentence("2026-09", empty, {}, _config(tmp_path, kpis=[])) == (
        "In 2026-09 no KPI was measured: no KPIs are configured (add a 'kpis' section to workbench.yaml).", "info")
    regression_only = [k for k in demo_config()["kpis"] if k.get("task") == "regression"]
    skipped = {"status": "not measured", "reason": "no KPIs configured for this task (add a 'kpis:' section to the config)",
               "skipped_kpis": [{"kpi": "forecast_accuracy", "reason": "defined for regression models, this one is binary"}]}
    assert app.lead_sentence("2026-09", empty, skipped, _config(tmp_path, kpis=regression_only)) == (
        "In 2026-09 no KPI was measured: no configured KPI applies to this binary model: "
        "forecast accuracy (defined for regression models, this one is binary).", "info")


def test_the_table_shows_units_as_words(tmp_path: Path) -> None:
    html = app.kpi_table(_kpis())
    assert "<th>unit</th>" in html and "<td>EUR</td>" in html and "<td>%</td>" in html and "<td>93.41</td>" in html and "<td>24.7</td>" in html
    one = app.kpi_table(_kpis().iloc[1:])
    assert "<th>current (EUR)</th>" in one and "<th>unit</th>" not in one


def test_the_app_leads_with_the_trend_of_the_kpi_most_off_target(tmp_path: Path) -> None:
    folder = tmp_path / "20260801T000000Z-monitor-abcd"
    (folder / "impact").mkdir(parents=True)
    kpis = _kpis()
    kpis.to_parquet(folder / "impact" / catalog.KPIS_FILE)
    pd.concat([kpis.assign(batch="2026-07.parquet"), kpis]).to_parquet(folder / "impact" / catalog.TREND_FILE)
    (folder / "impact" / catalog.IMPACT_FILE).write_text(json.dumps({"status": "measured", "skipped_kpis": []}))
    choice = stored_choice(folder)
    view = app.ImpactApp(AppContext(_config(tmp_path), {}), [choice], choice)
    assert "3.41 EUR above the 90 EUR target" in view.frame.lead.value and view.frame.chart.value[:4] == b"\x89PNG"
    assert view.lead_kpi == "churn_reduction" and view.trend_img.layout.display == "none"
    view.kpi.value = "cost_per_saved_customer"
    assert view.trend_img.layout.display is None and view.trend_img.value[:4] == b"\x89PNG" and view.frame.status.value == ""


@pytest.mark.slow
def test_the_demo_answer_uses_the_stored_kpi_values(monitored_demo) -> None:
    project, _ = monitored_demo
    ctx = _context.context(str(project / "workbench.yaml"))
    choice = ctx.pick("impact")
    view = app.ImpactApp(ctx, ctx.choices("impact"), choice)
    kpis = pd.read_parquet(choice.info.phase_dir("impact") / catalog.KPIS_FILE).set_index("kpi")
    cost, churn = kpis.loc["cost_per_saved_customer"], kpis.loc["churn_reduction"]
    expected = app.lead_sentence(choice.batch, kpis.reset_index(), {}, ctx.config)[0]
    assert f"retention cost per saved customer was {cost['current']:.2f} EUR" in expected
    assert f"churn reduction was {churn['current'] * 100:.1f}%" in expected
    assert f"{abs(churn['current'] - 0.26) * 100:.1f} points short of its 26% target" in expected
    assert f"<p class=\"wb-answer\">{expected}</p>" in view.frame.lead.value
