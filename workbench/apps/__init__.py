"""The stakeholder report apps in ``notebooks/apps/`` (served by ``workbench serve``): view models and the Voila server.

The app notebooks are thin: each calls :func:`prepare` (imports, and the app built for the newest
run, before a visitor arrives when the kernel is pre-heated), then ``.visit(run)`` (the visitor's
query string, a validated run choice, the prepared view or a fresh one). :func:`context` and
``<app>.app(ctx)`` do the same in one step. The apps read stored results only, through
:mod:`workbench.reports`; they never train, score or recompute drift. Figures are rendered
server-side as PNGs (no plotting JavaScript in the page), and pickers update widgets in place.
Heavy libraries (ipywidgets, pandas, matplotlib) are imported in :func:`warm`, which a pre-heated
kernel runs before a visitor arrives.
"""

from __future__ import annotations

from workbench.apps._context import AppContext, context
from workbench.apps._landing import app as landing
from workbench.apps._prepare import Prepared, prepare, warm

__all__ = ["AppContext", "Prepared", "context", "landing", "prepare", "warm"]
