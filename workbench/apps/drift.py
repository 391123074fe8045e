"""The drift app: dataset verdict per batch over time, per-column decisions, a feature picker with
reference vs batch distributions, concept and feature drift, and a link to the evidently report.

Reads ``drift/`` of a monitor run: ``verdict.json``, ``history.parquet``, ``columns.parquet``,
``distributions.parquet`` (reference and batch shares per bin), ``concept.json`` and
``feature_drift.parquet``.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import read_json as _read
from workbench.apps import _render as r
from workbench.apps._widgets import Frame, LazyTabs, RunPicker, image, set_options, start
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext, Choice

PHASE = "drift"
COLUMN_VIEW = {"column": None, "kind": None, "test": None, "p_value": ".3g", "effect_size": ".3f", "effect_threshold": ".2f",
               "psi": ".3f", "drifted": None, "status": None, "n_batch": ",d", "missing_share_batch": ".1%"}


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
        self.summary, self.link = w.HTML(), w.HTML()
        self.history_img, self.columns_html = image(), w.HTML()
        self.feature = w.Dropdown(description="Feature", layout=w.Layout(width="320px"))
        self.feature_img, self.feature_html = image(), w.HTML()
        self.concept_html, self.concept_img, self.residual_html = w.HTML(), image(), w.HTML()
        self.feature.observe(self.frame.guard(lambda change: self.show_feature()), "value")
        self.tabs = LazyTabs({"Over time": self.page_history, "Columns": self.page_columns,
                              "Distributions": self.page_feature, "Concept drift": self.page_concept}, self.frame)
        self.frame.controls.children = self.picker.widgets
        self.frame.body.children = [self.summary, self.link, self.tabs.tab]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, choice: Choice) -> None:
        """Load a run: summary, link, and the visible tab."""
        self.choice = choice
        self.folder = choice.info.phase_dir(PHASE)
        verdict = read_json(self.folder, catalog.VERDICT_FILE)
        data = read_json(self.folder, catalog.DATA_DRIFT_FILE).get("dataset", {})
        self.summary.value = r.kpis([
            ("batch", choice.batch, None),
            ("model", choice.model, None),
            ("data drift", "yes" if verdict.get("data_drift") else "no", bool(verdict.get("data_drift"))),
            ("drifted columns", f"{data.get('drifted_columns', '?')} of {data.get('columns', '?')}", bool(data.get("drifted_columns"))),
            ("concept drift", "yes" if verdict.get("concept_drift") else "no", bool(verdict.get("concept_drift"))),
            ("feature drift", "yes" if verdict.get("feature_drift") else "no", bool(verdict.get("feature_drift"))),
        ]) + (r.message("Alert: " + "; ".join(map(str, verdict.get("reasons", []))), "error") if verdict.get("alert") else "")
        self.link.value = self._evidently_link()
        columns = read_table(self.folder, catalog.COLUMNS_FILE)
        names = [] if columns is None else columns.sort_values("effect_size", ascending=False)["column"].tolist()
        set_options(self.feature, names, self.feature.value)
        self.tabs.invalidate()

    def _evidently_link(self) -> str:
        if not (self.folder / catalog.EVIDENTLY_FILE).is_file():
            return ""
        href = html.escape(f"{self.ctx.base_url.rstrip('/')}/workbench/evidently/{self.choice.run_id}")
        return f'<a href="{href}" target="_blank" rel="noopener">Open the full evidently data-drift report for this batch ↗</a>'

    def page_history(self) -> list[Any]:
        """The dataset verdict per batch over time."""
        history = read_table(self.folder, catalog.HISTORY_FILE)
        if history is None or history.empty:
            return [self._msg("No drift history stored for this run.")]
        self.history_img.value = history_png(history, self.choice.batch)
        return [self.history_img]

    def page_columns(self) -> list[Any]:
        """Per-column statistics and decisions."""
        columns = read_table(self.folder, catalog.COLUMNS_FILE)
        if columns is None:
            return [self._msg("No per-column results stored for this run.")]
        view = columns.sort_values("effect_size", ascending=False)
        keep = [c for c in COLUMN_VIEW if c in view.columns]
        self.columns_html.value = r.table(view[keep], formats={k: v for k, v in COLUMN_VIEW.items() if v}, bad=view["drifted"])
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
            self.feature_html.value = r.message("This run stored no distributions (monitored before they were recorded): "
                                                "run `workbench monitor` again to get them.", "warn")
            return
        rows = dist[dist["column"] == name]
        columns = read_table(self.folder, catalog.COLUMNS_FILE)
        stats = columns[columns["column"] == name]
        self.feature_img.value = distribution_png(rows, name, stats)
        keep = [c for c in COLUMN_VIEW if c in stats.columns]
        self.feature_html.value = r.table(stats[keep], formats={k: v for k, v in COLUMN_VIEW.items() if v}, bad=stats["drifted"])

    def page_concept(self) -> list[Any]:
        """Prediction drift, performance change and feature (residual) drift."""
        concept = read_json(self.folder, catalog.CONCEPT_FILE)
        pred = concept.get("prediction_drift", {})
        perf = concept.get("performance", {}) or {}
        items = [("score PSI", f"{pred.get('psi', float('nan')):.3f} (threshold {pred.get('threshold', float('nan')):g})", bool(pred.get("drift"))),
                 ("concept drift", "yes" if concept.get("verdict", {}).get("concept_drift") else "no", bool(concept.get("verdict", {}).get("concept_drift")))]
        if isinstance(perf, dict) and perf.get("difference") is not None:
            items.append((f"{perf.get('metric', 'performance')}: {perf['reference']:.3f} → {perf['batch']:.3f} (95% CI {perf['low']:+.3f}…{perf['high']:+.3f})",
                          f"{perf['difference']:+.3f}", bool(perf.get("degraded"))))
        elif isinstance(perf, dict) and perf.get("status"):
            items.append(("performance", str(perf["status"]), None))
        self.concept_html.value = r.kpis(items)
        self.concept_img.value = concept_png(pred.get("bins", []))
        residuals = read_table(self.folder, catalog.FEATURE_DRIFT_FILE)
        if residuals is None:
            self.residual_html.value = r.message("No feature drift stored (labels have not arrived for this batch).")
        else:
            keep = [c for c in ("feature", "kind", "score", "threshold", "p_value", "drifted", "worst_bin", "worst_bin_diff") if c in residuals.columns]
            self.residual_html.value = ("<h4>Feature drift — where the model's errors moved</h4>"
                                        + r.table(residuals[keep], formats={"score": ".3f", "threshold": ".2f", "p_value": ".3g", "worst_bin_diff": ".3f"},
                                                  bad=residuals["drifted"]))
        return [self.concept_html, self.concept_img, self.residual_html]

    def _msg(self, text: str) -> Any:
        import ipywidgets as w

        return w.HTML(r.message(text, "warn"))


def history_png(history: Any, current: str) -> bytes:
    """Share of drifted columns per batch (red markers: the batch drifted; ring: the shown batch)."""
    import numpy as np

    fig = r.figure(9, 3.2)
    ax = fig.subplots()
    labels = [str(b).rsplit(".", 1)[0] for b in history["batch"]]
    share = history["drifted_share"].astype(float).to_numpy()
    drifted = history["data_drift"].astype(bool).to_numpy()
    x = np.arange(len(labels))
    ax.plot(x, share, color=r.GREY, zorder=1)
    ax.scatter(x, share, c=np.where(drifted, r.RED, r.BLUE), s=40, zorder=2)
    if "concept_drift" in history:
        concept = history["concept_drift"].astype(bool).to_numpy()
        ax.scatter(x[concept], np.full(concept.sum(), 1.02), marker="v", color=r.ORANGE, label="concept drift", zorder=3)
    if current in labels:
        i = labels.index(current)
        ax.scatter([x[i]], [share[i]], s=180, facecolors="none", edgecolors="black", zorder=4, label="shown batch")
    ax.axhline(0.5, color="black", linestyle="--", linewidth=1, label="dataset drift: half the columns")
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylim(-0.02, 1.08)
    ax.set_ylabel("share of drifted columns")
    ax.set_title("Dataset drift per batch (red: drifted)")
    ax.legend(loc="upper left", fontsize=8)
    return r.png(fig)


def distribution_png(rows: Any, name: str, stats: Any) -> bytes:
    """Reference vs batch share per bin of one column."""
    import numpy as np

    fig = r.figure(8, 3.2)
    ax = fig.subplots()
    x = np.arange(len(rows))
    ax.bar(x - 0.2, rows["reference_share"], width=0.4, color=r.BLUE, label="reference (training)")
    drifted = bool(stats["drifted"].iloc[0]) if len(stats) else False
    ax.bar(x + 0.2, rows["batch_share"], width=0.4, color=r.RED if drifted else r.ORANGE, label="batch")
    ax.set_xticks(x, rows["bin"].tolist(), rotation=30 if len(rows) > 5 else 0, ha="right" if len(rows) > 5 else "center", fontsize=8)
    ax.set_ylabel("share of rows")
    ax.set_title(f"{name}: reference vs batch{' (drifted)' if drifted else ''}")
    ax.legend(fontsize=8)
    return r.png(fig)


def concept_png(bins: list[dict[str, Any]]) -> bytes:
    """Share of scores per reference decile of the score, reference vs batch."""
    import numpy as np

    fig = r.figure(8, 3.0, bottom=1.0)
    ax = fig.subplots()
    if bins:
        x = np.arange(len(bins))
        ax.bar(x - 0.2, [b["reference_share"] for b in bins], width=0.4, color=r.BLUE, label="reference holdout")
        ax.bar(x + 0.2, [b["batch_share"] for b in bins], width=0.4, color=r.ORANGE, label="batch")
        ax.set_xticks(x, [f"{b['edge_low']:.2f}–{b['edge_high']:.2f}" for b in bins], rotation=30, ha="right", fontsize=7)
        ax.legend(fontsize=8)
    ax.set_ylabel("share of rows")
    ax.set_title("Model score distribution by reference score decile (prediction drift)")
    return r.png(fig)
