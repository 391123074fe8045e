"""Review packs: windows, an empty window said plainly, counts over the demo's history checked against the manifests."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.conftest import workbench
from workbench.exceptions import ParameterError
from workbench.reports import review

TODAY = datetime.now(UTC).date().isoformat()


@pytest.mark.parametrize(("cadence", "as_of", "since", "until"), [
    ("weekly", "2026-03-10", datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC)),
    ("monthly", "2026-03-31", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
    ("monthly", "2026-03-30", datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)),  # 31 Feb does not exist
    ("quarterly", "2026-06-30", datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)),
    ("quarterly", "2026-01-15", datetime(2025, 10, 16, tzinfo=UTC), datetime(2026, 1, 16, tzinfo=UTC)),
])
def test_window_ends_with_the_as_of_day(cadence: str, as_of: str, since: datetime, until: datetime) -> None:
    assert review.window(cadence, as_of) == (since, until)


def test_bad_date_and_cadence_are_refused() -> None:
    with pytest.raises(ParameterError) as err:
        review.window("weekly", "2026-13-01")
    assert str(err.value) == "--as-of '2026-13-01' is not a date. Fix: use YYYY-MM-DD, e.g. --as-of 2026-11-30."
    with pytest.raises(ParameterError) as err:
        review.window("daily", date(2026, 1, 1))
    assert str(err.value) == "review cadence 'daily' is not valid; use one of weekly, monthly, quarterly."


def _expected(project: Path, since: datetime, until: datetime) -> dict:
    """What the pack must list, read straight from the manifests and result files."""
    runs, alerts, versions, fallbacks = [], 0, set(), 0
    for manifest in sorted((project / "reports").glob("*/manifest.json")):
        data = json.loads(manifest.read_text())
        if data.get("kind") == "review" or not since <= datetime.fromisoformat(data["started"]) < until:
            continue
        runs.append(data["run_id"])
        verdict, score = manifest.parent / "drift" / "verdict.json", manifest.parent / "score" / "result.json"
        if data.get("kind") == "monitor" and verdict.is_file():
            alerts += json.loads(verdict.read_text())["alert"]
        if data.get("kind") == "monitor" and score.is_file():
            versions.add(str(json.loads(score.read_text())["model"]["version"]))
            fallbacks += json.loads(score.read_text())["fallback"]["used"]
    return {"runs": sorted(runs), "alerts": alerts, "versions": sorted(versions, key=int), "fallbacks": fallbacks}


@pytest.mark.slow
def test_weekly_and_monthly_packs_list_exactly_the_recorded_runs_alerts_and_versions(monitored_demo) -> None:
    project, _ = monitored_demo
    weekly = review.open_review("weekly", config=project / "workbench.yaml", as_of=TODAY)
    expected = _expected(project, weekly.since, weekly.until)
    assert sorted(r.run_id for r in weekly.runs) == expected["runs"] and len(expected["runs"]) >= 9
    assert len(review.runs_table(weekly)) == len(expected["runs"])
    assert len(review.drift_alerts(weekly)) == expected["alerts"] >= 4
    assert len(review.fallbacks(weekly)) == expected["fallbacks"]
    review.failed_phases(weekly)
    review.retrain_requests(weekly)
    assert weekly.counts["drift_alerts"] == expected["alerts"] and weekly.counts["runs"] == len(expected["runs"])
    assert weekly.counts["retrain_requests"] == len(list((project / ".workbench" / "requests").glob("retrain-*.json")))
    monthly = review.open_review("monthly", config=project / "workbench.yaml", as_of=TODAY)
    versions = review.versions_in_production(monthly)
    assert versions.frame["version"].tolist() == expected["versions"] and monthly.counts["versions"] == expected["versions"]
    assert "champion" in versions.frame["aliases_now"].tolist()
    kpi = review.kpi_table(monthly)
    assert sorted(kpi.frame.index) == ["churn_reduction", "cost_per_saved_customer"]
    assert review.kpi_trend(monthly).data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_quarterly_pack_reads_governance_records(monitored_demo) -> None:
    from workbench.config import load_config
    from workbench.governance import audit

    project, _ = monitored_demo
    pack = review.open_review("quarterly", config=project / "workbench.yaml", as_of=TODAY)
    events = [e for e in audit.read(load_config(project / "workbench.yaml").store) if e["action"] in review.GOVERNANCE_ACTIONS]
    assert len(review.governance_events(pack)) == len(events) >= 1
    assert review.audit_verification(pack).frame["chain"].tolist() == ["intact"]
    fairness = review.fairness_over_window(pack)
    assert len(fairness) == sum(1 for r in pack.monitor_runs if (r.path / "fairness" / "fairness.json").is_file())
    review.versions_in_production(pack)
    cards = review.model_cards(pack)
    # every candidate version in use has its card; a baseline that served as the fallback is named as such
    # (test_monitor's tampered-champion test makes the baseline score a batch of this shared history)
    candidates = ~cards.frame["card"].str.startswith("none: static baseline")
    assert candidates.any() and cards.frame.loc[candidates, "card"].map(lambda p: Path(p).is_file()).all()
    risks = review.open_risks(pack).frame["risk"].tolist()
    assert "retrain request pending" in risks and any(r.startswith("KPI off target") for r in risks)


@pytest.mark.slow
def test_a_window_without_runs_says_so_plainly(monitored_demo) -> None:
    project, _ = monitored_demo
    pack = review.open_review("monthly", config=project / "workbench.yaml", as_of="2001-01-31")
    assert pack.runs == []
    assert "No runs were recorded in this window." in pack._repr_html_()
    assert "No runs were recorded in this window." in review.runs_table(pack)._repr_html_()
    assert "No model version scored a batch in this window." in review.versions_in_production(pack)._repr_html_()
    assert review.kpi_table(pack).empty == "No batch was monitored in this window, so no KPI was measured."
    assert review.no_kpi_reason(pack) == "No batch was monitored in this window, so no KPI was measured."


@pytest.fixture(scope="module")
def project_copy(monitored_demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the monitored demo: review runs write run folders, and the shared fixture stays read-only."""
    source, _ = monitored_demo
    target = tmp_path_factory.mktemp("review-project") / "project"
    shutil.copytree(source, target)
    return target


@pytest.mark.slow
def test_review_command_writes_an_executed_notebook_and_html(project_copy: Path) -> None:
    before = set((project_copy / "reports").iterdir())
    done = workbench("review", "weekly", cwd=project_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    (folder,) = set((project_copy / "reports").iterdir()) - before
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "review" and manifest["status"] == "succeeded" and manifest["review"]["as_of"] == TODAY
    assert manifest["phases"]["weekly"]["status"] == "succeeded"
    counts = json.loads((folder / "review" / "review.json").read_text())["counts"]
    expected = _expected(project_copy, datetime.fromisoformat(manifest["review"]["since"]), datetime.fromisoformat(manifest["review"]["until"]))
    assert counts["runs"] == len(expected["runs"]) and counts["drift_alerts"] == expected["alerts"]
    html = (folder / "html" / "weekly.html").read_text()
    assert "Drift alerts" in html and "Runs and their status" in html and "review.open_review(" not in html  # code hidden
    assert (folder / "notebooks" / "weekly.ipynb").is_file()
    assert f"counts:   runs {counts['runs']}" in done.stdout


@pytest.mark.slow
def test_review_command_over_an_empty_window_and_a_bad_date(project_copy: Path) -> None:
    done = workbench("review", "quarterly", "--as-of", "2001-03-31", cwd=project_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    folder = project_copy / "reports" / done.stdout.split()[1].rstrip(":")
    html = (folder / "html" / "quarterly.html").read_text()
    assert "No runs were recorded in this window." in html
    before = set((project_copy / "reports").iterdir())
    bad = workbench("review", "monthly", "--as-of", "31/03/2026", cwd=project_copy)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --as-of '31/03/2026' is not a date. Fix: use YYYY-MM-DD, e.g. --as-of 2026-11-30."
    assert set((project_copy / "reports").iterdir()) == before
    assert "review" in workbench("--help", cwd=project_copy).stdout


def _pack(tmp_path: Path, runs: list, **config: object) -> review.Review:
    from tests.conftest import demo_config
    from workbench.config import Config

    cfg = Config.model_validate({**demo_config(), **config, "source": tmp_path / "workbench.yaml", "reports": str(tmp_path / "reports")})
    since, until = review.window("monthly", "2026-09-30")
    return review.Review("monthly", cfg, since, until, runs)


def _monitor_run(tmp_path: Path, name: str, batch: str, impact_status: str, impact: dict | None) -> object:
    from workbench.reports.catalog import RunInfo

    folder = tmp_path / "reports" / name
    (folder / "score").mkdir(parents=True)
    (folder / "score" / "result.json").write_text(json.dumps({"batch": {"name": batch}}))
    if impact is not None:
        (folder / "impact").mkdir()
        (folder / "impact" / "impact.json").write_text(json.dumps(impact))
    phases = {"impact": {"status": impact_status, "error": "KeyError: 'y'\nTraceback ..." if impact_status == "failed" else None}}
    return RunInfo(name, folder, {"kind": "monitor", "status": "succeeded", "started": "2026-09-05T00:00:00+00:00", "phases": phases})


def test_the_monthly_review_names_why_no_kpi_was_measured(tmp_path: Path) -> None:
    assert review.no_kpi_reason(_pack(tmp_path, [], kpis=[])) == "No KPIs are configured (add a 'kpis' section to workbench.yaml)."
    assert review.kpi_table(_pack(tmp_path, [], kpis=[])).empty == "No KPIs are configured (add a 'kpis' section to workbench.yaml)."
    regression = [{"name": "forecast_accuracy", "formula": "1 - wape", "task": "regression", "direction": "higher", "target": 0.9}]
    assert review.no_kpi_reason(_pack(tmp_path, [], kpis=regression)) == (
        "KPIs are configured, but none applies to this binary model: forecast_accuracy (defined for regression models).")
    assert review.no_kpi_reason(_pack(tmp_path, [])) == "No batch was monitored in this window, so no KPI was measured."
    unlabelled = {"status": "not measured", "reason": "no labels in this batch yet (KPIs need outcomes)", "skipped_kpis": []}
    runs = [_monitor_run(tmp_path, "20260905T000000Z-monitor-aaaa", "2026-09.parquet", "succeeded", unlabelled),
            _monitor_run(tmp_path, "20260906T000000Z-monitor-bbbb", "2026-10.parquet", "succeeded", unlabelled)]
    assert review.no_kpi_reason(_pack(tmp_path, runs)) == "No KPI was measured: batches 2026-09, 2026-10 have no labels (outcomes) yet."
    failed = _monitor_run(tmp_path, "20260907T000000Z-monitor-cccc", "2026-11.parquet", "failed", None)
    assert review.no_kpi_reason(_pack(tmp_path, [*runs[:1], failed])) == (
        "No KPI was measured: batch 2026-09 has no labels (outcomes) yet; "
        "the impact phase failed in 1 of 2 monitor runs (run 20260907T000000Z-monitor-cccc: KeyError: 'y').")
    assert review.kpi_trend(_pack(tmp_path, [failed])).empty == (
        "No KPI trend. No KPI was measured: the impact phase failed in 1 of 1 monitor runs (run 20260907T000000Z-monitor-cccc: KeyError: 'y').")
