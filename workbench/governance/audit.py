"""The audit trail: an append-only, hash-chained JSON-lines log in the store.

Each record carries the sha256 of the previous record, so editing, deleting or reordering
any line breaks the chain and :func:`verify` finds it. A small head file (``audit.head.json``,
the record count and last hash, rewritten atomically with every append) also catches a
deleted last record, which a chain alone cannot. Appends hold a file lock, so concurrent
processes never interleave or lose a record. Hand-written because no maintained library
offers a tamper-evident local log; it is ~100 lines.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench._io import read_json, write_json
from workbench.exceptions import WorkbenchError

GENESIS = "0" * 64


@dataclass(frozen=True)
class Verification:
    """Outcome of :func:`verify`."""

    ok: bool
    records: int
    problem: str | None = None


def log_path(store: Path) -> Path:
    """The audit log of a store folder."""
    return Path(store) / "audit.jsonl"


def head_path(store: Path) -> Path:
    """The head file: how many records the log holds and the last one's hash."""
    return Path(store) / "audit.head.json"


def actor() -> str:
    """Who is acting: ``WORKBENCH_USER`` or the OS user."""
    return os.environ.get("WORKBENCH_USER") or getpass.getuser()


def record(store: Path, action: str, subject: str, **details: Any) -> dict[str, Any]:
    """Append one event (``action`` on ``subject``) and return it."""
    from filelock import FileLock

    path = log_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        previous, count = _last_hash(path), _count(store)
        event = {
            "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
            "actor": actor(),
            "action": action,
            "subject": subject,
            "details": details,
            "prev": previous,
        }
        event["hash"] = _digest(event)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event, sort_keys=True, default=str) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        write_json(head_path(store), {"records": count + 1, "hash": event["hash"]})
    return event


def read(store: Path) -> list[dict[str, Any]]:
    """All events, oldest first."""
    path = log_path(store)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def verify(store: Path) -> Verification:
    """Check every record's hash, its link to the previous one, and the head file.

    The problem names the first broken record: its number (1 = oldest), time, action and subject.
    """
    previous = GENESIS
    path = log_path(store)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for number, line in enumerate(lines, start=1):
        try:
            event = json.loads(line)
        except ValueError:
            return Verification(False, len(lines), f"record {number}: not valid JSON (edited or truncated)")
        where = f"record {number} ({event.get('ts')} {event.get('action')} {event.get('subject')})"
        if _digest(event) != event.get("hash"):
            return Verification(False, len(lines), f"{where}: content does not match its hash (edited)")
        if event.get("prev") != previous:
            return Verification(False, len(lines), f"{where}: chain broken (a record before it was deleted or reordered)")
        previous = event["hash"]
    head = read_json(head_path(store)) if head_path(store).exists() else None
    if head and (head["records"] != len(lines) or head["hash"] != previous):
        return Verification(False, len(lines), f"record {len(lines) + 1}: missing (the head file says {head['records']} records "
                                               f"ending in {head['hash'][:12]}…; last record(s) deleted)")
    return Verification(True, len(lines))


def query(store: Path, *, since: str | None = None, action: str | None = None, model: str | None = None) -> list[dict[str, Any]]:
    """Events at or after ``since`` (ISO date or time, UTC), of one ``action``, about one model version or model.

    ``model`` matches the subject ``project/version`` exactly, or every version when given ``project``.
    """
    start = _parse_since(since) if since else None
    out = []
    for event in read(store):
        if start and datetime.fromisoformat(event["ts"]) < start:
            continue
        if action and event["action"] != action:
            continue
        if model and not (event["subject"] == model or event["subject"].startswith(model.rstrip("/") + "/")):
            continue
        out.append(event)
    return out


def access(store: Path, dataset: str) -> list[dict[str, Any]]:
    """Who read a dataset, when and why: ``data_access`` events whose path, file name or sha256 matches."""
    wanted = str(dataset)
    found = []
    for event in read(store):
        if event["action"] != "data_access":
            continue
        subject, sha = event["subject"], event["details"].get("sha256", "")
        if wanted in (subject, Path(subject).name, sha) or (len(wanted) >= 12 and sha.startswith(wanted)) or subject.endswith("/" + wanted):
            found.append(event)
    return found


def _parse_since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise WorkbenchError(f"--since {text!r} is not an ISO date or time. Fix: use e.g. 2026-05-01 or 2026-05-01T12:00.") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _digest(event: dict[str, Any]) -> str:
    body = {key: value for key, value in event.items() if key != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _count(store: Path) -> int:
    """Records in the log: from the head file, else by counting lines (logs written before it existed)."""
    head = head_path(store)
    if head.exists():
        return int(read_json(head)["records"])
    path = log_path(store)
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line) if path.exists() else 0


def _last_hash(path: Path) -> str:
    if not path.exists() or path.stat().st_size == 0:
        return GENESIS
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        last = fh.read().splitlines()[-1]
    return json.loads(last)["hash"]
