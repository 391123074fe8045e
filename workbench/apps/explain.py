"""The explanations app: global importance, the beeswarm, importance by segment, local explanations
for a picked row, explanation drift and the drift-impact ranking.

Reads ``explain/`` of a monitor run: ``importance.parquet``, ``importance_by_<column>.parquet``,
``explanation_drift.parquet``, ``explain.json`` and the stored ``beeswarm.png`` and
``waterfall_*.png`` (SHAP plots drawn by the phase; the app never recomputes SHAP values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.apps import _render as r
from workbench.apps._widgets import Frame, LazyTabs, RunPicker, image, set_options, start
from workbench.apps.drift import read_json, read_table
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from workbench.apps._context import AppContext, Choice

PHASE = "explain"
SEGMENT_PREFIX, WATERFALL_PREFIX = catalog.IMPORTANCE_BY_PREFIX, catalog.WATERFALL_PREFIX


def app(ctx: AppContext) -> Any:
    """The explanations app for the run in the URL (default: the latest monitored batch)."""
    return start(ctx, PHASE, "explanations", ExplainApp)


def stored(folder: Path, prefix: str, suffix: str) -> dict[str, str]:
    """Stored files of one kind in a phase folder: {label: file name} (names come from the folder, never the visitor)."""
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)) if folder.is_dir() else []
    return {n[len(prefix):-len(suffix)].replace("_", " "): n for n in names}


class ExplainApp:
    """Widgets of the explanations app; pickers update them in place."""

    def __init__(self, ctx: AppContext, choices: list[Choice], chosen: Choice) -> None:
        import ipywidgets as w

        self.ctx = ctx
        self.frame = Frame("Explanations", "Which features drive the model's predictions, for whom, and is that changing?")
        self.picker = RunPicker(ctx, PHASE, choices, chosen, self.show, self.frame)
        self.summary = w.HTML()
        self.importance_img, self.beeswarm_img = image(), image()
        self.segment = w.Dropdown(description="Segment", layout=w.Layout(width="300px"))
        self.segment_img = image()
        self.row = w.Dropdown(description="Row", layout=w.Layout(width="360px"))
        self.row_img, self.row_html = image(), w.HTML()
        self.drift_img, self.drift_html = image(), w.HTML()
        self.segment.observe(self.frame.guard(lambda change: self.show_segment()), "value")
        self.row.observe(self.frame.guard(lambda change: self.show_row()), "value")
        self.tabs = LazyTabs({"Global": self.page_global, "By segment": self.page_segment, "Local": self.page_local,
                              "Drift impact": self.page_drift}, self.frame)
        self.frame.controls.children = self.picker.widgets
        self.frame.body.children = [self.summary, self.tabs.tab]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, choice: Choice) -> None:
        """Load a run: summary, segment and row choices, and the visible tab."""
        self.choice = choice
        self.folder = choice.info.phase_dir(PHASE)
        result = read_json(self.folder, catalog.EXPLAIN_FILE)
        batch = result.get("batch", {})
        self.summary.value = r.kpis([
            ("batch", choice.batch, None),
            ("model", choice.model, None),
            ("method", f"{batch.get('method', '?')} ({batch.get('output', '')})", None),
            ("rows explained", f"{batch.get('n_explained', 0):,} of {batch.get('n_rows', 0):,}", None),
            ("top features", ", ".join(result.get("top_features", [])[:3]), None),
        ]) + (r.message(result["warning"], "warn") if result.get("warning") else "")
        self._set(self.segment, stored(self.folder, SEGMENT_PREFIX, ".parquet"))
        self._set(self.row, stored(self.folder, WATERFALL_PREFIX, ".png"))
        self.tabs.invalidate()

    @staticmethod
    def _set(dropdown: Any, options: dict[str, str]) -> None:
        set_options(dropdown, list(options.items()), dropdown.value)

    def page_global(self) -> list[Any]:
        """Mean |SHAP| per feature with its standard error, and the stored beeswarm."""
        importance = read_table(self.folder, catalog.IMPORTANCE_FILE)
        parts: list[Any] = []
        if importance is not None:
            self.importance_img.value = importance_png(importance)
            parts.append(self.importance_img)
        beeswarm = self.folder / catalog.BEESWARM_PLOT
        if beeswarm.is_file():
            self.beeswarm_img.value = beeswarm.read_bytes()
            parts.append(self.beeswarm_img)
        return parts or [self._msg("No importance stored for this run.")]

    def page_segment(self) -> list[Any]:
        """Importance per group of a sensitive column."""
        if not self.segment.options:
            return [self._msg("No importance by segment stored (no sensitive columns in the batch).")]
        self.show_segment()
        return [self.segment, self.segment_img]

    def show_segment(self) -> None:
        """Redraw the importance of the picked segment column."""
        if self.segment.value:
            self.segment_img.value = segment_png(read_table(self.folder, self.segment.value), self.segment.label or "")

    def page_local(self) -> list[Any]:
        """The stored waterfall of a picked row."""
        if not self.row.options:
            return [self._msg("No local explanations stored for this run.")]
        self.show_row()
        self.row_html.value = "<p>Waterfalls were drawn for the highest-risk rows of the batch (and any ids asked for with <code>-p ids=…</code>).</p>"
        return [self.row, self.row_html, self.row_img]

    def show_row(self) -> None:
        """Show the waterfall of the picked row."""
        if self.row.value:
            self.row_img.value = (self.folder / self.row.value).read_bytes()

    def page_drift(self) -> list[Any]:
        """Explanation drift and the drift-impact ranking (effect size × importance share)."""
        ranking = read_table(self.folder, catalog.EXPLANATION_DRIFT_FILE)
        if ranking is None:
            return [self._msg("No explanation drift stored for this run.")]
        ranking = ranking.sort_values("drift_impact", ascending=False)
        self.drift_img.value = drift_impact_png(ranking)
        keep = [c for c in ("feature", "reference", "batch", "change", "relative_change", "reference_share", "effect_size", "drifted", "drift_impact")
                if c in ranking.columns]
        self.drift_html.value = r.table(ranking[keep], formats={"reference": ".3f", "batch": ".3f", "change": "+.3f", "relative_change": "+.1%",
                                                                "reference_share": ".1%", "effect_size": ".3f", "drift_impact": ".4f"},
                                        bad=ranking["drifted"])
        return [self.drift_img, self.drift_html]

    def _msg(self, text: str) -> Any:
        import ipywidgets as w

        return w.HTML(r.message(text, "warn"))


def importance_png(importance: Any) -> bytes:
    """Horizontal bars of mean |SHAP| with ±2 standard errors."""
    data = importance.sort_values("importance")
    fig = r.figure(8, 0.28 * len(data) + 1.2, left=1.7, bottom=0.55)
    ax = fig.subplots()
    err = 2 * data["stderr"].fillna(0) if "stderr" in data else None
    ax.barh(data["feature"], data["importance"], xerr=err, color=r.BLUE, capsize=3)
    ax.set_xlabel("mean |SHAP value| (±2 standard errors)")
    ax.set_title("Global importance")
    return r.png(fig)


def segment_png(table: Any, column: str) -> bytes:
    """Grouped bars: each feature's importance per group of ``column``."""
    import numpy as np

    data = table.set_index(table.columns[0])
    order = data.mean().sort_values(ascending=False).index
    data = data[order]
    fig = r.figure(9, 3.4)
    ax = fig.subplots()
    width = 0.8 / max(len(data), 1)
    x = np.arange(len(order))
    for i, (group, values) in enumerate(data.iterrows()):
        ax.bar(x + (i - (len(data) - 1) / 2) * width, values.to_numpy(dtype=float), width=width, label=str(group))
    ax.set_xticks(x, list(order), rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("mean |SHAP value|")
    ax.set_title(f"Importance by {column}")
    ax.legend(fontsize=8, ncol=min(len(data), 6))
    return r.png(fig)


def drift_impact_png(ranking: Any) -> bytes:
    """Drift impact per feature (red: the feature's data drifted)."""
    import numpy as np

    data = ranking.sort_values("drift_impact")
    fig = r.figure(8, 0.28 * len(data) + 1.2, left=1.7, bottom=0.55)
    ax = fig.subplots()
    ax.barh(data["feature"], data["drift_impact"], color=np.where(data["drifted"].astype(bool), r.RED, r.GREY))
    ax.set_xlabel("drift impact = effect size × importance share")
    ax.set_title("Which drifting features matter to the model (red: drifted)")
    return r.png(fig)
