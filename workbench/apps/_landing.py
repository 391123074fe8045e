"""The landing page: one card per app, saying what it shows and whether its report exists yet."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench.apps import _render as r
from workbench.reports.model_card import CARD_JSON, folder

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext

# (notebook, title, what it shows, phase whose results it reads, command that produces them)
APPS = (
    ("drift.ipynb", "Drift", "Dataset verdict per batch, per-column decisions, feature distributions, concept and feature drift.", "drift", "workbench monitor"),
    ("fairness.ipynb", "Fairness", "Per-group rates with intervals, the four-fifths and equalized-odds checks, bias drift.", "fairness", "workbench monitor"),
    ("explain.ipynb", "Explanations", "Global importance, beeswarm, importance by segment, local explanations, explanation drift.", "explain",
     "workbench monitor"),
    ("impact.ipynb", "Impact", "Business KPIs against baseline and target, their trends and the model version per period.", "impact", "workbench monitor"),
    ("card.ipynb", "Model card", "The card of a chosen model version.", None, "workbench run"),
)


def app(ctx: AppContext) -> Any:
    """The list of apps with the latest batch each one would show.

    An HTML *widget*, not a notebook HTML output: JupyterLab's output renderer would open
    every relative link in a new tab.
    """
    import ipywidgets as w

    cards = []
    for notebook, title, text, phase, command in APPS:
        if phase is None:
            found = _card_versions(ctx)
            state = f"latest: v{found[0]}" if found else f"not produced yet — run <code>{command}</code>"
        else:
            choices = ctx.choices(phase)
            state = f"latest batch: {html.escape(choices[0].batch)} ({len(choices)} run{'s' * (len(choices) != 1)})" if choices \
                else f"not produced yet — run <code>{command}</code>"
        cards.append(f'<div class="wb-msg wb-info"><a href="{notebook}" style="font-size:17px;font-weight:600">{title}</a>'
                     f'<div>{html.escape(text)}</div><div style="color:#4a5568;font-size:13px">{state}</div></div>')
    runs = ctx.runs()
    footer = f"<p style='color:#4a5568'>Project <b>{html.escape(ctx.config.project)}</b> · {len(runs)} stored runs</p>"
    return w.HTML(r.STYLE + '<div class="wb-app">' + "".join(cards) + footer + "</div>")


def _card_versions(ctx: AppContext) -> list[str]:
    """Versions with a stored card, newest first, from the cards' folders.

    Not ``model_card.versions``: that asks MLflow's registry, and importing MLflow would cost
    the (not pre-heated) landing page seconds; the card app itself does check the registry.
    """
    root = folder(ctx.config, "0").parent
    found = [p.name[1:] for p in root.iterdir() if p.name.startswith("v") and (p / CARD_JSON).is_file()] if root.is_dir() else []
    return sorted(found, key=lambda v: (len(v), v), reverse=True)
