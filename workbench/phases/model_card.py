"""The model-card phase (``48_model_card``): the card of the version just registered (``85_card`` refreshes the champion's).

Cards gather what is recorded about a version (:mod:`workbench.reports.model_card`); this phase
says which version and passes the text a person wrote. A first version becomes champion only
here, once its card exists (:func:`workbench.phases.register.activate`); its card is then
written again, so it names the alias it holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.phases import register
from workbench.reports import model_card
from workbench.reports.model_card import summary

if TYPE_CHECKING:  # pragma: no cover
    from workbench.runner.context import PhaseContext

__all__ = ["generate", "result", "summary"]


def generate(phase: PhaseContext, *, intended_use: str = "", users: str = "", out_of_scope: str = "", limitations: str = "") -> dict[str, Any]:
    """Build, validate, store and log the card of the version the register phase registered; return it."""
    version = str(phase.input_result("register")["version"])
    card = model_card.generate(phase.config, version, intended_use=intended_use, users=users, out_of_scope=out_of_scope,
                               limitations=limitations)
    if register.activate(phase)["moved"]:  # the card is in place: now it may serve; the card names its aliases as they now are
        card = model_card.generate(phase.config, version)
    return card


def result(phase: PhaseContext, card: dict[str, Any]) -> dict[str, Any]:
    """What ``result.json`` records: the version and where its HTML card is."""
    version = card["model"]["version"]
    return {"version": version, "semver": card["model"]["semver"], "aliases": card["model"]["aliases"],
            "baseline_version": registry.baseline_for(phase.config, version), "card": str(model_card.html_path(phase.config, version))}
