"""The logic behind the stakeholder report apps in ``notebooks/apps/`` (served by ``workbench serve``).

The app notebooks are thin: each calls :func:`prepare` (imports, and the app built for the newest
run, before a visitor arrives when the kernel is pre-heated), then ``.visit(run)`` (the visitor's
query string, a validated run choice, the prepared view or a fresh one). :func:`context` and
``<app>.app(ctx)`` do the same in one step. The apps read stored results only, through
:mod:`workbench.results`; they never train, score or recompute drift. Figures are rendered
server-side as PNGs (no plotting JavaScript in the page), and pickers update widgets in place.

Submodules are imported lazily so a pre-heated kernel pays for pandas and matplotlib once,
in :func:`warm`, before a visitor arrives.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["context", "prepare", "warm", "AppContext", "landing", "drift", "fairness", "explain", "impact", "card"]

if TYPE_CHECKING:  # pragma: no cover
    from workbench.apps._context import AppContext, context, prepare, warm

_ATTRS = {"context": "workbench.apps._context", "prepare": "workbench.apps._context", "warm": "workbench.apps._context",
          "AppContext": "workbench.apps._context",
          "landing": "workbench.apps._landing"}


def __getattr__(name: str) -> Any:
    if name in _ATTRS:
        module = importlib.import_module(_ATTRS[name])
        return getattr(module, "app" if name == "landing" else name)
    if name in __all__:
        return importlib.import_module(f"workbench.apps.{name}")
    raise AttributeError(f"module 'workbench.apps' has no attribute {name!r}")
