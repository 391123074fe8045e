"""Approval files: one per challenger awaiting a person's decision, with the evidence.

``<store>/approvals/<project>/v<version>.json`` (written atomically under a lock) holds the
status (``pending``, ``approved``, ``rejected``), the trigger and retrain request that produced
the version, and the evidence: holdout metrics and comparisons with the champion and the
baseline, the fairness audit on the holdout, the drift that triggered the retrain, and
canary comparisons added as labelled batches are scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import now, read_json, write_json
from workbench.exceptions import WorkbenchError
from workbench.governance import audit

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def _folder(config: Config) -> Path:
    return config.store / "approvals" / config.project


def _path(config: Config, version: str) -> Path:
    return _folder(config) / f"v{version}.json"


def _lock(config: Config):  # noqa: ANN202
    from filelock import FileLock

    _folder(config).mkdir(parents=True, exist_ok=True)
    return FileLock(str(_folder(config) / ".lock"))


def file_approval(config: Config, *, version: str, semver: str, run_id: str, trigger: str, request_id: str | None,
                  evidence: dict[str, Any]) -> dict[str, Any]:
    """File a pending approval for a newly registered challenger and audit it."""
    body = {"schema_version": 1, "id": f"{config.project}-v{version}", "model": config.project, "version": str(version),
            "semver": semver, "status": "pending", "created": now(), "requested_by": audit.actor(), "trigger": trigger,
            "request_id": request_id, "run_id": run_id, "evidence": evidence, "decision": None}
    with _lock(config):
        write_json(_path(config, version), body)
    audit.record(config.store, "approval_requested", f"{config.project}/{version}", semver=semver, trigger=trigger,
                 request_id=request_id, run_id=run_id, reason=f"{trigger} retrain awaiting approval")
    return body


def get_approval(config: Config, version: str) -> dict[str, Any] | None:
    """The approval file of a version, or None."""
    path = _path(config, str(version))
    return read_json(path) if path.exists() else None


def list_approvals(config: Config) -> list[dict[str, Any]]:
    """All approval files, oldest first."""
    folder = _folder(config)
    found = [read_json(p) for p in folder.glob("v*.json")] if folder.is_dir() else []
    return sorted(found, key=lambda a: a["created"])


def pending_approvals(config: Config) -> list[dict[str, Any]]:
    """Approvals still awaiting a decision, oldest first."""
    return [a for a in list_approvals(config) if a["status"] == "pending"]


def decide(config: Config, version: str, status: str, reason: str) -> dict[str, Any] | None:
    """Record the decision on a pending approval (None when the version has no approval file)."""
    with _lock(config):
        body = get_approval(config, version)
        if body is None:
            return None
        if body["status"] != "pending":
            raise WorkbenchError(f"approval {body['id']} was already {body['status']} by {body['decision']['actor']} "
                                 f"on {body['decision']['date']}. Fix: nothing to decide; see `workbench approvals --all`.")
        body["status"] = status
        body["decision"] = {"status": status, "actor": audit.actor(), "date": now(), "reason": reason}
        write_json(_path(config, version), body)
    return body


def attach_evidence(config: Config, version: str, key: str, value: Any) -> bool:
    """Add ``value`` to the list ``evidence[key]`` of a pending approval; False when there is none."""
    with _lock(config):
        body = get_approval(config, version)
        if body is None or body["status"] != "pending":
            return False
        body["evidence"].setdefault(key, []).append(value)
        write_json(_path(config, version), body)
    return True
