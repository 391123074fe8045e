"""Apps built ahead of a visit: a pre-heated kernel imports everything and builds the newest run's view.

Each app notebook calls :func:`prepare` before a visitor arrives, then ``.visit(run)``: when the
visitor asks for the default view and nothing was stored since, the prepared view is shown at
once; otherwise the app is built again for the visit.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from workbench.apps import _landing, _render, card, drift, explain, fairness, impact
from workbench.apps._context import AppContext, load_config, query_params
from workbench.exceptions import WorkbenchError
from workbench.reports import status

# The apps by the name their notebook passes to :func:`prepare`.
APPS: dict[str, ModuleType] = {"drift": drift, "fairness": fairness, "explain": explain, "impact": impact, "card": card,
                               "index": _landing}


def app_module(name: str) -> ModuleType:
    """The module of app ``name``; a WorkbenchError listing the apps otherwise."""
    if name not in APPS:
        raise WorkbenchError(f"unknown app {name!r}. Valid apps: {', '.join(APPS)}.")
    return APPS[name]


class Prepared:
    """An app built ahead of a visit (in a pre-heated kernel) for the default view: the newest run.

    :meth:`visit` then only checks that nothing changed since: no run id or version asked for
    in the URL, and the same stored runs. Otherwise the app is built again for the visit.
    """

    def __init__(self, name: str, config: str = "") -> None:
        warm()
        self.name = name
        self.module = app_module(name)
        self.config = config
        self.ctx = AppContext(load_config(config), {})
        self.view = self.module.app(self.ctx)
        self.signature = signature(self.ctx, name)

    def visit(self, run: str = "") -> Any:
        """What to show this visitor (waits for the visitor's query string in a pre-heated kernel)."""
        query = query_params()
        if run:
            query["run"] = run
        ctx = AppContext(self.ctx.config, query)
        if any(query.get(key) for key in ("run", "version")) or signature(ctx, self.name) != self.signature:
            return self.module.app(ctx)
        return self.view


def signature(ctx: AppContext, name: str) -> tuple:
    """What an app's default view depends on: every stored run with its phase statuses (the card app: the versions with a card;
    the landing page also: the audit log, retrain requests and approvals, by size and change time)."""
    if name == "card":
        return tuple(card.versions(ctx))
    runs = tuple((r.run_id, r.status, tuple(sorted((n, p.get("status")) for n, p in r.manifest.get("phases", {}).items()))) for r in ctx.runs())
    return (runs, status.signature(ctx.config)) if name == "index" else runs


def prepare(name: str, config: str = "") -> Prepared:
    """Import everything and build the app ``name`` for the newest run, before any visitor arrives."""
    return Prepared(name, config)


def warm() -> None:
    """Import what the apps use, so a pre-heated kernel has paid for it before a visitor arrives."""
    import ipywidgets  # noqa: F401
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    _render.warm_fonts()
