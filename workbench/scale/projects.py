"""Monitoring many projects at once: one ``workbench monitor`` per project, fanned out over the executor.

Each project is a folder holding a ``workbench.yaml``; a task runs the project's monitor as a
child process (``python -m workbench.cli monitor --config ...``) on whichever worker Dask picks, so
projects monitor in parallel across the cluster. Every worker must see the project folders at
the same paths (a shared file system) and have the workbench installed. A project's batches stay
in name order inside its monitor: drift history and retrain requests follow the batches' order.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.config import DEFAULT_CONFIG
from workbench.exceptions import DataError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.scale._executor import DaskExecutor, LocalExecutor

TAIL = 2000  # characters of a failed monitor's output kept in the summary


@dataclass(frozen=True)
class ProjectOutcome:
    """One project's monitor: its config, exit code, wall time and the end of its output."""

    config: str
    exit_code: int
    seconds: float
    output: str


def find_projects(root: str | Path) -> list[Path]:
    """The ``workbench.yaml`` files of the project folders under ``root`` (itself, its children and grandchildren), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder. Fix: pass the folder that holds the project folders (--all-projects DIR).")
    found = sorted({p.resolve() for pattern in (DEFAULT_CONFIG, f"*/{DEFAULT_CONFIG}", f"*/*/{DEFAULT_CONFIG}") for p in root.glob(pattern)})
    if not found:
        raise DataError(f"{root}: no project folder with a {DEFAULT_CONFIG} in it or in its sub-folders (two levels). "
                        "Fix: pass the folder that holds the projects.")
    return found


def monitor_project(config: str, args: tuple[str, ...]) -> ProjectOutcome:
    """One task: ``workbench monitor --config CONFIG ARGS...`` as a child process, from the project's folder."""
    import time

    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "monitor", "--config", config, *args], cwd=Path(config).parent,
                          capture_output=True, text=True, check=False)
    return ProjectOutcome(config, proc.returncode, round(time.perf_counter() - started, 2), (proc.stdout + proc.stderr)[-TAIL:])


def monitor_projects(executor: LocalExecutor | DaskExecutor, configs: list[Path], args: tuple[str, ...] = ()) -> list[ProjectOutcome]:
    """Every project's monitor on ``executor`` (one task each), outcomes in ``configs`` order."""
    return executor.map(monitor_project, [str(c) for c in configs], args)
