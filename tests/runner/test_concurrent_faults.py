"""Faults around a trained project: a run and a monitor at once, and a deleted champion artifact.

Real processes on a real sqlite MLflow store: for each fault, the exit codes, the final
manifests, the aliases, the audit chain, and that the next run succeeds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, copy_demo_config, workbench
from workbench import registry
from workbench._io import sha256_file
from workbench.config import load_config
from workbench.reports import catalog

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("faults-project")
    copy_demo_config(project)
    proc = workbench("run", "--run-id", "first", cwd=project)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return project


def _audit_ok(project: Path) -> None:
    proc = workbench("audit", "verify", cwd=project)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_run_and_a_monitor_at_once_both_complete(trained: Path) -> None:
    batch = "data/demo/batches/2026-01.parquet"
    procs = [subprocess.Popen([str(BIN / "workbench"), *args], cwd=trained, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in (("run", "--run-id", "second"), ("monitor", "--batch", batch))]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outs]
    config = load_config(trained / "workbench.yaml")
    runs = catalog.list_runs(config)
    assert {r.status for r in runs} == {"succeeded"} and {"first", "second"} <= {r.run_id for r in runs}
    assert str(registry.alias_version(config, "champion").version) == "1"  # the retrain waits for a person
    assert registry.alias_version(config, "challenger") is not None
    _audit_ok(trained)


def test_a_deleted_champion_artifact_falls_back_to_the_baseline_and_recovers(trained: Path, tmp_path: Path) -> None:
    config = load_config(trained / "workbench.yaml")
    expected = registry.alias_version(config, "champion").tags["workbench.model_sha256"]
    target = next(p for p in (config.store / "artifacts").rglob("model.skops") if sha256_file(p) == expected)
    backup = tmp_path / "model.skops"
    shutil.move(target, backup)
    try:
        proc = workbench("monitor", "--batch", "data/demo/batches/2026-02.parquet", cwd=trained)
    finally:
        shutil.move(backup, target)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "scored by the BASELINE (champion failed)" in proc.stdout
    fallback = catalog.latest_run(config, kind="monitor").read("score")
    assert fallback["fallback"]["used"] and "missing" in fallback["fallback"]["reason"] and fallback["model"]["role"] == "baseline"
    again = workbench("monitor", "--batch", "data/demo/batches/2026-02.parquet", cwd=trained)
    assert again.returncode == 0, again.stderr[-2000:]
    recovered = catalog.latest_run(config, kind="monitor").read("score")
    assert not recovered["fallback"]["used"] and recovered["model"]["role"] == "champion"
    manifest = json.loads((catalog.latest_run(config, kind="monitor").path / "manifest.json").read_text())
    assert manifest["status"] == "succeeded"
    _audit_ok(trained)
