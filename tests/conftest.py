"""Shared fixtures: throwaway project folders with real data, a real store and real kernels."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data, generated once per test session."""
    from workbench.data import demo

    folder = tmp_path_factory.mktemp("demo-data")
    demo.generate(folder)
    return folder


def over_the_wire(arrays: list) -> list:
    """Arrays as Flower's NumPy messages carry them: ``np.save`` without pickle, and back."""
    import io

    import numpy as np

    out = []
    for a in arrays:
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        out.append(np.load(io.BytesIO(buf.getvalue()), allow_pickle=False))
    return out


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_config(*, features: bool = False) -> dict:
    """The repo's demo config as a dict. ``features=False`` (most tests): the flat demo (every column in
    ``data/demo/reference.parquet`` and ``data/demo/batches/``, no feature store); ``True``: as shipped
    (entity files under ``data/demo/entities/``, features from the feature store)."""
    base = yaml.safe_load((REPO / "workbench.yaml").read_text())
    if not features:
        base.pop("features", None)
        base["data"] |= {"reference": "data/demo/reference.parquet", "batches": "data/demo/batches"}
    return base


def copy_demo_config(project: Path, *, features: bool = False, **overrides: object) -> Path:
    """Write the demo config (:func:`demo_config`, demo data generated on first use) into ``project``."""
    path = project / "workbench.yaml"
    path.write_text(yaml.safe_dump(demo_config(features=features) | overrides, sort_keys=False))
    return path


def write_config(folder: Path, overrides: dict | None = None, *, data: dict | None = None) -> Path:
    """A project config in ``folder``: the flat demo's, with ``data`` and top-level ``overrides``."""
    base = demo_config()
    base["demo"] = False
    if data is not None:
        base["data"] = data
    base.update(overrides or {})
    path = folder / "workbench.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


# ipykernel 7.4 can log this race while a kernel shuts down (its IOPub event pipe closed under a last "idle" status;
# a sibling path was fixed upstream in ipython/ipykernel#1518). It is the kernel's own noise after the notebook
# finished, never ours: tests that assert our commands print no traceback remove exactly this block first.
_KERNEL_SHUTDOWN_RACE = re.compile(r"ERROR:tornado\.general:Uncaught exception in ZMQStream callback\nTraceback \(most recent call last\):\n"
                                   r"(?:[ \t].*\n)+zmq\.error\.ZMQError: Socket operation on non-socket\n?")


def without_kernel_shutdown_noise(text: str) -> str:
    """``text`` without ipykernel's shutdown-race log block (see ``_KERNEL_SHUTDOWN_RACE``)."""
    return _KERNEL_SHUTDOWN_RACE.sub("", text)


@pytest.fixture
def demo_project(tmp_path: Path, demo_files: Path) -> Path:
    """A project folder holding a copy of the demo data and a config pointing at it."""
    shutil.copytree(demo_files, tmp_path / "data" / "demo")
    write_config(tmp_path)
    return tmp_path


def workbench(*args: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run the real ``workbench`` console script."""
    return subprocess.run([str(BIN / "workbench"), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def _flat_demo_trained(tmp_path_factory: pytest.TempPathFactory, demo_files: Path) -> Path:
    """The flat demo trained once per session (champion v1, baseline v2): ``monitored_demo`` goes on in this folder, and
    ``trained_demo`` is a copy of it as trained, so the session pays for one training run instead of two."""
    project = tmp_path_factory.mktemp("monitor-project")
    shutil.copytree(demo_files, project / "data" / "demo")
    write_config(project)
    run = workbench("run", cwd=project)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return project


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory: pytest.TempPathFactory, _flat_demo_trained: Path) -> Path:
    """The flat demo trained once per session (champion v1, baseline v2), for tests that only ADD to it.

    Allowed: monitor runs of batch files named by the test (tests/phases/test_batch_contract.py,
    tests/phases/test_feedback_loop.py; tests/scale/test_cluster.py, with config files and a batches folder of its own
    names beside ``workbench.yaml``), review queues and feedback, served predictions and their log
    (tests/serving/test_feedback_api.py, tests/serving/test_prometheus.py). Tests that move an alias, train
    again, change the config or touch the store's files build their own project (e.g. ``trained_api_project``).

    A copy of ``_flat_demo_trained`` taken before ``monitored_demo`` monitors anything there: its own config, data, reports
    and store, except that MLflow keeps absolute artifact paths, so the model files it loads (and the artifacts of the
    runs it adds) are under the original's ``.workbench/artifacts``: one more reason never to touch the store's files here.
    """
    project = tmp_path_factory.mktemp("trained-demo") / "project"
    shutil.copytree(_flat_demo_trained, project)
    return project


@pytest.fixture(scope="session")
def own_regression(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A team's own regression CSV with only the contract keys (``other.yaml``), trained once per session from another
    folder: tests/cli/test_e2e.py checks the training, tests/phases/test_estimate.py then monitors batches (``--batch``)."""
    from tests.cli.test_e2e import own_csv_run

    folder = tmp_path_factory.mktemp("own-regression")
    return folder, own_csv_run(folder, "regression")


@pytest.fixture(scope="session")
def shipped_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[subprocess.CompletedProcess[str]]]:
    """The demo as shipped (features from the feature store) run twice, ``--run-id first`` then ``second``: v1 champion,
    v2 its baseline, v3 challenger. Read by tests/cli/test_e2e.py and tests/features/test_lifecycle.py; the only writes
    allowed are the online store's (``features materialize``) and a file tampered with and restored within one test.
    """
    from tests.cli.test_e2e import shipped_demo_run_twice

    return shipped_demo_run_twice(tmp_path_factory.mktemp("shipped-demo"))


@pytest.fixture(scope="session")
def monitored_demo(_flat_demo_trained: Path, trained_demo: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The flat demo trained once (``_flat_demo_trained``), then every batch monitored in order: shared, READ-ONLY history.

    Tests that change the store (approve, rollback, tamper) must build their own project. Known exception:
    tests/phases/test_monitor.py monitors extra batches into it (a fallback, a batch with holes); tests that
    read the demo's whole story (the status page) live in tests/apps, which pytest runs before tests/phases.
    """
    project = _flat_demo_trained  # trained_demo (requested above) has copied it as trained: monitoring only adds from here
    monitor = workbench("monitor", cwd=project, timeout=1200)
    assert monitor.returncode == 0, monitor.stdout[-3000:] + monitor.stderr[-3000:]
    return project, monitor


@pytest.fixture(scope="session", autouse=True)
def _no_stray_mlflow_store() -> Iterator[None]:
    """Everything the workbench logs goes to the project's store: none of it may land in the checkout
    (MLflow 3 creates ``./mlflow.db`` when a call runs before a tracking URI is set)."""
    before = {p for p in ("mlflow.db", "mlruns") if (REPO / p).exists()}
    yield
    after = {p for p in ("mlflow.db", "mlruns") if (REPO / p).exists()}
    assert after <= before, f"a test wrote {sorted(after - before)} into {REPO}: set the tracking URI first"


class RedisServer:
    """Debian's ``redis-server`` on a free loopback port (no persistence), started and stopped by PID."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        import time

        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                      "--dir", str(self.folder), "--protected-mode", "yes"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on 127.0.0.1:{self.port}")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real Redis for the test (``make test`` installs Debian's redis-server where it is missing)."""
    if not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        pytest.skip("redis-server is not installed and could not be (make redis: apt-get install redis-server)")
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
