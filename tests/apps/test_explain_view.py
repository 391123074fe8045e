"""The explanations app: its answer from stored results, local explanations by the configured id, typed ids
checked against the stored ones, and older runs (waterfalls by risk rank) still readable."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.apps.conftest import stored_choice
from tests.conftest import demo_config
from workbench.apps import _context
from workbench.apps import explain as app
from workbench.apps._context import AppContext, Choice
from workbench.config import Config
from workbench.reports import catalog

FEATURES = ["contract", "avg_session_minutes", "tenure_months", "monthly_charges"]


def _result(batch: list[float], reference: list[float], **extra: object) -> dict:
    return {"batch": {"method": "tree", "output": "log-odds", "n_rows": 3, "n_explained": 3, "importance": dict(zip(FEATURES, batch, strict=True))},
            "reference": {"importance": dict(zip(FEATURES, reference, strict=True))},
            "top_features": [f for f, _ in sorted(zip(FEATURES, batch, strict=True), key=lambda kv: -kv[1])], **extra}


def _ranking(relative: list[float], drifted: list[bool], impact: list[float], share: list[float] | None = None) -> pd.DataFrame:
    share = share or [0.4, 0.3, 0.2, 0.1]
    return pd.DataFrame({"feature": FEATURES, "reference": share, "relative_change": relative, "reference_share": share,
                         "drifted": drifted, "drift_impact": impact})


def test_the_answer_names_the_top_features_and_says_their_order_is_unchanged() -> None:
    result = _result([1.6, 1.2, 0.6, 0.3], [1.7, 1.1, 0.59, 0.31])
    ranking = _ranking([-0.04, 0.04, 0.01, 0.0], [True, False, True, True], [0.03, 0.0, 0.02, 0.08])
    assert app.lead_sentence("2026-08", result, ranking) == (
        "In 2026-08 the model's predictions are driven most by contract, avg session minutes and tenure months; their order is unchanged from training.",
        "info", "3 features drifted (monthly charges the most), but no feature's influence changed by 20% or more since training.")


def test_the_answer_names_a_feature_whose_influence_moved_and_drifted() -> None:
    result = _result([1.6, 1.2, 0.6, 0.9], [1.7, 1.1, 0.59, 0.3])
    ranking = _ranking([-0.04, 0.04, 0.01, 2.0], [False, False, False, True], [0.0, 0.0, 0.0, 0.1], share=[0.4, 0.3, 0.2, 0.1])
    assert app.lead_sentence("2026-07", result, ranking) == (
        "In 2026-07 the model's predictions are driven most by contract, avg session minutes and monthly charges; "
        "in training the top 3 were contract, avg session minutes and tenure months; monthly charges' influence rose 200% since training, and it drifted.",
        "warn", "")


def test_the_answer_for_a_reordered_top_three_without_drift_and_without_results() -> None:
    result = _result([1.1, 1.6, 0.6, 0.3], [1.7, 1.1, 0.59, 0.31])
    ranking = _ranking([-0.1, 0.1, 0.0, 0.0], [False] * 4, [0.0] * 4)
    assert app.lead_sentence("batch_a", result, ranking) == (
        "In batch batch_a the model's predictions are driven most by avg session minutes, contract and tenure months; "
        "in training the order was contract, avg session minutes and tenure months.",
        "info", "No feature drifted, and no feature's influence changed by 20% or more since training.")
    assert app.lead_sentence("2026-01", {}, None) == ("In 2026-01 no explanations were stored for this batch.", "warn", "")


def _local(ids: list[str], scores: list[float], drawn: list[bool]) -> pd.DataFrame:
    rows = []
    for rank, (i, s, d) in enumerate(zip(ids, scores, drawn, strict=True), start=1):
        for j, f in enumerate(FEATURES):
            rows.append({"id": i, "rank": rank, "score": s, "base": -2.0, "feature": f, "value": str(j), "contribution": 0.5 - 0.3 * j,
                         "waterfall": catalog.waterfall_plot("id", i) if d else None})
    return pd.DataFrame(rows)


def test_local_choices_list_ids_with_their_score_drawn_rows_first() -> None:
    table = _local(["C-1", "C-2", "C-3"], [0.97, 0.9, 0.5], [False, True, False])
    assert app.local_choices(table, "customer_id") == [("customer_id C-2 · risk 0.90", "C-2"), ("customer_id C-1 · risk 0.97", "C-1"),
                                                       ("customer_id C-3 · risk 0.50", "C-3")]
    assert app.local_choices(table, None, "prediction")[0] == ("row C-2 · prediction 0.90", "C-2")


def _run(tmp_path: Path, *, local: pd.DataFrame | None, id_column: str | None = "customer_id") -> tuple[AppContext, Choice]:
    folder = tmp_path / "20260801T000000Z-monitor-abcd"
    phase = folder / "explain"
    phase.mkdir(parents=True)
    result = _result([1.6, 1.2, 0.6, 0.3], [1.7, 1.1, 0.59, 0.31], local={"id_column": id_column} if local is not None else None)
    (phase / catalog.EXPLAIN_FILE).write_text(json.dumps(result))
    pd.DataFrame({"feature": FEATURES, "importance": [1.6, 1.2, 0.6, 0.3], "stderr": [0.01] * 4}).to_parquet(phase / catalog.IMPORTANCE_FILE)
    if local is not None:
        local.to_parquet(phase / catalog.LOCAL_FILE)
        for name in local["waterfall"].dropna().unique():
            (phase / name).write_bytes(app.waterfall_png(local[local["waterfall"] == name], "stored", "log-odds"))
    else:
        for rank in (1, 2):
            (phase / catalog.waterfall_plot("top_risk", rank)).write_bytes(app.importance_png(pd.read_parquet(phase / catalog.IMPORTANCE_FILE)))
    config = Config.model_validate({**demo_config(), "source": tmp_path / "workbench.yaml"})
    return AppContext(config, {}), stored_choice(folder)


def test_a_typed_id_shows_its_explanation_and_an_unknown_one_a_plain_message(tmp_path: Path) -> None:
    ctx, choice = _run(tmp_path, local=_local(["C-1", "C-2"], [0.97, 0.4], [True, False]))
    view = app.ExplainApp(ctx, [choice], choice)
    assert view.frame.lead.value.count("wb-lead") == 1 and "their order is unchanged from training" in view.frame.lead.value
    assert view.frame.chart.value[:8] == b"\x89PNG\r\n\x1a\n" and "wb-download-link" in view.frame.download.value
    view.tabs.tab.selected_index = 2
    assert [o[1] for o in view.row.options] == ["C-1", "C-2"]
    assert view.row_img.value == (choice.info.phase_dir("explain") / catalog.waterfall_plot("id", "C-1")).read_bytes()
    view.find.value = "C-2"  # no stored picture: drawn from the stored contributions
    assert "customer_id C-2: risk 0.40, ranked 2 of 3 in 2026-08." in view.row_html.value and view.row_img.value[:4] == b"\x89PNG"
    view.find.value = "../../etc/passwd"
    assert view.row_html.value == ('<div class="wb-msg wb-warn">No explanation is stored for customer_id ../../etc/passwd in 2026-08: '
                                   "explanations cover the 2 rows explained for this batch.</div>")
    assert view.row_img.layout.display == "none" and view.frame.status.value == ""


def test_an_older_run_lists_its_waterfalls_by_risk_rank(tmp_path: Path) -> None:
    ctx, choice = _run(tmp_path, local=None)
    view = app.ExplainApp(ctx, [choice], choice)
    view.tabs.tab.selected_index = 2
    assert [o[0] for o in view.row.options] == ["risk rank 1", "risk rank 2"]
    assert "stored before explanations were named by id" in view.row_html.value and view.row_img.value[:4] == b"\x89PNG"


@pytest.mark.slow
def test_local_explanations_of_the_demo_are_listed_by_customer_id(monitored_demo) -> None:
    project, _ = monitored_demo
    ctx = _context.context(str(project / "workbench.yaml"))
    choice = ctx.pick("explain")
    view = app.ExplainApp(ctx, ctx.choices("explain"), choice)
    folder = choice.info.phase_dir("explain")
    local = pd.read_parquet(folder / catalog.LOCAL_FILE)
    batch = pd.read_parquet(project / "data" / "demo" / "batches" / f"{choice.batch}.parquet")
    assert set(local["id"]) <= set(batch["customer_id"].astype(str))
    drawn = local.dropna(subset=["waterfall"]).drop_duplicates("id").sort_values("rank")
    assert len(drawn) == 3 and list(drawn["rank"]) == [1, 2, 3]
    for identifier, name in zip(drawn["id"], drawn["waterfall"], strict=True):
        assert name == catalog.waterfall_plot("id", identifier) and (folder / name).is_file()
    labels = [o[0] for o in view.row.options]
    assert labels[:3] == [f"customer_id {i} · risk {s:.2f}" for i, s in zip(drawn["id"], drawn["score"], strict=True)]
    answer = f"In {choice.batch} the model&#x27;s predictions are driven most by "
    assert view.frame.lead.value.startswith(f'<div class="wb-msg wb-info wb-lead"><p class="wb-answer">{answer}')
