"""Server-side rendering for the apps: matplotlib PNGs, HTML tables and message boxes.

Figures are drawn with ``matplotlib.figure.Figure`` (no pyplot state shared between
callbacks) and sent as PNG bytes to an ``ipywidgets.Image``, so the page carries no plotting
JavaScript and works offline.
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

RED, GREY, BLUE, ORANGE, GREEN = "#c53030", "#a0aec0", "#2b6cb0", "#dd6b20", "#2f855a"
DPI = 90

STYLE = """<style>
.wb-app {font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1a202c;}
.wb-table {border-collapse: collapse; font-size: 13px; margin: 4px 0 10px 0;}
.wb-table th {background: #edf2f7; text-align: left; padding: 4px 8px; border-bottom: 1px solid #cbd5e0;}
.wb-table td {padding: 3px 8px; border-bottom: 1px solid #edf2f7; font-variant-numeric: tabular-nums;}
.wb-table tr.wb-bad td {background: #fff5f5; color: #9b2c2c;}
.wb-msg {padding: 10px 14px; border-radius: 6px; margin: 8px 0; font-size: 14px;}
.wb-info {background: #ebf8ff; border-left: 4px solid #3182ce;}
.wb-warn {background: #fffaf0; border-left: 4px solid #dd6b20;}
.wb-error {background: #fff5f5; border-left: 4px solid #c53030;}
.wb-ok {background: #f0fff4; border-left: 4px solid #38a169;}
.wb-kpis {display: flex; gap: 12px; flex-wrap: wrap; margin: 6px 0;}
.wb-kpi {background: #f7fafc; border: 1px solid #e2e8f0; border-radius: 6px; padding: 6px 12px; min-width: 120px;}
.wb-kpi b {display: block; font-size: 16px;}
.wb-app .lm-TabBar-tab {flex: 0 1 auto !important; min-width: 110px; padding: 0 14px;}
.wb-kpi span {font-size: 12px; color: #4a5568;}
</style>"""


def figure(width: float = 8, height: float = 3.2, *, left: float = 0.8, bottom: float = 0.75) -> Figure:
    """A new figure (not registered with pyplot) with fixed margins in inches.

    Fixed margins instead of matplotlib's constrained/tight layout: those re-measure every
    text artist and cost more than the drawing itself, and a picker update must stay fast.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.subplots_adjust(left=left / width, right=1 - 0.2 / width, bottom=bottom / height, top=1 - 0.4 / height)
    return fig


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def message(text: str, kind: str = "info", *, raw: bool = False) -> str:
    """A message box (``kind``: info, warn, error, ok); ``text`` is escaped unless ``raw``."""
    body = text if raw else html.escape(text)
    return f'<div class="wb-msg wb-{kind}">{body}</div>'


def not_produced(what: str, command: str) -> str:
    """The message an app shows when its report has not been produced yet."""
    return message(f"The {what} report is not produced yet — run <code>{html.escape(command)}</code>, then reload this page.", "warn", raw=True)


def kpis(items: list[tuple[str, str, bool | None]]) -> str:
    """Summary tiles: (label, value, bad?)."""
    tiles = []
    for label, value, bad in items:
        color = RED if bad else (GREEN if bad is False else "#1a202c")
        tiles.append(f'<div class="wb-kpi"><b style="color:{color}">{html.escape(value)}</b><span>{html.escape(label)}</span></div>')
    return f'<div class="wb-kpis">{"".join(tiles)}</div>'


def table(frame: pd.DataFrame, *, formats: dict[str, str] | None = None, bad: pd.Series | None = None, max_rows: int = 200) -> str:
    """An escaped HTML table; rows where ``bad`` is true are highlighted."""
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for i, (_, row) in enumerate(frame.head(max_rows).iterrows()):
        cells = "".join(f"<td>{html.escape(_fmt(row[c], formats.get(c)))}</td>" for c in frame.columns)
        flagged = bad is not None and bool(bad.iloc[i])
        rows.append(f'<tr class="{"wb-bad" if flagged else ""}">{cells}</tr>')
    return f'<table class="wb-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _fmt(value: Any, spec: str | None) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if spec and isinstance(value, int | float):
        return format(value, spec)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple) or type(value).__name__ == "ndarray":
        return ", ".join(map(str, value))
    return str(value)


def warm_fonts() -> None:
    """Draw one tiny figure so the first real one does not pay for loading fonts."""
    fig = figure(2, 2, left=0.4, bottom=0.4)
    ax = fig.subplots()
    ax.bar(["a"], [1])
    ax.set_title("warm")
    png(fig)


def version_key(version: str) -> tuple[int, str]:
    """Sort model versions numerically (MLflow versions are integers as strings)."""
    return (int(version), "") if version.isdigit() else (10**9, version)
