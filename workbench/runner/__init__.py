"""The runner: the phase DAG, papermill execution, parameter checks and the context a phase works in.

``from workbench import runner`` gives :func:`run` (validate, plan and execute a DAG) and
:func:`summary`. Modules: :mod:`~workbench.runner.dag` (phases and their needs),
:mod:`~workbench.runner.params` (notebook parameters), :mod:`~workbench.runner.execute`
(papermill, HTML export, the manifest of a run), :mod:`~workbench.runner.context` (``start_phase``
and :class:`~workbench.runner.context.PhaseContext`, used inside notebooks),
:mod:`~workbench.runner.triggers` (governed retraining: runs the train DAG on a data window and
files the evidence its phases wrote), :mod:`~workbench.runner.review` (review packs) and
:mod:`~workbench.runner.interrupt` (signals, kernels, and runs whose runner died).
The runner runs notebooks; it does not do their work (no phase or analysis code here).
"""

from __future__ import annotations

from workbench.runner.execute import RunResult, execute_notebook, export_html, refuse_federated_champion, run
from workbench.runner.summary import summary

__all__ = ["RunResult", "execute_notebook", "export_html", "refuse_federated_champion", "run", "summary"]
