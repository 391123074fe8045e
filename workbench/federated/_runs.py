"""The run folder of a federated run: its manifest (the public shape, one phase ``federated``) and the server's outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import now, read_json
from workbench.exceptions import FederatedError
from workbench.reports import manifest

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.federated._processes import Fleet

PHASE = "federated"  # the results folder of a federated run, and its one entry in the manifest


def start(config: Config, kind: str, run_id: str | None, **extra: Any) -> tuple[str, Path, dict[str, Any]]:
    """Create ``<reports>/<run_id>/`` with a ``running`` manifest of ``kind``; return (run id, folder, manifest)."""
    run_id = manifest.check_run_id(run_id) if run_id else manifest.new_run_id(kind)
    run_dir = config.reports / run_id
    record = manifest.new(run_id, kind=kind, config=config, phases={PHASE: ""}, extra={"runner": manifest.runner(), **extra})
    record["phases"][PHASE] |= {"status": "running", "started": now()}
    manifest.write(run_dir, record)
    return run_id, run_dir, record


def finish(run_dir: Path, record: dict[str, Any], status: str, error: str | None) -> None:
    """Close the manifest: ``succeeded``, or ``failed`` with the error."""
    ended = now()
    started = datetime.fromisoformat(record["phases"][PHASE]["started"]).timestamp()
    record["phases"][PHASE] |= {"status": status, "ended": ended, "error": error,
                                "duration_s": round(datetime.fromisoformat(ended).timestamp() - started, 3)}
    record |= {"status": status, "ended": ended}
    manifest.write(run_dir, record)


def recorded(config: Config, kind: str, run_id: str | None, body: Callable[[Path, str], dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Run ``body(run_dir, run_id)`` inside a run folder whose manifest says ``running``, then ``succeeded`` or ``failed`` with the error."""
    run_id, run_dir, record = start(config, kind, run_id, **extra)
    try:
        result = body(run_dir, run_id)
    except BaseException as exc:
        finish(run_dir, record, "failed", f"{type(exc).__name__}: {exc}")
        raise
    finish(run_dir, record, "succeeded", None)
    return result


def outcome(work: Path, fleet: Fleet) -> tuple[dict[str, Any], list[Any]]:
    """The server's outcome and final arrays, or FederatedError with its error (or the tail of its log)."""
    import numpy as np

    path = work / "outcome.json"
    if not path.is_file():
        log = fleet.logs / "server.log"
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:] if log.is_file() else []
        code = fleet.server.returncode if fleet.server else None
        raise FederatedError(f"the Flower server ended (exit code {code}) without an outcome; nothing was registered or written. "
                             f"Last lines of {log}: {' | '.join(tail) or 'none'}")
    found = read_json(path)
    if found["status"] != "succeeded":
        raise FederatedError(found["error"] or "the federated run failed; nothing was registered or written.")
    with np.load(work / "outcome.npz", allow_pickle=False) as arrays:
        return found, [arrays[k] for k in sorted(arrays.files, key=lambda k: int(k.split("_")[1]))]
