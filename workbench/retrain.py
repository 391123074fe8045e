"""Retrain requests: recorded when monitoring crosses a threshold, awaiting a person.

A request is a JSON file in ``<store>/requests/`` (written atomically) with its trigger,
reasons and evidence pointers. Nothing is retrained or promoted here: the governance
workflow acts on pending requests and records approvals.
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
