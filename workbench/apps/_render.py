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
.wb-app {font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1a202c; max-width: 100%; box-sizing: border-box;}
.wb-scroll {max-width: 100%; overflow-x: auto;}
.wb-table {border-collapse: collapse; font-size: 13px; margin: 4px 0 10px 0; max-width: 100%;}
.wb-table th {background: #edf2f7; text-align: left; padding: 4px 6px; border-bottom: 1px solid #cbd5e0; white-space: normal; vertical-align: bottom;}
.wb-table td {padding: 3px 6px; border-bottom: 1px solid #edf2f7; font-variant-numeric: tabular-nums; overflow-wrap: break-word;}
.wb-table tr.wb-bad td {background: #fff5f5; color: #9b2c2c;}
.wb-msg {padding: 10px 14px; border-radius: 6px; margin: 8px 0; font-size: 14px; overflow-wrap: anywhere;}
.wb-info {background: #ebf8ff; border-left: 4px solid #3182ce;}
.wb-warn {background: #fffaf0; border-left: 4px solid #dd6b20;}
.wb-error {background: #fff5f5; border-left: 4px solid #c53030;}
.wb-ok {background: #f0fff4; border-left: 4px solid #38a169;}
.wb-lead {font-size: 18px; line-height: 1.45; padding: 12px 16px; margin: 6px 0 4px 0;}
.wb-lead p {margin: 0 0 4px 0;}
.wb-lead .wb-more {font-size: 14px; color: #4a5568;}
.wb-kpis {display: flex; gap: 12px; flex-wrap: wrap; margin: 6px 0;}
.wb-kpi {background: #f7fafc; border: 1px solid #e2e8f0; border-radius: 6px; padding: 6px 12px; min-width: 120px; max-width: 100%;}
.wb-kpi b {display: block; font-size: 16px; overflow-wrap: anywhere;}
.wb-app .lm-TabBar-tab {flex: 0 1 auto !important; min-width: 90px; padding: 0 12px;}
.wb-kpi span {font-size: 12px; color: #4a5568;}
.wb-download {font-size: 13px; text-align: right;}
/* flex children default to min-width: auto and would push a wide table past the tab panel, which clips it */
.wb-app .widget-html, .wb-app .widget-html-content, .wb-app .widget-box, .wb-app .widget-tab-contents {min-width: 0; max-width: 100%;}
.wb-app .widget-dropdown > select {min-width: 0;}
.wb-app .widget-label {min-width: max-content;}
.wb-table th, .wb-table td {line-height: 1.3;}
@media (max-width: 900px) { .wb-table {font-size: 12px;} .wb-table th, .wb-table td {padding: 3px 4px;} .wb-lead {font-size: 16px;} }
@media print {
  .wb-controls, .wb-download, .lm-TabBar, .jp-Collapser, .jp-InputArea {display: none !important;}
  .wb-app {max-width: none !important;}
  .wb-table, .widget-image, img {page-break-inside: avoid; break-inside: avoid;}
}
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


def table(frame: pd.DataFrame, *, formats: dict[str, str] | None = None, bad: pd.Series | None = None, max_rows: int = 200,
          headers: dict[str, str] | None = None) -> str:
    """An escaped HTML table that fits narrow windows (headers wrap; a scroll box only as a last resort); rows where ``bad`` is true are highlighted.

    Column names are shown as words (``p_value`` -> ``p value``) unless ``headers`` names them.
    """
    formats, headers = formats or {}, headers or {}
    head = "".join(f"<th>{html.escape(headers.get(str(c), str(c).replace('_', ' ')))}</th>" for c in frame.columns)
    rows = []
    for i, (_, row) in enumerate(frame.head(max_rows).iterrows()):
        cells = "".join(f"<td>{html.escape(_fmt(row[c], formats.get(c)))}</td>" for c in frame.columns)
        flagged = bad is not None and bool(bad.iloc[i])
        rows.append(f'<tr class="{"wb-bad" if flagged else ""}">{cells}</tr>')
    return f'<div class="wb-scroll"><table class="wb-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def lead(sentence: str, kind: str = "info", more: str = "") -> str:
    """The app's answer: one plain sentence (escaped) in a box, and optionally a smaller second line."""
    extra = f'<p class="wb-more">{html.escape(more)}</p>' if more else ""
    return f'<div class="wb-msg wb-{kind} wb-lead"><p class="wb-answer">{html.escape(sentence)}</p>{extra}</div>'


def inline_png(data: bytes, alt: str = "") -> str:
    """A PNG as an ``<img>`` carrying its bytes (for the self-contained download)."""
    import base64

    return f'<img alt="{html.escape(alt)}" style="max-width:100%" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def document(title: str, parts: list[str]) -> str:
    """A self-contained HTML report (styles inline, images embedded, no scripts, no external requests)."""
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title>{STYLE}</head><body><div class=\"wb-app\" style=\"max-width:1100px;margin:auto\">"
            f"<h1>{html.escape(title)}</h1>{''.join(parts)}</div></body></html>")


def download_link(filename: str, text: str) -> str:
    """A link that saves ``text`` (a self-contained HTML document) as ``filename`` (a data URL: nothing is stored on the server)."""
    import base64
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", filename).strip("-") or "report.html"
    href = "data:text/html;charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode()
    return f'<a class="wb-download-link" download="{html.escape(safe)}" href="{href}">⬇ Download this report (HTML)</a> · <span>print: Ctrl+P</span>'


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
