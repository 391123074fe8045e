"""Runner: notebook execution outcomes decided from exceptions, the DAG, the manifest."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from tests.conftest import workbench
from workbench import runner
from workbench.exceptions import ParameterError
from workbench.reports import manifest
from workbench.runner import dag as phases

FIXTURES = Path(__file__).resolve().parents[1] / "notebooks"


def _execute(tmp_path: Path, name: str, timeout: int = 60) -> tuple[str | None, Path]:
    out = tmp_path / f"{name}.ipynb"
    return runner.execute_notebook(FIXTURES / f"{name}.ipynb", out, {"x": 41}, kernel="python3", timeout=timeout), out


@pytest.mark.slow  # a real kernel
def test_success_writes_the_executed_notebook_and_no_partial(tmp_path: Path) -> None:
    error, out = _execute(tmp_path, "ok")
    assert error is None
    nb = nbformat.read(out, as_version=4)
    assert nb.cells[-1].outputs[0]["text"] == "x is 41\n"
    assert [p.name for p in tmp_path.iterdir()] == ["ok.ipynb"]


@pytest.mark.slow  # a real kernel
def test_raising_notebook_fails_and_is_kept_with_the_error(tmp_path: Path) -> None:
    error, out = _execute(tmp_path, "raises")
    assert error == f"ValueError: planted failure 42 (cell 4); see {out}"
    nb = nbformat.read(out, as_version=4)
    assert any(o.get("ename") == "ValueError" for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.slow  # a real kernel
def test_dead_kernel_is_a_failure_even_though_cells_look_completed(tmp_path: Path) -> None:
    error, out = _execute(tmp_path, "kernel_dies")
    assert error is not None and error.startswith("DeadKernelError")
    assert out.exists()


@pytest.mark.slow  # a real kernel
def test_timeout_is_a_failure(tmp_path: Path) -> None:
    error, out = _execute(tmp_path, "sleeps", timeout=3)
    assert error is not None and error.startswith("CellTimeoutError")
    assert out.exists()


@pytest.mark.slow  # a real kernel
def test_html_export_hides_code(tmp_path: Path) -> None:
    _, out = _execute(tmp_path, "ok")
    html = runner.export_html(out, tmp_path / "html" / "ok.html").read_text()
    assert "x is 41" in html and "print(&#39;x is&#39;" not in html and "print('x is'" not in html


def test_phase_selection_and_unknown_phase() -> None:
    assert [p.name for p in phases.select(["register", "train"])] == ["train", "register"]
    with pytest.raises(ParameterError, match="^" + re.escape("unknown phase(s): trian. Valid phases: validate, train, baseline, evaluate, register, responsible, "
                                                             "model_card. Fix: pass --phases with names from that list.") + "$"):
        phases.select(["trian"])
    assert phases.upstream_in(phases.BY_NAME["evaluate"], phases.select(["evaluate", "train"])) == ("train",)


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "x" * 101])
def test_run_ids_cannot_escape_the_reports_folder(bad: str) -> None:
    with pytest.raises(ParameterError, match="is not valid"):
        manifest.check_run_id(bad)


@pytest.mark.slow
def test_failing_phase_exits_1_keeps_notebook_and_skips_dependants(demo_project: Path) -> None:
    # a label the train phase refuses (validation only checks the column is there): the failure happens inside a kernel
    reference = demo_project / "data" / "demo" / "reference.parquet"
    frame = pd.read_parquet(reference)
    frame.loc[frame.index[:50], "churned"] = 2
    frame.to_parquet(reference, index=False)
    proc = workbench("run", "--run-id", "broken", "--phases", "validate,train,evaluate,register", cwd=demo_project)
    assert proc.returncode == 1, proc.stderr
    run_dir = demo_project / "reports" / "broken"
    data = json.loads((run_dir / "manifest.json").read_text())
    assert data["status"] == "failed"
    assert data["phases"]["validate"]["status"] == "succeeded"
    train = data["phases"]["train"]
    assert train["status"] == "failed" and "DataError" in train["error"] and "must hold the two classes 0 and 1" in train["error"]
    assert data["phases"]["evaluate"] == {**data["phases"]["evaluate"], "status": "skipped", "error": "skipped: upstream phase 'train' failed"}
    assert data["phases"]["register"]["error"] == "skipped: upstream phase 'evaluate' skipped"
    kept = run_dir / train["notebook"]
    assert kept.exists() and "must hold the two classes 0 and 1" in kept.read_text()
    assert str(kept) in proc.stdout and "train       failed" in proc.stdout
    assert not list(run_dir.rglob("*.partial*"))
