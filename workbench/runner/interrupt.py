"""Stopping a run cleanly: SIGINT and SIGTERM, the kernels a run started, and runs whose runner is gone.

Every manifest records its runner (pid, host, process start time). While a run executes,
:class:`Stop` turns SIGINT and SIGTERM into a recorded signal: it kills every kernel this process
started (each kernel leads its own process group, so what the kernel started goes too) and the
executor then marks the run ``interrupted`` and its MLflow runs ``KILLED``. A runner killed with
SIGKILL, or by a crash, cannot do that itself: its kernels exit on their own (ipykernel polls its
parent), and :func:`reap` marks the run when ``workbench runs`` or the next run sees it.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from workbench._io import now
from workbench.registry import store
from workbench.reports import catalog, manifest

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_kernels: set[int] = set()  # process groups of the kernels alive in this process
_stopped: list[int] = []  # the signal that stopped this process's current run (at most one entry)


def track_kernel(pgid: int | None) -> None:
    """Remember a kernel's process group; kill it at once when the run is already stopping."""
    if pgid is None:
        return
    _kernels.add(pgid)
    if _stopped:  # the signal came while this kernel was starting
        _kill(pgid)


def untrack_kernel(pgid: int | None) -> None:
    """Forget a kernel that was shut down."""
    _kernels.discard(pgid)  # type: ignore[arg-type]


def kill_kernels() -> None:
    """SIGKILL every kernel this process started and has not shut down (and what they started)."""
    for pgid in list(_kernels):
        _kill(pgid)


def _kill(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # already gone
        pass


class Stop:
    """While entered, SIGINT and SIGTERM stop the run: :attr:`signum` is set and the kernels die.

    Handlers are installed only in the main thread (Python allows no other); elsewhere the
    caller's handling stays as it was. The previous handlers come back on exit.
    """

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}

    @property
    def signum(self) -> int | None:
        """The signal that stopped the run, or None."""
        return _stopped[0] if _stopped else None

    @property
    def name(self) -> str:
        """``SIGINT`` or ``SIGTERM`` (empty while not stopped)."""
        return signal.Signals(self.signum).name if self.signum else ""

    def __enter__(self) -> Stop:
        _stopped.clear()
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not _stopped:
            _stopped.append(signum)
        kill_kernels()


def reap(config: Config) -> list[str]:
    """Mark runs still ``running`` whose runner process is gone as ``interrupted``; return their ids.

    Their manifest ends at its last write; running phases become ``interrupted``, pending ones
    ``skipped``; the MLflow parent run and the runs of interrupted phases become ``KILLED``. Runs
    started on another host are left as they are (their runner cannot be checked from here), and
    so are runs whose manifest cannot be rewritten (a read-only or full reports folder).
    """
    marked = []
    for info in catalog.list_runs(config):
        if info.status != "running" or not manifest.runner_gone(info.manifest):
            continue
        runner = info.manifest["runner"]
        reason = f"runner process {runner['pid']} on {runner['host']} is gone; noticed {now()}"
        running = [n for n, e in info.manifest.get("phases", {}).items() if e.get("status") == "running"]
        try:
            manifest.write(info.path, manifest.interrupted(info.manifest, reason, ended=manifest.last_written(info.path)))
        except OSError:  # a read-only or full reports folder: listing must still work; the run stays as it is
            continue
        _kill_mlflow(config, info.manifest.get("mlflow_parent_run_id"), [info.path / n for n in running])
        marked.append(info.run_id)
    return marked


def kill_mlflow_phase(config: Config, phase_dir: Path) -> None:
    """Set the MLflow run of a phase that was stopped to ``KILLED``."""
    _kill_mlflow(config, None, [phase_dir])


def _kill_mlflow(config: Config, parent: str | None, phase_dirs: list[Path]) -> None:
    ids = [parent] if parent else []
    ids += [(d / catalog.MLFLOW_RUN_ID_FILE).read_text().strip() for d in phase_dirs if (d / catalog.MLFLOW_RUN_ID_FILE).is_file()]
    if not ids:
        return
    from mlflow.exceptions import MlflowException

    client = store.client_for(config)
    for run_id in ids:
        try:
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_terminated(run_id, "KILLED")
        except MlflowException:  # deleted from the store meanwhile: nothing left to mark
            continue
