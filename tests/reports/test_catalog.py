"""The results catalog: the one reader of run folders (latest run per batch, runs of a kind in a window, a run by id)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench._io import write_json
from workbench.exceptions import ParameterError, PhaseError, WorkbenchError
from workbench.reports import catalog, manifest


def _run(reports: Path, run_id: str, started: str, *, kind: str = "monitor", batch: str | None = None, version: str = "1",
         phases: dict[str, str] | None = None) -> Path:
    folder = reports / run_id
    statuses = phases or {"score": "succeeded", "drift": "succeeded"}
    write_json(folder / manifest.FILENAME, {"run_id": run_id, "kind": kind, "status": "succeeded", "started": started, "ended": started,
                                            "config": "x", "phases": {n: {"status": s} for n, s in statuses.items()}})
    if batch is not None:
        write_json(folder / "score" / catalog.RESULT_FILE, {"batch": {"name": batch, "path": f"/data/{batch}"}, "model": {"version": version}})
        if statuses.get("drift") == "succeeded":
            write_json(folder / "drift" / catalog.VERDICT_FILE, {"alert": False})
            write_json(folder / "drift" / catalog.RESULT_FILE, {})
    return folder


@pytest.fixture
def config(tmp_path: Path) -> SimpleNamespace:
    reports = tmp_path / "reports"
    _run(reports, "a-run", "2026-01-01T00:00:00+00:00", batch="2026-02.parquet", version="1")
    _run(reports, "b-run", "2026-01-02T00:00:00+00:00", batch="2026-01.parquet", version="1")
    _run(reports, "c-run", "2026-01-03T00:00:00+00:00", batch="2026-02.parquet", version="2", phases={"score": "succeeded", "drift": "failed"})
    _run(reports, "d-run", "2026-01-04T00:00:00+00:00", kind="train", phases={"validate": "succeeded"})
    (reports / "not-a-run").mkdir()
    return SimpleNamespace(reports=reports)


def test_latest_run_of_each_batch_in_batch_order(config: SimpleNamespace) -> None:
    found = catalog.latest_per_batch(config)
    assert [(b.name, b.run_id) for b in found] == [("2026-01.parquet", "b-run"), ("2026-02.parquet", "c-run")]
    assert found[1].batch == {"name": "2026-02.parquet", "path": "/data/2026-02.parquet"} and found[1].status == "succeeded"


def test_latest_run_with_a_result_skips_runs_where_the_phase_did_not_write_it(config: SimpleNamespace) -> None:
    found = catalog.latest_per_batch(config, "drift", name=catalog.VERDICT_FILE)
    assert [(b.name, b.run_id) for b in found] == [("2026-01.parquet", "b-run"), ("2026-02.parquet", "a-run")]


def test_where_keeps_the_runs_of_one_model_version(config: SimpleNamespace) -> None:
    found = catalog.latest_per_batch(config, where=lambda score: score["model"]["version"] == "1")
    assert [(b.name, b.run_id) for b in found] == [("2026-01.parquet", "b-run"), ("2026-02.parquet", "a-run")]


def test_a_running_phase_counts_as_the_latest_and_runs_can_be_limited(config: SimpleNamespace) -> None:
    current = _run(config.reports / ".." / "elsewhere", "e-run", "2026-01-05T00:00:00+00:00", batch="2026-01.parquet")
    found = catalog.latest_per_batch(config, "drift", name=catalog.VERDICT_FILE, current=current / "drift")
    assert [(b.name, b.run_id) for b in found] == [("2026-01.parquet", "e-run"), ("2026-02.parquet", "a-run")]
    window = catalog.list_runs(config, kind="monitor", since=datetime(2026, 1, 2, tzinfo=UTC), until=datetime(2026, 1, 3, tzinfo=UTC))
    assert [r.run_id for r in window] == ["b-run"]
    assert [b.run_id for b in catalog.latest_per_batch(config, runs=window)] == ["b-run"]


def test_runs_by_kind_and_id_and_the_latest_with_a_phase(config: SimpleNamespace) -> None:
    assert [r.run_id for r in catalog.list_runs(config)] == ["a-run", "b-run", "c-run", "d-run"]
    assert catalog.latest_run(config, with_phase="drift").run_id == "b-run"
    assert catalog.get_run(config, "c-run").read("score")["model"] == {"version": "2"}
    assert catalog.get_run(config, "c-run").read("drift", catalog.VERDICT_FILE) is None
    with pytest.raises(ParameterError):
        catalog.get_run(config, "../d-run")
    with pytest.raises(WorkbenchError, match="run 'z-run' not found"):
        catalog.get_run(config, "z-run")
    with pytest.raises(PhaseError, match="no results of phase 'impact'"):
        catalog.phase_dir(config, "impact")
