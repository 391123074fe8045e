"""The one reader of stored runs: latest run, a run by id, runs of a kind in a time window.

Apps, reviews and later phases find results here, never by globbing paths themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import manifest
from workbench._io import read_json
from workbench.exceptions import PhaseError, WorkbenchError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

RESULT_FILE = "result.json"


@dataclass(frozen=True)
class RunInfo:
    """A run folder and its manifest."""

    run_id: str
    path: Path
    manifest: dict[str, Any]

    @property
    def status(self) -> str:
        """The run's status (succeeded, failed or running)."""
        return self.manifest.get("status", "unknown")

    def phase_status(self, phase: str) -> str | None:
        """A phase's status in this run, or None when the run did not plan it."""
        return self.manifest.get("phases", {}).get(phase, {}).get("status")

    def phase_dir(self, phase: str) -> Path:
        """The folder holding a phase's results."""
        return self.path / phase


def list_runs(config: Config, *, kind: str | None = None, since: datetime | None = None, until: datetime | None = None) -> list[RunInfo]:
    """All readable runs, oldest first, optionally of one kind and started within a window."""
    root = config.reports
    if not root.is_dir():
        return []
    runs = []
    for folder in sorted(root.iterdir()):
        info = _try_read(folder)
        if info is None or (kind and info.manifest.get("kind") != kind):
            continue
        started = datetime.fromisoformat(info.manifest["started"])
        if (since and started < since) or (until and started >= until):
            continue
        runs.append(info)
    return sorted(runs, key=lambda r: (r.manifest["started"], r.run_id))


def _try_read(folder: Path) -> RunInfo | None:
    if not (folder / manifest.FILENAME).is_file() or not manifest.RUN_ID_RE.match(folder.name):
        return None
    try:
        return RunInfo(folder.name, folder, manifest.read(folder))
    except (OSError, ValueError):
        return None


def get_run(config: Config, run_id: str) -> RunInfo:
    """A run by id; the id is validated first, so it cannot point outside the reports folder."""
    folder = config.reports / manifest.check_run_id(run_id)
    info = _try_read(folder)
    if info is None:
        raise WorkbenchError(f"run {run_id!r} not found in {config.reports}. Fix: pick one listed by `workbench runs`.")
    return info


def latest_run(config: Config, *, kind: str | None = None, with_phase: str | None = None) -> RunInfo | None:
    """The newest run (of a kind, or in which ``with_phase`` succeeded), or None."""
    for info in reversed(list_runs(config, kind=kind)):
        if with_phase is None or info.phase_status(with_phase) == "succeeded":
            return info
    return None


def phase_dir(config: Config, phase: str, *, run_id: str | None = None) -> Path:
    """Folder of a phase's results: in ``run_id`` when it ran there, else the latest run where it succeeded."""
    if run_id:
        info = get_run(config, run_id)
        if (info.phase_dir(phase) / RESULT_FILE).is_file():
            return info.phase_dir(phase)
    info = latest_run(config, with_phase=phase)
    if info is None:
        raise PhaseError(
            f"no results of phase {phase!r} found in {config.reports}. "
            f"Fix: run it first (`workbench run --phases {phase}`)."
        )
    return info.phase_dir(phase)


def phase_result(config: Config, phase: str, *, run_id: str | None = None) -> dict[str, Any]:
    """The ``result.json`` a phase wrote."""
    return read_json(phase_dir(config, phase, run_id=run_id) / RESULT_FILE)
