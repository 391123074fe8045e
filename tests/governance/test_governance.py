"""Governance end to end: roles, the retrain -> approve -> rollback story, canary evidence, alias history, concurrency.

One governed project (module-scoped) is built the way a team would: two people's ``workbench run``s
at the same time against one store, monitoring of the concept-drift batch (2026-05), an event
retrain, a canary batch (2026-06), refused attempts, an approval and a rollback — all through the
real console script with ``WORKBENCH_USER`` set per call. The tests then read what it left behind.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import BIN, demo_config
from workbench import registry
from workbench.config import ROLES, RetrainConfig, load_config
from workbench.exceptions import WorkbenchError
from workbench.governance import alias_history, approvals, audit, canary, config_log, roles
from workbench.registry import changelog
from workbench.runner import triggers

ROLE_OF = {"carol": "viewer", "alice": "data_scientist", "bob": "approver", "dana": "admin"}


def _wb(project: Path, *args: str, user: str = "alice", config: str = "workbench.yaml", timeout: int = 1200) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_USER": user}
    return subprocess.run([str(BIN / "workbench"), *args, "--config", config], cwd=project, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _latest_monitor(project: Path) -> Path:
    return max(project.glob("reports/*-monitor-*"), key=lambda p: json.loads((p / "manifest.json").read_text())["started"])


def _monitored(project: Path, batch: str) -> Path:
    """Monitor one batch; the phases governance needs (score, drift) must succeed whatever later phases do."""
    proc = _wb(project, "monitor", "--batch", f"data/demo/batches/{batch}")
    folder = _latest_monitor(project)
    phases = json.loads((folder / "manifest.json").read_text())["phases"]
    assert phases["score"]["status"] == phases["drift"]["status"] == "succeeded", proc.stdout[-3000:] + proc.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict:
    project = tmp_path_factory.mktemp("governed")
    raw = demo_config()
    raw |= {"roles": ROLE_OF, "canary": {"share": 0.25}}
    (project / "workbench.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    _ok(_wb(project, "demo"))  # the data once, so the two runs below race only on the store
    env = {**os.environ, "WORKBENCH_USER": "alice"}
    procs = [subprocess.Popen([str(BIN / "workbench"), "run", "--run-id", run_id], cwd=project, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for run_id in ("first", "second")]
    runs = [(p.wait(timeout=1200), *p.communicate()) for p in procs]
    out = {"project": project, "runs": runs, "config": load_config(project / "workbench.yaml")}
    out["drift_run"] = _monitored(project, "2026-05.parquet")
    out["retrain"] = _wb(project, "retrain", "--trigger", "event")
    out["canary_run"] = _monitored(project, "2026-06.parquet")
    out["new"] = registry.alias_version(out["config"], "challenger")
    new = out["new"].tags["workbench.semver"]
    out["denied"] = {(user, verb): _wb(project, *args, user=user) for user, verb, args in (
        ("carol", "approve", ("approve", new)), ("alice", "promote", ("promote", new, "--reason", "looks good")),
        ("alice", "approve", ("approve", new)), ("mallory", "view", ("aliases",)))}
    out["approvals_before"] = _wb(project, "approvals", user="carol")
    out["approve"] = _wb(project, "approve", new, "--reason", "better on the May concept, canary agrees", user="bob")
    out["after_approve"] = {a: registry.alias_version(out["config"], a) for a in ("champion", "challenger", "baseline")}
    out["after_approve"] = {a: None if mv is None else str(mv.version) for a, mv in out["after_approve"].items()}
    out["rollback"] = _wb(project, "rollback", "--reason", "sales reports wrong retention offers", user="bob")
    return out


@pytest.mark.slow
def test_two_concurrent_runs_give_two_complete_versions(story) -> None:
    project, config = story["project"], story["config"]
    for code, stdout, stderr in story["runs"]:
        assert code == 0, stdout[-2000:] + stderr[-2000:]
    registered = [json.loads((project / "reports" / r / "register" / "result.json").read_text()) for r in ("first", "second")]
    assert len({r["version"] for r in registered}) == 2 and len({r["semver"] for r in registered}) == 2
    assert all(r["aliases"] == ["challenger"] for r in registered) and sorted(r["pending"] or "" for r in registered)[-1] == "champion"
    finals = [json.loads((project / "reports" / r / "model_card" / "result.json").read_text())["aliases"] for r in ("first", "second")]
    assert sorted(a for f in finals for a in f) == ["challenger", "champion"]  # the first champion only once carded
    for r, run_id in zip(registered, ("first", "second"), strict=True):
        mv = registry.resolve(config, r["version"])
        assert mv.tags["workbench.run_id"] == run_id and len(mv.tags["workbench.model_sha256"]) == 64
        assert registry.load(config, r["version"]).model is not None  # artifact present and hash-checked
    with sqlite3.connect(project / ".workbench" / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    entries = [e for e in changelog.read(config) if e["run_id"] in ("first", "second") and e.get("event") == "register"]
    assert sorted(str(e["version"]) for e in entries) == sorted(str(r["version"]) for r in registered)
    assert audit.verify(config.store).ok


@pytest.mark.slow
def test_role_matrix_refusals_exit_3_name_the_role_and_are_audited(story) -> None:
    config, new = story["config"], story["new"]
    expected = {("carol", "approve"): ("viewer", "approver", f"churn-demo/{new.version}"),
                ("alice", "promote"): ("data_scientist", "approver", f"churn-demo/{new.version}"),
                ("alice", "approve"): ("data_scientist", "approver", f"churn-demo/{new.version}"),
                ("mallory", "view"): (None, "viewer", "churn-demo")}
    denied = [e for e in audit.read(config.store) if e["action"] == "denied"]
    for (user, verb), (role, needed, subject) in expected.items():
        proc = story["denied"][(user, verb)]
        allowed = ", ".join(ROLES[ROLES.index(needed):])
        assert proc.returncode == 3 and proc.stdout == ""
        assert proc.stderr == (f"error: {user!r} (role: {role or 'none'}) may not {verb} {subject}: requires role {needed} "
                               f"(allowed: {allowed}). Fix: ask someone with that role, or change `roles:` in {config.source}.\n")
        assert any(e["actor"] == user and e["subject"] == subject and e["details"]["attempted"] == verb
                   and e["details"]["required_role"] == needed for e in denied), (user, verb)
    assert story["approvals_before"].returncode == 0 and f"v{new.version} ({new.tags['workbench.semver']})  pending" in story["approvals_before"].stdout
    _ok(story["approve"])


@pytest.mark.slow
def test_drift_batch_files_a_request_and_the_retrain_files_an_approval_with_evidence(story) -> None:
    config, new = story["config"], story["new"]
    verdict = json.loads((story["drift_run"] / "drift" / "verdict.json").read_text())
    assert verdict["concept_drift"] and verdict["retrain_request"]["trigger"] == "drift"
    proc = _ok(story["retrain"])
    assert f"challenger v{new.version} ({new.tags['workbench.semver']}) awaits approval" in proc.stdout
    assert new.tags["workbench.trigger"] == "event" and new.tags["workbench.retrain_request"] == verdict["retrain_request"]["id"]
    request = json.loads((config.store / "requests" / f"{verdict['retrain_request']['id']}.json").read_text())
    assert request["status"] == "approved" and request["version"] == str(new.version)
    approval = approvals.get_approval(config, new.version)
    assert approval["status"] == "approved" and approval["requested_by"] == "alice" and approval["decision"]["actor"] == "bob"
    ev = approval["evidence"]
    assert {"candidate", "champion", "baseline"} <= set(ev["metrics"]) and ev["metrics"]["primary"] == "roc_auc"
    assert set(ev["comparisons"]) == {"candidate_vs_baseline", "candidate_vs_champion"}
    assert "failed_attributes" in ev["fairness"] and ev["drift"][0]["batch"] == "2026-05.parquet"
    assert [s["path"].rsplit("/", 1)[-1] for s in ev["window"]["sources"]] == ["reference.parquet", "2026-05.parquet"]
    assert ev["unseen"]["window_batches"]["rows"] >= 30 and ev["unseen"]["window_batches"]["challenger_vs_champion"]["metric"] == "roc_auc"
    assert [c["batch"] for c in ev["canary"]] == ["2026-06.parquet"] and ev["canary"][0]["status"] == "compared"
    semver_bump = new.tags["workbench.semver"].split(".")
    assert semver_bump[2] == "0" and semver_bump[1] != "0"  # a retrain on new data is a MINOR bump


@pytest.mark.slow
def test_canary_routes_a_share_by_id_and_records_the_model_per_row(story) -> None:
    config, new, folder = story["config"], story["new"], story["canary_run"]
    predictions = pd.read_parquet(folder / "score" / "predictions.parquet")
    batch = pd.read_parquet(story["project"] / "data" / "demo" / "batches" / "2026-06.parquet")
    routed = canary.route(batch["customer_id"], 0.25, salt=config.project)
    arm = predictions.set_index("customer_id")["canary_arm"]
    assert (arm.loc[batch.loc[routed, "customer_id"]] == "challenger").all() and (arm.loc[batch.loc[~routed, "customer_id"]] == "champion").all()
    assert 0.2 < routed.mean() < 0.3
    challenger_rows = predictions[predictions["canary_arm"] == "challenger"]
    assert set(challenger_rows["model_version"]) == {str(new.version)} and set(challenger_rows["model_role"]) == {"challenger"}
    champion_rows = predictions[predictions["canary_arm"] == "champion"]
    assert (champion_rows["score"] == champion_rows["champion_score"]).all()
    assert (challenger_rows["score"] != challenger_rows["champion_score"]).any()
    result = json.loads((folder / "score" / "result.json").read_text())
    assert result["canary"]["used"] and result["canary"]["rows"] == int(routed.sum()) and result["model"]["role"] == "champion"
    comparison = json.loads((folder / "score" / "canary.json").read_text())["comparison"]
    assert comparison["arms"]["challenger"]["rows"] == int(routed.sum()) and "challenger_vs_champion" in comparison


@pytest.mark.slow
def test_approve_moves_champion_and_rollback_restores_the_previous_one(story) -> None:
    config, new = story["config"], story["new"]
    registered = [json.loads((story["project"] / "reports" / r / "model_card" / "result.json").read_text()) for r in ("first", "second")]
    first_champion = next(r for r in registered if "champion" in r["aliases"])
    old = str(first_champion["version"])
    assert f"approved: churn-demo/{new.version} ({new.tags['workbench.semver']}) is now champion (was v{old})" in story["approve"].stdout
    assert story["after_approve"]["champion"] == str(new.version) and story["after_approve"]["challenger"] is None
    new_baseline = story["after_approve"]["baseline"]
    assert registry.resolve(config, new_baseline).tags["workbench.champion_version"] == str(new.version)  # replaced with the champion
    proc = _ok(story["rollback"])
    assert f"rolled back: churn-demo/{new.version} ({new.tags['workbench.semver']}) demoted; v{old} ({first_champion['semver']}) is champion again" in proc.stdout
    assert str(registry.alias_version(config, "champion").version) == old
    assert str(registry.alias_version(config, "baseline").version) == first_champion["baseline_version"]
    again = _wb(story["project"], "rollback", "--reason", "once more", user="bob")
    assert again.returncode == 1 and f"has no earlier champion to roll back to (champions so far: {old})" in again.stderr


@pytest.mark.slow
def test_audit_log_and_alias_history_tell_the_whole_story(story) -> None:
    config, new, project = story["config"], story["new"], story["project"]
    v = str(new.version)
    champion = [(r["previous"], r["version"], r["action"], r["actor"]) for r in alias_history.alias_history(config, "champion")]
    old = champion[0][1]
    # the first version became champion once audited and carded (activate), in alice's training run
    assert champion == [(None, old, "activate", "alice"), (old, v, "promote", "bob"), (v, old, "rollback", "bob")]
    history = alias_history.alias_history(config, "champion")
    approved_at, rolled_at = (datetime.fromisoformat(history[i]["ts"]) for i in (1, 2))
    assert alias_history.champion_on(config, approved_at - timedelta(microseconds=1)) == old
    assert alias_history.champion_on(config, approved_at + (rolled_at - approved_at) / 2) == v
    assert alias_history.champion_on(config, "2000-01-01") is None and alias_history.champion_on(config, "2999-01-01") == old
    mine = [e for e in audit.read(config.store) if e["subject"] == f"churn-demo/{v}" and e["action"] != "data_access"]
    actions = [e["action"] for e in mine if e["action"] != "score"]
    assert actions == ["register", "approval_requested", "denied", "denied", "denied", "approve", "promote", "rollback"]
    for e in mine:
        if e["action"] in ("register", "approve", "promote", "rollback"):
            assert e["details"]["semver"] == new.tags["workbench.semver"] and e["details"]["reason"], e
    story_actions = [e["action"] for e in audit.read(config.store)]
    for earlier, later in (("retrain_request", "retrain"), ("retrain", "approval_requested"), ("approve", "promote"), ("promote", "rollback")):
        assert story_actions.index(earlier) < story_actions.index(later), (earlier, later)
    assert any(e["action"] == "data_access" and e["details"]["purpose"] == "retrain window" for e in audit.read(config.store))
    log = _ok(_wb(project, "audit", "log", "--model", f"churn-demo/{v}", "--action", "rollback", user="carol"))
    assert len(log.stdout.splitlines()) == 1 and "reason=sales reports wrong retention offers" in log.stdout
    verify = _ok(_wb(project, "audit", "verify", user="carol"))
    assert "chain intact" in verify.stdout
    on = _ok(_wb(project, "aliases", "--on", history[1]["ts"], user="carol"))
    assert on.stdout == f"champion on {history[1]['ts']}: v{v}\n"
    events = [e for e in changelog.read(config) if e["version"] in (v, old) and e.get("event") in ("promote", "rollback")]
    assert [(e["event"], e["version"], e["actor"]) for e in events] == [("promote", v, "bob"), ("rollback", old, "bob")]
    assert "Reason: sales reports wrong retention offers." in events[1]["text"]


@pytest.mark.slow
def test_scheduled_trigger_fires_only_when_the_champion_is_older_than_configured(story) -> None:
    config, project = story["config"], story["project"]
    aged = config.model_copy(update={"retrain": RetrainConfig(max_age_days=30)})
    now = datetime.now(UTC)
    assert triggers.scheduled_due(aged, now) is None
    assert triggers.scheduled_due(aged, now + timedelta(days=31)).startswith("the champion is 31.0 days old (retrain.max_age_days: 30)")
    with pytest.raises(WorkbenchError, match=re.escape("key 'retrain.max_age_days' is not set")):
        triggers.scheduled_due(config)
    raw = yaml.safe_load((project / "workbench.yaml").read_text()) | {"retrain": {"max_age_days": 30}}
    (project / "scheduled.yaml").write_text(yaml.safe_dump(raw))
    proc = _ok(_wb(project, "retrain", "--trigger", "scheduled", config="scheduled.yaml"))
    assert proc.stdout.startswith("retrain (scheduled): no retrain due: the champion is 0.0 days old (retrain.max_age_days: 30)")
    assert [b["name"] for b in triggers.window_batches(config)] == ["2026-05.parquet", "2026-06.parquet"]


def _roles_config(tmp_path: Path, demo_files: Path, roles: dict | None) -> Path:
    import shutil

    from tests.conftest import write_config

    shutil.copytree(demo_files, tmp_path / "data" / "demo")
    return write_config(tmp_path, {"roles": roles} if roles is not None else {})


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(roles.PERMISSIONS))
def test_permission_matrix(tmp_path: Path, demo_files: Path, monkeypatch: pytest.MonkeyPatch, role: str, action: str) -> None:
    config = load_config(_roles_config(tmp_path, demo_files, {"pat": role}))
    monkeypatch.setenv("WORKBENCH_USER", "pat")
    may = ROLES.index(role) >= ROLES.index(roles.PERMISSIONS[action])
    if may:
        assert roles.require(config, action, "churn-demo/1") == "pat"
        assert audit.read(config.store) == []
    else:
        with pytest.raises(roles.PermissionDenied, match=f"requires role {roles.PERMISSIONS[action]}"):
            roles.require(config, action, "churn-demo/1")
        (event,) = audit.read(config.store)
        assert (event["action"], event["actor"], event["details"]["attempted"], event["details"]["role"]) == ("denied", "pat", action, role)


def test_without_roles_everyone_is_admin_and_star_sets_everyone_else(tmp_path: Path, demo_files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_USER", "anyone")
    open_config = load_config(_roles_config(tmp_path / "open", demo_files, None))
    assert roles.role_of(open_config) == "admin" and roles.require(open_config, "rollback") == "anyone"
    config = load_config(_roles_config(tmp_path / "closed", demo_files, {"bob": "approver", "*": "viewer"}))
    assert roles.role_of(config) == "viewer" and roles.role_of(config, "bob") == "approver"
    unlisted = load_config(_roles_config(tmp_path / "listed", demo_files, {"bob": "approver"}))
    assert roles.role_of(unlisted) is None


def test_an_unknown_role_is_refused_with_the_valid_ones(tmp_path: Path, demo_files: Path) -> None:
    from workbench.exceptions import ConfigError

    path = _roles_config(tmp_path, demo_files, {"bob": "boss"})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}: key 'roles.bob': input should be 'viewer', 'data_scientist', 'approver' or 'admin' "
                              "(got 'boss'). Fix the value in the config.")


def test_config_changes_are_audited_with_the_changed_keys(tmp_path: Path, demo_files: Path) -> None:
    from tests.conftest import write_config

    path = _roles_config(tmp_path, demo_files, None)
    first = config_log.note_config(load_config(path))
    assert first["action"] == "config_change" and first["details"]["reason"] == "first use of this config"
    assert config_log.note_config(load_config(path)) is None  # unchanged: nothing recorded
    write_config(tmp_path, {"thresholds": {"data_drift": 0.01}, "canary": {"share": 0.1}})
    changed = config_log.note_config(load_config(path))
    assert changed["details"]["changed"] == {"thresholds.data_drift": {"old": 0.05, "new": 0.01}, "canary.share": {"old": 0.0, "new": 0.1}}
    assert changed["details"]["previous"] == first["details"]["sha256"] and audit.verify(tmp_path / ".workbench").ok


def test_a_viewer_cannot_start_a_training_run(tmp_path: Path, demo_files: Path) -> None:
    _roles_config(tmp_path, demo_files, {"carol": "viewer"})
    proc = _wb(tmp_path, "run", user="carol")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stderr == (f"error: 'carol' (role: viewer) may not train churn-demo: requires role data_scientist "
                           f"(allowed: data_scientist, approver, admin). Fix: ask someone with that role, or change `roles:` in "
                           f"{tmp_path / 'workbench.yaml'}.\n")
    assert not (tmp_path / "reports").exists()  # refused before any kernel started
    (event,) = audit.read(tmp_path / ".workbench")
    assert (event["action"], event["details"]["attempted"]) == ("denied", "train")
