"""The governed verbs: approve, reject, promote and rollback.

Each checks the actor's role and acts under the registry lock (so concurrent verbs cannot
interleave): an ``intent`` record, the alias moves, the verb's own audit record (the commit,
with the moves), then the changelog entry (:mod:`~workbench.governance.intents`). The log never
lags the aliases: a verb killed after the intent leaves an open intent that ``audit verify`` reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.exceptions import RegistryError, WorkbenchError
from workbench.governance import alias_history, audit, intents, requests, roles
from workbench.governance import approvals as _approvals
from workbench.registry import changelog
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

SEMVER = "workbench.semver"


def _need_reason(action: str, reason: str) -> str:
    if not reason or not reason.strip():
        raise WorkbenchError(f"{action} needs a reason. Fix: pass --reason \"why\" (it is recorded in the audit log and changelog).")
    return reason.strip()


def _candidate(config: Config, ref: str, action: str) -> Any:
    try:  # the denial, too, is recorded against the canonical project/version subject
        mv, missing = registry.resolve(config, ref), None
    except RegistryError as exc:
        mv, missing = None, exc
    roles.require(config, action, f"{config.project}/{mv.version if mv is not None else ref}")
    if missing is not None:
        raise missing
    if mv.tags.get("workbench.kind") != "candidate":
        raise RegistryError(f"{config.project} v{mv.version} ({mv.tags.get(SEMVER)}) is a {mv.tags.get('workbench.kind', 'foreign')} "
                            "version, not a candidate model. Fix: pass the version of a trained candidate.")
    return mv


def _move_champion(config: Config, mv: Any, *, action: str, reason: str, subject: Any = None, preface: dict[str, Any] | None = None,
                   **details: Any) -> dict[str, Any]:
    """Make ``mv`` champion (with its baseline): intent, alias moves, audit record (``action`` on ``subject``), changelog.

    What can fail (registering the baseline) happens before the intent; ``preface`` is an audit
    event (``{"action", **details}``) written once the moves succeeded, just before the commit record.
    """
    with intents.registry_lock(config):
        current = registry.alias_version(config, "champion")
        if current is not None and str(current.version) == str(mv.version):
            raise WorkbenchError(f"{config.project} v{mv.version} ({mv.tags.get(SEMVER)}) is already the champion. Fix: nothing to do.")
        baseline, old_baseline = _ensure_baseline(config, mv), registry.alias_version(config, "baseline")
        planned: list[tuple[str, str | None]] = [("champion", str(mv.version))]
        challenger = registry.alias_version(config, "challenger")
        if challenger is not None and str(challenger.version) == str(mv.version):
            planned.append(("challenger", None))
        if baseline and (old_baseline is None or str(old_baseline.version) != baseline):
            planned.append(("baseline", baseline))
        target = subject if subject is not None else mv
        with intents.intent(config, action, str(target.version), planned, reason=reason) as moving:
            for alias, version in planned:
                moving.move(alias, version)
            if preface:
                audit.record(config.store, preface.pop("action"), f"{config.project}/{mv.version}", **preface)
            record = moving.commit(action, f"{config.project}/{target.version}", semver=target.tags.get(SEMVER), reason=reason,
                                   champion=str(mv.version), champion_semver=mv.tags.get(SEMVER),
                                   previous_champion=None if current is None else str(current.version), **details)
        event = "rollback" if action == "rollback" else "promote"
        changelog.append(config, changelog.event_entry(event, dict(mv.tags), str(mv.version), reason=reason, previous=current,
                                                       aliases=["champion"]))
    return record


def approve(config: Config, ref: str, *, reason: str = "") -> dict[str, Any]:
    """Approve a challenger and promote it to champion (its pending approval, if any, is closed).

    Parameters
    ----------
    config : Config
        The project config (roles, store).
    ref : str
        MLflow version number (``"3"``), semantic version (``"1.1.0"``) or alias.
    reason : str
        Recorded in the audit log, the approval file and the changelog.

    Returns
    -------
    dict
        The ``promote`` audit event (``details.alias_moves`` lists what moved).

    Raises
    ------
    PermissionDenied
        The actor is not an approver (the attempt is audited as ``denied``).
    WorkbenchError
        Unknown version, not a candidate, already champion, or already decided.
    """
    mv = _candidate(config, ref, "approve")
    approval = _approvals.get_approval(config, mv.version)
    if approval is not None and approval["status"] != "pending":
        raise WorkbenchError(f"approval {approval['id']} was already {approval['status']}. Fix: nothing to decide; "
                             "`workbench promote` moves the champion to any version, with a reason.")
    reason = reason.strip() or f"approved {mv.tags.get(SEMVER)}"
    request_id = approval["request_id"] if approval else None
    approved = {"action": "approve", "semver": mv.tags.get(SEMVER), "reason": reason, "approval": approval["id"] if approval else None,
                "request_id": request_id}
    event = _move_champion(config, mv, action="promote", reason=reason, preface=approved, approval=approved["approval"])
    _approvals.decide(config, mv.version, "approved", reason)
    requests.update(config, request_id, status="approved", version=str(mv.version))
    return event


def promote(config: Config, ref: str, *, reason: str) -> dict[str, Any]:
    """Make any candidate version champion directly (e.g. an earlier one), with a reason."""
    mv = _candidate(config, ref, "promote")
    return _move_champion(config, mv, action="promote", reason=_need_reason("promote", reason))


def reject(config: Config, ref: str, *, reason: str) -> dict[str, Any]:
    """Reject a challenger: its approval is closed, the ``challenger`` alias leaves it, the champion stays."""
    mv = _candidate(config, ref, "reject")
    reason = _need_reason("reject", reason)
    champion = registry.alias_version(config, "champion")
    if champion is not None and str(champion.version) == str(mv.version):
        raise WorkbenchError(f"{config.project} v{mv.version} is the champion; rejecting it would leave none. "
                             "Fix: `workbench rollback --reason ...` restores the previous champion.")
    approval = _approvals.decide(config, mv.version, "rejected", reason)
    with intents.registry_lock(config):
        challenger = registry.alias_version(config, "challenger")
        planned = [("challenger", None)] if challenger is not None and str(challenger.version) == str(mv.version) else []
        with intents.intent(config, "reject", str(mv.version), planned, reason=reason) as moving:
            for alias, version in planned:
                moving.move(alias, version)
            event = moving.commit("reject", f"{config.project}/{mv.version}", semver=mv.tags.get(SEMVER), reason=reason,
                                  approval=approval["id"] if approval else None)
    requests.update(config, approval["request_id"] if approval else None, status="rejected", version=str(mv.version))
    return event


def rollback(config: Config, *, reason: str) -> dict[str, Any]:
    """Restore the champion before the current one (and its baseline); the audit subject is the demoted version.

    Parameters
    ----------
    config : Config
        The project config.
    reason : str
        Required; recorded in the audit event and the changelog.

    Returns
    -------
    dict
        The ``rollback`` audit event (``details.restored_version`` is the champion again).

    Raises
    ------
    PermissionDenied
        The actor is not an approver.
    WorkbenchError
        No reason, no earlier champion, or the alias was moved outside the workbench.
    """
    roles.require(config, "rollback", f"{config.project}/champion")
    reason = _need_reason("rollback", reason)
    current = registry.alias_version(config, "champion")
    stack = alias_history.champion_stack(config)
    if current is None or len(stack) < 2:
        raise WorkbenchError(f"{config.project} has no earlier champion to roll back to (champions so far: {', '.join(stack) or 'none'}). "
                             "Fix: `workbench promote <version> --reason ...` to pick one explicitly.")
    if stack[-1] != str(current.version):
        raise WorkbenchError(f"the champion alias points at v{current.version}, but the audit log says v{stack[-1]} (moved outside the "
                             "workbench?). Fix: `workbench promote <version> --reason ...` to pick one explicitly.")
    target = registry.resolve(config, stack[-2])
    return _move_champion(config, target, action="rollback", reason=reason, subject=current,
                          restored_version=str(target.version), restored_semver=target.tags.get(SEMVER))


def _ensure_baseline(config: Config, mv: Any) -> str | None:
    """The baseline to pair with champion ``mv``: an existing one, else the one trained in its run (registered now).

    Returns None when the run's baseline is gone (reports cleaned up): the current baseline stays.
    Caller holds the registry lock.
    """
    existing = registry.baseline_for(config, mv.version)
    if existing:
        return existing
    try:
        trained = catalog.get_run(config, mv.tags.get(registry.TAG + "run_id", "?")).read("baseline")
    except WorkbenchError:
        trained = None
    if trained is None:
        return None
    confidence = catalog.get_run(config, mv.tags[registry.TAG + "run_id"]).read("evaluate", catalog.CONFIDENCE_FILE) or {}
    base = trained["model"] | {"confidence": confidence.get("baseline")}
    return registry.create_baseline(config, base, str(mv.version), mv.tags[registry.TAG + "semver"], dict(mv.tags), None)
