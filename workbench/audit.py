"""The audit trail: an append-only, hash-chained JSON-lines log in the store.

Each record carries the sha256 of the previous record, so editing, deleting or reordering
any line breaks the chain and :func:`verify` finds it. Appends hold a file lock, so
concurrent processes never interleave or lose a record. Hand-written because no
maintained library offers a tamper-evident local log; it is ~60 lines.
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


def actor() -> str:
    """Who is acting: ``WORKBENCH_USER`` or the OS user."""
    return os.environ.get("WORKBENCH_USER") or getpass.getuser()


def record(store: Path, action: str, subject: str, **details: Any) -> dict[str, Any]:
    """Append one event (``action`` on ``subject``) and return it."""
    from filelock import FileLock

    path = log_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        previous = _last_hash(path)
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
    return event


def read(store: Path) -> list[dict[str, Any]]:
    """All events, oldest first."""
    path = log_path(store)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def verify(store: Path) -> Verification:
    """Check every record's hash and its link to the previous one."""
    previous = GENESIS
    events = read(store)
    for number, event in enumerate(events, start=1):
        if event.get("prev") != previous:
            return Verification(False, len(events), f"record {number}: chain broken (deleted or reordered record)")
        if _digest(event) != event.get("hash"):
            return Verification(False, len(events), f"record {number}: content does not match its hash (edited)")
        previous = event["hash"]
    return Verification(True, len(events))


def _digest(event: dict[str, Any]) -> str:
    body = {key: value for key, value in event.items() if key != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _last_hash(path: Path) -> str:
    if not path.exists() or path.stat().st_size == 0:
        return GENESIS
    with open(path, "rb") as fh:
        fh.seek(max(0, path.stat().st_size - 65536))
        last = fh.read().splitlines()[-1]
    return json.loads(last)["hash"]
