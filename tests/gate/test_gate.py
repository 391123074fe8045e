"""``workbench gate``: the evaluate phase's decision, one line saying why, exit codes 0/1/2, an audit event per verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.gate.conftest import LOOSE_FAIRNESS, wb
from workbench.governance import audit


def _result(project: Path, run_id: str, phase: str, name: str = "result.json") -> dict:
    return json.loads((project / "reports" / run_id / phase / name).read_text())


def _fairness_failures(project: Path, run_id: str) -> int:
    """Checks the responsible phase failed (equalized odds and disparate impact, each attribute) at the config's thresholds."""
    table = pd.read_parquet(project / "reports" / run_id / "responsible" / "disparity.parquet")
    return int(table["eo_passed"].eq(False).sum() + table["di_passed"].eq(False).sum())


@pytest.mark.slow
def test_a_worse_candidate_fails_with_one_line_naming_the_metric_both_values_and_the_gap(gated, gate_json) -> None:
    project, reg = gated["project"], gated["worse_reg"]
    proc = gate_json["worse"]
    evaluation = _result(project, reg["run_id"], "evaluate")
    m, diff = evaluation["metrics"], evaluation["comparisons"]["candidate_vs_champion"]
    more = _fairness_failures(project, reg["run_id"])  # the metric is named first, fairness failures only counted
    line = (f"gate FAILED: v{reg['version']} ({reg['semver']}) roc_auc {m['candidate']['roc_auc']['value']:.3f} vs champion v1 (1.0.0) "
            f"{m['champion']['roc_auc']['value']:.3f} (gap {diff['value']:+.3f}, 95% CI [{diff['low']:+.3f}, {diff['high']:+.3f}], "
            f"needs >= +0.000)" + (f" (+{more} more failed check(s): `workbench gate --json`)" if more else ""))
    assert (proc.returncode, proc.stderr) == (1, line + "\n")
    result = json.loads(proc.stdout)
    assert result["passed"] is False and result["line"] == line and len(result["failures"]) == more + 1
    assert diff["high"] < 0 and result["comparison"]["verdict"] == "worse"
    events = [e for e in audit.read(project / ".workbench") if e["action"] == "gate" and e["subject"] == f"churn-demo/{reg['version']}"]
    assert [(e["details"]["passed"], e["details"]["reason"], e["details"].get("run_id")) for e in events] == [
        (False, line, reg["run_id"]), (False, line, None)]  # the retrain's gate, then this one: the same verdict


@pytest.mark.slow
def test_a_good_candidate_passes_with_one_line_on_stdout(gated) -> None:
    project = gated["project"]
    proc = wb(project, "gate", "--version", "1.0.0", "--against", "baseline", "--max-fairness-gap", LOOSE_FAIRNESS)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    (line,) = proc.stdout.splitlines()
    evaluation = _result(project, "first", "evaluate")
    m, diff = evaluation["metrics"], evaluation["comparisons"]["candidate_vs_baseline"]  # the registered baseline is the run's
    assert diff["low"] > 0
    assert line.startswith(f"gate passed: v1 (1.0.0) roc_auc {m['candidate']['roc_auc']['value']:.3f} vs baseline v2 (1.0.0+baseline) "
                           f"{m['baseline']['roc_auc']['value']:.3f} (gap {diff['value']:+.3f}, 95% CI [{diff['low']:+.3f}, "
                           f"{diff['high']:+.3f}], needs >= +0.000); fairness: largest equalized-odds gap "), line
    assert line.endswith(f"(max {float(LOOSE_FAIRNESS):.3f}), 3 attribute(s) assessed")


@pytest.mark.slow
@pytest.mark.parametrize("which", ["first", "worse"])
def test_the_gate_decides_as_the_evaluate_phase_did_on_the_same_rows(gated, gate_json, which: str) -> None:
    """Same holdout, seed and bootstrap: the gate's comparisons, metrics and decision equal the evaluate phase's, and its
    fairness failures are the responsible phase's."""
    project = gated["project"]
    run_id = "first" if which == "first" else gated[f"{which}_reg"]["run_id"]
    proc = gate_json[which]
    result, evaluation = json.loads(proc.stdout), _result(project, run_id, "evaluate")
    decision = {k: v for k, v in evaluation["decision"].items() if k != "confidence"}
    assert result["decision"] == decision
    assert result["comparisons"]["baseline"] == evaluation["comparisons"]["candidate_vs_baseline"]
    assert result["comparisons"].get("champion") == evaluation["comparisons"].get("candidate_vs_champion")  # v1: no champion then
    assert result["metrics"] == {role: {k: v["value"] for k, v in ms.items()} for role, ms in evaluation["metrics"].items()}
    failed = {r["attribute"] for r in result["fairness"] if r["eo_passed"] is False or r["di_passed"] is False}
    assert failed == set(_result(project, run_id, "responsible", "audit.json")["failed_attributes"])
    worse = decision["decision"] == "reject" or decision["reason"] == "candidate is worse than the champion"
    assert result["passed"] is (not worse and not failed) and proc.returncode == (0 if result["passed"] else 1)
    assert worse is (which == "worse")  # the two cases differ: accepted as first champion, worse than the champion
    if which == "first":  # v1 is the champion itself: judged against its run's baseline only, as the evaluate phase judged it
        assert result["notes"] == ["v1 (1.0.0) is the champion itself: judged against its run's baseline only, as the evaluate phase "
                                   "judged the first champion"]


@pytest.mark.slow
def test_min_delta_is_the_required_improvement(gated) -> None:
    project = gated["project"]
    proc = wb(project, "gate", "--version", "1", "--against", "baseline", "--min-delta", "0.1", "--max-fairness-gap", LOOSE_FAIRNESS)
    diff = _result(project, "first", "evaluate")["comparisons"]["candidate_vs_baseline"]
    assert 0 < diff["low"] and diff["high"] < 0.1  # better than the baseline, but surely not by 0.1
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line == (f"gate FAILED: v1 (1.0.0) roc_auc {_result(project, 'first', 'evaluate')['metrics']['candidate']['roc_auc']['value']:.3f} "
                    f"vs baseline v2 (1.0.0+baseline) {_result(project, 'first', 'evaluate')['metrics']['baseline']['roc_auc']['value']:.3f} "
                    f"(gap {diff['value']:+.3f}, 95% CI [{diff['low']:+.3f}, {diff['high']:+.3f}], needs >= +0.100)")


@pytest.mark.slow
@pytest.mark.parametrize(("args", "message"), [
    (["--version", "9"], "error: --version: model 'churn-demo' has no version '9'. Fix: pass an MLflow version number or semantic "
                         "version; registered: 1 (1.0.0), 2 (1.0.0+baseline), 3 ({worse}).\n"),
    (["--version", "2"], "error: --version 2: v2 (1.0.0+baseline) is a baseline version, not a trained candidate. Fix: pass a "
                         "candidate's version number or semantic version.\n"),
], ids=["unknown", "baseline"])
def test_a_bad_version_exits_2_naming_it_and_nothing_is_audited(gated, args: list[str], message: str) -> None:
    project = gated["project"]
    before = len(audit.read(project / ".workbench"))
    proc = wb(project, "gate", *args)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == message.format(worse=gated["worse_reg"]["semver"])
    assert len(audit.read(project / ".workbench")) == before


def test_a_project_without_a_model_exits_2_with_the_fix(demo_project: Path) -> None:
    proc = wb(demo_project, "gate")
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "error: model 'churn-demo' has no registered version to gate. Fix: run `workbench run` first.\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--min-delta", "nan"], "argument --min-delta: must be a finite number, got 'nan'. Fix: pass e.g. 0.01"),
    (["--max-fairness-gap", "1.5"], "argument --max-fairness-gap: must be between 0 and 1, got '1.5'. Fix: pass e.g. 0.1"),
    (["--against", "nobody"], "argument --against: invalid choice: 'nobody' (choose from "),
], ids=["nan-delta", "gap-above-1", "unknown-alias"])
def test_bad_thresholds_exit_2_before_anything_is_read(tmp_path: Path, args: list[str], message: str) -> None:
    proc = wb(tmp_path, "gate", *args)
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1].startswith(f"workbench gate: error: {message}")
