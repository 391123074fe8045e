"""The fairness app: its answer first (one sentence separating checks that newly fail or groups that
shifted from checks failing since the reference, and a chart of the shown attribute's group recall
against the reference), then per-group rates, bias drift over batches and the disparity checks with
a mitigation aimed at the failing check.

Reads ``fairness/`` of a monitor run: ``fairness.json``, ``groups.parquet``, ``reference_groups.parquet``,
``disparity.parquet``, ``reference_disparity.parquet`` (runs since issue 15), ``bias_drift.parquet``,
``bias_history.parquet``, ``threshold_suggestion.parquet`` and ``privacy.json`` (a private release: "noise added (ε = …)"
beside the groups). The words come from
:mod:`workbench.apps._fairness_lead` (:func:`lead_sentence`).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench.apps import _fairness_lead as lead
from workbench.apps import _render as r
from workbench.apps._fairness_charts import METRICS, answer_png, bias_drift_png, groups_png
from workbench.apps._fairness_lead import lead_sentence
from workbench.apps._leads import batch_label, tiles
from workbench.apps._widgets import Frame, LazyTabs, RunPicker, image, set_options, start
from workbench.apps.drift import noise_message, read_json, read_table
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext, Choice

__all__ = ["FairnessApp", "app", "lead_sentence"]

PHASE = "fairness"
DISPARITY_HEADERS = {"reference_group": "most favoured group", "lowest_group": "least favoured group",
                     "demographic_parity_difference": "selection-rate gap", "equalized_odds_difference": "equalized-odds gap",
                     "equal_opportunity_difference": "recall gap", "excluded_groups": "groups too small to judge"}
DISPARITY_VIEW = {"attribute": None, "status": None, "reference_group": None, "lowest_group": None, "disparate_impact": ".3f",
                  "demographic_parity_difference": ".3f", "equalized_odds_difference": ".3f", "equal_opportunity_difference": ".3f",
                  "passed": None, "excluded_groups": None}


def app(ctx: AppContext) -> Any:
    """The fairness app for the run in the URL (default: the latest monitored batch)."""
    return start(ctx, PHASE, "fairness", FairnessApp)


class FairnessApp:
    """Widgets of the fairness app; pickers update them in place."""

    def __init__(self, ctx: AppContext, choices: list[Choice], chosen: Choice) -> None:
        import ipywidgets as w

        self.ctx = ctx
        t = ctx.config.thresholds
        self.di_threshold, self.eo_threshold = t.disparate_impact, t.equalized_odds
        self.frame = Frame("Fairness report", "Does the model treat groups of customers alike, and is that changing?")
        self.picker = RunPicker(ctx, PHASE, choices, chosen, self.show, self.frame)
        self.picker.run.layout.max_width = "100%"  # the 560px run list shrinks in an 800px window
        self.attribute = w.Dropdown(description="Attribute", layout=w.Layout(width="300px"))
        self.metric = w.Dropdown(options=[(v, k) for k, v in METRICS.items()], value="selection_rate", description="Metric",
                                 layout=w.Layout(width="300px"))
        self.summary, self.groups_img, self.groups_html = w.HTML(), image(), w.HTML()
        self.drift_img, self.drift_html, self.checks_html = image(), w.HTML(), w.HTML()
        self.attribute.observe(self.frame.guard(lambda change: self.answer()), "value")
        self.metric.observe(self.frame.guard(lambda change: self.tabs.invalidate()), "value")
        self.tabs = LazyTabs({"Groups": self.page_groups, "Bias drift": self.page_drift, "Checks": self.page_checks}, self.frame)
        self.frame.controls.children = [*self.picker.widgets, self.attribute, self.metric]
        self.frame.body.children = [self.summary, self.tabs.tab]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, choice: Choice) -> None:
        """Load a run: the answer for its most telling attribute, the attribute choices, and the visible tab."""
        self.choice = choice
        self.folder = choice.info.phase_dir(PHASE)
        self.result = read_json(self.folder, catalog.FAIRNESS_FILE)
        self.disparity = read_table(self.folder, catalog.DISPARITY_FILE)
        self.reference = read_table(self.folder, catalog.REFERENCE_DISPARITY_FILE)
        self.bias = read_table(self.folder, catalog.BIAS_DRIFT_FILE)
        self.found = lead.findings(self.disparity, self.reference, self.bias) if self.disparity is not None else []
        groups = read_table(self.folder, catalog.GROUPS_FILE)
        names = [] if groups is None else list(dict.fromkeys(groups["attribute"].astype(str)))
        set_options(self.attribute, names, lead.focus(self.found) or self.attribute.value)
        self.answer()

    def answer(self) -> None:
        """The sentence (the picked attribute first), its chart, the tiles, and the visible tab."""
        month = batch_label(self.choice.batch)
        attribute = self.attribute.value or None
        sentence, kind = lead_sentence(self.choice.batch, self.result, self.disparity, self.reference, self.bias,
                                       di_threshold=self.di_threshold, eo_threshold=self.eo_threshold, attribute=attribute)
        self.summary.value = tiles([("batch", month, None), ("model", self.choice.model, None), *lead.tiles(self.found, self.result)])
        chart = None
        groups, reference = read_table(self.folder, catalog.GROUPS_FILE), read_table(self.folder, catalog.REFERENCE_GROUPS_FILE)
        if groups is not None and attribute:
            f = next((x for x in self.found if x.attribute == attribute), None)
            metric = "selection_rate" if f is not None and (f.new + f.since) and "equalized_odds" not in f.new + f.since and not f.shifted else "tpr"
            chart = answer_png(groups, reference, attribute, metric, f.moved if f is not None else None, month, METRICS[metric])
        self.frame.answer(sentence, kind=kind, chart=chart, detail=[self.summary.value, self.checks_table()], filename=f"fairness-{month}.html")
        self.tabs.invalidate()

    def checks_table(self) -> str:
        """The disparity checks of this batch, with plain headers."""
        if self.disparity is None:
            return ""
        keep = [c for c in DISPARITY_VIEW if c in self.disparity.columns]
        return r.table(self.disparity[keep], formats={k: v for k, v in DISPARITY_VIEW.items() if v},
                       bad=~self.disparity["passed"].fillna(True).astype(bool), headers=DISPARITY_HEADERS)

    def page_groups(self) -> list[Any]:
        """Per-group bars with intervals and the threshold line."""
        import ipywidgets as w

        groups = read_table(self.folder, catalog.GROUPS_FILE)
        if groups is None or not self.attribute.value:
            return [w.HTML(r.message("No group results stored for this batch (labels may not have arrived).", "warn"))]
        rows = groups[groups["attribute"] == self.attribute.value]
        disparity = read_table(self.folder, catalog.DISPARITY_FILE)
        check = None if disparity is None else disparity[disparity["attribute"] == self.attribute.value]
        self.groups_img.value = groups_png(rows, self.metric.value, check, self.di_threshold, self.eo_threshold)
        metric = self.metric.value
        view = rows[["group", "count", "positives", metric, f"{metric}_low", f"{metric}_high", "status"]]
        self.groups_html.value = noise_message(self.folder, "The group counts and rates") + r.table(
            view, formats={"count": ",d", "positives": ",d", metric: ".3f", f"{metric}_low": ".3f", f"{metric}_high": ".3f"}, bad=rows["status"] != "ok")
        return [self.groups_img, self.groups_html]

    def page_drift(self) -> list[Any]:
        """Bias drift of the attribute's groups across the monitored batches."""
        import ipywidgets as w

        history = read_table(self.folder, catalog.BIAS_HISTORY_FILE)
        if history is None:
            history = read_table(self.folder, catalog.BIAS_DRIFT_FILE)
        if history is None or history.empty or not self.attribute.value:
            return [w.HTML(r.message("No bias-drift history stored for this run.", "warn"))]
        rows = history[history["attribute"] == self.attribute.value]
        self.drift_img.value = bias_drift_png(rows, self.attribute.value)
        # bias_history.parquet holds every batch (its ``batch`` column is the batch name); show this run's rows
        latest = rows[rows["run_id"] == self.choice.run_id] if "run_id" in rows.columns else rows
        latest = latest if len(latest) else rows
        keep = [c for c in ("group", "metric", "reference", "reference_low", "reference_high", "batch_low", "batch_high", "gap", "moved", "status")
                if c in latest.columns]
        self.drift_html.value = ("<p>Each group's TPR relative to the median of its attribute's groups, against the same on the reference "
                                 "holdout (band: reference interval). A group moves when it leaves that interval by more than both "
                                 "intervals' half-widths.</p>" + r.table(latest[keep], formats={c: ".3f" for c in keep[2:8]}, bad=latest["moved"]))
        return [self.drift_img, self.drift_html]

    def page_checks(self) -> list[Any]:
        """Disparity checks, against the reference, and the threshold change fairlearn would suggest for the failing check."""
        parts = []
        if self.disparity is not None:
            parts.append(f"<p>A check passes when disparate impact is at least {self.di_threshold:g} and the equalized-odds gap at most "
                         f"{self.eo_threshold:g}.</p>")
            parts.append(self.checks_table())
        if self.reference is not None:
            keep = [c for c in DISPARITY_VIEW if c in self.reference.columns]
            parts.append("<h4>The same checks on the reference (the registered version's holdout)</h4>")
            parts.append(r.table(self.reference[keep], formats={k: v for k, v in DISPARITY_VIEW.items() if v},
                                 bad=~self.reference["passed"].fillna(True).astype(bool), headers=DISPARITY_HEADERS))
        suggestion = read_table(self.folder, catalog.THRESHOLD_FILE)
        if suggestion is not None and not suggestion.empty:
            constraint = self.result.get("threshold_suggestion_constraint") or str(suggestion["constraint"].iloc[0])
            note = lead.mitigation_note(self.result.get("threshold_suggestion_for"), constraint, self.found)
            parts.append("<h4>What fairlearn's ThresholdOptimizer would change (a suggestion, nothing is applied)</h4>")
            parts.append(f"<p>{html.escape(note)}</p>" if note else "")
            rates = {c: ".3f" for c in suggestion.columns if c.endswith(("_before", "_after"))}
            parts.append(r.table(suggestion.drop(columns=["constraint"], errors="ignore"), formats=rates))
        self.checks_html.value = "".join(parts) or r.message("No disparity checks stored for this batch.", "warn")
        return [self.checks_html]


