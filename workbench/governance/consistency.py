"""Do the MLflow aliases match what the audit log says? The cross-check behind ``workbench audit verify``.

The audit log implies who holds each alias (:mod:`~workbench.governance.alias_history`); MLflow
holds the truth the scoring reads. They differ when an alias was moved outside the workbench
(MLflow UI, a script) or when a verb was killed between moving an alias and recording the
commit (an uncommitted ``intent``). :func:`divergences` names each difference on one line;
:func:`reconcile` (admin) records the aliases as MLflow holds them, closing open intents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.governance import alias_history, audit

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

ALIASES = ("champion", "challenger", "baseline")


def implied(config: Config) -> dict[str, str | None]:
    """The version each alias holds according to the audit log's alias history."""
    holders: dict[str, str | None] = dict.fromkeys(ALIASES)
    for row in alias_history.alias_history(config):
        if row["alias"] in holders:
            holders[row["alias"]] = row["version"]
    return holders


def actual(config: Config) -> dict[str, str | None]:
    """The version each alias holds in MLflow (none at all while the embedded store does not exist yet)."""
    if config.tracking_uri is None and not (config.store / "mlflow.db").exists():
        return dict.fromkeys(ALIASES)
    found = {alias: registry.alias_version(config, alias) for alias in ALIASES}
    return {alias: None if mv is None else str(mv.version) for alias, mv in found.items()}


def divergences(config: Config) -> list[str]:
    """One line per uncommitted intent and per alias whose MLflow holder differs from the audit log's; [] when they agree.

    Callers that must not race a verb hold :func:`~workbench.governance.intents.registry_lock`.
    """
    problems = [f"{alias_history.describe(i)} (the process stopped between announcing alias moves and recording them)."
                for i in alias_history.uncommitted(config)]
    said, held = implied(config), actual(config)
    problems += [f"alias {alias!r} of {config.project} is {_v(held[alias])} in MLflow but the audit log says {_v(said[alias])} "
                 "(moved outside the workbench, or a move without its commit record)."
                 for alias in ALIASES if said[alias] != held[alias]]
    return problems


def reconcile(config: Config, *, reason: str) -> dict[str, Any] | None:
    """Record the aliases as MLflow holds them and close every open intent; None when log and MLflow already agree.

    The caller checked the ``audit_repair`` permission and holds the registry lock. The
    ``reconcile`` record's ``alias_moves`` go from what the log said to what MLflow holds, so
    the alias history matches MLflow again, and ``details.resolves`` lists the closed intents.
    """
    open_intents = alias_history.uncommitted(config)
    said, held = implied(config), actual(config)
    moves = [{"alias": alias, "from": said[alias], "to": held[alias]} for alias in ALIASES if said[alias] != held[alias]]
    if not moves and not open_intents:
        return None
    return audit.record(config.store, "reconcile", config.project, reason=reason, alias_moves=moves,
                        resolves=[i["hash"] for i in open_intents], problems=divergences(config))


def _v(version: str | None) -> str:
    return f"v{version}" if version else "unset"
