"""A real Dask cluster on loopback — `dask scheduler` and two `dask worker` processes started here, stopped by PID.

Through the ``tcp://`` executor: a multi-file 2M-row batch gives the local statistics exactly; a monitor
of a multi-file batch writes the same drift and fairness tables as a local monitor (run by
``monitor --all-projects``, which fans the project out over the same cluster); a worker killed while
it computes is replaced by Dask re-running its tasks on the other, and the result is unchanged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import BIN, REPO, free_port, workbench
from tests.scale.conftest import CATEGORICAL, NUMERIC, SENSITIVE, grown, predictions_for, write_parts
from workbench import scale
from workbench.analyses import drift, fairness
from workbench.config import DaskConfig
from workbench.data import load_table
from workbench.scale import stats

pytestmark = pytest.mark.slow


def _start(*args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([str(BIN / "dask"), *args], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A scheduler and two single-thread workers (no nanny: a killed worker stays dead) on 127.0.0.1."""
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask-logs")
    address = f"tcp://127.0.0.1:{free_port()}"
    procs = {"scheduler": _start("scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard",
                                 log=logs / "scheduler.log")}
    try:
        for name in ("w1", "w2"):
            procs[name] = _start("worker", address, "--name", name, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
                                 "--no-dashboard", "--memory-limit", "4GB", log=logs / f"{name}.log")
        with Client(address, timeout="60s", set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
        yield {"address": address, "procs": procs, "logs": logs}
    finally:
        for proc in reversed(procs.values()):
            _stop(proc)


@pytest.fixture(scope="module")
def big(demo_files: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 2M-row batch in 8 Parquet parts of 50,000-row groups, its predictions, and the local answers."""
    folder = tmp_path_factory.mktemp("big")
    frame = grown(pd.read_parquet(demo_files / "batches" / "2026-05.parquet"), 2_000_000, seed=7)
    parts = write_parts(frame, folder / "2026-10", parts=8, row_group=50_000)
    predictions = predictions_for(frame, folder / "predictions.parquet", row_group=120_000)
    profile = drift.build_profile(pd.read_parquet(demo_files / "reference.parquet"), numeric=NUMERIC, categorical=CATEGORICAL)
    local = drift.compare(profile, load_table(parts).frame)
    scored = pd.read_parquet(predictions)
    labelled = frame.assign(y=scored["label"], score=scored["score"]).loc[lambda f: f["y"].notna()]
    groups = fairness.group_table(fairness.binary_labels(labelled["y"]), None, labelled[SENSITIVE], scores=labelled["score"], seed=5)
    return {"parts": parts, "predictions": predictions, "profile": profile, "local": local, "groups": groups}


def test_a_2m_row_multi_file_batch_on_the_cluster_gives_the_local_statistics_exactly(cluster: dict, big: dict) -> None:
    with scale.open_executor(cluster["address"], DaskConfig()) as executor:
        assert executor.workers() == 2
        merged = stats.drift_stats(executor, big["profile"], big["parts"], rows_per_task=100_000)
        counts = stats.group_counts(executor, big["parts"], big["predictions"], SENSITIVE, rows_per_task=100_000)
        ran_on = executor.client.run_on_scheduler(lambda dask_scheduler: sorted({ws.name for ws in dask_scheduler.workers.values()
                                                                                  if ws.metrics.get("task_counts") is not None}))
    assert merged.rows == 2_000_000 and ran_on == ["w1", "w2"]
    got = drift.compare(big["profile"], merged)
    pd.testing.assert_frame_equal(got.columns, big["local"].columns, check_exact=True)
    assert got.dataset == big["local"].dataset
    pd.testing.assert_frame_equal(fairness.group_table_from_counts(counts, seed=5), big["groups"], check_exact=True)


@pytest.fixture(scope="module")
def project(trained_demo: Path, demo_files: Path, cluster: dict) -> dict:
    """The demo trained once (the session's shared ``trained_demo``, to which this module adds two monitor runs of its own
    batch and config files of its own names); a multi-file batch; one config monitoring on the cluster, one (a fan-out
    project) locally."""
    root = trained_demo
    frame = grown(pd.read_parquet(demo_files / "batches" / "2026-05.parquet"), 60_000, seed=3)
    # a batches folder of this module's own: the fan-out monitors every batch in it, and exactly this one is expected
    parts = write_parts(frame, root / "cluster-incoming" / "2026-11", parts=3, row_group=6_000)
    raw = yaml.safe_load((root / "workbench.yaml").read_text())
    on_cluster = dict(raw, executor=cluster["address"], dask={"partition_rows": 12_000})
    (root / "cluster.yaml").write_text(yaml.safe_dump(on_cluster, sort_keys=False))
    fleet = root / "cluster-fleet"  # --all-projects: "a" monitors the same batch locally (the reference answer); "b" has a bad config
    (fleet / "a").mkdir(parents=True)
    (fleet / "b").mkdir()
    local = dict(raw, store=str(root / ".workbench"), reports=str(root / "reports"), demo=False,
                 data=dict(raw["data"], reference=str(root / "data" / "demo" / "reference.parquet"), batches=str(root / "cluster-incoming")))
    (fleet / "a" / "workbench.yaml").write_text(yaml.safe_dump(local, sort_keys=False))
    (fleet / "b" / "workbench.yaml").write_text(yaml.safe_dump(dict(local, executor="dask"), sort_keys=False))
    return {"root": root, "parts": parts, "fleet": fleet}


def _monitor_folder(root: Path, started_after: float) -> Path:
    runs = [p for p in (root / "reports").glob("*-monitor-*") if p.stat().st_mtime >= started_after]
    assert len(runs) == 1, runs
    return runs[0]


def test_a_monitor_on_the_cluster_writes_what_a_local_monitor_writes(project: dict, cluster: dict) -> None:
    root = project["root"]
    before = time.time()
    on_cluster = workbench("monitor", "--batch", str(project["parts"]), "--config", "cluster.yaml", cwd=root, timeout=1200)
    assert on_cluster.returncode == 0, on_cluster.stdout[-3000:] + on_cluster.stderr[-3000:]
    remote = _monitor_folder(root, before)
    before = time.time()
    fanned = workbench("monitor", "--all-projects", str(project["fleet"]), "--executor", cluster["address"], cwd=root, timeout=1200)
    assert fanned.returncode == 2, fanned.stdout[-3000:] + fanned.stderr[-3000:]  # the worst: project b's bad config
    lines = fanned.stdout.splitlines()
    assert lines[0].startswith("ok ") and lines[0].endswith(str(project["fleet"] / "a" / "workbench.yaml"))
    assert lines[1].startswith("exit 2 ") and any("key 'executor'" in line for line in lines[2:])
    assert lines[-1] == f"2 projects monitored on {cluster['address']}: 1 succeeded, 1 failed"
    local = _monitor_folder(root, before)
    assert json.loads((remote / "drift" / "data_drift.json").read_text())["executor"] == cluster["address"]
    assert json.loads((local / "drift" / "data_drift.json").read_text())["executor"] == "local"
    for name in ("drift/columns.parquet", "fairness/groups.parquet", "fairness/disparity.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(remote / name), pd.read_parquet(local / name), check_exact=True)
    verdicts = [json.loads((f / "drift" / "verdict.json").read_text()) for f in (remote, local)]
    assert verdicts[0]["reasons"] == verdicts[1]["reasons"] and verdicts[0]["rows"] == 60_000


def test_a_worker_killed_mid_computation_is_retried_by_dask_and_the_result_is_unchanged(cluster: dict, big: dict) -> None:
    from distributed import Client

    victim = cluster["procs"]["w2"]
    out: dict = {}

    def compute() -> None:
        with scale.open_executor(cluster["address"], DaskConfig()) as executor:
            out["stats"] = stats.drift_stats(executor, big["profile"], big["parts"], rows_per_task=50_000)

    with Client(cluster["address"], timeout="30s", set_as_default=False) as watcher:
        w2 = next(addr for addr, info in watcher.scheduler_info()["workers"].items() if info["name"] == "w2")
        thread = threading.Thread(target=compute)
        thread.start()
        deadline = time.monotonic() + 120
        while not watcher.processing().get(w2) and time.monotonic() < deadline:  # w2 is computing a partition now
            time.sleep(0.005)
        assert watcher.processing().get(w2), "w2 never got a task"
        victim.send_signal(signal.SIGKILL)
        killed_while_running = thread.is_alive()
        thread.join(timeout=600)
        assert victim.wait(timeout=10) == -signal.SIGKILL and killed_while_running
        assert list(watcher.scheduler_info()["workers"]) != [] and w2 not in watcher.scheduler_info()["workers"]
    got = drift.compare(big["profile"], out["stats"])
    pd.testing.assert_frame_equal(got.columns, big["local"].columns, check_exact=True)
