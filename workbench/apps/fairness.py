"""The fairness app: per-group rates with confidence intervals and the threshold line, disparity
checks, and bias drift over batches, for a picked sensitive attribute and metric.

Reads ``fairness/`` of a monitor run: ``groups.parquet``, ``disparity.parquet``,
``bias_history.parquet`` (or ``bias_drift.parquet``) and ``threshold_suggestion.parquet``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.apps import _render as r
from workbench.apps._widgets import Frame, LazyTabs, RunPicker, image, set_options, start
from workbench.apps.drift import read_json, read_table
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext, Choice

PHASE = "fairness"
METRICS = {"selection_rate": "selection rate", "tpr": "true positive rate", "fpr": "false positive rate",
           "accuracy": "accuracy", "error_rate": "error rate"}
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
        self.attribute = w.Dropdown(description="Attribute", layout=w.Layout(width="300px"))
        self.metric = w.Dropdown(options=[(v, k) for k, v in METRICS.items()], value="selection_rate", description="Metric",
                                 layout=w.Layout(width="300px"))
        self.summary, self.groups_img, self.groups_html = w.HTML(), image(), w.HTML()
        self.drift_img, self.drift_html, self.checks_html = image(), w.HTML(), w.HTML()
        redraw = self.frame.guard(lambda change: self.tabs.invalidate())
        self.attribute.observe(redraw, "value")
        self.metric.observe(redraw, "value")
        self.tabs = LazyTabs({"Groups": self.page_groups, "Bias drift": self.page_drift, "Checks": self.page_checks}, self.frame)
        self.frame.controls.children = [*self.picker.widgets, self.attribute, self.metric]
        self.frame.body.children = [self.summary, self.tabs.tab]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, choice: Choice) -> None:
        """Load a run: summary, attribute choices, and the visible tab."""
        self.choice = choice
        self.folder = choice.info.phase_dir(PHASE)
        result = read_json(self.folder, catalog.FAIRNESS_FILE)
        groups = read_table(self.folder, catalog.GROUPS_FILE)
        failed = result.get("failed_attributes", [])
        self.summary.value = r.kpis([
            ("batch", choice.batch, None),
            ("model", choice.model, None),
            ("audit", str(result.get("status", "?")), result.get("status") not in ("assessed", None)),
            ("failed checks", ", ".join(failed) or "none", bool(failed)),
            ("bias drift", ", ".join(map(str, result.get("bias_drift", []))) or "none", bool(result.get("bias_drift"))),
        ])
        names = [] if groups is None else list(dict.fromkeys(groups["attribute"]))
        set_options(self.attribute, names, self.attribute.value)
        self.tabs.invalidate()

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
        self.groups_html.value = r.table(view, formats={"count": ",d", "positives": ",d", metric: ".3f", f"{metric}_low": ".3f",
                                                        f"{metric}_high": ".3f"}, bad=rows["status"] != "ok")
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
        """Disparity checks and, where one fails, the threshold change fairlearn would suggest."""
        disparity = read_table(self.folder, catalog.DISPARITY_FILE)
        parts = []
        if disparity is not None:
            keep = [c for c in DISPARITY_VIEW if c in disparity.columns]
            parts.append(f"<p>Pass: disparate impact ≥ {self.di_threshold:g} and equalized-odds difference ≤ {self.eo_threshold:g}.</p>")
            parts.append(r.table(disparity[keep], formats={k: v for k, v in DISPARITY_VIEW.items() if v}, bad=~disparity["passed"].fillna(True).astype(bool)))
        suggestion = read_table(self.folder, catalog.THRESHOLD_FILE)
        if suggestion is not None and not suggestion.empty:
            parts.append("<h4>What fairlearn's ThresholdOptimizer would change (a suggestion, nothing is applied)</h4>")
            parts.append(r.table(suggestion))
        self.checks_html.value = "".join(parts) or r.message("No disparity checks stored for this batch.", "warn")
        return [self.checks_html]


def groups_png(rows: Any, metric: str, check: Any, di_threshold: float, eo_threshold: float) -> bytes:
    """Bars per group with the bootstrap interval, and the threshold the checks use."""
    import numpy as np

    fig = r.figure(8, 3.4)
    ax = fig.subplots()
    values = rows[metric].astype(float).to_numpy()
    low = values - rows[f"{metric}_low"].astype(float).to_numpy()
    high = rows[f"{metric}_high"].astype(float).to_numpy() - values
    x = np.arange(len(rows))
    colors = np.where(rows["status"].to_numpy() == "ok", r.BLUE, r.GREY)
    ax.bar(x, np.nan_to_num(values), color=colors, yerr=np.nan_to_num(np.vstack([low, high])), capsize=4)
    ax.set_xticks(x, rows["group"].astype(str).tolist(), rotation=20 if len(rows) > 4 else 0, ha="right" if len(rows) > 4 else "center", fontsize=8)
    if check is not None and len(check) and check["reference_group"].iloc[0]:
        ref_group = str(check["reference_group"].iloc[0])
        ref = rows[rows["group"].astype(str) == ref_group]
        if metric == "selection_rate" and check["reference_selection_rate"].notna().iloc[0]:
            line = di_threshold * float(check["reference_selection_rate"].iloc[0])
            ax.axhline(line, color=r.RED, linestyle="--", linewidth=1.2, label=f"four-fifths line: {di_threshold:g} × {ref_group}")
        elif metric in ("tpr", "fpr") and len(ref):
            base = float(ref[metric].iloc[0])
            for sign in (-1, 1):
                ax.axhline(base + sign * eo_threshold, color=r.RED, linestyle="--", linewidth=1.2,
                           label=f"{ref_group} ± {eo_threshold:g} (equalized odds)" if sign < 0 else None)
    ax.set_ylabel(METRICS.get(metric, metric))
    ax.set_title(f"{METRICS.get(metric, metric)} by group, 95% intervals (grey: excluded)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
    return r.png(fig)


def bias_drift_png(rows: Any, attribute: str) -> bytes:
    """Relative TPR per group across batches, with the reference interval as a band."""
    fig = r.figure(8, 3.4)
    ax = fig.subplots()
    batch_col = "batch" if "run_id" in rows.columns and rows["batch"].dtype == object else None
    for i, (group, part) in enumerate(rows.groupby("group", sort=True)):
        color = f"C{i % 10}"
        labels = [str(b).rsplit(".", 1)[0] for b in part[batch_col]] if batch_col else ["batch"]
        value = part["gap"].astype(float) + part["reference"].astype(float) if batch_col else part["batch"].astype(float)
        ax.plot(labels, value.to_numpy(), marker="o", color=color, label=str(group))
        ax.fill_between(labels, part["reference_low"].astype(float).to_numpy(), part["reference_high"].astype(float).to_numpy(), color=color, alpha=0.08)
        moved = part["moved"].astype(bool).to_numpy()
        if moved.any():
            ax.scatter([labels[j] for j in range(len(labels)) if moved[j]], value.to_numpy()[moved], s=120, facecolors="none", edgecolors=r.RED)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("TPR relative to the median group")
    ax.set_title(f"Bias drift over batches: {attribute} (red ring: moved)")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=8, ncol=4)
    return r.png(fig)
