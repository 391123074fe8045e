"""The card phase (``85_card``): the champion's model card, refreshed once a batch is fully monitored.

It runs after drift, fairness, explain and impact, so the card's drift status, fairness, top
features and KPIs include the batch just monitored. Cards are gathered from the records by
:mod:`workbench.reports.model_card`; the authored text of the previous card is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.phases.model_card import result
from workbench.reports import model_card
from workbench.reports.model_card import summary

if TYPE_CHECKING:  # pragma: no cover
    from workbench.runner.context import PhaseContext

__all__ = ["refresh", "result", "summary"]


def refresh(phase: PhaseContext) -> dict[str, Any]:
    """Rebuild the champion's card with every monitored result (the authored text is kept); return it."""
    return model_card.generate(phase.config)
