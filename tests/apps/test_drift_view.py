"""The drift app's answer: exact lead sentences from stored results, tiles that agree with them, and the evidently statement;
its Performance tab: estimated vs realised performance in exact sentences, for labelled, unlabelled and older runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.apps.conftest import stored_choice
from tests.conftest import demo_config
from tests.reports.test_status import estimate_json as estimate
from workbench.apps import _drift_lead as lead
from workbench.apps import _estimate_view as ev
from workbench.apps import _render as r
from workbench.apps import drift
from workbench.apps._context import AppContext
from workbench.apps._leads import batch_label
from workbench.config import Config
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


def test_a_labelled_batch_outside_its_band_is_likely_concept_drift() -> None:
    assert ev.answer("2026-05.parquet", estimate(realised=0.7712)) == (
        "In 2026-05, without labels, AUC is estimated at 0.91 (band 0.89–0.93); realised 0.77 on 5,000 labelled rows — outside the band, "
        "worse than estimated: likely concept drift, which the estimate cannot see.", "error")
    assert ev.answer("2026-03", estimate(realised=0.902)) == (
        "In 2026-03, without labels, AUC is estimated at 0.91 (band 0.89–0.93); realised 0.90 on 5,000 labelled rows — within the band.", "ok")
    assert ev.answer("2026-03", estimate(realised=0.905))[0] == (  # rounded alike, yet different: one more decimal
        "In 2026-03, without labels, AUC is estimated at 0.910 (band 0.890–0.930); realised 0.905 on 5,000 labelled rows — within the band.")
    assert ev.answer("2026-03", estimate(realised=0.95)) == (
        "In 2026-03, without labels, AUC is estimated at 0.91 (band 0.89–0.93); realised 0.95 on 5,000 labelled rows — outside the band, "
        "better than estimated.", "info")


def test_an_unlabelled_batch_says_so_and_its_alert_names_the_threshold() -> None:
    assert ev.answer("2026-06", estimate()) == ("In 2026-06, without labels, AUC is estimated at 0.91 (band 0.89–0.93); no labels yet.", "info")
    assert ev.answer("2026-07", estimate(0.84)) == (
        "In 2026-07, without labels, AUC is estimated at 0.84 (band 0.82–0.86), worse than its alert threshold of 0.87 (5% below 0.92 at training); "
        "no labels yet to confirm it.", "warn")
    assert ev.answer("2026-07", estimate(0.84, realised=0.835)) == (
        "In 2026-07, without labels, AUC is estimated at 0.84 (band 0.82–0.86), worse than its alert threshold of 0.87 (5% below 0.92 at training); "
        "realised 0.83 on 5,000 labelled rows — within the band, confirming the alert.", "warn")


def test_close_numbers_get_the_decimals_that_tell_them_apart() -> None:
    sentence, _ = ev.answer("2026-06", estimate(0.9104, 0.0004))
    assert sentence == "In 2026-06, without labels, AUC is estimated at 0.910 (band 0.909–0.912); no labels yet."


def test_regression_errors_are_worse_when_higher() -> None:
    est = estimate(10.2, 0.4 / 3, metric="rmse", reference=10.0, rows=800, realised=14.5)
    assert ev.answer("w07", est) == (
        "In w07, without labels, RMSE is estimated at 10.20 (band 9.80–10.60); realised 14.50 on 800 labelled rows — outside the band, "
        "worse than estimated: likely concept drift, which the estimate cannot see.", "error")
    assert ev.answer("w07", estimate(10.2, 0.4 / 3, metric="rmse", reference=10.0, rows=800, realised=9.0)) == (
        "In w07, without labels, RMSE is estimated at 10.20 (band 9.80–10.60); realised 9.00 on 800 labelled rows — outside the band, "
        "better than estimated.", "info")
    assert ev.answer("w08", estimate(11.0, 0.1, metric="mae", reference=10.0)) == (
        "In w08, without labels, MAE is estimated at 11.00 (band 10.70–11.30), worse than its alert threshold of 10.50 (5% above 10.00 at training); "
        "no labels yet to confirm it.", "warn")
    assert ev.tiles(est) == [("RMSE estimated without labels (band 9.80–10.60)", "10.20", "red")]


def test_another_metric_outside_its_band_is_named() -> None:
    est = estimate(realised=0.9, others={"f1": 0.7, "precision": 0.65, "recall": 0.8})
    assert ev.answer("2026-05", est) == (
        "In 2026-05, without labels, AUC is estimated at 0.91 (band 0.89–0.93); realised 0.90 on 5,000 labelled rows — within the band, "
        "but realised F1 score and precision fell outside their bands: likely concept drift, which the estimate cannot see.", "error")
    table = ev.metrics_table(est)
    assert table.count('class="wb-bad"') == 2 and "<td>0.770–0.830</td>" in table and "<td>−0.100</td>" not in table and "<td>-0.100</td>" in table
    assert "the estimate for the same 5,000 labelled rows" in table


def test_feedback_from_the_review_queue_is_the_realised_value_before_labels() -> None:
    comparison = [{"metric": "roc_auc", "estimated": 0.91, "se": 0.02, "low": 0.85, "high": 0.97, "realised": 0.88, "gap": -0.03, "within_band": True,
                   "concept_drift_likely": False, "rows": 5000}]
    feedback = {"labels": 260, "from_queue": 240, "self_selected": 20, "status": "compared", "effective_rows": 180.4,
                "metrics": {"roc_auc": {"value": 0.88, "rows": 240, "effective_rows": 180.4}}, "comparison": comparison}
    est = estimate(feedback=feedback)
    assert ev.answer("2026-08", est) == (
        "In 2026-08, without labels, AUC is estimated at 0.91 (band 0.85–0.97); reviewed feedback gives 0.88 (240 labels from the review queue, "
        "weighted by their chance of being drawn) — within the band.", "ok")
    assert ev.feedback_sentence(est) == (
        "260 feedback labels arrived for this batch's predictions (240 from the review queue, 20 given unprompted and left out of the estimate); "
        "weighted by the inverse of each one's chance of being drawn, the queue's labels are worth 180 rows.")
    few = estimate(feedback={"labels": 12, "from_queue": 10, "self_selected": 2,
                             "status": "too few labels from the review queue (10; at least thresholds.min_batch_rows = 200)"})
    assert ev.feedback_sentence(few) == (
        "12 feedback labels arrived for this batch's predictions (10 from the review queue, 2 given unprompted and left out of the estimate): "
        "too few labels from the review queue (10; at least thresholds.min_batch_rows = 200).")
    assert ev.answer("2026-08", few)[0] == "In 2026-08, without labels, AUC is estimated at 0.91 (band 0.89–0.93); no labels yet."
    assert ev.feedback_sentence(estimate()) == "" and ev.feedback_table(few) == ""


def reliability(confidence: list[float], right: list[float], rows: list[int]) -> pd.DataFrame:
    """A reliability table as the drift phase stores it: one bucket of width 0.1 around each mean confidence."""
    return pd.DataFrame({"bucket": range(len(rows)), "low": [c - 0.05 for c in confidence], "high": [c + 0.05 for c in confidence], "rows": rows,
                         "mean_confidence": confidence,
                         "accuracy": right, "gap": [c - a for c, a in zip(confidence, right, strict=True)]})


def test_reliability_says_whether_the_model_is_right_as_often_as_it_says() -> None:
    calm = reliability([0.55, 0.65, 0.75, 0.85, 0.95], [0.56, 0.64, 0.76, 0.85, 0.94], [400, 600, 1000, 1200, 1800])
    assert ev.reliability_sentence(calm) == ("On 5,000 labelled rows the model is right about as often as it says: 81.6% of its decisions "
                                             "were right at a mean confidence of 81.8%.")
    proud = reliability([0.55, 0.65, 0.75, 0.85, 0.95], [0.52, 0.6, 0.66, 0.7, 0.88], [400, 600, 1000, 1200, 1800])
    assert ev.reliability_sentence(proud) == ("On 5,000 labelled rows the model is right less often than it says: 73.0% of its decisions were "
                                              "right at a mean confidence of 81.8% (overconfident; the largest gap, 15 points, is where it is 80%–90% sure).")
    shy = reliability([0.55, 0.65], [0.7, 0.7], [100, 100])
    assert ev.reliability_sentence(shy).startswith("On 200 labelled rows the model is right more often than it says: 70.0% of its decisions")
    assert ev.reliability_sentence(shy).endswith("(underconfident; the largest gap, 15 points, is where it is 50%–60% sure).")
    table = ev.reliability_table(proud)
    assert table.count('class="wb-bad"') == 3 and "<td>80%–90%</td><td>1,200</td><td>85.0%</td><td>70.0%</td><td>-15.0%</td>" in table
    assert ev.reliability_sentence(pd.DataFrame({"width_bucket": [0], "coverage": [0.9]})) == ""


def test_conformal_coverage_against_its_target() -> None:
    on = estimate(coverage={"target": 0.9, "observed": 0.893, "rows": 5000, "mean_size": 1.12})
    assert ev.coverage_sentence(on) == ("Conformal prediction sets held the true label for 89.3% of 5,000 labelled rows against a 90% target "
                                        "(mean set size 1.12) — on target.")
    low = estimate(10.2, 0.1, metric="rmse", reference=10.0, coverage={"target": 0.9, "observed": 0.81, "rows": 800, "mean_size": 31.4})
    assert ev.coverage_sentence(low) == ("Conformal intervals held the true value for 81.0% of 800 labelled rows against a 90% target "
                                         "(mean width 31.4) — below target: on this batch the intervals miss the truth more often than promised.")
    assert ev.coverage_sentence(estimate()) == ""


def test_lead_sentence_gives_the_estimate_while_labels_are_missing() -> None:
    perf = {"status": "no labels", "metric": "roc_auc"}
    sentence, kind = lead.lead_sentence("2026-06", {}, data(0, 4), columns({}, 4), {"performance": perf}, estimate())
    assert sentence == ("In 2026-06 production data looks like the training data: no column drifted, and labels for this batch have not "
                        "arrived yet, but without them the model's AUC is estimated at 0.91 (band 0.89–0.93).")
    assert kind == "info"
    sentence, kind = lead.lead_sentence("2026-07", {}, data(0, 4), columns({}, 4), {"performance": perf}, estimate(0.84))
    assert sentence.endswith("the model's AUC is estimated at 0.84 (band 0.82–0.86), worse than its alert threshold of 0.87.") and kind == "warn"
    few = {"status": "insufficient labels", "metric": "roc_auc", "n_labelled": 12}
    assert lead.performance_clause({"performance": few}, estimate()) == (
        "only 12 labels have arrived, too few to check the model's AUC, estimated at 0.91 (band 0.89–0.93) without them", None)
    labelled = lead.lead_sentence("2026-05", {}, data(0, 4), columns({}, 4), {"performance": ROC}, estimate(realised=0.9087))
    assert labelled == lead.lead_sentence("2026-05", {}, data(0, 4), columns({}, 4), {"performance": ROC})  # labels speak for themselves


def _stored(tmp_path: Path, est: dict | None, *, history: bool = True) -> tuple[AppContext, object]:
    folder = tmp_path / "20260801T000000Z-monitor-abcd"
    (folder / "drift").mkdir(parents=True)
    if est is not None:
        (folder / "drift" / catalog.ESTIMATE_FILE).write_text(json.dumps(est))
    if history:
        pd.DataFrame([{"batch": f"2026-0{i}.parquet", "run_id": f"r{i}", "model_version": "1", "metric": "roc_auc", "estimated": e, "low": e - 0.02,
                       "high": e + 0.02, "reference": 0.92, "alert_threshold": 0.874, "alert": False, "realised": r,
                       "realised_source": "labels" if r is not None else None, "realised_rows": 5000 if r is not None else 0,
                       "concept_drift_likely": r is not None and r < e - 0.02, "rows": 5000}
                      for i, e, r in ((6, 0.91, 0.9), (7, 0.9, 0.77), (8, 0.91, None))]).to_parquet(folder / "drift" / catalog.ESTIMATE_HISTORY_FILE)
    config = Config.model_validate({**demo_config(), "source": tmp_path / "workbench.yaml"})
    return AppContext(config, {}), stored_choice(folder)


def test_the_performance_tab_of_an_unlabelled_batch(tmp_path: Path) -> None:
    ctx, choice = _stored(tmp_path, estimate())
    view = drift.DriftApp(ctx, [choice], choice)
    assert "the model&#x27;s AUC is estimated at 0.91 (band 0.89–0.93)" not in view.frame.lead.value  # no concept.json: no performance clause
    assert "AUC estimated without labels (band 0.89–0.93)" in view.summary.value
    view.tabs.tab.selected_index = view.tabs.names.index("Performance")
    assert view.tabs.names == ["Over time", "Performance", "Columns", "Distributions", "Concept drift"]
    shown = view.tabs.boxes[1].children
    assert shown == (view.estimate_html, view.estimate_img, view.estimate_detail)
    assert view.estimate_html.value == ('<div class="wb-estimate-answer"><div class="wb-msg wb-info">In 2026-08, without labels, AUC is estimated '
                                        "at 0.91 (band 0.89–0.93); no labels yet.</div></div>")
    assert view.estimate_img.value[:8] == b"\x89PNG\r\n\x1a\n" and view.frame.status.value == ""
    assert "<td>AUC</td><td>0.910</td><td>0.890–0.930</td><td>0.920</td><td>—</td><td>—</td><td>—</td>" in view.estimate_detail.value
    assert "Is the model right" not in view.estimate_detail.value  # no labels: no reliability table


def test_the_performance_tab_of_a_labelled_batch_with_reliability(tmp_path: Path) -> None:
    ctx, choice = _stored(tmp_path, estimate(realised=0.7712, coverage={"target": 0.9, "observed": 0.78, "rows": 5000, "mean_size": 1.05}),
                          history=False)
    reliability([0.75, 0.85, 0.95], [0.6, 0.7, 0.82], [1000, 1500, 2500]).to_parquet(choice.info.phase_dir("drift") / catalog.RELIABILITY_FILE)
    view = drift.DriftApp(ctx, [choice], choice)
    view.tabs.tab.selected_index = 1
    assert view.tabs.boxes[1].children == (view.estimate_html, view.estimate_detail)
    assert "wb-msg wb-error" in view.estimate_html.value and "worse than estimated: likely concept drift" in view.estimate_html.value
    detail = view.estimate_detail.value
    assert detail.startswith(r.message(ev.NO_HISTORY, "info"))
    assert "right less often than it says: 74.0% of its decisions were right at a mean confidence of 88.0%" in detail
    assert "against a 90% target (mean set size 1.05) — below target" in detail


def test_an_older_run_without_an_estimate_shows_a_plain_message(tmp_path: Path) -> None:
    ctx, choice = _stored(tmp_path, None, history=False)
    view = drift.DriftApp(ctx, [choice], choice)
    view.tabs.tab.selected_index = 1
    assert view.tabs.boxes[1].children == (view.estimate_html,)
    assert view.estimate_html.value == (f'<div class="wb-msg wb-info">{ev.NO_ESTIMATE}</div>')
    assert ev.NO_ESTIMATE == ("This run stored no performance estimate: it was monitored before estimates were recorded. "
                              "Monitoring the batch again records one.")
    assert view.frame.status.value == "" and ev.answer("2026-08", None) == (ev.NO_ESTIMATE, "info") and ev.tiles({"metric": "x"}) == []
    assert "estimated without labels" not in view.summary.value


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
