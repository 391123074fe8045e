"""Runs never stay ``running``: signals, a killed runner, a full disk, a read-only folder, broken manifests.

Real ``workbench`` processes, real signals, real kernels and a real sqlite MLflow store.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import BIN, without_kernel_shutdown_noise, workbench, write_config
from workbench import runner
from workbench.config import load_config
from workbench.exceptions import ParameterError
from workbench.registry import store


def _start(project: Path, *args: str) -> subprocess.Popen[str]:
    """``workbench run`` in its own session, as a terminal would start it (so the process group can get Ctrl-C)."""
    return subprocess.Popen([str(BIN / "workbench"), "run", *args], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def _wait_for_train_mlflow_run(proc: subprocess.Popen[str], run_dir: Path, timeout: float = 300) -> list[psutil.Process]:
    """Wait until the train phase runs with its MLflow run open; return the runner's kernels then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if (run_dir / "train" / "mlflow_run_id").is_file() and _manifest(run_dir)["phases"]["train"]["status"] == "running":
            kernels = [p for p in psutil.Process(proc.pid).children(recursive=True) if "ipykernel_launcher" in " ".join(p.cmdline())]
            assert kernels, "the runner has no kernel while a phase runs"
            return kernels
        time.sleep(0.2)
    raise AssertionError("the train phase never started")


def _gone(processes: list[psutil.Process], timeout: float = 15) -> list[psutil.Process]:
    """The processes still alive after ``timeout`` seconds (is_running also checks the start time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes):
        time.sleep(0.2)
    return [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _mlflow_status(project: Path, run_id: str) -> str:
    return store.client_for(load_config(project / "workbench.yaml")).get_run(run_id).info.status


def _mount_tmpfs(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")


@pytest.fixture
def mounts() -> Iterator[list[Path]]:
    """Folders the test mounted; unmounted afterwards."""
    mounted: list[Path] = []
    yield mounted
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=False)


# --- fast: arguments and manifests ------------------------------------------------------------

@pytest.mark.parametrize("jobs", ["-1", "0", "two"])
def test_jobs_below_one_is_refused_before_anything_is_written(demo_project: Path, jobs: str) -> None:
    before = sorted(p.name for p in demo_project.iterdir())
    proc = workbench("run", "--jobs", jobs, cwd=demo_project)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[-1] == (f"workbench run: error: argument --jobs: must be a whole number of 1 or more, got {jobs!r}. "
                                            "Fix: pass --jobs 1 or more, or leave it out (default: the number of cores)")
    assert sorted(p.name for p in demo_project.iterdir()) == before


def test_runner_refuses_jobs_below_one_too(demo_project: Path) -> None:
    config = load_config(demo_project / "workbench.yaml")
    with pytest.raises(ParameterError, match=r"^--jobs must be 1 or more, got 0\. Fix: pass --jobs 1 or more"):
        runner.run(config, jobs=0)
    assert not (demo_project / "reports").exists() and not (demo_project / ".workbench").exists()


def _write_manifest(reports: Path, run_id: str, status: str, runner_info: dict | None = None) -> Path:
    phases = {"validate": {"status": "succeeded", "notebook": "notebooks/10_validate.ipynb", "started": "2026-01-01T00:00:00.000+00:00",
                           "ended": "2026-01-01T00:00:01.000+00:00", "duration_s": 1.0, "error": None},
              "train": {"status": "running", "notebook": "notebooks/20_train.ipynb", "started": "2026-01-01T00:00:01.000+00:00",
                        "ended": None, "duration_s": None, "error": None},
              "evaluate": {"status": "pending", "notebook": "notebooks/30_evaluate.ipynb", "started": None, "ended": None,
                           "duration_s": None, "error": None}}
    data = {"run_id": run_id, "kind": "train", "status": status, "started": "2026-01-01T00:00:00.000+00:00", "ended": None,
            "config": "workbench.yaml", "phases": phases, **({"runner": runner_info} if runner_info else {})}
    (reports / run_id / "notebooks").mkdir(parents=True)
    (reports / run_id / "manifest.json").write_text(json.dumps(data))
    return reports / run_id


def test_runs_lists_truncated_and_missing_manifests_with_the_reason(demo_project: Path) -> None:
    reports = demo_project / "reports"
    _write_manifest(reports, "a-good", "succeeded")
    truncated = _write_manifest(reports, "b-truncated", "succeeded") / "manifest.json"
    truncated.write_text(truncated.read_text()[:40])
    (reports / "c-no-manifest" / "notebooks").mkdir(parents=True)
    (reports / "d-not-a-dict").mkdir()
    (reports / "d-not-a-dict" / "manifest.json").write_text("[1, 2]")
    proc = workbench("runs", cwd=demo_project)
    assert proc.returncode == 0, proc.stderr
    fix = "Fix: restore the file, or delete the folder if the run is not needed."
    assert proc.stdout.splitlines() == [
        "a-good  succeeded   validate:succeeded train:running evaluate:pending",
        f"b-truncated  broken      {truncated} is truncated or not JSON (Unterminated string starting at: line 1 column 35). {fix}",
        f"c-no-manifest  broken      {reports / 'c-no-manifest' / 'manifest.json'} is missing (the runner stopped before writing it). {fix}",
        f"d-not-a-dict  broken      {reports / 'd-not-a-dict' / 'manifest.json'} lacks status, started, phases. {fix}",
    ]


def test_runs_marks_a_run_whose_runner_is_gone_and_leaves_live_and_foreign_ones(demo_project: Path) -> None:
    dead = subprocess.Popen(["sleep", "30"])
    dead_info = {"pid": dead.pid, "host": socket.gethostname(), "process_started": psutil.Process(dead.pid).create_time()}
    dead.kill()
    dead.wait()
    me = psutil.Process()
    reports = demo_project / "reports"
    gone = _write_manifest(reports, "a-gone", "running", dead_info)
    _write_manifest(reports, "b-pid-reused", "running", {"pid": me.pid, "host": socket.gethostname(),
                                                         "process_started": me.create_time() - 3600})
    _write_manifest(reports, "c-alive", "running", {"pid": me.pid, "host": socket.gethostname(), "process_started": me.create_time()})
    _write_manifest(reports, "d-other-host", "running", {**dead_info, "host": "some-other-host"})
    written = (gone / "manifest.json").stat().st_mtime
    proc = workbench("runs", cwd=demo_project)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("a-gone  interrupted validate:succeeded train:interrupted evaluate:skipped  "
                               f"(runner process {dead.pid} on {socket.gethostname()} is gone; noticed ")
    assert lines[1].startswith("b-pid-reused  interrupted ")
    assert lines[2] == f"c-alive  running     validate:succeeded train:running evaluate:pending  (runner pid {me.pid} on {socket.gethostname()})"
    assert lines[3] == f"d-other-host  running     validate:succeeded train:running evaluate:pending  (runner pid {dead.pid} on some-other-host)"
    data = _manifest(gone)
    assert data["status"] == "interrupted" and data["ended"].startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(written)))
    assert data["phases"]["train"]["status"] == "interrupted" and data["phases"]["train"]["error"].startswith("interrupted: runner process")
    assert data["phases"]["evaluate"]["status"] == "skipped" and data["phases"]["validate"]["status"] == "succeeded"


# --- slow: real runs, real signals ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_kernels_and_marks_the_run_interrupted(demo_project: Path, signum: int, code: int) -> None:
    run_dir = demo_project / "reports" / "stopped"
    proc = _start(demo_project, "--run-id", "stopped", "--phases", "validate,train,evaluate,register")
    kernels = _wait_for_train_mlflow_run(proc, run_dir)
    os.killpg(proc.pid, signum)  # Ctrl-C reaches the terminal's whole foreground process group
    out, err = proc.communicate(timeout=120)
    name = signal.Signals(signum).name
    assert proc.returncode == code, err
    assert "Traceback" not in without_kernel_shutdown_noise(err)
    assert not _gone(kernels, timeout=5)
    data = _manifest(run_dir)
    assert data["status"] == "interrupted" and data["signal"] == name and data["ended"]
    assert data["phases"]["validate"]["status"] == "succeeded"
    train = data["phases"]["train"]
    assert train["status"] == "interrupted" and train["error"].startswith(f"interrupted by {name}; DeadKernelError")
    assert data["phases"]["evaluate"]["status"] == data["phases"]["register"]["status"] == "skipped"
    assert _mlflow_status(demo_project, data["mlflow_parent_run_id"]) == "KILLED"
    assert _mlflow_status(demo_project, (run_dir / "train" / "mlflow_run_id").read_text().strip()) == "KILLED"
    assert out.startswith("run stopped: interrupted in") and "  train       interrupted" in out
    again = workbench("run", "--run-id", "again", "--phases", "validate", cwd=demo_project)
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_a_killed_runner_is_marked_interrupted_when_seen_and_a_rerun_succeeds(demo_project: Path) -> None:
    run_dir = demo_project / "reports" / "killed"
    proc = _start(demo_project, "--run-id", "killed")
    kernels = _wait_for_train_mlflow_run(proc, run_dir)
    proc.kill()
    proc.communicate(timeout=60)
    assert not _gone(kernels), "kernels outlived their killed runner"  # ipykernel polls its parent
    data = _manifest(run_dir)
    assert data["status"] == "running" and data["runner"]["pid"] == proc.pid
    listed = workbench("runs", cwd=demo_project)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("killed  interrupted validate:succeeded train:interrupted ")
    data = _manifest(run_dir)
    assert data["status"] == "interrupted" and data["phases"]["register"]["status"] == "skipped"
    assert _mlflow_status(demo_project, data["mlflow_parent_run_id"]) == "KILLED"
    assert _mlflow_status(demo_project, (run_dir / "train" / "mlflow_run_id").read_text().strip()) == "KILLED"
    rerun = workbench("run", "--run-id", "rerun", cwd=demo_project)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert _manifest(demo_project / "reports" / "rerun")["status"] == "succeeded"


@pytest.mark.slow
def test_a_full_disk_gives_one_error_line_and_a_failed_run(demo_project: Path, mounts: list[Path]) -> None:
    reports = demo_project / "full"
    _mount_tmpfs(reports, "size=160k")
    mounts.append(reports)
    write_config(demo_project, {"reports": str(reports)})
    proc = workbench("run", "--run-id", "full", "--phases", "validate", cwd=demo_project)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in without_kernel_shutdown_noise(proc.stderr)
    assert proc.stderr.splitlines()[-1].startswith("error: No space left on device: ")
    assert proc.stderr.splitlines()[-1].endswith(". Fix: free space on that disk, or point `reports`/`store` in the config at "
                                                 "another disk, and run again.")
    if (reports / "full" / "manifest.json").is_file():  # recorded where the disk still allowed it
        assert _manifest(reports / "full")["status"] == "failed"
    assert not [p for p in psutil.Process().children(recursive=True) if "ipykernel_launcher" in " ".join(p.cmdline())]


@pytest.mark.slow
def test_a_read_only_reports_folder_gives_one_error_line(demo_project: Path, mounts: list[Path]) -> None:
    reports = demo_project / "readonly"
    _mount_tmpfs(reports, "size=1m,ro")
    mounts.append(reports)
    write_config(demo_project, {"reports": str(reports)})
    proc = workbench("run", "--run-id", "ro", cwd=demo_project)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in without_kernel_shutdown_noise(proc.stderr)
    assert proc.stderr.splitlines()[-1] == (f"error: Read-only file system: {reports / 'ro'}. Fix: point `reports`/`store` in the config "
                                        "at a writable folder, or remount it read-write.")


@pytest.mark.slow
def test_kill_9_of_a_kernel_fails_its_phase_and_a_rerun_succeeds(demo_project: Path) -> None:
    proc = _start(demo_project, "--run-id", "kernelkill", "--phases", "validate,train,evaluate")
    run_dir = demo_project / "reports" / "kernelkill"
    for kernel in _wait_for_train_mlflow_run(proc, run_dir):
        kernel.kill()  # SIGKILL: the kernel dies mid-phase, the runner lives on
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err[-2000:]
    data = _manifest(run_dir)
    train = data["phases"]["train"]
    assert data["status"] == "failed" and train["status"] == "failed" and "DeadKernelError" in train["error"]
    assert data["phases"]["evaluate"]["status"] == "skipped"
    assert _mlflow_status(demo_project, data["mlflow_parent_run_id"]) == "FAILED"
    assert _mlflow_status(demo_project, (run_dir / "train" / "mlflow_run_id").read_text().strip()) == "FAILED"
    rerun = workbench("run", "--phases", "validate,train", cwd=demo_project)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
