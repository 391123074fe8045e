"""Audit trail: hash-chained, tamper-evident, safe under concurrent appends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workbench import audit


def _log(store: Path, n: int = 4) -> list[str]:
    for i in range(n):
        audit.record(store, "data_access", f"file-{i}", sha256="ab" * 32, rows=i)
    return audit.log_path(store).read_text().splitlines()


def test_clean_log_verifies(tmp_path: Path) -> None:
    _log(tmp_path)
    result = audit.verify(tmp_path)
    assert result.ok and result.records == 4 and result.problem is None
    assert audit.read(tmp_path)[2]["subject"] == "file-2"


def test_edit_is_detected(tmp_path: Path) -> None:
    lines = _log(tmp_path)
    event = json.loads(lines[1])
    event["details"]["rows"] = 999
    lines[1] = json.dumps(event, sort_keys=True)
    audit.log_path(tmp_path).write_text("\n".join(lines) + "\n")
    assert audit.verify(tmp_path).problem == "record 2: content does not match its hash (edited)"


def test_delete_is_detected(tmp_path: Path) -> None:
    lines = _log(tmp_path)
    del lines[1]
    audit.log_path(tmp_path).write_text("\n".join(lines) + "\n")
    assert audit.verify(tmp_path).problem == "record 2: chain broken (deleted or reordered record)"


def test_reorder_is_detected(tmp_path: Path) -> None:
    lines = _log(tmp_path)
    lines[1], lines[2] = lines[2], lines[1]
    audit.log_path(tmp_path).write_text("\n".join(lines) + "\n")
    assert not audit.verify(tmp_path).ok


def test_two_processes_appending_lose_nothing(tmp_path: Path) -> None:
    code = ("import sys; from workbench import audit\n"
            "for i in range(100): audit.record(sys.argv[1], 'data_access', f'{sys.argv[2]}-{i}')")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), tag]) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    result = audit.verify(tmp_path)
    assert result.ok and result.records == 200
    subjects = {e["subject"] for e in audit.read(tmp_path)}
    assert subjects == {f"{t}-{i}" for t in "ab" for i in range(100)}
