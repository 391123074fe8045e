"""Retrain requests: recorded when monitoring crosses a threshold, awaiting a person.

A request is a JSON file in ``<store>/requests/`` (written atomically) with its trigger
(``drift``, ``scheduled`` or ``manual``), reasons and evidence pointers. Nothing is retrained
or promoted here: :mod:`workbench.runner.triggers` retrains on pending requests (status becomes
``retraining``, then ``awaiting approval`` with the challenger's version, or ``failed``) and
:mod:`workbench.governance.actions` records the decision (``approved`` or ``rejected``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench._io import now, read_json, write_json
from workbench.exceptions import WorkbenchError
from workbench.governance import audit

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def request(config: Config, *, trigger: str, run_id: str, reasons: list[str], **evidence: Any) -> dict[str, Any]:
    """File a pending retrain request and return it."""
    body = {"schema_version": 1, "id": f"retrain-{run_id}", "status": "pending", "trigger": trigger, "created": now(),
            "requested_by": audit.actor(), "run_id": run_id, "reasons": reasons, "evidence": evidence}
    write_json(config.store / "requests" / f"{body['id']}.json", body)
    return body


def every(config: Config) -> list[dict[str, Any]]:
    """Every retrain request, oldest first."""
    folder = config.store / "requests"
    return [read_json(p) for p in sorted(folder.glob("retrain-*.json"))] if folder.is_dir() else []


def pending(config: Config) -> list[dict[str, Any]]:
    """Pending retrain requests, oldest first."""
    return [r for r in every(config) if r.get("status") == "pending"]


def get(config: Config, request_id: str) -> dict[str, Any]:
    """One request by id."""
    path = config.store / "requests" / f"{request_id}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("retrain-*.json"))) or "none"
        raise WorkbenchError(f"retrain request {request_id!r} not found in {path.parent}. Known requests: {known}.")
    return read_json(path)


def update(config: Config, request_id: str | None, **fields: Any) -> dict[str, Any] | None:
    """Change fields of a request (its status, the version it produced) under a lock; None when there is no request."""
    from filelock import FileLock

    if not request_id:
        return None
    folder = config.store / "requests"
    with FileLock(str(folder / ".lock")):
        body = get(config, request_id)
        body.update(fields, updated=now())
        write_json(folder / f"{request_id}.json", body)
    return body
