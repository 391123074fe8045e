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


def _queue_note(cfg) -> tuple[int | None, str]:  # noqa: ANN001
    """What the section must say about the review queue: its size where the feedback store's queue is installed."""
    from importlib import import_module
    from importlib.util import find_spec

    if find_spec("workbench.governance.review_queue") is None:
        return None, "Review queue: not available (workbench.governance.review_queue is not installed)."
    n = import_module("workbench.governance.review_queue").open_items(cfg)
    return n, f"Review queue: {n} prediction{'s' * (n != 1)} {'waits' if n == 1 else 'wait'} for a human label (`workbench feedback queue`)."


def test_the_weekly_review_lists_unlabelled_batches_whose_estimate_dropped(tmp_path: Path) -> None:
    from datetime import timedelta

    from tests.reports.test_status import NOW, _config, _monitor, estimate_json

    cfg = _config(tmp_path)
    before = _monitor(cfg, 0, "2026-01", estimate=estimate_json(0.91), at=NOW - timedelta(days=10))  # before the window: the previous estimate
    runs = [_monitor(cfg, 1, "2026-02", estimate=estimate_json(0.86, reference=0.88)),  # fell 0.05, more than its band (±0.02)
            _monitor(cfg, 2, "2026-03", estimate=estimate_json(0.8, reference=0.81, realised=0.8)),  # labelled: not listed
            _monitor(cfg, 3, "2026-04", estimate=estimate_json(0.82)),  # below its alert threshold 0.874
            _monitor(cfg, 4, "2026-05", estimate=estimate_json(0.815, reference=0.84)),  # fell 0.005: within its band, no alert
            _monitor(cfg, 5, "2026-06"),  # monitored before estimates were recorded
            _monitor(cfg, 6, "2026-07", estimate="{torn")]
    pack = review.Review("weekly", cfg, NOW - timedelta(days=1), NOW + timedelta(days=1), catalog_runs(cfg, before))
    section = review.estimates(pack)
    queue, note = _queue_note(cfg)
    assert section.title == "Unlabelled batches whose estimated performance dropped"
    assert section.frame[["run_id", "batch", "estimated", "previous_estimate", "why"]].to_dict("records") == [
        {"run_id": runs[0], "batch": "2026-02.parquet", "estimated": 0.86, "previous_estimate": 0.91,
         "why": "fell by 0.05 since 2026-01, more than its band (±0.02)"},
        {"run_id": runs[2], "batch": "2026-04.parquet", "estimated": 0.82, "previous_estimate": 0.8,
         "why": "worse than its alert threshold of 0.874"}]
    assert section.note == f"{note} Labels (or reviewed feedback) will tell whether a drop is real."
    assert pack.counts == {"unlabelled_batches": 3, "estimate_drops": 2, "review_queue": queue}
    assert review.finish(pack)["counts"]["estimate_drops"] == 2
    quiet = review.Review("weekly", cfg, NOW - timedelta(days=1), NOW + timedelta(days=1), [i for i in catalog_runs(cfg, before) if i.run_id == runs[3]])
    assert review.estimates(quiet).empty == f"No unlabelled batch's estimated performance dropped in this window (1 unlabelled batch monitored). {note}"
    old = review.Review("weekly", cfg, NOW - timedelta(days=1), NOW + timedelta(days=1), [i for i in catalog_runs(cfg, before) if i.run_id == runs[4]])
    assert review.estimates(old).empty == f"No unlabelled batch with a performance estimate was monitored in this window. {note}"
    assert "No unlabelled batch with a performance estimate" in review.estimates(old)._repr_html_()


def test_a_regression_estimate_that_rose_is_a_drop(tmp_path: Path) -> None:
    from datetime import timedelta

    from tests.reports.test_status import NOW, _config, _monitor, estimate_json

    cfg = _config(tmp_path, model={"task": "regression"}, data={"reference": "ref.parquet", "target": "y"})
    _monitor(cfg, 1, "w01", estimate=estimate_json(10.1, 0.1, metric="rmse", reference=10.0))
    _monitor(cfg, 2, "w02", estimate=estimate_json(10.45, 0.1, metric="rmse", reference=10.0))  # rose 0.35 > ±0.3, under the 10.5 threshold
    _monitor(cfg, 3, "w03", estimate=estimate_json(10.2, 0.1, metric="rmse", reference=10.0))  # fell: better, not a drop
    pack = review.Review("weekly", cfg, NOW - timedelta(days=1), NOW + timedelta(days=1), catalog_runs(cfg))
    assert review.estimates(pack).frame[["batch", "why"]].to_dict("records") == [
        {"batch": "w02.parquet", "why": "rose by 0.35 since w01, more than its band (±0.3)"}]


def catalog_runs(cfg, *leave_out: str) -> list:  # noqa: ANN001
    """The project's runs, oldest first, without ``leave_out`` (runs before the window)."""
    from workbench.reports import catalog

    return [i for i in catalog.list_runs(cfg) if i.run_id not in leave_out]
