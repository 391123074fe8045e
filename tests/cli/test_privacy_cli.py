"""``workbench privacy budget`` through the real console script: spending per dataset, as text and JSON, and a store with none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import workbench, write_config
from workbench.config import load_config
from workbench.governance import privacy_ledger

PRIVACY = {"budget": {"epsilon": 3.0}, "datasets": {"reference.parquet": {"epsilon": 10.0}}, "releases": {"drift": 0.5}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with privacy on, whose ledger holds releases of a batch (one refused) and of the reference."""
    write_config(tmp_path, {"privacy": PRIVACY})
    store = load_config(tmp_path / "workbench.yaml").store
    for release, eps in (("drift", 0.5), ("fairness", 1.0), ("drift", 0.5)):
        privacy_ledger.spend(store, dataset="2026-03.parquet", sha256="ab" * 32, release=release, epsilon=eps, budget_epsilon=3.0)
    with pytest.raises(privacy_ledger.BudgetExceeded):
        privacy_ledger.spend(store, dataset="2026-03.parquet", sha256="ab" * 32, release="drift", epsilon=1.5, budget_epsilon=3.0)
    privacy_ledger.spend(store, dataset="reference.parquet", sha256="cd" * 32, release="features", epsilon=1.0, budget_epsilon=10.0)
    return tmp_path


def test_budget_prints_the_spending_of_each_dataset(project: Path) -> None:
    done = workbench("privacy", "budget", cwd=project)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [c.strip() for c in lines[0].split("  ") if c.strip()] == [
        "dataset", "sha256", "releases", "refused", "epsilon spent / budget", "remaining", "last release"]
    assert lines[1].split()[:8] == ["2026-03.parquet", "ab" * 6, "3", "1", "2", "/", "3", "1"]
    assert lines[2].split()[:8] == ["reference.parquet", "cd" * 6, "1", "0", "1", "/", "10", "9"]
    assert len(lines) == 3 and lines[1].split()[8].startswith("20")  # the last release's time


def test_budget_json_is_machine_readable(project: Path) -> None:
    done = workbench("privacy", "budget", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [{k: v for k, v in row.items() if k != "last"} for row in rows] == [
        {"dataset": "2026-03.parquet", "sha256": "ab" * 32, "releases": 3, "epsilon_spent": 2.0, "delta_spent": 0.0, "budget_epsilon": 3.0,
         "budget_delta": 0.0, "refused": 1, "remaining_epsilon": 1.0},
        {"dataset": "reference.parquet", "sha256": "cd" * 32, "releases": 1, "epsilon_spent": 1.0, "delta_spent": 0.0, "budget_epsilon": 10.0,
         "budget_delta": 0.0, "refused": 0, "remaining_epsilon": 9.0}]


def test_the_budget_shown_is_the_configs_the_next_release_is_checked_against(project: Path) -> None:
    write_config(project, {"privacy": PRIVACY | {"datasets": {"2026-03.parquet": {"epsilon": 2.0}}}})  # lowered after the spends
    rows = json.loads(workbench("privacy", "budget", "--json", cwd=project).stdout)
    assert [(r["dataset"], r["budget_epsilon"], r["remaining_epsilon"]) for r in rows] == [("2026-03.parquet", 2.0, 0.0),
                                                                                          ("reference.parquet", 3.0, 2.0)]


@pytest.mark.parametrize(("privacy", "tail"), [(PRIVACY, ""), (None, " (privacy is off: no privacy: section in the config)")],
                         ids=["privacy-on", "privacy-off"])
def test_a_project_with_no_spends_says_so(tmp_path: Path, privacy: dict | None, tail: str) -> None:
    write_config(tmp_path, {"privacy": privacy} if privacy else None)
    done = workbench("privacy", "budget", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"no private releases recorded in {tmp_path / '.workbench'}: no privacy budget spent{tail}\n"
    assert json.loads(workbench("privacy", "budget", "--json", cwd=tmp_path).stdout) == []
    assert not (tmp_path / ".workbench").exists()  # reading the ledger creates no store
