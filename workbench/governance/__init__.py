"""Governance: roles and permissions, approvals, promotion, rejection, rollback and alias history.

Every verb here checks the actor's role first (a refusal is audited as ``denied``), acts on
the MLflow registry under the registry lock, and writes audit events (``approve``, ``reject``,
``promote``, ``rollback``; subject ``project/version``; details with ``semver`` and ``reason``)
and, for promotions and rollbacks, a changelog entry. Alias moves are recorded in those
events, so the tamper-evident audit log is also the alias history (:func:`alias_history`).
"""

from __future__ import annotations

from workbench.governance._actions import approve, promote, reject, rollback
from workbench.governance._approvals import attach_evidence, file_approval, get_approval, list_approvals, pending_approvals
from workbench.governance._config_log import note_config
from workbench.governance._history import alias_history, champion_on, champion_stack
from workbench.governance._roles import PERMISSIONS, PermissionDenied, allowed_roles, require, role_of

__all__ = ["PERMISSIONS", "PermissionDenied", "alias_history", "allowed_roles", "approve", "attach_evidence", "champion_on",
           "champion_stack", "file_approval", "get_approval", "list_approvals", "note_config", "pending_approvals", "promote", "reject",
           "require", "role_of", "rollback"]
