"""start_phase reads the parameters papermill injected: notebooks never list them twice."""

from __future__ import annotations

import json

import pytest

from workbench.runner import dag, params
from workbench.runner.context import injected_params

PHASES = dag.LIFECYCLE + dag.MONITOR


@pytest.mark.parametrize("phase", PHASES, ids=[p.name for p in PHASES])
def test_the_cheap_parameter_reader_agrees_with_papermill(phase: dag.Phase) -> None:
    assert params.declared_names(phase.path) == list(params.declared(phase.path))


@pytest.mark.parametrize("phase", PHASES, ids=[p.name for p in PHASES])
def test_phase_notebooks_do_not_pass_their_parameters_again(phase: dag.Phase) -> None:
    cells = json.loads(phase.path.read_text())["cells"]
    calls = [s for c in cells if c["cell_type"] == "code" for s in ["".join(c["source"])] if "start_phase(" in s]
    assert calls == [f'phase = wb.start_phase("{phase.name}", config=config, run_id=run_id)']


def test_injected_parameters_are_the_declared_ones_with_their_values() -> None:
    namespace = {"config": "x.yaml", "run_id": "r", "intended_use": "churn outreach", "users": "a,b", "out_of_scope": "",
                 "limitations": "small sample", "unrelated": 1}
    assert injected_params("model_card", namespace=namespace) == {
        "intended_use": "churn outreach", "users": "a,b", "out_of_scope": "", "limitations": "small sample"}


def test_a_name_that_is_not_a_phase_has_no_injected_parameters() -> None:
    assert injected_params("not-a-phase", namespace={"x": 1}) == {}
