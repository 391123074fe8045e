"""The impact app: are the business KPIs on target for the chosen batch (the answer: one sentence with
each KPI's gap in its unit, and the trend of the KPI most off target), then the KPI table and the trend
of any KPI, with the model version in place in each period.

Reads ``impact/`` of a monitor run (written by the impact phase): ``kpis.parquet`` (kpi, label, unit,
direction, baseline, target, current, gap, ci_low, ci_high, on_target, model_version, batch),
``trend.parquet`` (per KPI per batch, with model_version) and ``impact.json`` (status, reason,
skipped_kpis). Units come from the KPI config (``kpis[].unit``); a ``share`` is shown as a percentage.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from workbench.apps import _render as r
from workbench.apps._widgets import Frame, RunPicker, image, set_options, start
from workbench.apps.drift import read_json, read_table
from workbench.apps.explain import listed, period
from workbench.reports import catalog
from workbench.reports.status_text import PERCENT_UNITS, SHARE_UNITS, kpi_gap, kpi_value

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext, Choice
    from workbench.config import Config

PHASE = "impact"
VALUE_COLUMNS = ("value", "current")  # the trend's KPI value (the impact work's name for it)


def app(ctx: AppContext) -> Any:
    """The impact app for the run in the URL (default: the latest monitored batch)."""
    return start(ctx, PHASE, "impact", ImpactApp)


def is_share(unit: Any) -> bool:
    """True when a KPI's values are shares (0..1) shown as percentages."""
    return str(unit or "").strip().lower() in SHARE_UNITS


def amount(value: Any, unit: Any) -> str:
    """A KPI value in its unit: ``93.41 EUR``, ``24.7%`` (a share), ``12`` (no unit); ``—`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return kpi_value(float(value), str(unit or ""))


def difference(value: float, unit: Any) -> str:
    """A difference between two KPI values in its unit: ``3.41 EUR``, ``1.3 points`` (shares and percentages)."""
    return kpi_gap(value, str(unit or ""), points="points")


def kpi_name(row: Any) -> str:
    """How a sentence names a KPI: its label without a trailing parenthesis, starting lower case (``churn reduction``)."""
    label = str(row.get("label") or "").strip() or str(row.get("kpi", "")).replace("_", " ")
    if label.endswith(")") and " (" in label:
        label = label[:label.rindex(" (")]
    return label[:1].lower() + label[1:] if label[1:2].islower() or len(label) == 1 else label


def _off(row: Any) -> bool:
    lower = str(row.get("direction", "higher")) == "lower"
    return bool(row["current"] > row["target"]) if lower else bool(row["current"] < row["target"])


def shortfall(row: Any) -> float:
    """How far a KPI is from its target, relative to the target (positive: off target; larger: further)."""
    delta = (row["current"] - row["target"]) * (1 if str(row.get("direction", "higher")) == "lower" else -1)
    return float(delta) / max(abs(float(row["target"])), 1e-12)


def kpi_clause(row: Any) -> str:
    """``retention cost per saved customer was 93.41 EUR, 3.41 EUR above the 90 EUR target``."""
    name, unit = kpi_name(row), row.get("unit")
    current, target = row.get("current"), row.get("target")
    if current is None or (isinstance(current, float) and math.isnan(current)):
        return f"{name} could not be measured"
    head = f"{name} was {amount(current, unit)}"
    if target is None or (isinstance(target, float) and math.isnan(target)):
        return head
    gap = difference(current - target, unit)
    if current == target:
        return f"{head}, exactly its {amount(target, unit)} target"
    if not _off(row):
        return f"{head}, better than its {amount(target, unit)} target by {gap}"
    if str(row.get("direction", "higher")) == "lower":
        return f"{head}, {gap} above the {amount(target, unit)} target"
    return f"{head}, {gap} short of its {amount(target, unit)} target"


def ordered(kpis: Any) -> Any:
    """KPI rows, the one furthest off target first."""
    measured = kpis[kpis["current"].notna() & kpis["target"].notna()]
    order = measured.apply(shortfall, axis=1).sort_values(ascending=False, kind="stable").index if len(measured) else []
    return kpis.loc[list(order) + [i for i in kpis.index if i not in set(order)]]


def lead_sentence(batch: str, kpis: Any, result: dict[str, Any], config: Config) -> tuple[str, str]:
    """The app's answer for one batch: (sentence, kind): every KPI against its target, furthest off first; or why none was measured."""
    if kpis is not None and len(kpis) and kpis["current"].notna().any():
        rows = ordered(kpis)
        sentence = f"{period(batch)} " + "; ".join(kpi_clause(row) for _, row in rows.iterrows()) + "."
        off = [row for _, row in rows.iterrows() if measured_row(row) and _off(row)]
        return sentence, "warn" if off else "ok"
    return f"{period(batch)} no KPI was measured: {why_not(result, config)}.", "info"


def measured_row(row: Any) -> bool:
    """The row has a current value and a target."""
    return not any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (row.get("current"), row.get("target")))


def why_not(result: dict[str, Any], config: Config) -> str:
    """Why a batch has no KPI values, from the config and the impact phase's ``impact.json``."""
    if not config.kpis:
        return f"no KPIs are configured (add a 'kpis' section to {config.source.name})"
    skipped = result.get("skipped_kpis") or []
    if len(skipped) >= len(config.kpis):
        return f"no configured KPI applies to this {config.model.task} model: " + listed([f"{s['kpi'].replace('_', ' ')} ({s['reason']})" for s in skipped])
    reason = str(result.get("reason") or "")
    if "label" in reason:
        return "the batch has no outcomes (labels) yet, and KPIs need them"
    return reason or "the impact results of this run hold no KPI values"


def skipped_note(result: dict[str, Any]) -> str:
    """A second line naming configured KPIs that do not apply to this model."""
    skipped = result.get("skipped_kpis") or []
    return ("Not measured for this model: " + listed([f"{s['kpi'].replace('_', ' ')} ({s['reason']})" for s in skipped]) + ".") if skipped else ""


def kpi_table(kpis: Any) -> str:
    """The KPI table with every value in its unit (a unit column shown as words; a single unit goes into the headers)."""
    import pandas as pd

    rows = ordered(kpis)
    units = {str(u or "") for u in rows.get("unit", pd.Series([""] * len(rows), index=rows.index))}
    single = units.pop() if len(units) == 1 else None
    show = lambda v, u: amount(v, u).removesuffix(f" {str(u or '').strip()}").removesuffix("%")  # noqa: E731 - the unit is in a column or header
    frame = pd.DataFrame({
        "KPI": [kpi_name(row) for _, row in rows.iterrows()],
        "better when": rows.get("direction", pd.Series(["higher"] * len(rows), index=rows.index)).astype(str).to_numpy(),
        **{name: [show(row.get(col), row.get("unit")) for _, row in rows.iterrows()]
           for name, col in (("baseline", "baseline"), ("target", "target"), ("current", "current"))},
        "95% interval": [f"{show(row.get('ci_low'), row.get('unit'))} – {show(row.get('ci_high'), row.get('unit'))}" for _, row in rows.iterrows()],
        "on target": ["yes" if measured_row(row) and not _off(row) else "no" if measured_row(row) else "—" for _, row in rows.iterrows()],
        "model": [f"v{v}" for v in rows.get("model_version", pd.Series([""] * len(rows), index=rows.index))],
    })
    if single is None:
        frame.insert(1, "unit", [unit_words(row.get("unit")) for _, row in rows.iterrows()])
    suffix = f" ({unit_words(single)})" if single else ""
    headers = {c: c + suffix for c in ("baseline", "target", "current", "95% interval")} if suffix else {}
    return r.table(frame, bad=pd.Series([v == "no" for v in frame["on target"]]), headers=headers)


def unit_words(unit: Any) -> str:
    """A unit as a table shows it: ``%`` for a share, else the unit (``EUR``), or ``—``."""
    return "%" if is_share(unit) or str(unit or "").strip().lower() in PERCENT_UNITS else (str(unit or "").strip() or "—")


class ImpactApp:
    """Widgets of the impact app."""

    def __init__(self, ctx: AppContext, choices: list[Choice], chosen: Choice) -> None:
        import ipywidgets as w

        self.ctx = ctx
        self.frame = Frame("Business impact", "Is the model moving the numbers the business cares about?")
        self.picker = RunPicker(ctx, PHASE, choices, chosen, self.show, self.frame)
        self.kpi = w.Dropdown(description="Trend of", style={"description_width": "initial"},
                              layout=w.Layout(width="auto", min_width="260px", max_width="100%"))
        self.summary, self.table_html, self.trend_img = w.HTML(), w.HTML(), image()
        self.kpi.observe(self.frame.guard(lambda change: self.show_trend()), "value")
        self.frame.controls.children = self.picker.widgets
        self.frame.body.children = [self.summary, self.table_html, self.kpi, self.trend_img]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, choice: Choice) -> None:
        """Load a run: the answer, the KPI table and the picked KPI's trend."""
        self.choice = choice
        self.folder = choice.info.phase_dir(PHASE)
        kpis = read_table(self.folder, catalog.KPIS_FILE)
        result = read_json(self.folder, catalog.IMPACT_FILE)
        self.summary.value = r.kpis([("batch", choice.batch, None), ("model", choice.model, None)])
        sentence, kind = lead_sentence(choice.batch, kpis, result, self.ctx.config)
        measured = kpis is not None and len(kpis) and kpis["current"].notna().any()
        self.table_html.value = kpi_table(kpis) if measured else ""
        lead = str(ordered(kpis)["kpi"].iloc[0]) if measured else ""
        chart = self.trend(lead) if lead else None
        self.frame.answer(sentence, kind=kind, more=skipped_note(result), chart=chart, detail=[self.summary.value, self.table_html.value],
                          filename=f"impact-{choice.batch}.html")
        self.lead_kpi = lead
        names = [(kpi_name(row), str(row["kpi"])) for _, row in ordered(kpis).iterrows()] if measured else []
        set_options(self.kpi, names, self.kpi.value)
        self.kpi.layout.display = None if len(names) > 1 else "none"
        self.show_trend()

    def trend(self, kpi: str) -> bytes | None:
        """The trend chart of one KPI (None when no trend is stored)."""
        trend, kpis = read_table(self.folder, catalog.TREND_FILE), read_table(self.folder, catalog.KPIS_FILE)
        if trend is None or kpis is None or not kpi:
            return None
        info = kpis[kpis["kpi"].astype(str) == kpi]
        return trend_png(trend[trend["kpi"].astype(str) == kpi], info, kpi_name(info.iloc[0]) if len(info) else kpi)

    def show_trend(self) -> None:
        """The picked KPI's trend below the table (the answer's chart already shows the KPI most off target)."""
        other = bool(self.kpi.value) and self.kpi.value != self.lead_kpi
        chart = self.trend(self.kpi.value) if other else None
        if chart is not None:
            self.trend_img.value = chart
        self.trend_img.layout.display = None if chart is not None else "none"


def trend_png(rows: Any, info: Any, name: str) -> bytes:
    """The KPI per batch, coloured by model version, with baseline and target lines; the y axis in the KPI's unit."""
    import numpy as np

    unit = info["unit"].iloc[0] if "unit" in info.columns and len(info) else ""
    scale = 100.0 if is_share(unit) else 1.0
    value = next((c for c in VALUE_COLUMNS if c in rows.columns), None)
    fig = r.figure(8, 3.2)
    ax = fig.subplots()
    if value is not None and len(rows):
        labels = [str(b).rsplit(".", 1)[0] for b in rows["batch"]]
        x = np.arange(len(labels))
        y = rows[value].astype(float).to_numpy() * scale
        ax.plot(x, y, color=r.GREY, zorder=1)
        versions = rows["model_version"].astype(str) if "model_version" in rows else None
        for i, version in enumerate(dict.fromkeys(versions) if versions is not None else [None]):
            mask = (versions == version).to_numpy() if versions is not None else np.ones(len(rows), bool)
            ax.scatter(x[mask], y[mask], color=f"C{i}", zorder=2, label=f"model v{version}" if version else None)
        if {"ci_low", "ci_high"} <= set(rows.columns):
            ax.fill_between(x, rows["ci_low"].astype(float).to_numpy() * scale, rows["ci_high"].astype(float).to_numpy() * scale, color=r.BLUE, alpha=0.1,
                            label="95% interval")
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    for column, style, color in (("baseline", ":", "black"), ("target", "--", r.GREEN)):
        if column in rows.columns and value is not None and len(rows) and rows[column].notna().any():
            ax.plot(np.arange(len(rows)), rows[column].astype(float).to_numpy() * scale, color=color, linestyle=style, linewidth=1.2, label=column)
        elif column in info.columns and len(info) and info[column].notna().iloc[0]:
            ax.axhline(float(info[column].iloc[0]) * scale, color=color, linestyle=style, linewidth=1.2, label=column)
    ax.set_ylabel(unit_words(unit) if unit_words(unit) != "—" else "")
    ax.set_title(f"{name[:1].upper() + name[1:]} per batch")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return r.png(fig)
