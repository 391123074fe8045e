"""The run manifest (``reports/<run_id>/manifest.json``): its public shape and atomic writes.

Apps, reviews and schedulers read it, so fields are only ever added, never renamed:
``{"run_id", "status", "started", "ended", "config", "phases": {NAME: {"status",
"notebook", "started", "ended", "duration_s", "error"}}}`` plus extra fields.

A run's status is ``running``, then ``succeeded``, ``failed`` (a phase failed) or
``interrupted`` (SIGINT/SIGTERM, or its runner process died: ``runner`` records the process's
pid, host and start time, so a later reader can tell that it is gone). A phase's status is
``pending``, ``running``, ``succeeded``, ``failed``, ``skipped`` or ``interrupted``.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench._io import now, read_json, write_json
from workbench.exceptions import ParameterError
from workbench.registry.lineage import git_commit, package_versions

SCHEMA_VERSION = 1
FILENAME = "manifest.json"
RUN_ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,99}$")
RUN_STATUSES = ("running", "succeeded", "failed", "interrupted")
STATUSES = ("pending", "running", "succeeded", "failed", "skipped", "interrupted")


def new_run_id(kind: str) -> str:
    """A run id that sorts by time: ``20261126T144000Z-train-3f9c``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{kind}-{secrets.token_hex(2)}"


def check_run_id(run_id: str) -> str:
    """Refuse run ids that are not a plain folder name (no path traversal)."""
    if not RUN_ID_RE.match(run_id) or ".." in run_id:
        raise ParameterError(
            f"run id {run_id!r} is not valid: use letters, digits, '.', '_' and '-' only "
            "(at most 100 characters, starting with a letter or digit)."
        )
    return run_id


def new(run_id: str, *, kind: str, config: Any, phases: dict[str, str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A fresh manifest with every planned phase ``pending``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "kind": kind,
        "status": "running",
        "started": now(),
        "ended": None,
        "config": str(config.source),
        "config_sha256": config.sha256(),
        "project": config.project,
        "git_commit": git_commit(config.source.parent),
        "versions": package_versions(),
        "phases": {name: _phase(notebook) for name, notebook in phases.items()},
        **(extra or {}),
    }


def _phase(notebook: str) -> dict[str, Any]:
    return {"status": "pending", "notebook": notebook, "started": None, "ended": None, "duration_s": None, "error": None}


def write(run_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest atomically."""
    return write_json(Path(run_dir) / FILENAME, manifest)


def read(run_dir: Path) -> dict[str, Any]:
    """Read a run's manifest."""
    return read_json(Path(run_dir) / FILENAME)


def runner() -> dict[str, Any]:
    """This process as a manifest records its runner: pid, host and start time (pids are reused)."""
    import psutil

    return {"pid": os.getpid(), "host": socket.gethostname(), "process_started": psutil.Process().create_time()}


def runner_gone(manifest: dict[str, Any]) -> bool:
    """True when the run's runner was on this host and that process no longer exists.

    False for a live runner, a runner on another host, and manifests that record none.
    """
    import psutil

    info = manifest.get("runner")
    if not isinstance(info, dict) or info.get("host") != socket.gethostname():
        return False
    try:
        process = psutil.Process(int(info["pid"]))
        return abs(process.create_time() - float(info["process_started"])) > 1 or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def interrupted(manifest: dict[str, Any], reason: str, *, ended: str) -> dict[str, Any]:
    """The manifest of a run that stopped without finishing: running phases ``interrupted``, pending ones ``skipped``."""
    phases = {}
    for name, entry in manifest.get("phases", {}).items():
        entry = dict(entry)
        if entry.get("status") == "running":
            entry.update(status="interrupted", ended=ended, error=f"interrupted: {reason}")
        elif entry.get("status") == "pending":
            entry.update(status="skipped", ended=ended, error=f"skipped: run interrupted: {reason}")
        phases[name] = entry
    return {**manifest, "status": "interrupted", "ended": ended, "interrupted": reason, "phases": phases}


def last_written(run_dir: Path) -> str:
    """When the manifest was last written (the last moment its runner is known to have been alive)."""
    mtime = (Path(run_dir) / FILENAME).stat().st_mtime
    return datetime.fromtimestamp(mtime, UTC).isoformat(timespec="milliseconds")
