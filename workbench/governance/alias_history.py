"""Alias history, read back from the audit log: which version held which alias, and when.

Every alias move is recorded in the audit event that made it (``details.alias_moves``:
``{"alias", "from", "to"}``), so the history is as tamper-evident as the log itself and
answers "which version was champion on date D" (mlflow#2169) without a second store.
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
        if not event["subject"].startswith(config.project + "/"):
            continue
        for move in event["details"].get("alias_moves") or []:
            if alias is None or move["alias"] == alias:
                rows.append({"ts": event["ts"], "alias": move["alias"], "version": move["to"], "previous": move["from"],
                             "action": event["action"], "actor": event["actor"], "reason": event["details"].get("reason", "")})
    return rows


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
