"""Roles and the permission matrix.

Roles are ordered (``config.ROLES``: viewer < data_scientist < approver < admin) and each
action names the lowest role allowed; a role may do everything the roles below it may.

=================  ======  ==============  ========  =====
action             viewer  data_scientist  approver  admin
=================  ======  ==============  ========  =====
view               yes     yes             yes       yes
train              no      yes             yes       yes
approve / reject   no      no              yes       yes
promote / rollback no      no              yes       yes
audit_access       no      no              yes       yes
audit_repair       no      no              no        yes
=================  ======  ==============  ========  =====

Without a ``roles:`` section everyone is ``admin`` (a local, single-person project works
out of the box); with one, only listed people (and ``"*"``, everyone else) get a role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.config import ROLES
from workbench.exceptions import AuditError, PermissionDenied, WorkbenchError
from workbench.governance import audit

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

PERMISSIONS: dict[str, str] = {
    "view": "viewer",            # audit log and verify, approvals, alias history
    "train": "data_scientist",   # retrain triggers, registering a model version
    "approve": "approver",
    "reject": "approver",
    "promote": "approver",
    "rollback": "approver",
    "audit_access": "approver",  # who read a dataset and why (answers a GDPR/CCPA data-access request)
    "audit_repair": "admin",     # remove a torn audit-log tail; reconcile aliases moved without a commit record
}



def role_of(config: Config, user: str | None = None) -> str | None:
    """The role of ``user`` (default: the current actor); None when a roles section does not list them."""
    if config.roles is None:
        return "admin"
    user = user or audit.actor()
    return config.roles.get(user, config.roles.get("*"))


def allowed_roles(action: str) -> list[str]:
    """The roles that may do ``action``."""
    if action not in PERMISSIONS:
        raise WorkbenchError(f"unknown governed action {action!r}. Valid actions: {', '.join(PERMISSIONS)}.")
    return list(ROLES[ROLES.index(PERMISSIONS[action]):])


def require(config: Config, action: str, subject: str = "") -> str:
    """Return the actor when their role allows ``action``; else audit the attempt and raise :class:`PermissionDenied`.

    Parameters
    ----------
    config : Config
        Its ``roles`` section decides (absent: everyone is admin).
    action : str
        A key of :data:`PERMISSIONS`.
    subject : str
        What was attempted on (``project/version``), for the audit record and the message.
    """
    allowed = allowed_roles(action)
    user, role = audit.actor(), role_of(config)
    if role in allowed:
        return user
    try:
        audit.record(config.store, "denied", subject or config.project, attempted=action, required_role=PERMISSIONS[action],
                     role=role, reason=f"role {role or 'none'} may not {action}")
        unaudited = ""
    except AuditError:  # the log takes no record until it is repaired; the refusal stands all the same
        unaudited = " (not audited: the audit log takes no record until an admin repairs it)"
    raise PermissionDenied(f"{user!r} (role: {role or 'none'}) may not {action} {subject or config.project}: "
                           f"requires role {PERMISSIONS[action]} (allowed: {', '.join(allowed)}){unaudited}. "
                           f"Fix: ask someone with that role, or change `roles:` in {config.source}.")
