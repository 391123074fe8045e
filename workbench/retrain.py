"""Retrain requests: recorded when monitoring crosses a threshold, awaiting a person.

A request is a JSON file in ``<store>/requests/`` (written atomically) with its trigger
(``drift``, ``scheduled`` or ``manual``), reasons and evidence pointers. Nothing is retrained
or promoted here: :mod:`workbench.triggers` retrains on pending requests (status becomes
``retraining``, then ``awaiting approval`` with the challenger's version, or ``failed``) and
:mod:`workbench.governance` records the decision (``approved`` or ``rejected``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def request(config: Config, *, trigger: str, run_id: str, reasons: list[str], **evidence: Any) -> dict[str, Any]:
    """File a pending retrain request and return it."""
    from workbench import audit, manifest
    from workbench._io import write_json

    body = {"schema_version": 1, "id": f"retrain-{run_id}", "status": "pending", "trigger": trigger, "created": manifest.now(),
            "requested_by": audit.actor(), "run_id": run_id, "reasons": reasons, "evidence": evidence}
    write_json(config.store / "requests" / f"{body['id']}.json", body)
    return body


def pending(config: Config) -> list[dict[str, Any]]:
    """Pending retrain requests, oldest first."""
    from workbench._io import read_json

    folder = config.store / "requests"
    found = [read_json(p) for p in sorted(folder.glob("retrain-*.json"))] if folder.is_dir() else []
    return [r for r in found if r.get("status") == "pending"]


def get(config: Config, request_id: str) -> dict[str, Any]:
    """One request by id."""
    from workbench._io import read_json
    from workbench.exceptions import WorkbenchError

    path = config.store / "requests" / f"{request_id}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("retrain-*.json"))) or "none"
        raise WorkbenchError(f"retrain request {request_id!r} not found in {path.parent}. Known requests: {known}.")
    return read_json(path)


def update(config: Config, request_id: str | None, **fields: Any) -> dict[str, Any] | None:
    """Change fields of a request (its status, the version it produced) under a lock; None when there is no request."""
    from filelock import FileLock

    from workbench import manifest
    from workbench._io import write_json

    if not request_id:
        return None
    folder = config.store / "requests"
    with FileLock(str(folder / ".lock")):
        body = get(config, request_id)
        body.update(fields, updated=manifest.now())
        write_json(folder / f"{request_id}.json", body)
    return body
