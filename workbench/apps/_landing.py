"""The landing page: the status of the current champion (what happened and since when, its performance without labels, what it costs,
who must act), then one card per app.

Every sentence comes from :func:`workbench.reports.status.status` (stored results, the audit log,
retrain requests and approvals); this module only lays them out, with a link from each event to
the app that shows its evidence.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from workbench.apps import _render as r
from workbench.reports import status as status_report
from workbench.reports.model_card import CARD_JSON, folder

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext
    from workbench.reports.status import Event, Status

# (notebook, title, what it shows, phase whose results it reads, command that produces them)
APPS = (
    ("drift.ipynb", "Drift", "Dataset verdict per batch, per-column decisions, feature distributions, concept and feature drift.", "drift", "workbench monitor"),
    ("fairness.ipynb", "Fairness", "Per-group rates with intervals, the four-fifths and equalized-odds checks, bias drift.", "fairness", "workbench monitor"),
    ("explain.ipynb", "Explanations", "Global importance, beeswarm, importance by segment, local explanations, explanation drift.", "explain",
     "workbench monitor"),
    ("impact.ipynb", "Impact", "Business KPIs against baseline and target, their trends and the model version per period.", "impact", "workbench monitor"),
    ("card.ipynb", "Model card", "The card of a chosen model version.", None, "workbench run"),
)
# Rows of the status chart: (label, BatchState attribute).
ROWS = (("Data drift", "data_drift"), ("Concept drift", "concept_drift"), ("Bias shift", "bias_shift"), ("Fallback", "fallback"))
EXTRA_STYLE = """<style>
.wb-timeline, .wb-costs, .wb-pending {margin: 4px 0 12px 0; padding-left: 22px; font-size: 14px; line-height: 1.5;}
.wb-timeline .wb-date {display: inline-block; min-width: 88px; color: #4a5568; font-variant-numeric: tabular-nums;}
.wb-event a {white-space: nowrap; color: #2b6cb0; text-decoration: underline;}
.wb-app h3 {font-size: 16px; margin: 14px 0 4px 0;}
.wb-estimates-note {margin: 2px 0; font-size: 13px; color: #4a5568;}
</style>"""


def app(ctx: AppContext) -> Any:
    """The status of the champion, then the list of apps with the latest batch each one would show.

    An HTML *widget*, not a notebook HTML output: JupyterLab's output renderer would open
    every relative link in a new tab.
    """
    import ipywidgets as w

    try:
        st = status_report.status(ctx.config, runs=ctx.runs())
    except Exception as exc:  # noqa: BLE001 - the landing page says what failed instead of showing a traceback
        return w.HTML(r.STYLE + '<div class="wb-app">' + r.message(f"The status could not be read: {exc}", "error") + _cards(ctx) + "</div>")
    chart = timeline_png(st) if st.batches else None
    image = r.inline_png(chart, st.headline) if chart else ""
    lead = r.lead(st.headline, st.kind)
    notes = "".join(r.message(n, "warn") for n in st.notes)
    download = r.download_link("status.html", r.document(f"Status of {ctx.config.project}", [lead, image, notes, *sections(st, links=False)]))
    return w.HTML(r.STYLE + EXTRA_STYLE + '<div class="wb-app">' + lead + image + notes + "".join(sections(st, links=True))
                  + "<h3>Reports</h3>" + _cards(ctx) + f'<div class="wb-download">{download}</div></div>')


def sections(st: Status, *, links: bool) -> list[str]:
    """"What happened", "Performance without labels" (when a batch was monitored), "What it costs" and "Waiting for a decision"
    as HTML (``links``: evidence links into the apps)."""
    events = "".join(f'<li class="wb-event" data-kind="{html.escape(e.kind)}" data-date="{html.escape(e.date)}"><span class="wb-date">'
                     f'{html.escape(e.date)}</span> {html.escape(e.sentence)}{_evidence(e) if links else ""}</li>' for e in st.events)
    happened = f'<ol class="wb-timeline">{events}</ol>' if events else '<p class="wb-timeline-note">Nothing has been recorded yet.</p>'
    costs = "".join(f'<li class="wb-cost" data-kpi="{html.escape(c.kpi)}">{html.escape(c.sentence)}</li>' for c in st.costs)
    cost = f'<ul class="wb-costs">{costs}</ul>' if costs else f'<p class="wb-costs-note">{html.escape(st.costs_note)}</p>'
    items = "".join(f'<li class="wb-pending-item" data-kind="{html.escape(p.kind)}">{html.escape(p.sentence)}</li>' for p in st.pending)
    pending = f'<ul class="wb-pending">{items}</ul>' if items else f'<p class="wb-pending-note">{html.escape(st.pending_note)}</p>'
    performance = [f"<h3>Performance without labels</h3>{estimates(st)}"] if st.batches else []
    return [f"<h3>What happened</h3>{happened}", *performance, f"<h3>What it costs</h3>{cost}", f"<h3>Waiting for a decision</h3>{pending}"]


def estimates(st: Status) -> str:
    """The latest batches' performance estimated without labels, its band and realised once labels arrived (a compact table)."""
    if not st.estimates:
        return ('<p class="wb-estimates-note">No monitored batch has a performance estimate yet: batches monitored before estimates '
                "were recorded have none.</p>")
    metrics = {e.metric for e in st.estimates}
    named = len(metrics) == 1
    head = f"estimated {next(iter(metrics))}" if named else "estimated"
    rows = []
    for e in st.estimates:
        value, band, realised = e.cells
        bad = ' class="wb-bad"' if e.alert or e.side == "worse" else ""
        shown = value if named else f"{e.metric} {value}"
        rows.append(f'<tr{bad} data-batch="{html.escape(e.batch)}"><td>{html.escape(e.batch)}</td><td>{html.escape(shown)}</td>'
                    f"<td>{html.escape(band)}</td><td>{html.escape(realised)}</td></tr>")
    return ('<p class="wb-estimates-note">Estimated from the model\'s calibrated confidence before labels arrive; realised once they do. '
            "Red: worse than the alert threshold, or realised worse than the band (likely concept drift).</p>"
            f'<div class="wb-scroll"><table class="wb-table wb-estimates"><thead><tr><th>batch</th><th>{html.escape(head)}</th><th>band</th>'
            f'<th>realised</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _evidence(event: Event) -> str:
    """A relative link into the app that shows the event's evidence (a run, or a version's card); empty without one."""
    if event.app == "card" and event.version:
        return f' <a href="{html.escape("card.ipynb?version=" + quote(event.version, safe=""))}">model card</a>'
    if event.app and event.run_id:
        return f' <a href="{html.escape(quote(event.app, safe="") + ".ipynb?run=" + quote(event.run_id, safe=""))}">evidence</a>'
    return ""


def timeline_png(st: Status) -> bytes:
    """Batches across, one row per story: a red mark where it held, grey where it was checked and did not, nothing where unchecked."""
    n = len(st.batches)
    width = min(11.0, max(6.0, 0.62 * n + 2.4))
    fig = r.figure(width, 2.2, left=1.3, bottom=0.6)
    ax = fig.subplots()
    for y, (_, attr) in enumerate(reversed(ROWS)):
        for x, b in enumerate(st.batches):
            value = getattr(b, attr)
            if value is None:
                continue
            ax.scatter([x], [y], s=130 if value else 40, marker="s" if value else "o", color=(r.ORANGE if attr == "fallback" else r.RED) if value else "#e2e8f0",
                       zorder=2)
    ax.set_yticks(range(len(ROWS)), [label for label, _ in reversed(ROWS)], fontsize=9)
    ax.set_xticks(range(n), [b.batch for b in st.batches], rotation=30, ha="right", fontsize=8)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(-0.6, len(ROWS) - 0.4)
    ax.grid(axis="x", color="#edf2f7", zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title("What happened, batch by batch (red: it happened)", fontsize=10, loc="left")
    return r.png(fig)


def _cards(ctx: AppContext) -> str:
    """One card per app: what it shows and the latest batch (or version) it would show."""
    cards = []
    for notebook, title, text, phase, command in APPS:
        if phase is None:
            found = _card_versions(ctx)
            state = f"latest: v{html.escape(found[0])}" if found else f"not produced yet — run <code>{command}</code>"
        else:
            choices = ctx.choices(phase)
            state = f"latest batch: {html.escape(choices[0].batch)} ({len(choices)} run{'s' * (len(choices) != 1)})" if choices \
                else f"not produced yet — run <code>{command}</code>"
        cards.append(f'<div class="wb-msg wb-info"><a href="{notebook}" style="font-size:17px;font-weight:600">{title}</a>'
                     f'<div>{html.escape(text)}</div><div style="color:#4a5568;font-size:13px">{state}</div></div>')
    footer = f"<p style='color:#4a5568'>Project <b>{html.escape(ctx.config.project)}</b> · {len(ctx.runs())} stored runs</p>"
    return '<div class="wb-cards">' + "".join(cards) + footer + "</div>"


def _card_versions(ctx: AppContext) -> list[str]:
    """Versions with a stored card, newest first, from the cards' folders.

    Not ``model_card.versions``: that asks MLflow's registry, and importing MLflow would cost
    the (not pre-heated) landing page seconds; the card app itself does check the registry.
    """
    root = folder(ctx.config, "0").parent
    found = [p.name[1:] for p in root.iterdir() if p.name.startswith("v") and (p / CARD_JSON).is_file()] if root.is_dir() else []
    return sorted(found, key=lambda v: (len(v), v), reverse=True)
