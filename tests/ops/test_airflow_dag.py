"""The Airflow example (examples/airflow/workbench_dag.py) names real notebooks, parameters and commands, without Airflow.

Airflow is not a dependency and is not installed: the file parses (``ast``), and imported without
Airflow it builds no DAG but keeps its task tables, which are checked here in both styles: every
papermill task runs a phase notebook that exists, with ``kernel_name`` set and only parameters
the notebook's ``parameters`` cell declares (with values of the declared type); every CLI task is
a ``workbench`` command line the real parser accepts, under the project's lock; the phases and
their order are the runner's DAG; every DAG has ``max_active_runs=1`` and retries.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REPO
from tests.ops.commands import command_error, commands

DAG_FILE = REPO / "examples" / "airflow" / "workbench_dag.py"
NOTEBOOKS = REPO / "notebooks"
TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool}


def load_example(**env: str) -> ModuleType:
    """The DAG file imported as a plain module, its settings read from ``env`` (the notebooks are this checkout's)."""
    if importlib.util.find_spec("airflow") is not None:
        pytest.skip("Airflow is installed here: this test reads the task tables the file keeps without Airflow")
    mp = pytest.MonkeyPatch()
    for name, value in {"WORKBENCH_NOTEBOOKS": str(NOTEBOOKS), **env}.items():
        mp.setenv(name, value)
    try:
        spec = importlib.util.spec_from_file_location("workbench_dag_example", DAG_FILE)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        mp.undo()
    return module


@pytest.fixture(scope="module")
def example() -> ModuleType:
    """The DAG file with its default settings."""
    return load_example()


def declared(notebook: Path) -> dict[str, str]:
    """The parameters a notebook's ``parameters`` cell declares: name -> annotated type, read from the notebook JSON."""
    cells = json.loads(notebook.read_text())["cells"]
    (cell,) = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    tree = ast.parse("".join(cell["source"]))
    return {node.target.id: ast.unparse(node.annotation) for node in tree.body if isinstance(node, ast.AnnAssign)}


def test_the_file_parses_and_airflow_is_no_dependency() -> None:
    ast.parse(DAG_FILE.read_text(), filename=str(DAG_FILE))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    assert [r for r in requirements if "airflow" in r.lower()] == []


def test_without_airflow_no_dag_is_built(example: ModuleType) -> None:
    assert example.DAG is None
    assert not any(name in vars(example) for name in example.SCHEDULES)


def test_the_phases_are_the_runners_dag(example: ModuleType) -> None:
    from workbench.runner import dag

    for table, phases in ((example.LIFECYCLE, dag.LIFECYCLE), (example.MONITOR, dag.MONITOR)):
        assert list(table) == [(p.name, p.notebook, p.needs) for p in phases]


@pytest.mark.parametrize("style", ["papermill", "cli"])
def test_every_task_runs_something_real(example: ModuleType, style: str) -> None:
    dags = example.tasks(style)
    assert set(dags) == set(example.SCHEDULES)
    for dag_id, tasks in dags.items():
        ids = [kwargs["task_id"] for _, kwargs, _ in tasks]
        assert len(ids) == len(set(ids)), dag_id
        assert all(u in ids for _, _, upstream in tasks for u in upstream), f"{dag_id}: an upstream task that does not exist"
        made = {c.args[-1] for _, kwargs, _ in tasks if "bash_command" in kwargs for c in commands(kwargs["bash_command"]) if c.program == "mkdir"}
        for kind, kwargs, upstream in tasks:
            if kind == "papermill":
                _check_papermill(kwargs)
                # papermill refuses to write into a missing folder: an earlier task of the run creates it
                assert str(Path(kwargs["output_nb"]).parent) in made and upstream, f"{dag_id}: nothing creates {kwargs['output_nb']}'s folder"
            elif kwargs["task_id"] != "prepare":
                _check_cli(example, kwargs)
    kinds = {kind for tasks in dags.values() for kind, _, _ in tasks}
    assert kinds == ({"papermill", "bash"} if style == "papermill" else {"bash"})


def _check_papermill(kwargs: dict[str, Any]) -> None:
    notebook = Path(kwargs["input_nb"])
    assert notebook.parent == NOTEBOOKS and notebook.is_file(), notebook
    assert isinstance(kwargs["kernel_name"], str) and kwargs["kernel_name"], f"{notebook.name}: no kernel_name"
    assert kwargs["output_nb"].endswith(notebook.name) and kwargs["output_nb"] != kwargs["input_nb"]
    spec, params = declared(notebook), kwargs["parameters"]
    assert {"config", "run_id"} <= set(params), f"{notebook.name}: the runner always passes config and run_id"
    assert set(params) <= set(spec), f"{notebook.name}: parameters {set(params) - set(spec)} are not declared"
    assert all(isinstance(v, TYPES[spec[k]]) for k, v in params.items()), f"{notebook.name}: {params} against {spec}"


def _check_cli(example: ModuleType, kwargs: dict[str, Any]) -> None:
    (command,) = commands(kwargs["bash_command"])
    assert command.program == "workbench", kwargs
    assert command.lock == example.LOCK, f"{kwargs['task_id']}: not under the project's lock"
    assert command_error(command, REPO) is None, command_error(command, REPO)


def test_papermill_tasks_get_the_parameters_the_runner_passes(example: ModuleType) -> None:
    tasks = {kwargs["task_id"]: kwargs for dag in example.tasks("papermill").values() for kind, kwargs, _ in dag if kind == "papermill"}
    assert set(tasks) == {name for name, _, _ in example.LIFECYCLE + example.MONITOR}
    assert tasks["score"]["parameters"]["batch"] == "{{ params.batch }}"  # the runner passes monitor's --batch to score only
    assert all("batch" not in kwargs["parameters"] for name, kwargs in tasks.items() if name != "score")
    assert all(kwargs["parameters"]["config"] == example.CONFIG and kwargs["parameters"]["run_id"] == "" for kwargs in tasks.values())


def test_the_monitor_dag_ends_in_the_retrain_event_loop(example: ModuleType) -> None:
    for style, last in (("papermill", "card"), ("cli", "monitor")):
        *_, (_, kwargs, upstream) = example.tasks(style)["workbench_monitor"]
        assert (kwargs["task_id"], upstream) == ("retrain_event", (last,))
        assert "retrain --trigger event --gate" in kwargs["bash_command"]


def test_a_parameter_the_notebook_does_not_declare_is_caught(example: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(example.PHASE_PARAMS, "drift", {"mode": "exact", "threshold": 0.1})
    drift = next(kwargs for kind, kwargs, _ in example.tasks("papermill")["workbench_monitor"] if kwargs["task_id"] == "drift")
    with pytest.raises(AssertionError, match="threshold"):
        _check_papermill(drift)


def test_an_unknown_style_is_refused(example: ModuleType) -> None:
    with pytest.raises(ValueError, match="expected one of papermill, cli"):
        example.tasks("kubernetes")


def test_every_dag_has_one_active_run_at_a_time_and_retries(example: ModuleType) -> None:
    calls = [node for node in ast.walk(ast.parse(DAG_FILE.read_text())) if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DAG"]
    assert calls, "no DAG(...) call"
    for call in calls:
        keywords = {k.arg: k.value for k in call.keywords}
        assert ast.literal_eval(keywords["max_active_runs"]) == 1
        assert ast.literal_eval(keywords["catchup"]) is False
        assert ast.unparse(keywords["default_args"]) == "DEFAULT_ARGS"
    assert example.DEFAULT_ARGS["retries"] >= 1


@pytest.mark.slow
def test_a_papermill_task_runs_its_phase_as_the_operator_would(demo_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The validate task's arguments, given to papermill as ``PapermillOperator.execute`` gives them (no cwd: the worker's)."""
    import papermill

    module = load_example(WORKBENCH_PROJECT=str(demo_project), WORKBENCH_KERNEL="python3")  # python3: the kernel the tests run
    (kwargs,) = [kw for kind, kw, _ in module.tasks("papermill")["workbench_lifecycle"] if kw.get("task_id") == "validate"]
    output = Path(kwargs["output_nb"].replace("{{ run_id }}", "manual__2026-11-28T00:00:00+00:00"))
    output.parent.mkdir(parents=True)  # the DAG's prepare task
    monkeypatch.chdir(tmp_path)  # an Airflow worker's folder, not the project's
    papermill.execute_notebook(kwargs["input_nb"], str(output), parameters=kwargs["parameters"], progress_bar=False, report_mode=True,
                               log_output=False, kernel_name=kwargs["kernel_name"], language=None, engine_name=None)
    (run,) = (demo_project / "reports").iterdir()  # a standalone run, as with an empty run_id
    manifest = json.loads((run / "manifest.json").read_text())
    assert (manifest["kind"], manifest["status"], manifest["phases"]["validate"]["status"]) == ("notebook", "succeeded", "succeeded")
    assert (run / "validate" / "result.json").is_file() and output.is_file()
