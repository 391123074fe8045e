"""The baseline phase (``25_baseline``): the static fallback model, fitted on the same split as the candidate.

The baseline is deliberately simple (``model.baseline``, default logistic regression or ridge)
and "static": it is only replaced together with a new champion, and scores a batch when the
champion cannot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.phases.train import Prepared, Trained, fit_and_log, prepare, summary

if TYPE_CHECKING:  # pragma: no cover
    from workbench.runner.context import PhaseContext

__all__ = ["Prepared", "Trained", "fit", "prepare", "summary"]


def fit(phase: PhaseContext, prepared: Prepared) -> Trained:
    """Fit the baseline on the prepared training split and log it to MLflow."""
    return fit_and_log(phase, prepared.train, prepared.schema, role="baseline")


def result(prepared: Prepared, trained: Trained) -> dict[str, Any]:
    """What ``result.json`` records (the same shape as the train phase's)."""
    return summary(prepared, trained)
