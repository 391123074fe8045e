"""Bad arguments exit 2 with one line naming the argument and the fix, before anything runs or is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import workbench, write_config


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--phases", "trian"], "error: unknown phase(s): trian. Valid phases: validate, train, baseline, evaluate, register, "
                                   "responsible, model_card. Fix: pass --phases with names from that list."),
    (["run", "--run-id", "../escape"], "error: run id '../escape' is not valid: use letters, digits, '.', '_' and '-' only"),
    (["monitor", "--batch", "missing.parquet"], "error: batch file missing.parquet does not exist. Fix: pass an existing CSV or Parquet file"),
    (["run", "-p", "n_boot=5"], "error: unknown parameter 'n_boot' for phases validate, train, baseline, evaluate, register, responsible, "
                                "model_card. Declared: "),
    (["retrain", "--trigger", "sometimes"], "usage: workbench retrain"),
], ids=["unknown-phase", "bad-run-id", "missing-batch", "unknown-parameter", "bad-choice"])
def test_bad_arguments_exit_2_and_write_nothing(demo_project: Path, args: list[str], message: str) -> None:
    before = sorted(p.name for p in demo_project.iterdir())
    proc = workbench(*args, cwd=demo_project)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(message) or message in proc.stderr, proc.stderr
    assert sorted(p.name for p in demo_project.iterdir()) == before  # no store, no reports


def test_no_batch_files_exits_2_naming_the_key(demo_project: Path) -> None:
    empty = demo_project / "empty"
    empty.mkdir()
    data = {"reference": "data/demo/reference.parquet", "batches": "empty", "target": "churned", "id": "customer_id",
            "timestamp": "snapshot_date", "sensitive": ["gender", "age_band"]}
    write_config(demo_project, data=data)
    proc = workbench("monitor", cwd=demo_project)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (f"error: {demo_project / 'workbench.yaml'}: no batch files found under data.batches "
                                   f"({empty}). Fix: add CSV or Parquet batches there, or pass --batch FILE.")
