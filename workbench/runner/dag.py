"""The phase DAG: each phase's notebook and the phases it needs.

The runner knows the DAG; the notebooks do not import each other. Notebook names are
``NN_phase.ipynb`` with gaps so phases can be inserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.exceptions import ParameterError

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class Phase:
    """One notebook and its upstream phases."""

    name: str
    notebook: str
    needs: tuple[str, ...] = ()
    stage: str = "prototype"

    @property
    def path(self) -> Path:
        """The template notebook."""
        return NOTEBOOKS / self.notebook


LIFECYCLE: tuple[Phase, ...] = (
    Phase("validate", "10_validate.ipynb"),
    Phase("train", "20_train.ipynb", ("validate",)),
    Phase("baseline", "25_baseline.ipynb", ("validate",)),
    Phase("evaluate", "30_evaluate.ipynb", ("train", "baseline")),
    Phase("register", "40_register.ipynb", ("evaluate",), stage="pilot"),
    Phase("responsible", "45_responsible.ipynb", ("register",), stage="pilot"),
    Phase("model_card", "48_model_card.ipynb", ("responsible",), stage="pilot"),
)
# Post-production, on one production batch (``workbench monitor``).
MONITOR: tuple[Phase, ...] = (
    Phase("score", "50_score.ipynb", stage="production"),
    Phase("drift", "60_drift.ipynb", ("score",), stage="post-production"),
    Phase("fairness", "70_fairness.ipynb", ("score",), stage="post-production"),
    Phase("explain", "75_explain.ipynb", ("drift",), stage="post-production"),
    Phase("impact", "80_impact.ipynb", ("score",), stage="post-production"),
    # last: the card describes the batch only once drift, fairness, explanations and KPIs are in
    Phase("card", "85_card.ipynb", ("drift", "fairness", "explain", "impact"), stage="post-production"),
)
DAGS = {"train": LIFECYCLE, "monitor": MONITOR}
BY_NAME = {p.name: p for p in LIFECYCLE + MONITOR}


def select(names: list[str] | None, dag: tuple[Phase, ...] = LIFECYCLE) -> list[Phase]:
    """The phases to run, in DAG order; unknown names are refused with the valid ones listed."""
    if not names:
        return list(dag)
    valid = [p.name for p in dag]
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ParameterError(f"unknown phase(s): {', '.join(unknown)}. Valid phases: {', '.join(valid)}. Fix: pass --phases with names from that list.")
    return [p for p in dag if p.name in names]


def upstream_in(phase: Phase, planned: list[Phase]) -> tuple[str, ...]:
    """The phase's needs that are part of this run (others are read from earlier runs)."""
    names = {p.name for p in planned}
    return tuple(n for n in phase.needs if n in names)
