"""The records side of the status page: the champion from the audit log, and governance and retrain-request events.

Read by :func:`workbench.reports.status.status`; the audit log's alias moves say which version was
champion when, its ``register``, ``activate``, ``approve``, ``reject``, ``promote`` and ``rollback``
records become timeline events, and each retrain request (``governance.requests``) says after which
batch it was filed and what became of it.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.governance import audit, requests
from workbench.reports.card_sources import GOVERNANCE_ACTIONS
from workbench.reports.status_stories import READ_ERRORS, Batch, Event

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def audit_events(config: Config, notes: list[str]) -> list[dict[str, Any]]:
    """The project's audit records, oldest first ([] with a note when the log cannot be read)."""
    try:
        found = audit.read(config.store)
    except READ_ERRORS:
        notes.append("The audit log could not be read, so registrations, approvals and promotions are not listed here.")
        return []
    project = config.project
    return [e for e in found if isinstance(e, dict) and (str(e.get("subject", "")) == project or str(e.get("subject", "")).startswith(project + "/"))]


def champion_history(events: list[dict[str, Any]]) -> list[tuple[datetime, str | None]]:
    """``(time, version)`` of every move of the champion alias, oldest first."""
    out = []
    for e in events:
        for move in (e.get("details") or {}).get("alias_moves") or []:
            if isinstance(move, dict) and move.get("alias") == "champion":
                try:
                    out.append((datetime.fromisoformat(e["ts"]), None if move.get("to") is None else str(move["to"])))
                except READ_ERRORS:
                    continue
    return out


def version_semvers(events: list[dict[str, Any]], batches: list[Batch]) -> dict[str, str]:
    """Semantic version per model version, from the batches' score results and the audit records."""
    found = {b.version: b.semver for b in batches if b.semver}
    for e in events:
        details, version = e.get("details") or {}, str(e.get("subject", "")).rpartition("/")[2]
        if details.get("semver") and version:
            found.setdefault(version, str(details["semver"]))
        if details.get("champion") and details.get("champion_semver"):
            found.setdefault(str(details["champion"]), str(details["champion_semver"]))
    return found


def champion(history: list[tuple[datetime, str | None]], events: list[dict[str, Any]], batches: list[Batch]) -> dict[str, str] | None:
    """``{version, semver, since}`` of the champion now: the last champion move, else the latest batch scored by a champion."""
    semvers = version_semvers(events, batches)
    if history:
        when, version = history[-1]
        return {"version": version, "semver": semvers.get(version, ""), "since": when.date().isoformat()} if version else None
    scored = [b for b in batches if b.role == "champion" and b.version]
    return {"version": scored[-1].version, "semver": scored[-1].semver, "since": ""} if scored else None


def model_name(version: str, semvers: dict[str, str]) -> str:
    """``v1 (1.0.0)``, or ``v1`` when its semantic version is unknown."""
    return f"v{version} ({semvers[version]})" if semvers.get(version) else f"v{version}"


def governance_events(events: list[dict[str, Any]]) -> list[tuple[Event, datetime | None]]:
    """Registrations, approvals, rejections, promotions and rollbacks from the audit log."""
    semvers = version_semvers(events, [])
    out = []
    for e in events:
        action, details = e.get("action"), e.get("details") or {}
        if action not in (*GOVERNANCE_ACTIONS, "activate"):
            continue
        try:
            when = datetime.fromisoformat(e["ts"])
        except READ_ERRORS:
            continue
        version = str(e.get("subject", "")).rpartition("/")[2]
        who, reason = str(e.get("actor", "")), str(details.get("reason") or "").strip()
        because = f": “{reason}”" if reason else ""
        moves = {m.get("alias"): m for m in details.get("alias_moves") or [] if isinstance(m, dict)}
        if action == "register":
            event = Event(when.date().isoformat(), "registered", f"{model_name(version, semvers)} was registered as a candidate model.", version, "card")
        elif action == "activate":
            if "champion" not in moves:
                continue
            event = Event(when.date().isoformat(), "promoted", f"{model_name(version, semvers)} became the first champion.", version, "card")
        elif action == "promote":
            before = details.get("previous_champion")
            replacing = f", replacing v{before}" if before else ""
            event = Event(when.date().isoformat(), "promoted", f"{who} made {model_name(version, semvers)} the champion{replacing}{because}.", version, "card")
        elif action == "rollback":
            to, before = str(details.get("champion") or version), details.get("previous_champion")
            source = f" from v{before}" if before else ""
            event = Event(when.date().isoformat(), "rolled_back", f"{who} rolled the champion back{source} to {model_name(to, semvers)}{because}.", to, "card")
        else:
            kind = "approved" if action == "approve" else "rejected"
            event = Event(when.date().isoformat(), kind, f"{who} {kind} {model_name(version, semvers)}{because}.", version, "card")
        out.append((event, when))
    return out


def request_events(config: Config, batches: list[Batch]) -> list[tuple[Event, datetime | None]]:
    """One event per retrain request: after which batch and why, and what became of it."""
    by_run = {b.info.run_id: b for b in batches}
    out = []
    try:
        found = requests.every(config)
    except READ_ERRORS:
        return []
    for r in found:
        try:
            when = datetime.fromisoformat(r["created"])
        except READ_ERRORS:
            continue
        b = by_run.get(str(r.get("run_id", "")))
        trigger = r.get("trigger")
        if b is not None:
            why = f" because {b.cause()}" if b.cause() else ""
            head = f"A retrain was requested after {b.label}{why}"
        elif trigger == "scheduled":
            head = "A scheduled retrain was requested (the champion reached its maximum age)"
        else:
            reason = "; ".join(map(str, r.get("reasons") or []))
            head = f"A retrain was requested by {r.get('requested_by', 'someone')}" + (f": “{reason}”" if reason and trigger == "manual" else "")
        state = {"pending": "it is still open", "retraining": "a retrain is running", "failed": "the retrain failed",
                 "awaiting approval": f"the retrained v{r.get('version')} awaits approval", "approved": f"v{r.get('version')} was approved",
                 "rejected": f"v{r.get('version')} was rejected", "registered": f"v{r.get('version')} became the champion"}.get(str(r.get("status")), "")
        sentence = f"{head}; {state}." if state else f"{head}."
        version = str((r.get("evidence") or {}).get("model_version") or (b.version if b else ""))
        event = Event(when.date().isoformat(), "retrain_requested", sentence, version, "drift" if b else "", b.info.run_id if b else "")
        out.append((event, when))
    return out
