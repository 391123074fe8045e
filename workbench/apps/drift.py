"""The drift app: its answer first (one sentence and the per-column drift heatmap for the chosen
batch), then the detail: the dataset verdict over time, per-column decisions, reference vs batch
distributions, concept and feature drift, performance estimated without labels beside the realised one,
and the evidently report with a sentence on its count.

Reads ``drift/`` of a monitor run: ``verdict.json``, ``data_drift.json``, ``columns.parquet``,
``history.parquet``, ``history_columns.parquet``, ``distributions.parquet``, ``concept.json``,
``feature_drift.parquet``, ``estimate.json``, ``reliability.parquet``, ``estimate_history.parquet``
and ``evidently.json``; older runs without some of them show what they can. A private drift release
(``privacy.json``) is named beside the distributions: "noise added (ε = …)".
The answer's words come from :mod:`workbench.apps._drift_lead` (:func:`lead_sentence`), the
Performance tab's from :mod:`workbench.apps._estimate_view`.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import read_json as _read
from workbench.apps import _drift_lead as lead
from workbench.apps import _estimate_view as ev
from workbench.apps import _render as r
from workbench.apps._drift_charts import concept_png, distribution_png, estimate_png, heatmap_png, history_png
from workbench.apps._drift_lead import evidently_statement, lead_sentence
from workbench.apps._leads import batch_label, tiles
from workbench.apps._widgets import Frame, LazyTabs, RunPicker, image, set_options, start
from workbench.reports import catalog, privacy

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext, Choice

__all__ = ["DriftApp", "app", "columns_table", "evidently_statement", "heatmap_png", "lead_sentence", "noise_message", "read_json", "read_table"]

PHASE = "drift"
COLUMN_VIEW = {"column": None, "kind": None, "test": None, "p_value": ".3g", "effect_size": ".3f", "effect_threshold": ".2f",
               "psi": ".3f", "drifted": None, "status": None, "n_batch": ",d", "missing_share_batch": ".1%"}
COLUMN_HEADERS = {"p_value": "p-value", "effect_size": "effect size", "effect_threshold": "effect threshold", "psi": "PSI",
                  "n_batch": "rows in batch", "missing_share_batch": "missing share (batch)", "kind": "type"}
TESTS = {"ks": "Kolmogorov–Smirnov", "chi2": "chi-square"}
RESIDUAL_HEADERS = {"score": "residual drift score", "p_value": "p-value", "worst_bin": "where errors moved most", "worst_bin_diff": "change there"}


def app(ctx: AppContext) -> Any:
    """The drift app for the run in the URL (default: the latest monitored batch)."""
    return start(ctx, PHASE, "drift", DriftApp)


@lru_cache(maxsize=64)
def _table(path: Path, mtime: float) -> Any:
    import pandas as pd

    return pd.read_parquet(path)


def read_table(folder: Path, name: str) -> Any:
    """A stored table (cached per file version), or None when the run did not write it."""
    path = folder / name
    return _table(path, path.stat().st_mtime) if path.is_file() else None


def read_json(folder: Path, name: str) -> dict[str, Any]:
    """A stored JSON result, or ``{}``."""
    path = folder / name
    return _read(path) if path.is_file() else {}


class DriftApp:
    """Widgets of the drift app; every picker updates them in place."""

    def __init__(self, ctx: AppContext, choices: list[Choice], chosen: Choice) -> None:
        import ipywidgets as w

        self.ctx = ctx
        self.frame = Frame("Drift report", "Is production data still like the training data, and is the model still right about it?")
        self.picker = RunPicker(ctx, PHASE, choices, chosen, self.show, self.frame)
        self.picker.run.layout.max_width = "100%"  # the 560px run list shrinks in an 800px window
        self.summary, self.link = w.HTML(), w.HTML()
        self.history_img, self.columns_html = image(), w.HTML()
        self.feature = w.Dropdown(description="Feature", layout=w.Layout(width="320px"))
        self.feature_img, self.feature_html = image(), w.HTML()
        self.concept_html, self.concept_img, self.residual_html = w.HTML(), image(), w.HTML()
        self.estimate_html, self.estimate_img, self.estimate_detail = w.HTML(), image(), w.HTML()
        self.feature.observe(self.frame.guard(lambda change: self.show_feature()), "value")
        self.tabs = LazyTabs({"Over time": self.page_history, "Performance": self.page_performance, "Columns": self.page_columns,
                              "Distributions": self.page_feature, "Concept drift": self.page_concept}, self.frame)
        self.frame.controls.children = self.picker.widgets
        self.frame.body.children = [self.summary, self.link, self.tabs.tab]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, choice: Choice) -> None:
        """Load a run: the answer (sentence, heatmap, tiles), the evidently link, and the visible tab."""
        self.choice = choice
        self.folder = choice.info.phase_dir(PHASE)
        month = batch_label(choice.batch)
        verdict = read_json(self.folder, catalog.VERDICT_FILE)
        data_drift = read_json(self.folder, catalog.DATA_DRIFT_FILE)
        concept = read_json(self.folder, catalog.CONCEPT_FILE)
        columns = read_table(self.folder, catalog.COLUMNS_FILE)
        estimate = read_json(self.folder, catalog.ESTIMATE_FILE)
        sentence, kind = lead_sentence(choice.batch, verdict, data_drift, columns, concept, estimate)
        summary = tiles([("batch", month, None), ("model", choice.model, None), *lead.tiles(verdict, data_drift, concept), *ev.tiles(estimate)])
        if verdict.get("retrain_request"):
            summary += r.message("A retrain request was filed for this batch; it waits for a person to review it.", "warn")
        self.summary.value = summary
        self.link.value = self._evidently_link(data_drift, columns, verdict)
        names = [] if columns is None else columns.sort_values("effect_size", ascending=False)["column"].tolist()
        set_options(self.feature, names, self.feature.value)
        chart = self.heatmap(columns, month)
        detail = [summary, f"<p>{html.escape(self.link_text)}</p>" if self.link_text else "", columns_table(columns) if columns is not None else ""]
        self.frame.answer(sentence, kind=kind, chart=chart, detail=detail, filename=f"drift-{month}.html")
        self.tabs.invalidate()

    def heatmap(self, columns: Any, month: str) -> bytes | None:
        """The per-column drift heatmap over every monitored batch (this batch alone for runs without the history)."""
        history = read_table(self.folder, catalog.HISTORY_COLUMNS_FILE)
        if history is None or history.empty or not {"batch", "column", "drifted", "effect_size"} <= set(history.columns):
            if columns is None or columns.empty:
                return None
            history = columns.assign(batch=self.choice.batch)
        threshold = float(columns["effect_threshold"].dropna().iloc[0]) if columns is not None and columns["effect_threshold"].notna().any() else 0.05
        return heatmap_png(history, month, threshold)

    def _evidently_link(self, data_drift: dict[str, Any], columns: Any, verdict: dict[str, Any]) -> str:
        self.link_text = ""
        if not (self.folder / catalog.EVIDENTLY_FILE).is_file():
            return ""
        self.link_text = evidently_statement(read_json(self.folder, catalog.EVIDENTLY_SUMMARY_FILE), data_drift, columns, verdict)
        href = html.escape(f"{self.ctx.base_url.rstrip('/')}/workbench/evidently/{self.choice.run_id}")
        return (f'<p class="wb-evidently">{html.escape(self.link_text)} '
                f'<a href="{href}" target="_blank" rel="noopener">Open the evidently data-drift report for this batch ↗</a></p>')

    def page_history(self) -> list[Any]:
        """The dataset verdict per batch over time."""
        history = read_table(self.folder, catalog.HISTORY_FILE)
        if history is None or history.empty:
            return [self._msg("No drift history stored for this run.")]
        self.history_img.value = history_png(history, self.choice.batch)
        return [self.history_img]

    def page_performance(self) -> list[Any]:
        """Performance estimated without labels over time, realised beside it, reliability, coverage and feedback for this batch."""
        estimate = read_json(self.folder, catalog.ESTIMATE_FILE)
        if not estimate:
            self.estimate_html.value = r.message(ev.NO_ESTIMATE, "info")
            return [self.estimate_html]
        sentence, kind = ev.answer(self.choice.batch, estimate)
        self.estimate_html.value = f'<div class="wb-estimate-answer">{r.message(sentence, kind)}</div>'
        history = read_table(self.folder, catalog.ESTIMATE_HISTORY_FILE)
        shown = [self.estimate_html]
        if history is not None and not history.empty:
            self.estimate_img.value = estimate_png(history, batch_label(self.choice.batch))
            shown.append(self.estimate_img)
        self.estimate_detail.value = ("" if len(shown) > 1 else r.message(ev.NO_HISTORY, "info")) + ev.details(
            estimate, read_table(self.folder, catalog.RELIABILITY_FILE))
        return [*shown, self.estimate_detail]

    def page_columns(self) -> list[Any]:
        """Per-column statistics and decisions."""
        columns = read_table(self.folder, catalog.COLUMNS_FILE)
        if columns is None:
            return [self._msg("No per-column results stored for this run.")]
        self.columns_html.value = columns_table(columns)
        return [self.columns_html]

    def page_feature(self) -> list[Any]:
        """Reference vs batch distribution of the picked feature."""
        self.show_feature()
        return [self.feature, self.feature_img, self.feature_html]

    def show_feature(self) -> None:
        """Redraw the distribution of the picked feature."""
        name = self.feature.value
        dist = read_table(self.folder, catalog.DISTRIBUTIONS_FILE)
        if not name:
            return
        if dist is None:
            self.feature_html.value = r.message("This run stored no distributions (it was monitored before they were recorded); "
                                                "monitoring the batch again records them.", "warn")
            return
        rows = dist[dist["column"] == name]
        columns = read_table(self.folder, catalog.COLUMNS_FILE)
        stats = columns[columns["column"] == name]
        self.feature_img.value = distribution_png(rows, name, stats)
        self.feature_html.value = noise_message(self.folder, "The batch counts") + columns_table(stats)

    def page_concept(self) -> list[Any]:
        """Prediction drift, performance change and feature (residual) drift."""
        concept = read_json(self.folder, catalog.CONCEPT_FILE)
        pred = concept.get("prediction_drift", {})
        perf = concept.get("performance", {}) or {}
        perf_text, _ = lead.performance_clause(concept)
        items = [("shift of the model's scores (PSI; threshold " + f"{float(pred.get('threshold', float('nan'))):g})",
                  f"{float(pred.get('psi', float('nan'))):.3f}", bool(pred.get("drift"))),
                 ("concept drift", "yes" if concept.get("verdict", {}).get("concept_drift") else "no", bool(concept.get("verdict", {}).get("concept_drift")))]
        if isinstance(perf, dict) and perf.get("difference") is not None:
            name = lead.metric_name(perf.get("metric"))
            items.append((f"change in {name}, {float(perf.get('confidence', 0.95)):.0%} interval {perf['low']:+.3f} to {perf['high']:+.3f}",
                          f"{perf['difference']:+.3f}", bool(perf.get("degraded"))))
        self.concept_html.value = r.kpis(items)
        self.concept_img.value = concept_png(pred.get("bins", []))
        residuals = read_table(self.folder, catalog.FEATURE_DRIFT_FILE)
        if residuals is None:
            self.residual_html.value = r.message("No feature drift is stored for this batch (its labels have not arrived).")
        else:
            keep = [c for c in ("feature", "kind", "score", "threshold", "p_value", "drifted", "worst_bin", "worst_bin_diff") if c in residuals.columns]
            self.residual_html.value = ("<h4>Feature drift — where the model's errors moved</h4>"
                                        + r.table(residuals[keep], formats={"score": ".3f", "threshold": ".2f", "p_value": ".3g", "worst_bin_diff": ".3f"},
                                                  bad=residuals["drifted"], headers=RESIDUAL_HEADERS))
        return [self.concept_html, self.concept_img, self.residual_html]

    def _msg(self, text: str) -> Any:
        import ipywidgets as w

        return w.HTML(r.message(text, "warn"))


def noise_message(folder: Path, what: str) -> str:
    """``"<what>: noise added (ε = …)"`` when the phase's stored release is private (its ``privacy.json``), else nothing."""
    record = privacy.release(folder)
    if record is None:
        return ""
    return r.message(f"{what}: {privacy.noise_note(record)}. Laplace noise of a private release (privacy.releases.{record['release']}), "
                     "so that the report reveals no individual; the reference side is exact.")


def columns_table(columns: Any) -> str:
    """Per-column statistics and decisions, largest effect first, with plain headers and test names."""
    view = columns.sort_values("effect_size", ascending=False)
    keep = [c for c in COLUMN_VIEW if c in view.columns]
    shown = view[keep].assign(**({"test": view["test"].map(lambda t: TESTS.get(str(t), str(t)))} if "test" in keep else {}))
    return r.table(shown, formats={k: v for k, v in COLUMN_VIEW.items() if v}, bad=view["drifted"], headers=COLUMN_HEADERS)
