"""The audit trail under faults: oversized and hostile input, a torn tail (full disk, cut record), a head file that
disagrees with the log, a verb killed between moving an alias and recording it, and aliases moved outside the workbench.

Faults are real: a child process that runs out of file size mid-append, a child process SIGKILLed right after a real
MLflow alias move, an MlflowClient moving an alias behind the workbench's back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import workbench as _workbench
from tests.conftest import write_config
from workbench.exceptions import AuditError
from workbench.governance import audit

ROLES = {"dana": "admin", "bob": "approver", "carol": "viewer"}
REPAIR_FIX = "Fix: `workbench audit repair --reason \"...\"` (admin) removes the torn bytes and records the repair."


def workbench(*args: str, cwd: Path, user: str = "dana") -> subprocess.CompletedProcess[str]:
    os.environ["WORKBENCH_USER"] = user  # the real console script inherits it
    try:
        return _workbench(*args, cwd=cwd)
    finally:
        del os.environ["WORKBENCH_USER"]


@pytest.fixture
def governed(demo_project: Path) -> Path:
    write_config(demo_project, {"roles": ROLES})
    for i in range(3):
        audit.record(demo_project / ".workbench", "data_access", f"data/file-{i}.parquet", sha256="ab" * 32, rows=i, purpose="test")
    return demo_project


def _full_disk_append(store: Path, room: int) -> subprocess.CompletedProcess[str]:
    """Append a record in a child process allowed to write only ``room`` more bytes to any file (a full disk)."""
    code = ("import os, resource, signal, sys\nfrom workbench.governance import audit\n"
            "size = os.path.getsize(audit.log_path(sys.argv[1]))\nsignal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (size + int(sys.argv[2]), resource.RLIM_INFINITY))\n"
            "audit.record(sys.argv[1], 'score', 'churn-demo/1', batch='b' * 400)\n")
    return subprocess.run([sys.executable, "-c", code, str(store), str(room)], capture_output=True, text=True, timeout=120)


def test_a_viewers_70kb_dataset_is_refused_before_anything_is_audited(governed: Path) -> None:
    store, huge = governed / ".workbench", "d" * 70_000
    before = audit.log_path(store).read_bytes()
    proc = workbench("audit", "access", "--dataset", huge, cwd=governed, user="carol")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("error: --dataset is 70000 characters long (at most 4096). "
                           "Fix: pass a shorter value (a file name or a sha256 prefix of 12+ characters).\n")
    assert audit.log_path(store).read_bytes() == before  # not even the denial of a viewer's access request
    proc = workbench("promote", "1", "--reason", "fine\n{\"forged\": true}", cwd=governed, user="bob")
    assert proc.returncode == 2 and proc.stderr.startswith("error: --reason holds a control character (e.g. a newline): ")
    assert audit.log_path(store).read_bytes() == before
    denied = workbench("audit", "access", "--dataset", "file-1.parquet", cwd=governed, user="carol")
    assert denied.returncode == 3 and audit.read(store)[-1]["action"] == "denied"  # later actions still audit
    found = workbench("audit", "access", "--dataset", "file-1.parquet", "--json", cwd=governed)
    assert found.returncode == 0 and [json.loads(line)["details"]["rows"] for line in found.stdout.splitlines()] == [1]
    verify = workbench("audit", "verify", cwd=governed, user="carol")
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("audit log OK: 5 records, chain intact, aliases match")


def test_records_over_64_kib_and_hostile_strings_stay_one_bounded_record(tmp_path: Path) -> None:
    big = audit.record(tmp_path, "data_access", "s" * 70_000, purpose="p" * 5000, rows=list(range(20_000)))
    assert len(audit.log_path(tmp_path).read_bytes()) > 65536  # the old 64 KiB tail read could not find its start
    assert big["subject"].startswith("s" * audit.MAX_FIELD + "…[70000 characters, sha256 ")
    hostile = "x\n{\"hash\": \"forged\"}\r\x1b[2J\u2028é"
    audit.record(tmp_path, hostile, hostile, reason=hostile)
    after = audit.record(tmp_path, "register", "churn-demo/1", reason="later actions still work")
    lines = audit.log_path(tmp_path).read_bytes().split(b"\n")
    assert len(lines) == 4 and lines[-1] == b"" and all(line.isascii() for line in lines)
    assert [e["subject"] for e in audit.read(tmp_path)][1:] == [hostile, "churn-demo/1"] and after["prev"] == audit.read(tmp_path)[1]["hash"]
    assert audit.verify(tmp_path) == audit.Verification(True, 3)
    with pytest.raises(AuditError, match=r"^audit record data_access on 'x' would be \d+ bytes \(limit 1048576\); nothing recorded"):
        audit.record(tmp_path, "data_access", "x", rows=["r" * 4000] * 300)
    assert audit.verify(tmp_path) == audit.Verification(True, 3)


def test_a_full_disk_mid_append_is_a_torn_tail_that_an_admin_repairs(governed: Path) -> None:
    store = governed / ".workbench"
    complete = audit.log_path(store).read_bytes()
    child = _full_disk_append(store, 100)
    assert child.returncode == 1 and "File too large" in child.stderr
    torn = audit.log_path(store).read_bytes()[len(complete):]
    assert len(torn) == 100 and torn.startswith(b'{"action": "score"')
    assert audit.verify(store) == audit.Verification(False, 3, "torn tail after record 3: 100 bytes of an incomplete record (an append "
                                                              f"interrupted by a crash or a full disk). {REPAIR_FIX}", torn=True)
    with pytest.raises(AuditError) as refused:
        audit.record(store, "score", "churn-demo/1")
    assert str(refused.value) == (f"{audit.log_path(store)} ends in a torn record (100 bytes after the last complete record: an append "
                                  f"interrupted by a crash or a full disk); nothing more is recorded until it is repaired. {REPAIR_FIX}")
    assert [e["rows"] for e in (r["details"] for r in audit.read(store))] == [0, 1, 2]  # readers skip the torn bytes
    verify = workbench("audit", "verify", cwd=governed, user="carol")
    assert verify.returncode == 1 and verify.stderr.startswith("audit log BROKEN: torn tail after record 3: 100 bytes") and "edited" not in verify.stderr
    scored = workbench("audit", "access", "--dataset", "file-1.parquet", cwd=governed)  # an audited action refuses, cleanly
    assert scored.returncode == 1 and scored.stderr.startswith(f"error: {audit.log_path(store)} ends in a torn record") and "Traceback" not in scored.stderr
    viewer = workbench("audit", "repair", "--reason", "disk was full", cwd=governed, user="carol")
    assert viewer.returncode == 3 and "may not audit_repair" in viewer.stderr and "(not audited: the audit log takes no record" in viewer.stderr
    assert audit.log_path(store).read_bytes() == complete + torn
    fixed = workbench("audit", "repair", "--reason", "disk was full on 2026-05-02", cwd=governed)
    assert fixed.returncode == 0, fixed.stderr
    repair = audit.read(store)[-1]
    kept = Path(repair["details"]["torn_saved"])
    assert (repair["action"], repair["actor"], repair["subject"]) == ("repair", "dana", "audit.jsonl")
    assert {k: repair["details"][k] for k in ("reason", "torn_bytes", "records_kept", "records_lost")} == {
        "reason": "disk was full on 2026-05-02", "torn_bytes": 100, "records_kept": 3, "records_lost": 0}
    assert kept.read_bytes() == torn and fixed.stdout.startswith(f"audit log repaired: removed 100 torn bytes after record 3 (kept in {kept})")
    assert audit.verify(store) == audit.Verification(True, 4)
    assert workbench("audit", "verify", cwd=governed, user="carol").returncode == 0
    again = workbench("audit", "repair", "--reason", "once more", cwd=governed, user="carol")
    assert again.returncode == 3 and audit.read(store)[-1]["details"]["attempted"] == "audit_repair"  # now the denial is audited
    nothing = workbench("audit", "repair", "--reason", "once more", cwd=governed)
    assert nothing.returncode == 1 and "has no torn tail (5 records, chain intact). Fix: nothing to repair." in nothing.stderr


def test_a_record_cut_mid_line_is_torn_and_the_repair_counts_it_lost(tmp_path: Path) -> None:
    for i in range(3):
        audit.record(tmp_path, "data_access", f"file-{i}")
    data = audit.log_path(tmp_path).read_bytes()
    audit.log_path(tmp_path).write_bytes(data[:-40])
    result = audit.verify(tmp_path)
    assert result.torn and result.problem.startswith("torn tail after record 2: ")
    event = audit.repair(tmp_path, reason="power cut")
    assert (event["details"]["records_kept"], event["details"]["records_lost"]) == (2, 1)
    assert audit.verify(tmp_path) == audit.Verification(True, 3) and audit.record(tmp_path, "x", "y")["prev"] == event["hash"]


def test_repair_refuses_what_is_tampering_not_a_crash(tmp_path: Path) -> None:
    for i in range(3):
        audit.record(tmp_path, "data_access", f"file-{i}")
    lines = audit.log_path(tmp_path).read_text().splitlines(keepends=True)
    audit.log_path(tmp_path).write_text(lines[0] + lines[1].replace("file-1", "file-9") + lines[2] + '{"torn')
    with pytest.raises(AuditError, match=r"content does not match its hash \(edited\); `audit repair` only removes a torn tail"):
        audit.repair(tmp_path, reason="hide it")


def test_a_head_file_that_disagrees_with_the_log_is_detected_and_stops_appends(tmp_path: Path) -> None:
    for i in range(3):
        audit.record(tmp_path, "data_access", f"file-{i}")
    head = json.loads(audit.head_path(tmp_path).read_text())
    audit.head_path(tmp_path).write_text(json.dumps(head | {"hash": "f" * 64}))
    problem = audit.verify(tmp_path).problem
    assert problem == (f"audit.head.json does not match the log: it says record 3 has hash ffffffffffff…, the log's is {head['hash'][:12]}… "
                       "(head file or log edited)")
    with pytest.raises(AuditError, match=r"audit.jsonl does not match audit.head.json \(records cut off or edited\); nothing recorded"):
        audit.record(tmp_path, "x", "y")
    audit.head_path(tmp_path).write_text(json.dumps(head))
    assert audit.verify(tmp_path).ok


def test_a_crash_between_append_and_head_write_rolls_forward(tmp_path: Path) -> None:
    audit.record(tmp_path, "data_access", "file-0")
    stale = audit.head_path(tmp_path).read_text()
    second = audit.record(tmp_path, "data_access", "file-1")
    audit.head_path(tmp_path).write_text(stale)  # the head write of the second append never happened
    assert audit.verify(tmp_path) == audit.Verification(True, 2)
    third = audit.record(tmp_path, "data_access", "file-2")
    assert third["prev"] == second["hash"] and json.loads(audit.head_path(tmp_path).read_text())["records"] == 3
    assert audit.verify(tmp_path) == audit.Verification(True, 3)


def test_a_head_file_without_sizes_is_checked_once_and_upgraded(tmp_path: Path) -> None:
    audit.record(tmp_path, "data_access", "file-0")
    last = audit.record(tmp_path, "data_access", "file-1")
    audit.head_path(tmp_path).write_text(json.dumps({"records": 2, "hash": last["hash"]}))
    assert audit.record(tmp_path, "data_access", "file-2")["prev"] == last["hash"]
    assert set(json.loads(audit.head_path(tmp_path).read_text())) == {"records", "hash", "bytes", "offset"} and audit.verify(tmp_path).ok


KILL_AFTER_FIRST_MOVE = """
import os, signal, sys
from workbench import registry
from workbench.config import load_config
from workbench.governance import actions
real = registry.set_alias
def move_then_die(*args, **kwargs):
    real(*args, **kwargs)  # the real MLflow alias move happens ...
    os.kill(os.getpid(), signal.SIGKILL)  # ... and the process dies before the commit record
registry.set_alias = move_then_die
actions.promote(load_config(sys.argv[1]), sys.argv[2], reason="killed mid-way")
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, demo_files: Path) -> Path:
    """A project trained twice: v1 champion (v2 its baseline), v3 challenger."""
    import shutil

    project = tmp_path_factory.mktemp("faults")
    shutil.copytree(demo_files, project / "data" / "demo")
    write_config(project)
    for run_id in ("first", "second"):
        run = _workbench("run", "--run-id", run_id, cwd=project, timeout=1200)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return project


def _aliases(project: Path) -> dict[str, str | None]:
    from workbench.config import load_config
    from workbench.governance import consistency

    return consistency.actual(load_config(project / "workbench.yaml"))


@pytest.mark.slow
def test_a_verb_killed_between_alias_move_and_commit_is_reported_and_blocks_until_reconciled(trained: Path) -> None:
    store = trained / ".workbench"
    assert _aliases(trained) == {"champion": "1", "challenger": "3", "baseline": "2"}
    assert workbench("audit", "verify", cwd=trained).returncode == 0
    child = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_MOVE, str(trained / "workbench.yaml"), "3"], capture_output=True,
                           text=True, timeout=600)
    assert child.returncode == -9, child.stderr[-2000:]
    assert _aliases(trained)["champion"] == "3"  # the champion moved ...
    intent = audit.read(store)[-1]  # ... and the log's last word is the intent
    assert (intent["action"], intent["details"]["for"], intent["details"]["version"]) == ("intent", "promote", "3")
    assert [(m["alias"], m["from"], m["to"]) for m in intent["details"]["planned_moves"]][:2] == [("champion", "1", "3"), ("challenger", "3", None)]
    verify = workbench("audit", "verify", cwd=trained)
    assert verify.returncode == 1 and verify.stdout == ""
    lines = verify.stderr.splitlines()
    assert lines[0].startswith(f"aliases DIVERGE: intent {intent['hash'][:12]} ({intent['ts'][:19]} promote v3 by ")
    assert "champion 1 -> 3, challenger 3 -> -" in lines[0] and "has no commit record" in lines[0]
    assert lines[1].startswith("aliases DIVERGE: alias 'champion' of churn-demo is v3 in MLflow but the audit log says v1 ") and len(lines) == 2
    on = workbench("aliases", "--on", "2999-01-01", cwd=trained)
    assert on.returncode == 1 and on.stdout == "champion on 2999-01-01: v1\n" and on.stderr.startswith("UNCERTAIN: intent ")
    blocked = workbench("promote", "1", "--reason", "back to v1", cwd=trained)
    assert blocked.returncode == 1 and blocked.stderr.startswith("error: not starting promote: intent ")
    assert _aliases(trained)["champion"] == "3"
    fixed = workbench("audit", "reconcile", "--reason", "promote of v3 was killed; keep v3", cwd=trained)
    assert fixed.returncode == 0 and fixed.stdout.startswith("reconciled: recorded alias moves [champion 1 -> 3], closed 1 uncommitted intent(s)")
    assert workbench("audit", "verify", cwd=trained).returncode == 0
    assert workbench("aliases", "--on", "2999-01-01", cwd=trained).stdout == "champion on 2999-01-01: v3\n"


@pytest.mark.slow
def test_aliases_moved_outside_the_workbench_are_reported_and_governed_moves_stay_consistent(trained: Path) -> None:
    from mlflow import MlflowClient

    store = trained / ".workbench"
    if workbench("audit", "verify", cwd=trained).returncode:  # alone, without the test above
        assert workbench("audit", "reconcile", "--reason", "start clean", cwd=trained).returncode == 0
    before = _aliases(trained)
    elsewhere = next(v for v in ("1", "2", "3", "4") if v != before["baseline"])
    uri = f"sqlite:///{store / 'mlflow.db'}"  # both URIs: an earlier test in this process may have set another registry URI
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias("churn-demo", "baseline", elsewhere)
    verify = workbench("audit", "verify", cwd=trained)
    assert verify.returncode == 1
    assert verify.stderr.splitlines() == [
        f"aliases DIVERGE: alias 'baseline' of churn-demo is v{elsewhere} in MLflow but the audit log says v{before['baseline']} "
        "(moved outside the workbench, or a move without its commit record). Fix: `workbench audit reconcile --reason \"...\"` (admin) "
        "records the aliases as MLflow holds them; `workbench promote` moves the champion back."]
    assert workbench("audit", "reconcile", "--reason", "baseline set by hand in the MLflow UI", cwd=trained).returncode == 0
    target = "1" if before["champion"] != "1" else "3"
    promoted = workbench("promote", target, "--reason", "governed move", cwd=trained)
    assert promoted.returncode == 0, promoted.stderr
    intent, approve = audit.read(store)[-2:]
    assert (intent["action"], approve["action"], approve["details"]["intent"]) == ("intent", "promote", intent["hash"])
    assert approve["details"]["alias_moves"][0] == {"alias": "champion", "from": before["champion"], "to": target}
    verify = workbench("audit", "verify", cwd=trained)
    assert verify.returncode == 0 and "aliases match" in verify.stdout
