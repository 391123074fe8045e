"""The impact app: business KPIs (baseline / target / current / gap) with their trends and the model
version in place in each period.

Reads ``impact/`` of a monitor run (written by the impact phase): ``kpis.parquet`` (kpi, direction,
baseline, target, current, gap, ci_low, ci_high, model_version, batch), ``trend.parquet`` (per KPI
per batch, with model_version) and ``impact.json``. Until that phase exists the app says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.apps import _render as r
from workbench.apps._widgets import Frame, RunPicker, image, set_options, start
from workbench.apps.drift import read_json, read_table
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext, Choice

PHASE = "impact"
VALUE_COLUMNS = ("value", "current")  # the trend's KPI value (the impact work's name for it)


def app(ctx: AppContext) -> Any:
    """The impact app for the run in the URL (default: the latest monitored batch)."""
    return start(ctx, PHASE, "impact", ImpactApp)


class ImpactApp:
    """Widgets of the impact app."""

    def __init__(self, ctx: AppContext, choices: list[Choice], chosen: Choice) -> None:
        import ipywidgets as w

        self.ctx = ctx
        self.frame = Frame("Business impact", "Is the model moving the numbers the business cares about?")
        self.picker = RunPicker(ctx, PHASE, choices, chosen, self.show, self.frame)
        self.kpi = w.Dropdown(description="KPI", layout=w.Layout(width="320px"))
        self.summary, self.table_html, self.trend_img = w.HTML(), w.HTML(), image()
        self.kpi.observe(self.frame.guard(lambda change: self.show_trend()), "value")
        self.frame.controls.children = [*self.picker.widgets, self.kpi]
        self.frame.body.children = [self.summary, self.table_html, self.trend_img]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, choice: Choice) -> None:
        """Load a run: KPI table and the picked KPI's trend."""
        self.choice = choice
        self.folder = choice.info.phase_dir(PHASE)
        kpis = read_table(self.folder, catalog.KPIS_FILE)
        result = read_json(self.folder, catalog.IMPACT_FILE)
        self.summary.value = r.kpis([("batch", choice.batch, None),
                                     ("model", choice.model, None)]
                                    + [(str(k), str(v), None) for k, v in result.items() if isinstance(v, str | int | float) and k != "schema_version"][:4])
        if kpis is None:
            self.table_html.value = r.not_produced("KPI", "workbench monitor")
            self.kpi.options = []
            return
        keep = [c for c in ("kpi", "label", "direction", "baseline", "target", "current", "gap", "ci_low", "ci_high", "model_version", "batch")
                if c in kpis.columns]
        bad = _behind(kpis)
        self.table_html.value = r.table(kpis[keep], formats={c: ".4g" for c in ("baseline", "target", "current", "gap", "ci_low", "ci_high")}, bad=bad)
        labels = kpis["label"].fillna(kpis["kpi"]).astype(str) if "label" in kpis.columns else kpis["kpi"].astype(str)
        names = list(dict.fromkeys(zip(labels, kpis["kpi"].astype(str), strict=True)))
        set_options(self.kpi, names, self.kpi.value)
        self.show_trend()

    def show_trend(self) -> None:
        """Redraw the trend of the picked KPI."""
        trend = read_table(self.folder, catalog.TREND_FILE)
        kpis = read_table(self.folder, catalog.KPIS_FILE)
        if trend is None or kpis is None or not self.kpi.value:
            return
        rows = trend[trend["kpi"].astype(str) == self.kpi.value]
        info = kpis[kpis["kpi"].astype(str) == self.kpi.value]
        self.trend_img.value = trend_png(rows, info, self.kpi.value)


def _behind(kpis: Any) -> Any:
    """KPIs whose current value is on the wrong side of the target."""
    if not {"current", "target"} <= set(kpis.columns):
        return None
    lower = kpis.get("direction", "higher").astype(str).str.startswith(("lower", "down", "min"))
    return (kpis["current"] < kpis["target"]).where(~lower, kpis["current"] > kpis["target"]).fillna(False)


def trend_png(rows: Any, info: Any, name: str) -> bytes:
    """The KPI per batch, coloured by model version, with baseline and target lines."""
    import numpy as np

    value = next((c for c in VALUE_COLUMNS if c in rows.columns), None)
    fig = r.figure(8, 3.2)
    ax = fig.subplots()
    if value is not None and len(rows):
        labels = [str(b).rsplit(".", 1)[0] for b in rows["batch"]]
        x = np.arange(len(labels))
        ax.plot(x, rows[value].astype(float).to_numpy(), color=r.GREY, zorder=1)
        versions = rows["model_version"].astype(str) if "model_version" in rows else None
        for i, version in enumerate(dict.fromkeys(versions) if versions is not None else [None]):
            mask = (versions == version).to_numpy() if versions is not None else np.ones(len(rows), bool)
            ax.scatter(x[mask], rows[value].astype(float).to_numpy()[mask], color=f"C{i}", zorder=2, label=f"model v{version}" if version else None)
        if {"ci_low", "ci_high"} <= set(rows.columns):
            ax.fill_between(x, rows["ci_low"].astype(float).to_numpy(), rows["ci_high"].astype(float).to_numpy(), color=r.BLUE, alpha=0.1)
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    for column, style, color in (("baseline", ":", "black"), ("target", "--", r.GREEN)):
        if column in rows.columns and value is not None and len(rows) and rows[column].notna().any():
            ax.plot(np.arange(len(rows)), rows[column].astype(float).to_numpy(), color=color, linestyle=style, linewidth=1.2, label=column)
        elif column in info.columns and len(info) and info[column].notna().iloc[0]:
            ax.axhline(float(info[column].iloc[0]), color=color, linestyle=style, linewidth=1.2, label=column)
    ax.set_title(f"{name} per batch")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return r.png(fig)
