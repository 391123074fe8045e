"""Shared fixtures: throwaway project folders with real data, a real store and real kernels."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data, generated once per test session."""
    from workbench.data import demo

    folder = tmp_path_factory.mktemp("demo-data")
    demo.generate(folder)
    return folder


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(folder: Path, overrides: dict | None = None, *, data: dict | None = None) -> Path:
    """A project config in ``folder``: the demo's, with ``data`` and top-level ``overrides``."""
    base = yaml.safe_load((REPO / "workbench.yaml").read_text())
    base["demo"] = False
    if data is not None:
        base["data"] = data
    base.update(overrides or {})
    path = folder / "workbench.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


@pytest.fixture
def demo_project(tmp_path: Path, demo_files: Path) -> Path:
    """A project folder holding a copy of the demo data and a config pointing at it."""
    shutil.copytree(demo_files, tmp_path / "data" / "demo")
    write_config(tmp_path)
    return tmp_path


def workbench(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run the real ``workbench`` console script."""
    return subprocess.run([str(BIN / "workbench"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def monitored_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The demo trained once, then every batch monitored in order: shared, READ-ONLY history.

    Tests that change the store (approve, rollback, tamper) must build their own project.
    """
    project = tmp_path_factory.mktemp("monitor-project")
    shutil.copy(REPO / "workbench.yaml", project / "workbench.yaml")
    run = workbench("run", cwd=project)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    monitor = workbench("monitor", cwd=project, timeout=1200)
    assert monitor.returncode == 0, monitor.stdout[-3000:] + monitor.stderr[-3000:]
    return project, monitor


@pytest.fixture(scope="session", autouse=True)
def _no_stray_mlflow_store() -> Iterator[None]:
    """Everything the workbench logs goes to the project's store: none of it may land in the checkout
    (MLflow 3 creates ``./mlflow.db`` when a call runs before a tracking URI is set)."""
    before = {p for p in ("mlflow.db", "mlruns") if (REPO / p).exists()}
    yield
    after = {p for p in ("mlflow.db", "mlruns") if (REPO / p).exists()}
    assert after <= before, f"a test wrote {sorted(after - before)} into {REPO}: set the tracking URI first"
