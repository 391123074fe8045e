"""Audit trail: hash-chained, tamper-evident (edit, delete, reorder, truncate), safe under concurrent appends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import workbench
from workbench.exceptions import WorkbenchError
from workbench.governance import audit


def _log(store: Path, n: int = 4) -> list[str]:
    for i in range(n):
        audit.record(store, "data_access", f"file-{i}", sha256="ab" * 32, rows=i, purpose="test")
    return audit.log_path(store).read_text().splitlines()


def _where(line: str, number: int) -> str:
    e = json.loads(line)
    return f"record {number} ({e['ts']} {e['action']} {e['subject']})"


def _write(store: Path, lines: list[str]) -> None:
    audit.log_path(store).write_text("\n".join(lines) + "\n")


def test_clean_log_verifies(tmp_path: Path) -> None:
    _log(tmp_path)
    result = audit.verify(tmp_path)
    assert result.ok and result.records == 4 and result.problem is None
    assert audit.read(tmp_path)[2]["subject"] == "file-2"
    size, last = audit.log_path(tmp_path).stat().st_size, audit.log_path(tmp_path).read_bytes().splitlines(keepends=True)[-1]
    assert json.loads(audit.head_path(tmp_path).read_text()) == {"records": 4, "hash": audit.read(tmp_path)[-1]["hash"],
                                                                  "bytes": size, "offset": size - len(last)}


def test_edit_is_detected(tmp_path: Path) -> None:
    lines = _log(tmp_path)
    event = json.loads(lines[1])
    event["details"]["rows"] = 999
    lines[1] = json.dumps(event, sort_keys=True)
    _write(tmp_path, lines)
    assert audit.verify(tmp_path).problem == f"{_where(lines[1], 2)}: content does not match its hash (edited)"


def test_edit_with_a_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    lines = _log(tmp_path)
    event = json.loads(lines[1])
    event["details"]["purpose"] = "innocent"
    event["hash"] = audit._digest(event)
    lines[1] = json.dumps(event, sort_keys=True)
    _write(tmp_path, lines)
    assert audit.verify(tmp_path).problem == f"{_where(lines[2], 3)}: chain broken (a record before it was deleted or reordered)"


def test_delete_is_detected(tmp_path: Path) -> None:
    lines = _log(tmp_path)
    del lines[1]
    _write(tmp_path, lines)
    assert audit.verify(tmp_path).problem == f"{_where(lines[1], 2)}: chain broken (a record before it was deleted or reordered)"


def test_deleting_the_last_record_is_detected_by_the_head(tmp_path: Path) -> None:
    lines = _log(tmp_path)
    last = json.loads(lines[-1])["hash"]
    _write(tmp_path, lines[:-1])
    assert audit.verify(tmp_path).problem == (f"record 4: missing (the head file says 4 records ending in {last[:12]}…; "
                                              "last record(s) deleted)")


def test_reorder_is_detected(tmp_path: Path) -> None:
    lines = _log(tmp_path)
    lines[1], lines[2] = lines[2], lines[1]
    _write(tmp_path, lines)
    assert audit.verify(tmp_path).problem == f"{_where(lines[1], 2)}: chain broken (a record before it was deleted or reordered)"


def test_a_log_without_head_file_still_verifies_and_gets_one(tmp_path: Path) -> None:
    _log(tmp_path, 2)
    audit.head_path(tmp_path).unlink()
    assert audit.verify(tmp_path).ok
    audit.record(tmp_path, "register", "m/1", semver="1.0.0", reason="first")
    assert json.loads(audit.head_path(tmp_path).read_text())["records"] == 3 and audit.verify(tmp_path).ok


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_cli_verify_names_the_first_broken_record(demo_project: Path, tamper: str) -> None:
    store = demo_project / ".workbench"
    lines = _log(store, 5)
    assert workbench("audit", "verify", cwd=demo_project).returncode == 0
    if tamper == "edit":
        lines[2] = lines[2].replace('"rows": 2', '"rows": 3')
    elif tamper == "delete":
        del lines[2]
    else:
        lines[2], lines[3] = lines[3], lines[2]
    _write(store, lines)
    proc = workbench("audit", "verify", cwd=demo_project)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"audit log BROKEN: {_where(lines[2], 3)}: ")


def test_log_filters_and_access_report(demo_project: Path) -> None:
    store = demo_project / ".workbench"
    audit.record(store, "data_access", str(demo_project / "data" / "x.parquet"), sha256="cd" * 32, rows=10, purpose="score")
    audit.record(store, "approve", "churn-demo/3", semver="1.1.0", reason="better on May")
    audit.record(store, "approve", "other/1", semver="1.0.0", reason="other model")
    assert [e["subject"] for e in audit.query(store, action="approve")] == ["churn-demo/3", "other/1"]
    assert [e["subject"] for e in audit.query(store, model="churn-demo")] == ["churn-demo/3"]
    assert audit.query(store, since="2999-01-01") == []
    with pytest.raises(WorkbenchError, match="--since 'yesterday' is not an ISO date or time"):
        audit.query(store, since="yesterday")
    proc = workbench("audit", "log", "--action", "approve", "--model", "churn-demo/3", cwd=demo_project)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1
    assert "approve" in proc.stdout and "churn-demo/3  semver=1.1.0 reason=better on May" in proc.stdout
    for key in ("x.parquet", "cd" * 6):
        proc = workbench("audit", "access", "--dataset", key, "--json", cwd=demo_project)
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        assert proc.returncode == 0 and [r["details"]["purpose"] for r in rows] == ["score"], key
    assert audit.read(store)[-1]["action"] == "access_report" and audit.verify(store).ok  # answering is itself audited


def test_two_processes_appending_lose_nothing(tmp_path: Path) -> None:
    code = ("import sys; from workbench.governance import audit\n"
            "for i in range(100): audit.record(sys.argv[1], 'data_access', f'{sys.argv[2]}-{i}')")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path), tag]) for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    result = audit.verify(tmp_path)
    assert result.ok and result.records == 200
    subjects = [e["subject"] for e in audit.read(tmp_path)]
    assert set(subjects) == {f"{t}-{i}" for t in "ab" for i in range(100)} and len(subjects) == 200
    for tag in "ab":  # each writer's records keep their own order
        mine = [s for s in subjects if s.startswith(tag + "-")]
        assert mine == [f"{tag}-{i}" for i in range(100)]
