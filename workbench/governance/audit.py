"""The audit trail: an append-only, hash-chained JSON-lines log in the store.

Each record carries the sha256 of the previous record, so editing, deleting or reordering
any line breaks the chain and :func:`verify` finds it. The head file (``audit.head.json``:
record count, last hash, the log's size and where its last record starts), rewritten
atomically after every append, is where a new record takes its ``prev`` from; before each
append the head is checked against the log (size and last record), so a deleted last record,
a head that disagrees with the log, or a torn tail stops the append with :class:`AuditError`
instead of chaining onto garbage. Appends hold a file lock, so concurrent processes never
interleave or lose a record.

Every string in a record is bounded (:data:`MAX_FIELD` characters; longer ones keep their
start and their sha256) and the line is ASCII JSON (``ensure_ascii``), so no input can split a
record or make one too big to read back; a record over :data:`MAX_RECORD` bytes is refused.

A torn tail — bytes after the last newline, left by a crash or a full disk in the middle of
an append — is a detected state, not a tamper alarm: :func:`verify` reports it (``torn=True``),
:func:`record` refuses to append after it, and :func:`repair` (``workbench audit repair``,
admin only) moves the torn bytes to ``audit.torn/``, truncates them and appends a ``repair``
record. Hand-written because no maintained library offers a tamper-evident local log.
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
from workbench.exceptions import AuditError, WorkbenchError

GENESIS = "0" * 64
MAX_FIELD = 4096           # characters of one string in a record (subject, actor, a detail)
MAX_RECORD = 1 << 20       # bytes of one record line
REPAIR_FIX = "Fix: `workbench audit repair --reason \"...\"` (admin) removes the torn bytes and records the repair."


@dataclass(frozen=True)
class Verification:
    """Outcome of :func:`verify`; ``torn`` when the only problem is a torn tail (see :func:`repair`)."""

    ok: bool
    records: int
    problem: str | None = None
    torn: bool = False


def log_path(store: Path) -> Path:
    """The audit log of a store folder."""
    return Path(store) / "audit.jsonl"


def head_path(store: Path) -> Path:
    """The head file: how many records the log holds, the last one's hash and where it sits."""
    return Path(store) / "audit.head.json"


def actor() -> str:
    """Who is acting: ``WORKBENCH_USER`` or the OS user."""
    return os.environ.get("WORKBENCH_USER") or getpass.getuser()


def record(store: Path, action: str, subject: str, **details: Any) -> dict[str, Any]:
    """Append one event (``action`` on ``subject``) and return it.

    Raises
    ------
    AuditError
        The log ends in a torn record, disagrees with its head file, or the record is over
        :data:`MAX_RECORD` bytes; nothing is written.
    """
    with _lock(store):
        return _append(store, _head(store), action, subject, details)


def read(store: Path) -> list[dict[str, Any]]:
    """All events, oldest first (a torn tail is not a record and is left out; :func:`verify` reports it)."""
    path = log_path(store)
    lines, _ = _split(path.read_bytes() if path.exists() else b"")
    events = []
    for number, line in enumerate(lines, start=1):
        event = _parse(line)
        if event is None:
            raise AuditError(f"{path}: record {number} is not valid JSON (edited or truncated). "
                             "Fix: run `workbench audit verify`; restore the log from a backup.")
        events.append(event)
    return events


def verify(store: Path) -> Verification:
    """Check every record's hash, its link to the previous one, the tail and the head file.

    The problem names the first broken record: its number (1 = oldest), time, action and subject.
    """
    path = log_path(store)
    data = path.read_bytes() if path.exists() else b""
    lines, torn = _split(data)
    hashes: list[str] = []
    previous = GENESIS
    for number, line in enumerate(lines, start=1):
        event = _parse(line)
        if event is None:
            return Verification(False, len(lines), f"record {number}: not valid JSON (edited or truncated)")
        where = f"record {number} ({event.get('ts')} {event.get('action')} {event.get('subject')})"
        if _digest(event) != event.get("hash"):
            return Verification(False, len(lines), f"{where}: content does not match its hash (edited)")
        if event.get("prev") != previous:
            return Verification(False, len(lines), f"{where}: chain broken (a record before it was deleted or reordered)")
        previous = event["hash"]
        hashes.append(previous)
    if torn:
        return Verification(False, len(lines), f"torn tail after record {len(lines)}: {len(torn)} bytes of an incomplete record "
                                               f"(an append interrupted by a crash or a full disk). {REPAIR_FIX}", torn=True)
    problem = _head_problem(store, hashes, len(data))
    return Verification(problem is None, len(lines), problem)


def repair(store: Path, *, reason: str) -> dict[str, Any]:
    """Remove a torn tail and append a ``repair`` record (who, why, what was removed); return that record.

    The torn bytes are kept in ``<store>/audit.torn/`` for inspection. Only a torn tail is
    repaired: an edited, reordered or deleted record is a tamper alarm, not a crash.

    Raises
    ------
    AuditError
        The log verifies (nothing to repair) or is broken in a way a repair must not hide.
    """
    path = log_path(store)
    with _lock(store):
        result = verify(store)
        if result.ok:
            raise AuditError(f"{path} has no torn tail ({result.records} records, chain intact). Fix: nothing to repair.")
        if not result.torn:
            raise AuditError(f"{path}: {result.problem}; `audit repair` only removes a torn tail. "
                             "Fix: restore the log from a backup, and find out who changed it.")
        data = path.read_bytes()
        lines, torn = _split(data)
        head = _read_head(store)
        counted = int(head["records"]) if head else len(lines)
        if head and 0 < counted <= len(lines) and json.loads(lines[counted - 1])["hash"] != head["hash"]:
            raise AuditError(f"{path}: {head_path(store).name} does not match record {counted}; `audit repair` only removes a torn tail. "
                             "Fix: restore the log and its head file from a backup.")
        digest = hashlib.sha256(torn).hexdigest()
        kept = Path(store) / "audit.torn" / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-{digest[:12]}.bin"
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(torn)
        with open(path, "r+b") as fh:
            fh.truncate(len(data) - len(torn))
            os.fsync(fh.fileno())
        state = _state_of(data[:len(data) - len(torn)])
        _write_head(store, state)
        return _append(store, state, "repair", path.name,
                       {"reason": reason, "problem": result.problem, "torn_bytes": len(torn), "torn_sha256": digest,
                        "torn_saved": str(kept), "torn_start": torn[:200].decode("utf-8", "backslashreplace"),
                        "records_kept": len(lines), "records_lost": max(0, counted - len(lines))})


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


def _lock(store: Path):  # noqa: ANN202
    from filelock import FileLock

    path = log_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path) + ".lock")


def _append(store: Path, head: dict[str, Any], action: str, subject: str, details: dict[str, Any]) -> dict[str, Any]:
    """Write one record after ``head`` (the checked state of the log) and move the head file; the caller holds the lock."""
    event = {"ts": datetime.now(UTC).isoformat(timespec="microseconds"), "actor": _bound(actor()), "action": _bound(action),
             "subject": _bound(subject), "details": _bound(details), "prev": head["hash"]}
    event["hash"] = _digest(event)
    line = (json.dumps(event, sort_keys=True, default=str) + "\n").encode("ascii")
    if len(line) > MAX_RECORD:
        raise AuditError(f"audit record {action} on {str(subject)[:80]!r} would be {len(line)} bytes (limit {MAX_RECORD}); nothing recorded. "
                         "Fix: record a summary (counts, hashes) instead of the whole value.")
    with open(log_path(store), "ab") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    _write_head(store, {"records": head["records"] + 1, "hash": event["hash"], "bytes": head["bytes"] + len(line), "offset": head["bytes"]})
    return event


def _head(store: Path) -> dict[str, Any]:
    """The log's checked state to append after: the head file, confirmed against the log's size and last record.

    Complete, chained records past the head (a crash between an append and its head write) roll it forward.
    """
    path, head = log_path(store), _read_head(store)
    if head is None or "bytes" not in head:  # a log from before the head kept sizes: check it all, once
        result = verify(store)
        if not result.ok:
            raise AuditError(f"{path}: {result.problem}; nothing recorded." + ("" if result.torn else " Fix: run `workbench audit verify`."))
        state = _state_of(path.read_bytes() if path.exists() else b"")
        _write_head(store, state)
        return state
    size = path.stat().st_size if path.exists() else 0
    if size < head["bytes"] or (head["records"] and _record_at(path, head["offset"], head["bytes"]).get("hash") != head["hash"]):
        raise AuditError(f"{path} does not match {head_path(store).name} (records cut off or edited); nothing recorded. "
                         "Fix: run `workbench audit verify`; restore the log from a backup.")
    if size == head["bytes"]:
        return head
    with open(path, "rb") as fh:
        fh.seek(head["bytes"])
        extra = fh.read()
    cut = extra.rfind(b"\n") + 1
    if cut < len(extra):
        raise AuditError(f"{path} ends in a torn record ({len(extra) - cut} bytes after the last complete record: an append "
                         f"interrupted by a crash or a full disk); nothing more is recorded until it is repaired. {REPAIR_FIX}")
    state, position = dict(head), head["bytes"]
    for line in extra[:cut].split(b"\n")[:-1]:
        start, position = position, position + len(line) + 1
        if not line.strip():
            continue
        event = _parse(line)
        if event is None or _digest(event) != event.get("hash") or event.get("prev") != state["hash"]:
            raise AuditError(f"{path}: records after the head file's record {head['records']} do not chain to it; nothing recorded. "
                             "Fix: run `workbench audit verify`; restore the log from a backup.")
        state = {"records": state["records"] + 1, "hash": event["hash"], "bytes": position, "offset": start}
    state["bytes"] = position
    _write_head(store, state)
    return state


def _head_problem(store: Path, hashes: list[str], size: int) -> str | None:
    """What the head file says that the (chain-checked) log contradicts, or None."""
    try:
        head = _read_head(store)
    except AuditError as exc:
        return str(exc)
    if head is None:
        return None
    counted = int(head["records"])
    if counted > len(hashes):
        return (f"record {len(hashes) + 1}: missing (the head file says {counted} records "
                f"ending in {head['hash'][:12]}…; last record(s) deleted)")
    if head["hash"] != (hashes[counted - 1] if counted else GENESIS):
        return (f"{head_path(store).name} does not match the log: it says record {counted} has hash {head['hash'][:12]}…, "
                f"the log's is {(hashes[counted - 1] if counted else GENESIS)[:12]}… (head file or log edited)")
    if counted == len(hashes) and "bytes" in head and head["bytes"] != size:
        return f"{head_path(store).name} says the log has {head['bytes']} bytes, it has {size} (log edited)"
    return None  # complete records past the head: a crash between an append and its head write; the next append rolls it forward


def _read_head(store: Path) -> dict[str, Any] | None:
    path = head_path(store)
    if not path.exists():
        return None
    try:
        head = read_json(path)
        int(head["records"]), str(head["hash"])  # noqa: B018 - shape check
    except (ValueError, KeyError, TypeError):
        raise AuditError(f"{path} is not a valid head file (edited or truncated). Fix: restore it from a backup, or delete it "
                         "to rebuild it from the log after `workbench audit verify` says the chain is intact.") from None
    return head


def _write_head(store: Path, state: dict[str, Any]) -> None:
    write_json(head_path(store), {"records": state["records"], "hash": state["hash"], "bytes": state["bytes"], "offset": state["offset"]})


def _state_of(data: bytes) -> dict[str, Any]:
    """The head state of a log whose complete records are ``data`` (it ends at a newline, or is empty)."""
    lines = _split(data)[0]
    if not lines:
        return {"records": 0, "hash": GENESIS, "bytes": len(data), "offset": 0}
    start = data.rstrip().rfind(b"\n") + 1
    return {"records": len(lines), "hash": json.loads(lines[-1])["hash"], "bytes": len(data), "offset": start}


def _record_at(path: Path, start: int, end: int) -> dict[str, Any]:
    with open(path, "rb") as fh:
        fh.seek(start)
        raw = fh.read(end - start)
    return (_parse(raw[:-1]) if raw.endswith(b"\n") else None) or {}


def _split(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines (newline-terminated, blank ones skipped) and the torn tail after the last newline."""
    cut = data.rfind(b"\n") + 1
    return [line for line in data[:cut].split(b"\n") if line.strip()], data[cut:]


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _bound(value: Any) -> Any:
    """``value`` with every string cut to :data:`MAX_FIELD` characters (the cut keeps the full string's sha256)."""
    if isinstance(value, dict):
        return {_bound(str(k)): _bound(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_bound(v) for v in value]
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and len(value) > MAX_FIELD:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        return value[:MAX_FIELD] + f"…[{len(value)} characters, sha256 {digest}]"
    return value
