"""The retrain loop a scheduler runs: ``workbench retrain --gate`` (approval only when the gate passes) and ``--dry-run``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from tests.gate.conftest import REFERENCE_ROWS, wb
from workbench import registry
from workbench.governance import approvals, audit, requests


def _snapshot(project: Path) -> dict[str, str]:
    """Every file under the project with its content hash (the store, the audit log, the registry db, the reports)."""
    return {str(p.relative_to(project)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(project.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_a_failed_gate_files_no_approval_and_says_the_version_stays_with_the_fix(gated) -> None:
    config, proc, reg = gated["config"], gated["worse"], gated["worse_reg"]
    version, semver = str(reg["version"]), reg["semver"]
    (line,) = proc.stderr.splitlines()[-1:]
    assert proc.returncode == 1 and line.startswith(f"gate FAILED: v{version} ({semver}) roc_auc ")
    assert line.endswith(f". v{version} ({semver}) stays registered as challenger; no approval was filed. "
                         f"Fix: `workbench reject {version} --reason ...` to retire it, or retrain once the data or model changed.")
    assert approvals.get_approval(config, version) is None
    (request,) = [r for r in requests.every(config) if r["retrain_run_id"] == reg["run_id"]]
    assert (request["status"], request["version"]) == ("gate failed", version) and line.startswith(request["error"])
    (event,) = [e for e in audit.read(config.store) if e["action"] == "gate" and e["details"].get("run_id") == reg["run_id"]]
    assert event["details"]["passed"] is False and event["details"]["trigger"] == "manual" and line.startswith(event["details"]["reason"])
    assert registry.resolve(config, version).tags["workbench.semver"] == semver  # still registered


@pytest.mark.slow
def test_dry_run_prints_the_plan_and_changes_nothing(gated) -> None:
    project, config = gated["project"], gated["config"]
    drift = requests.request(config, trigger="drift", run_id="20260101T000000Z-monitor-dry1", reasons=["concept drift: roc_auc fell 0.12"],
                             batch="2026-05.parquet")
    before = _snapshot(project)
    proc = wb(project, "retrain", "--trigger", "event", "--gate", "--min-delta", "0.01", "--dry-run")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert _snapshot(project) == before  # no run, no request, no audit record, no registry change
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["retrain dry run (event): due",
                         f"  pending drift request {drift['id']} (batch 2026-05.parquet): concept drift: roc_auc fell 0.12"]
    assert lines[2].startswith("  champion: v1 (1.0.0), ") and lines[3] == "  who: alice (role admin) may retrain"
    assert lines[4:6] == ["  data window (training data of the challenger):", f"    reference {config.data.reference} ({REFERENCE_ROWS} rows)"]
    assert lines[-3] == ("  then: the gate against the champion: roc_auc improvement over the reference >= +0.010 (fails when the paired "
                         "bootstrap interval lies entirely below it); equalized-odds gap <= 0.100 and disparate impact >= 0.60 on every "
                         "sensitive attribute")
    assert lines[-1] == "dry run: nothing was run, written or recorded"
    requests.update(config, drift["id"], status="withdrawn")  # leave no pending request behind for other tests


@pytest.mark.slow
def test_scheduled_dry_run_says_why_it_is_not_due(gated) -> None:
    project = gated["project"]
    raw = yaml.safe_load((project / "workbench.yaml").read_text()) | {"retrain": {"max_age_days": 30}}
    (project / "scheduled.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    before = _snapshot(project)
    proc = wb(project, "retrain", "--trigger", "scheduled", "--dry-run", "--config", "scheduled.yaml")
    assert proc.returncode == 0 and _snapshot(project) == before
    assert proc.stdout.splitlines()[0] == "retrain dry run (scheduled): not due, nothing would run"
    assert proc.stdout.splitlines()[1].startswith("  the champion is 0.") and "days old; retrain.max_age_days is 30" in proc.stdout
    assert "data window" not in proc.stdout and proc.stdout.endswith("dry run: nothing was run, written or recorded\n")


def test_event_dry_run_without_a_drift_request_is_not_due_and_gate_options_need_gate(demo_project: Path) -> None:
    before = _snapshot(demo_project)
    proc = wb(demo_project, "retrain", "--trigger", "event", "--dry-run")
    assert proc.returncode == 0 and proc.stdout.splitlines()[:2] == [
        "retrain dry run (event): not due, nothing would run",
        "  no pending drift retrain request: monitoring has not crossed a threshold"]
    assert _snapshot(demo_project) == before  # not even an empty MLflow store
    proc = wb(demo_project, "retrain", "--min-delta", "0.1")
    assert (proc.returncode, proc.stderr) == (2, "error: --min-delta and --max-fairness-gap set the gate's thresholds. "
                                                 "Fix: add --gate, or leave them out.\n")
