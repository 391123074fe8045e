"""The model-card app: the card of a chosen model version.

Cards come from :mod:`workbench.reports.model_card` (``versions(config)``, ``read(config, version)``,
``html_path(config, version)``). While no version has a card, the app says the card is not produced yet. A ``version`` in the URL must be one of the listed versions.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench.apps import _render as r
from workbench.apps._render import version_key
from workbench.apps._widgets import Frame
from workbench.exceptions import WorkbenchError
from workbench.reports import model_card

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext


def versions(ctx: AppContext) -> list[str]:
    """Versions with a card, newest first; empty when cards are not produced (yet)."""
    try:
        found = [str(v) for v in model_card.versions(ctx.config)]
    except WorkbenchError:
        return []
    return sorted(found, key=version_key, reverse=True)


def app(ctx: AppContext) -> Any:
    """The model-card app for the version in the URL (default: the newest)."""
    from IPython.display import HTML

    found = versions(ctx)
    if not found:
        return HTML(r.STYLE + r.not_produced("model card", "workbench run"))
    wanted = ctx.query.get("version", "")
    if wanted and wanted not in found:
        return HTML(r.STYLE + r.message(f"refused: model version {wanted!r} has no card. Fix: pick one of {', '.join(found)}.", "error"))
    return CardApp(ctx, found, wanted or found[0]).widget


class CardApp:
    """A version picker and the card."""

    def __init__(self, ctx: AppContext, found: list[str], chosen: str) -> None:
        import ipywidgets as w

        self.ctx, self.found = ctx, found
        self.frame = Frame("Model card", "What the model is for, how it was built and checked, and its limits.")
        self.version = w.Dropdown(options=[(f"v{v}", v) for v in found], value=chosen, description="Version", layout=w.Layout(width="220px"))
        self.card = w.HTML()
        self.version.observe(self.frame.guard(lambda change: self.show(change["new"])), "value")
        self.frame.controls.children = [self.version]
        self.frame.body.children = [self.card]
        self.widget = self.frame.widget
        self.show(chosen)

    def show(self, version: str) -> None:
        """Render the card of ``version`` (re-checked against the listed versions)."""
        if version not in self.found:
            self.frame.error(f"refused: model version {version!r} has no card.")
            return
        self.frame.clear()
        self.card.value = render(self.ctx, version)


def render(ctx: AppContext, version: str) -> str:
    """The card as HTML: the stored HTML card in a sandboxed frame, else the card's fields."""
    try:
        path = model_card.html_path(ctx.config, version)
    except (AttributeError, WorkbenchError, OSError):
        path = None
    if path is not None and path.is_file():
        # srcdoc in a sandbox without scripts: the card's HTML cannot touch the app or the kernel.
        return (f'<iframe sandbox="" style="width:100%;height:900px;border:1px solid #e2e8f0;border-radius:6px" '
                f'srcdoc="{html.escape(path.read_text(encoding="utf-8"), quote=True)}"></iframe>')
    return fields_html(model_card.read(ctx.config, version))


def fields_html(card: dict[str, Any], depth: int = 0) -> str:
    """A card dict as nested definition lists (escaped)."""
    parts = []
    for key, value in card.items():
        title = html.escape(str(key).replace("_", " "))
        if isinstance(value, dict):
            parts.append(f"<h{min(3 + depth, 6)}>{title}</h{min(3 + depth, 6)}>{fields_html(value, depth + 1)}")
        elif isinstance(value, list):
            items = "".join(f"<li>{fields_html(v, depth + 1) if isinstance(v, dict) else html.escape(str(v))}</li>" for v in value)
            parts.append(f"<dt><b>{title}</b></dt><dd><ul>{items}</ul></dd>")
        else:
            parts.append(f"<dt><b>{title}</b></dt><dd>{html.escape(str(value))}</dd>")
    return f"<dl>{''.join(parts)}</dl>"
