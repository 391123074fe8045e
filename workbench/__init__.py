"""Notebook-centric ML lifecycle workbench.

One subpackage per part (see DESIGN.md, "Parts and arrows"): :mod:`~workbench.cli`,
:mod:`~workbench.runner`, :mod:`~workbench.data`, :mod:`~workbench.registry`,
:mod:`~workbench.analyses`, :mod:`~workbench.phases`, :mod:`~workbench.governance`,
:mod:`~workbench.reports` and :mod:`~workbench.apps`, over :mod:`~workbench.config` and
:mod:`~workbench.exceptions`. Parts are imported on first use (``workbench.start_phase`` loads the
runner only when a notebook calls it), so ``import workbench`` stays fast in every kernel and in
the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

PARTS = ("cli", "runner", "data", "registry", "analyses", "phases", "governance", "reports", "apps", "config", "exceptions")
__all__ = [*PARTS, "start_phase", "load_config", "WorkbenchError"]

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import load_config
    from workbench.exceptions import WorkbenchError
    from workbench.runner.context import start_phase

_ATTRS = {"start_phase": "workbench.runner.context", "load_config": "workbench.config", "WorkbenchError": "workbench.exceptions"}


def __getattr__(name: str) -> Any:
    # Lazy on purpose: the package's own namespace is the one place that does not import its parts
    # at the top, so a kernel that only needs the runner never pays for the others.
    if name in _ATTRS:
        return getattr(importlib.import_module(_ATTRS[name]), name)
    if name in PARTS:
        return importlib.import_module(f"workbench.{name}")
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
