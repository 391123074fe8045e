"""Alias moves with their audit record on both sides: an ``intent`` record, the moves, then the commit record.

A governed verb never moves an alias before the log says it is about to: :func:`intent` writes an
``intent`` record (subject: the project; ``details.for`` the verb, ``details.planned_moves``),
the verb moves aliases through :meth:`Intent.move`, and :meth:`Intent.commit` writes the verb's
own record (``register``, ``promote``, ``rollback``, ``reject``) with ``details.intent`` (the
intent's hash) and ``details.alias_moves`` (what moved). When the block fails after the intent,
an ``abort`` record names the intent and the moves that did happen. A process killed between
the intent and its commit leaves an intent nothing refers to: :mod:`~workbench.governance.consistency`
reports it, and every later verb refuses until an admin reconciles (``workbench audit reconcile``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.exceptions import AuditError, WorkbenchError
from workbench.governance import audit, consistency

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def registry_lock(config: Config, timeout: float = -1):  # noqa: ANN201
    """The lock every alias move and version registration holds (the one ``registry.register`` holds)."""
    from filelock import FileLock

    config.store.mkdir(parents=True, exist_ok=True)
    return FileLock(str(config.store / ".registry.lock"), timeout=timeout)


class Intent:
    """An open intent: move aliases with :meth:`move`, then close it with :meth:`commit`."""

    def __init__(self, config: Config, event: dict[str, Any]) -> None:
        self.config, self.hash, self.moves, self.committed = config, event["hash"], [], False

    def move(self, alias: str, version: str | None) -> dict[str, str | None]:
        """Point ``alias`` at ``version`` (None removes it) and remember the move for the commit record."""
        done = registry.set_alias(self.config, alias, version)
        self.moves.append(done)
        return done

    def commit(self, action: str, subject: str, **details: Any) -> dict[str, Any]:
        """Write the verb's record (``action`` on ``subject``) with the moves and the intent it closes."""
        event = audit.record(self.config.store, action, subject, **details, alias_moves=self.moves, intent=self.hash)
        self.committed = True
        return event


@contextlib.contextmanager
def intent(config: Config, action: str, version: str | None, planned: list[tuple[str, str | None]], **details: Any) -> Iterator[Intent]:
    """Record the intent to move ``planned`` (alias, to) for ``action`` on ``version``; yield the open :class:`Intent`.

    The caller holds :func:`registry_lock`. Refuses (:class:`AuditError`) while an earlier move is
    uncommitted or the aliases differ from what the audit log says, so no verb builds on an unknown state.
    """
    problems = consistency.divergences(config)
    if problems:
        raise AuditError(f"not starting {action}: {problems[0]} Fix: run `workbench audit verify`, then `workbench audit reconcile "
                         "--reason \"...\"` (admin) to record the aliases as they are.")
    moves = [{"alias": alias, "from": _holder(config, alias), "to": to} for alias, to in planned]
    opened = Intent(config, audit.record(config.store, "intent", config.project, planned_moves=moves, version=version,
                                         **{"for": action}, **details))
    try:
        yield opened
    except BaseException as exc:
        if not opened.committed:
            with contextlib.suppress(WorkbenchError, OSError):  # unrecorded, the intent stays open and verify reports it
                audit.record(config.store, "abort", config.project, alias_moves=opened.moves, intent=opened.hash,
                             error=f"{type(exc).__name__}: {exc}"[:500], **{"for": action})
        raise


def _holder(config: Config, alias: str) -> str | None:
    mv = registry.alias_version(config, alias)
    return None if mv is None else str(mv.version)
