"""Notebook-centric ML lifecycle workbench.

Submodules are imported lazily (``workbench.training`` loads scikit-learn only when first
used), so ``import workbench`` stays fast in every kernel and in the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "audit", "changelog", "config", "data", "demo", "evaluation", "lineage", "manifest", "models",
    "params", "phase", "phases", "registry", "results", "runner", "sources", "store", "training",
    "validation", "scoring", "monitoring", "drift", "concept", "history", "retrain", "evidently_report",
    "fairness", "explain", "responsible", "governance", "triggers", "canary",
    "kpis", "impact", "model_card", "review", "apps", "serve",
    "start_phase", "load_config", "WorkbenchError",
]

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import load_config
    from workbench.exceptions import WorkbenchError
    from workbench.runner.context import start_phase

_ATTRS = {"start_phase": "workbench.phase", "load_config": "workbench.config", "WorkbenchError": "workbench.exceptions"}


def __getattr__(name: str) -> Any:
    if name in _ATTRS:
        return getattr(importlib.import_module(_ATTRS[name]), name)
    if name in __all__:
        return importlib.import_module(f"workbench.{name}")
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
