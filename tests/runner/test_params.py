"""Notebook parameters: introspectable, typed, and validated before papermill pastes them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.exceptions import ParameterError
from workbench.runner import dag as phases
from workbench.runner import params
from workbench.runner.execute import assign_params

NOTEBOOKS = sorted(phases.NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_parameter_is_typed_documented_and_shown_by_papermill(notebook: Path) -> None:
    spec = params.declared(notebook)
    assert {"config", "run_id"} <= set(spec)
    for name, p in spec.items():
        assert p["type"] in ("str", "int", "float", "bool"), name
        assert p["help"], f"{notebook.name}: parameter {name} has no help text"
    shown = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(notebook)],
                           capture_output=True, text=True, check=True).stdout
    for name, p in spec.items():
        assert f"{name}: {p['type']} (default" in shown


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_are_committed_without_outputs_and_without_defs(notebook: Path) -> None:
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert not any(line.lstrip().startswith(("def ", "class ", "for ", "while ")) for c in code for line in c.source.splitlines())
    assert nb.cells[0].cell_type == "markdown" and "**Inputs:**" in nb.cells[0].source and "**Outputs:**" in nb.cells[0].source


def test_phase_notebooks_match_the_dag() -> None:
    assert [p.notebook for p in phases.LIFECYCLE + phases.MONITOR] == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("name", ["1abc", "a-b", "import os;x", "class", ""])
def test_names_must_be_identifiers(name: str) -> None:
    with pytest.raises(ParameterError, match="is not a Python identifier"):
        params.check_value(name, 1)


@pytest.mark.parametrize("value", [object(), {1: "a"}, (1, 2), [set()]])
def test_values_must_be_json_like(value) -> None:
    with pytest.raises(ParameterError, match="is not a JSON-like literal"):
        params.check_value("x", value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), [1.0, float("inf")], {"a": float("nan")}])
def test_non_finite_numbers_are_refused_for_every_name(value) -> None:
    with pytest.raises(ParameterError, match=r"^parameter 'anything': value .* is not a finite number \(NaN and Infinity are refused\)\. Fix: "):
        params.check_value("anything", value)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_numeric_or_enumerated_parameter_has_a_range_its_default_passes(notebook: Path) -> None:
    spec = params.declared(notebook)
    for name, p in spec.items():
        if p["type"] in ("int", "float"):
            assert name in params.LIMITS, f"{notebook.name}: add a range for {name!r} to workbench.runner.params.LIMITS"
        if name in params.LIMITS:
            limit = params.LIMITS[name]
            assert limit.allows(ast.literal_eval(p["default"])), f"{notebook.name}: default of {name!r} is outside {limit.describe()}"
            assert limit.allows(limit.example)


def test_limits_choices_agree_with_the_parts_that_use_them() -> None:
    from workbench.analyses.drift._profile import MODES
    from workbench.registry.versions import BUMPS

    assert params.LIMITS["bump"].choices == BUMPS and params.LIMITS["mode"].choices == MODES


def test_parse_assignment() -> None:
    assert params.parse_assignment("n_bootstrap=500") == ("n_bootstrap", 500)
    assert params.parse_assignment("force=true") == ("force", True)
    assert params.parse_assignment("note=hello world") == ("note", "hello world")
    with pytest.raises(ParameterError, match="is not of the form name=value"):
        params.parse_assignment("oops")


def test_type_mismatch_and_unknown_parameter_are_refused() -> None:
    nb = phases.BY_NAME["evaluate"].path
    with pytest.raises(ParameterError) as err:
        params.validate(nb, {"n_bootstrap": "many"})
    assert str(err.value) == ("30_evaluate.ipynb: parameter 'n_bootstrap' must be int, got str 'many'. "
                              "Fix: pass an int like the default, e.g. -p n_bootstrap=200.")
    with pytest.raises(ParameterError) as err:
        params.validate(nb, {"n_boot": 5})
    assert str(err.value) == ("30_evaluate.ipynb: unknown parameter 'n_boot' — did you mean 'n_bootstrap'? "
                              "Declared parameters: confidence, config, n_bootstrap, retrain_window, run_id. Fix: use one of these names.")


def test_runner_assigns_a_parameter_to_every_phase_declaring_it() -> None:
    specs = {p.name: params.declared(p.path) for p in phases.LIFECYCLE}
    per = assign_params({"n_bootstrap": 50, "force": True}, specs)
    assert per["evaluate"] == {"n_bootstrap": 50} and per["register"] == {"force": True} and per["train"] == {}
    with pytest.raises(ParameterError, match=r"unknown parameter 'nboot' for phases validate, train, baseline, evaluate, register, responsible, model_card\. Declared: "):
        assign_params({"nboot": 1}, specs)


def test_strings_with_quotes_and_backslashes_stay_strings(tmp_path: Path) -> None:
    """papermill escapes string values; a hostile string must not become code."""
    import papermill

    nb = tmp_path / "p.ipynb"
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cell = new_code_cell('note: str = ""  # text')
    cell.metadata["tags"] = ["parameters"]
    book = new_notebook(cells=[cell, new_code_cell("open('out.txt', 'w').write(note)")])
    book.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(book, nb)
    hostile = 'a\\"; open("pwned", "w"); "'
    params.validate(nb, {"note": hostile})
    papermill.execute_notebook(str(nb), str(tmp_path / "o.ipynb"), parameters={"note": hostile}, cwd=str(tmp_path), progress_bar=False)
    assert (tmp_path / "out.txt").read_text() == hostile
    assert not (tmp_path / "pwned").exists()
