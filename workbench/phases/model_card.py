"""The model-card phase (``48_model_card``): the card of the version just registered (``85_card`` refreshes the champion's).

Cards gather what is recorded about a version (:mod:`workbench.reports.model_card`); this phase
only says which version and passes the text a person wrote.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.reports import model_card
from workbench.reports.model_card import summary

if TYPE_CHECKING:  # pragma: no cover
    from workbench.runner.context import PhaseContext

__all__ = ["generate", "result", "summary"]


def generate(phase: PhaseContext, *, intended_use: str = "", users: str = "", out_of_scope: str = "", limitations: str = "") -> dict[str, Any]:
    """Build, validate, store and log the card of the version the register phase registered; return it."""
    registered = phase.input_result("register")
    return model_card.generate(phase.config, str(registered["version"]), intended_use=intended_use, users=users,
                               out_of_scope=out_of_scope, limitations=limitations)


def result(phase: PhaseContext, card: dict[str, Any]) -> dict[str, Any]:
    """What ``result.json`` records: the version and where its HTML card is."""
    version = card["model"]["version"]
    return {"version": version, "semver": card["model"]["semver"], "card": str(model_card.html_path(phase.config, version))}
