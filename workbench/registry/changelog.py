"""The registered model's changelog: one entry per version and per promotion or rollback.

Entries live in ``<store>/registry/<project>/changelog.json`` (written atomically under the
registry lock); the registered model's MLflow description shows the newest entries as
Markdown, and each version's description holds its own entry. Every entry has ``semver``,
``bump``, ``reason``, ``date``, ``actor``, ``run_id``, ``note``, ``text``, ``version``, ``aliases``
and ``event`` (``register``, ``activate``, ``promote`` or ``rollback``; promotions also name ``previous_version``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import now, read_json, write_json
from workbench.governance import audit
from workbench.registry.store import client_for

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

DESCRIPTION_LIMIT = 4800  # MLflow's sqlite registry stores descriptions in 5000 characters


def path(config: Config) -> Path:
    """The changelog file of the configured model."""
    return config.store / "registry" / config.project / "changelog.json"


def read(config: Config) -> list[dict[str, Any]]:
    """All entries, oldest first."""
    p = path(config)
    return read_json(p)["entries"] if p.exists() else []


def entry(semver: str, bump: str, evaluation: dict[str, Any], train: dict[str, Any], *, note: str, run_id: str) -> dict[str, Any]:
    """A new entry describing why this version exists."""
    primary = evaluation["primary_metric"]
    value = evaluation["metrics"]["candidate"][primary]
    reason = {"initial": "first version", "major": "feature schema changed", "minor": "retrained on new data",
              "patch": "parameters or code changed"}.get(bump, f"{bump} bump requested")
    text = (f"{semver} ({bump}): {reason}. Holdout {primary} {value['value']:.4f} "
            f"[{value['low']:.4f}, {value['high']:.4f}]; data sha256 {train['data']['sha256'][:12]}; "
            f"decision: {evaluation['decision']['decision']}." + (f" Note: {note}" if note else ""))
    return {"semver": semver, "bump": bump, "reason": reason, "date": now(), "actor": audit.actor(),
            "run_id": run_id, "note": note, "text": text}


def event_entry(event: str, tags: dict[str, str], version: str, *, reason: str, previous: Any | None, aliases: list[str]) -> dict[str, Any]:
    """An entry for a promotion or rollback of ``version`` (tags: its MLflow tags); ``previous`` is the champion it replaced."""
    semver = tags.get("workbench.semver", "?")
    before = f"v{previous.version} ({previous.tags.get('workbench.semver', '?')})" if previous is not None else "none"
    verb = {"promote": "promoted to champion", "rollback": "restored as champion by a rollback",
            "activate": "became the first champion (audited and carded)"}.get(event, event)
    text = f"{semver} {verb} by {audit.actor()}; replaces {before}. Reason: {reason or 'not given'}."
    return {"semver": semver, "bump": "none", "reason": reason, "date": now(), "actor": audit.actor(),
            "run_id": tags.get("workbench.run_id", ""), "note": "", "text": text, "version": str(version), "aliases": aliases,
            "event": event, "previous_version": None if previous is None else str(previous.version)}


def append(config: Config, new: dict[str, Any]) -> None:
    """Add an entry (caller holds the registry lock) and refresh the MLflow description."""
    entries = read(config) + [new]
    write_json(path(config), {"schema_version": 1, "model": config.project, "entries": entries})
    lines = ["# Changelog", ""] + [f"- v{e.get('version', '?')} {e['text']}" for e in reversed(entries)]
    text = "\n".join(lines)
    if len(text) > DESCRIPTION_LIMIT:
        text = text[:DESCRIPTION_LIMIT].rsplit("\n", 1)[0] + f"\n- … full history in {path(config)}"
    client_for(config).update_registered_model(config.project, description=text)
