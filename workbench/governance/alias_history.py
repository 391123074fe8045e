"""Alias history, read back from the audit log: which version held which alias, and when.

Every alias move is recorded in the audit event that made it (``details.alias_moves``:
``{"alias", "from", "to"}``), so the history is as tamper-evident as the log itself and
answers "which version was champion on date D" (mlflow#2169) without a second store.

Moves are bracketed (:mod:`~workbench.governance.intents`): an ``intent`` record announces them
(``details.planned_moves``, not counted as moves), the verb's record commits them, an ``abort``
record lists the ones a failed verb did make, and a ``reconcile`` record adopts what MLflow holds.
An intent that no later record closes (``details.intent`` or ``details.resolves``) is
:func:`uncommitted`: its moves may or may not have happened, so the history after it is not
trusted until an admin reconciles it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench.exceptions import WorkbenchError
from workbench.governance import audit

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def alias_history(config: Config, alias: str | None = None) -> list[dict[str, Any]]:
    """Alias moves of the configured model, oldest first (optionally of one alias)."""
    rows = []
    for event in audit.read(config.store):
        if not _ours(config, event):
            continue
        for move in event["details"].get("alias_moves") or []:
            if alias is None or move["alias"] == alias:
                rows.append({"ts": event["ts"], "alias": move["alias"], "version": move["to"], "previous": move["from"],
                             "action": event["action"], "actor": event["actor"], "reason": event["details"].get("reason", "")})
    return rows


def uncommitted(config: Config, alias: str | None = None, *, before: str | datetime | None = None) -> list[dict[str, Any]]:
    """Intent records of the configured model that no commit, abort or reconcile record closes, oldest first.

    Optionally only those planning to move ``alias``, or recorded at or before ``before`` (as in :func:`champion_on`).
    """
    events = [e for e in audit.read(config.store) if _ours(config, e)]
    closed = {e["details"].get("intent") for e in events} | {h for e in events for h in e["details"].get("resolves") or []}
    moment = _moment(before) if before is not None else None
    return [{"ts": e["ts"], "hash": e["hash"], "action": e["details"].get("for"), "version": e["details"].get("version"),
             "actor": e["actor"], "planned_moves": e["details"].get("planned_moves") or []}
            for e in events if e["action"] == "intent" and e["hash"] not in closed
            and (alias is None or any(m["alias"] == alias for m in e["details"].get("planned_moves") or []))
            and (moment is None or datetime.fromisoformat(e["ts"]) <= moment)]


def describe(intent: dict[str, Any]) -> str:
    """One line for an uncommitted intent: when, which verb, by whom, the moves it planned."""
    moves = ", ".join(f"{m['alias']} {m['from'] or '-'} -> {m['to'] or '-'}" for m in intent["planned_moves"]) or "no alias"
    return (f"intent {intent['hash'][:12]} ({intent['ts'][:19]} {intent['action']} v{intent['version'] or '(new)'} by {intent['actor']}: "
            f"{moves}) has no commit record")


def champion_on(config: Config, when: str | datetime, alias: str = "champion") -> str | None:
    """The version holding ``alias`` at ``when`` (a date means the end of that day, UTC), or None."""
    moment = _moment(when)
    holder = None
    for row in alias_history(config, alias):
        if datetime.fromisoformat(row["ts"]) > moment:
            break
        holder = row["version"]
    return holder


def champion_stack(config: Config) -> list[str]:
    """Champions in promotion order with rolled-back ones removed: ``[-2]`` is what a rollback restores."""
    stack: list[str] = []
    for row in alias_history(config, "champion"):
        if row["action"] == "rollback":
            if stack:
                stack.pop()
        elif row["version"] is not None and (not stack or stack[-1] != row["version"]):
            stack.append(row["version"])
    return stack


def _ours(config: Config, event: dict[str, Any]) -> bool:
    return event["subject"] == config.project or event["subject"].startswith(config.project + "/")


def _moment(when: str | datetime) -> datetime:
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    try:
        value = datetime.fromisoformat(when)
    except ValueError:
        raise WorkbenchError(f"date {when!r} is not an ISO date or time. Fix: use e.g. 2026-05-01 or 2026-05-01T12:00.") from None
    if len(when) <= 10:  # a bare date: what held on that day, i.e. at its end
        value = value.replace(hour=23, minute=59, second=59, microsecond=999999)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
