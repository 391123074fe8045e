"""The drift app's answer: exact lead sentences from stored results, tiles that agree with them, and the evidently statement."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from workbench.apps import _drift_lead as lead
from workbench.apps import drift
from workbench.apps._leads import batch_label
from workbench.reports import catalog

ROC = {"status": "ok", "metric": "roc_auc", "degraded": False, "reference": 0.9209, "batch": 0.9087, "confidence": 0.95, "difference": -0.0122}


def columns(drifted: dict[str, float], others: int) -> pd.DataFrame:
    """A per-column table: ``drifted`` columns with their effect sizes, then ``others`` clean ones."""
    rows = [{"column": c, "effect_size": e, "drifted": True, "effect_threshold": 0.05} for c, e in drifted.items()]
    rows += [{"column": f"clean_{i}", "effect_size": 0.01, "drifted": False, "effect_threshold": 0.05} for i in range(others)]
    return pd.DataFrame(rows)


def data(count: int, total: int, drift: bool = False) -> dict:
    return {"dataset": {"columns": total, "drifted_columns": count, "drifted_share": count / total, "drift": drift}, "drift_share": 0.5}


def test_no_drift_sentence() -> None:
    sentence, kind = lead.lead_sentence("2026-01.parquet", {"data_drift": False}, data(0, 10), columns({}, 10), {"performance": ROC})
    assert sentence == "In 2026-01 production data looks like the training data: no column drifted, and AUC held at 0.91 (reference 0.92)."
    assert kind == "ok"


def test_some_columns_and_concept_drift() -> None:
    perf = {**ROC, "degraded": True, "batch": 0.7712, "difference": -0.15}
    cols = columns({"total_charges": 0.23, "monthly_charges": 0.77, "tenure_months": 0.08}, 7)
    sentence, kind = lead.lead_sentence("2026-05.parquet", {}, data(3, 10), cols, {"performance": perf})
    assert sentence == ("In 2026-05, 3 of 10 columns drifted (monthly_charges, total_charges and tenure_months) — fewer than the half "
                        "needed to call the whole dataset drifted — and the model's AUC fell from 0.92 to 0.77, beyond its 95% interval: concept drift.")
    assert kind == "error"


def test_some_columns_only_is_a_warning() -> None:
    sentence, kind = lead.lead_sentence("2026-03", {}, data(1, 10), columns({"monthly_charges": 0.27}, 9), {"performance": ROC})
    assert sentence == ("In 2026-03, 1 of 10 columns drifted (monthly_charges) — fewer than the half needed to call the whole dataset "
                        "drifted — and AUC held at 0.91 (reference 0.92).")
    assert kind == "warn"


def test_dataset_drift_names_the_rule_and_more_columns() -> None:
    cols = columns({f"c{i}": 0.5 - i / 100 for i in range(6)}, 4)
    sentence, kind = lead.lead_sentence("2026-09.csv", {}, data(6, 10, drift=True), cols, {"performance": ROC})
    assert sentence == ("In 2026-09, 6 of 10 columns drifted (c0, c1, c2, c3 and 2 more) — at least the half needed to call the whole "
                        "dataset drifted: data drift — and AUC held at 0.91 (reference 0.92).")
    assert kind == "error"


def test_no_labels_and_unknown_performance() -> None:
    perf = {"status": "no labels", "metric": "roc_auc", "reason": "the batch has no labels yet"}
    sentence, kind = lead.lead_sentence("2026-02", {}, data(0, 4), columns({}, 4), {"performance": perf, "prediction_drift": {"drift": False}})
    assert sentence == ("In 2026-02 production data looks like the training data: no column drifted, and labels for this batch have not "
                        "arrived yet, so the model's AUC cannot be checked.")
    assert kind == "info"


def test_regression_metric_is_the_stored_one() -> None:
    perf = {"status": "ok", "metric": "rmse", "degraded": True, "reference": 10.0, "batch": 14.5, "confidence": 0.95, "difference": 4.5}
    sentence, _ = lead.lead_sentence("w07", {}, data(0, 3), columns({}, 3), {"performance": perf})
    assert sentence == ("In w07 production data looks like the training data: no column drifted, but the model's RMSE rose from 10.00 "
                        "to 14.50, beyond its 95% interval: concept drift.")


def test_tiles_agree_with_the_sentence() -> None:
    items = lead.tiles({"data_drift": False}, data(4, 10), {"performance": ROC})
    assert items[0] == ("dataset drift (when at least half of the columns drift)", "no — 4 of 10 columns", "amber")
    assert items[1] == ("drifted columns", "4 of 10", "amber")
    sentence, _ = lead.lead_sentence("b", {}, data(4, 10), columns({"a": 1, "b": 1, "c": 1, "d": 1}, 6), {"performance": ROC})
    assert "4 of 10 columns drifted" in sentence


def test_evidently_statement() -> None:
    cols = columns({"monthly_charges": 1.5, "contract": 0.12}, 8)
    same = {"method": "workbench", "drifted_columns": 2, "drifted": ["monthly_charges", "contract"]}
    assert lead.evidently_statement(same, data(2, 10), cols, {}) == (
        "Evidently's report judges each column by the same rule as this page and counts the same 2 drifted columns.")
    sampled = {"method": "workbench", "drifted_columns": 1, "drifted": ["monthly_charges"], "sampled": True, "batch_rows": 20000, "reference_rows": 20000}
    assert lead.evidently_statement(sampled, data(2, 10), cols, {}) == (
        "Evidently's report counts 1 drifted columns with the same rule as this page; this page counts 2: this page also counts contract; "
        "evidently compared a sample of 20,000 batch and 20,000 reference rows.")
    assert lead.evidently_statement({}, data(2, 10), cols, {}).startswith("Evidently's report for this batch used evidently's own default tests")


def monitored(project: Path) -> list[tuple[str, Path]]:
    """(batch, drift folder) of the latest monitor run per batch."""
    out = {}
    for run in sorted((project / "reports").glob("*monitor*")):
        verdict = run / "drift" / catalog.VERDICT_FILE
        if verdict.is_file():
            out[batch_label(json.loads(verdict.read_text())["batch"]["name"])] = run
    return sorted(out.items())


@pytest.mark.slow
def test_demo_drift_answers(monitored_demo) -> None:
    from workbench.apps import prepare
    from workbench.apps._context import AppContext

    project, _ = monitored_demo
    prepared = prepare("drift", config=str(project / "workbench.yaml"))
    runs = monitored(project)
    assert [b for b, _ in runs] == [f"2026-0{i}" for i in range(1, 9)]
    for batch, run in runs:
        ctx = AppContext(prepared.ctx.config, {"run": run.name})
        app = drift.DriftApp(ctx, ctx.choices("drift"), ctx.pick("drift", run.name))
        sentence = re.sub("<[^>]+>", "", app.frame.lead.value).replace("&#x27;", "'")
        folder = run / "drift"
        stored = json.loads((folder / catalog.DATA_DRIFT_FILE).read_text())["dataset"]
        count = stored["drifted_columns"]
        if batch >= "2026-03":
            assert "monthly_charges" in sentence, sentence
            assert f"{count} of {stored['columns']} columns drifted" in sentence
        tile = re.search(r"<b[^>]*>([^<]*)</b><span>drifted columns</span>", app.summary.value).group(1)
        assert tile == f"{count} of {stored['columns']}"
        if batch == "2026-05":
            perf = json.loads((folder / catalog.CONCEPT_FILE).read_text())["performance"]
            assert f"AUC fell from {perf['reference']:.2f} to {perf['batch']:.2f}, beyond its 95% interval: concept drift" in sentence
        summary = json.loads((folder / catalog.EVIDENTLY_SUMMARY_FILE).read_text())
        assert summary["method"] == "workbench"
        assert summary["drifted_columns"] == count  # the same rule on the same (unsampled) rows
        assert app.link_text == (f"Evidently's report judges each column by the same rule as this page and counts the same {count} drifted columns."
                                 if count else "Evidently's report judges each column by the same rule as this page and, like this page, finds no drifted column.")
        assert "?run=" not in app.frame.download.value and "parquet" not in sentence
