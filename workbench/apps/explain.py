"""The explanations app: which features drive the model for the chosen batch (the answer: one sentence
and the global importance chart), then importance by segment, local explanations by the configured id,
and explanation drift with the drift-impact ranking.

Reads ``explain/`` of a monitor run: ``importance.parquet``, ``importance_by_<column>.parquet``,
``explanation_drift.parquet``, ``explain.json``, ``local.parquet`` (per explained row: its id, score
and each feature's contribution) and the stored ``beeswarm.png`` and waterfalls (SHAP plots drawn by
the phase; the app never recomputes SHAP values). Runs stored before ``local.parquet`` existed show
their waterfalls of the highest-risk rows labelled by risk rank.
"""

from __future__ import annotations

import re
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
TOP_RISK_PREFIX = catalog.waterfall_plot("top_risk", "")[:-len(".png")]  # runs stored before local explanations had ids
NOTABLE = 0.2  # a feature's influence "moved" when its mean |SHAP| changed by at least this share since training
MIN_SHARE = 0.05  # ... and it carried at least this share of the training importance
MAX_ID = 200  # longest id a visitor may type
PICKED = 50  # rows offered in the picker (highest risk first, then those asked for)
WIDE = {"style": {"description_width": "initial"}}


def app(ctx: AppContext) -> Any:
    """The explanations app for the run in the URL (default: the latest monitored batch)."""
    return start(ctx, PHASE, "explanations", ExplainApp)


def stored(folder: Path, prefix: str, suffix: str) -> dict[str, str]:
    """Stored files of one kind in a phase folder: {label: file name} (names come from the folder, never the visitor)."""
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)) if folder.is_dir() else []
    return {n[len(prefix):-len(suffix)].replace("_", " "): n for n in names}


def words(name: str) -> str:
    """A column name as words (``avg_session_minutes`` -> ``avg session minutes``)."""
    return str(name).replace("_", " ")


def listed(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def period(batch: str) -> str:
    """``In 2026-08`` for a month-named batch, else ``In batch <name>``."""
    return f"In {batch}" if re.match(r"^\d{4}-\d{2}", batch) else f"In batch {batch}"


def lead_sentence(batch: str, result: dict[str, Any], ranking: Any) -> tuple[str, str, str]:
    """The app's answer for one batch: (sentence, kind, second line), from ``explain.json`` and the explanation-drift table."""
    top = [str(f) for f in result.get("top_features", [])][:3]
    if not top:
        return f"{period(batch)} no explanations were stored for this batch.", "warn", ""
    reference = result.get("reference", {}).get("importance", {})
    before = [str(k) for k, _ in sorted(reference.items(), key=lambda kv: -kv[1])][:len(top)]
    if before == top:
        order = "their order is unchanged from training" if len(top) > 1 else "as in training"
    elif set(before) == set(top):
        order = f"in training the order was {listed([words(f) for f in before])}"
    else:
        order = f"in training the top {len(before)} were {listed([words(f) for f in before])}" if before else "no training comparison is stored"
    sentence = f"{period(batch)} the model's predictions are driven most by {listed([words(f) for f in top])}; {order}"
    if ranking is None or not {"feature", "relative_change"} <= set(ranking.columns):
        return sentence + ".", "info", ""
    share = ranking["reference_share"] if "reference_share" in ranking.columns else ranking["reference"] / max(float(ranking["reference"].sum()), 1e-12)
    drifted = ranking["drifted"].fillna(False).astype(bool) if "drifted" in ranking.columns else share * False
    moved = ranking[(ranking["relative_change"].abs() >= NOTABLE) & (share >= MIN_SHARE)]
    if len(moved):
        row = moved.loc[moved["relative_change"].abs().idxmax()]
        name = words(row["feature"])
        owner = name + ("'" if name.endswith("s") else "'s")
        change = f"{owner} influence {'rose' if row['relative_change'] > 0 else 'fell'} {abs(row['relative_change']):.0%} since training"
        return f"{sentence}; {change}{', and it drifted' if drifted[row.name] else ''}.", "warn", ""
    if drifted.any():
        order_by = ranking["drift_impact"] if "drift_impact" in ranking.columns else share
        first = words(ranking.loc[order_by[drifted].idxmax(), "feature"])
        who = f"{first} drifted" if drifted.sum() == 1 else f"{int(drifted.sum())} features drifted ({first} the most)"
        return sentence + ".", "info", f"{who}, but no feature's influence changed by {NOTABLE:.0%} or more since training."
    return sentence + ".", "info", f"No feature drifted, and no feature's influence changed by {NOTABLE:.0%} or more since training."


def local_choices(table: Any, id_column: str | None, word: str = "risk") -> list[tuple[str, str]]:
    """Picker options (label, id) for stored local explanations: rows with a waterfall first, then the highest risk."""
    rows = table.drop_duplicates("id")
    rows = rows.assign(_drawn=rows["waterfall"].notna() if "waterfall" in rows.columns else False).sort_values(["_drawn", "rank"], ascending=[False, True])
    return [(f"{name_of(id_column, i)} · {word} {s:.2f}", str(i)) for i, s in zip(rows["id"].head(PICKED), rows["score"].head(PICKED), strict=True)]


def name_of(id_column: str | None, identifier: Any) -> str:
    """How a row is named: ``customer_id C-10234``, or ``row 17`` without an id column."""
    return f"{id_column} {identifier}" if id_column else f"row {identifier}"


def score_word(result: dict[str, Any]) -> str:
    """What a row's score is called: ``prediction`` for a regression model, ``risk`` for a classifier."""
    return "prediction" if result.get("batch", {}).get("output") == "prediction" else "risk"


class ExplainApp:
    """Widgets of the explanations app; pickers update them in place."""

    def __init__(self, ctx: AppContext, choices: list[Choice], chosen: Choice) -> None:
        import ipywidgets as w

        self.ctx = ctx
        self.frame = Frame("Explanations", "Which features drive the model's predictions, for whom, and is that changing?")
        self.picker = RunPicker(ctx, PHASE, choices, chosen, self.show, self.frame)
        self.summary = w.HTML()
        self.beeswarm_img = image()
        flexible = {"layout": w.Layout(width="auto", min_width="240px", max_width="100%"), **WIDE}
        self.segment = w.Dropdown(description="Segment", **flexible)
        self.segment_img = image()
        self.row = w.Dropdown(description="Explained row", **flexible)
        self.find = w.Text(description="or type an id", placeholder="an id from this batch", continuous_update=False, **flexible)
        self.row_img, self.row_html = image(), w.HTML()
        self.drift_img, self.drift_html = image(), w.HTML()
        self.segment.observe(self.frame.guard(lambda change: self.show_segment()), "value")
        self.row.observe(self.frame.guard(lambda change: self.show_row(self.row.value)), "value")
        self.find.observe(self.frame.guard(lambda change: self.find_row(change["new"])), "value")
        self.tabs = LazyTabs({"Global": self.page_global, "By segment": self.page_segment, "Local": self.page_local,
                              "Drift impact": self.page_drift}, self.frame)
        self.frame.controls.children = self.picker.widgets
        self.frame.body.children = [self.summary, self.tabs.tab]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, choice: Choice) -> None:
        """Load a run: the answer, summary, segment and row choices, and the visible tab."""
        self.choice = choice
        self.folder = choice.info.phase_dir(PHASE)
        result = read_json(self.folder, catalog.EXPLAIN_FILE)
        self.result = result
        batch = result.get("batch", {})
        self.summary.value = r.kpis([
            ("batch", choice.batch, None),
            ("model", choice.model, None),
            ("method", f"{batch.get('method', '?')} ({batch.get('output', '')})", None),
            ("rows explained", f"{batch.get('n_explained', 0):,} of {batch.get('n_rows', 0):,}", None),
        ]) + (r.message(result["warning"], "warn") if result.get("warning") else "")
        ranking = read_table(self.folder, catalog.EXPLANATION_DRIFT_FILE)
        importance = read_table(self.folder, catalog.IMPORTANCE_FILE)
        sentence, kind, more = lead_sentence(choice.batch, result, ranking)
        detail = [self.summary.value] + ([drift_table(ranking)] if ranking is not None else [])
        self.frame.answer(sentence, kind=kind, more=more, chart=importance_png(importance) if importance is not None else None, detail=detail,
                          filename=f"explanations-{choice.batch}.html")
        self._set(self.segment, stored(self.folder, SEGMENT_PREFIX, ".parquet"))
        self.local = read_table(self.folder, catalog.LOCAL_FILE)
        self.id_column = (result.get("local") or {}).get("id_column")
        if self.local is not None:
            set_options(self.row, local_choices(self.local, self.id_column, score_word(result)), self.row.value)
        else:
            self._set(self.row, {f"risk rank {k.removeprefix('top risk ')}": v for k, v in stored(self.folder, TOP_RISK_PREFIX, ".png").items()})
        self.find.value = ""
        self.tabs.invalidate()

    @staticmethod
    def _set(dropdown: Any, options: dict[str, str]) -> None:
        set_options(dropdown, list(options.items()), dropdown.value)

    def page_global(self) -> list[Any]:
        """The stored beeswarm (the importance chart is the answer above the tabs)."""
        beeswarm = self.folder / catalog.BEESWARM_PLOT
        if beeswarm.is_file():
            self.beeswarm_img.value = beeswarm.read_bytes()
            return [self.beeswarm_img]
        return [self._msg("No per-row explanation plot is stored for this run (the model was explained by permutation).")]

    def page_segment(self) -> list[Any]:
        """Importance per group of a sensitive column."""
        if not self.segment.options:
            return [self._msg("No importance by segment is stored (no sensitive columns in the batch).")]
        self.show_segment()
        return [self.segment, self.segment_img]

    def show_segment(self) -> None:
        """Redraw the importance of the picked segment column."""
        if self.segment.value:
            self.segment_img.value = segment_png(read_table(self.folder, self.segment.value), self.segment.label or "")

    def page_local(self) -> list[Any]:
        """Why one row scored as it did: picked from the list, or typed by its id."""
        if not self.row.options:
            return [self._msg("No local explanations are stored for this run.")]
        self.show_row(self.row.value)
        if self.local is None:
            self.row_html.value = r.message("This run was stored before explanations were named by id: its rows are listed by risk rank.", "info")
            return [self.row, self.row_html, self.row_img]
        return [w_row(self.row, self.find), self.row_html, self.row_img]

    def find_row(self, typed: str) -> None:
        """Show the row whose id a visitor typed; the text is only compared with the stored ids, never used as a path."""
        typed = str(typed or "").strip()[:MAX_ID]
        if not typed or self.local is None:
            return
        ids = set(self.local["id"].astype(str))
        if typed not in ids:
            self.row_img.layout.display = "none"
            self.row_html.value = r.message(f"No explanation is stored for {name_of(self.id_column, typed)} in {self.choice.batch}: "
                                            f"explanations cover the {len(ids):,} rows explained for this batch.", "warn")
            return
        self.show_row(typed)

    def show_row(self, key: str | None) -> None:
        """Show the local explanation of a stored id (or, for older runs, a stored waterfall file)."""
        if not key:
            return
        self.row_img.layout.display = None
        if self.local is None:  # the key is a file name listed from the folder
            self.row_img.value = (self.folder / key).read_bytes()
            return
        rows = self.local[self.local["id"].astype(str) == str(key)]
        first = rows.iloc[0]
        name, word = name_of(self.id_column, key), score_word(self.result)
        n_rows = self.result.get("batch", {}).get("n_rows", 0)
        self.row_html.value = r.message(f"{name}: {word} {first['score']:.2f}, ranked {int(first['rank']):,} of {n_rows:,} in {self.choice.batch}. "
                                        "Red bars push the score up, blue bars pull it down.", "info")
        drawn = first.get("waterfall") if "waterfall" in rows.columns else None
        path = self.folder / str(drawn) if isinstance(drawn, str) and drawn.startswith(WATERFALL_PREFIX) and "/" not in drawn else None
        self.row_img.value = path.read_bytes() if path is not None and path.is_file() else waterfall_png(rows, name, self.result.get("batch", {}).get("output", ""))
        if not self.id_column and self.local is not None:
            self.row_html.value += r.message("No id column is configured, so rows are named by their number in the batch (1 = the first row).", "info")

    def page_drift(self) -> list[Any]:
        """Explanation drift and the drift-impact ranking (effect size × importance share)."""
        ranking = read_table(self.folder, catalog.EXPLANATION_DRIFT_FILE)
        if ranking is None:
            return [self._msg("No explanation drift is stored for this run.")]
        self.drift_img.value = drift_impact_png(ranking.sort_values("drift_impact", ascending=False))
        self.drift_html.value = drift_table(ranking)
        return [self.drift_img, self.drift_html]

    def _msg(self, text: str) -> Any:
        import ipywidgets as w

        return w.HTML(r.message(text, "warn"))


def w_row(*children: Any) -> Any:
    """Controls side by side, wrapping on narrow windows."""
    import ipywidgets as w

    return w.HBox(list(children), layout=w.Layout(flex_flow="row wrap"))


def drift_table(ranking: Any) -> str:
    """The drift-impact ranking as a table (drifted features highlighted)."""
    ranking = ranking.sort_values("drift_impact", ascending=False) if "drift_impact" in ranking.columns else ranking
    keep = [c for c in ("feature", "reference", "batch", "change", "relative_change", "reference_share", "effect_size", "drifted", "drift_impact")
            if c in ranking.columns]
    return r.table(ranking[keep], formats={"reference": ".3f", "batch": ".3f", "change": "+.3f", "relative_change": "+.1%", "reference_share": ".1%",
                                           "effect_size": ".3f", "drift_impact": ".4f"},
                   bad=ranking["drifted"] if "drifted" in ranking.columns else None,
                   headers={"reference": "importance in training", "batch": "importance now", "relative_change": "change (%)",
                            "reference_share": "share of training importance"})


def waterfall_png(rows: Any, name: str, output: str, *, show: int = 10) -> bytes:
    """One row's contributions from the average output to its own, largest on top (from ``local.parquet``)."""
    rows = rows.reindex(rows["contribution"].abs().sort_values(ascending=False, kind="stable").index)
    labels = list(rows["feature"].astype(str) + " = " + rows["value"].astype(str))[:show]
    values = [float(v) for v in rows["contribution"]][:show]
    if len(rows) > show:
        labels, values = labels[:-1] + [f"{len(rows) - show + 1} other features"], values[:-1] + [float(rows["contribution"].iloc[show - 1:].sum())]
    fig = r.figure(8, 0.36 * len(values) + 1.3, left=2.6, bottom=0.6)
    ax = fig.subplots()
    points = [float(rows["base"].iloc[0])]
    for y, value in zip(range(len(values) - 1, -1, -1), values, strict=True):
        ax.barh(y, value, left=points[-1], color=r.RED if value > 0 else r.BLUE)
        ax.text(points[-1] + value, y, f" {value:+.3f} ", va="center", ha="left" if value > 0 else "right", fontsize=8)
        points.append(points[-1] + value)
    ax.set_yticks(range(len(values) - 1, -1, -1), labels, fontsize=8)
    pad = 0.15 * (max(points) - min(points) or 1.0)
    ax.set_xlim(min(points) - pad, max(points) + pad)
    ax.axvline(points[0], color=r.GREY, linestyle="--", linewidth=0.8)
    ax.set_xlabel(f"{output or 'model output'}: average {points[0]:.2f} → this row {points[-1]:.2f}")
    ax.set_title(f"Why {name} scored as it did")
    return r.png(fig)


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
