"""Real ``workbench api`` processes on loopback, started per test and stopped by PID (their process group)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import BIN, demo_config, free_port, workbench


@dataclass
class Api:
    """A running service: its base URL, process and log file."""

    url: str
    proc: subprocess.Popen
    log: Path

    def post(self, body: object | None = None, *, content: bytes | None = None, **kw: object) -> httpx.Response:
        if content is not None:
            return httpx.post(self.url + "/predict", content=content, headers={"content-type": "application/json"}, timeout=30, **kw)
        return httpx.post(self.url + "/predict", json=body, timeout=30, **kw)

    def get(self, path: str, **kw: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kw)

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of ``/metrics`` (0 when absent)."""
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(name + ("{" if labels else " ")):
                head, _, value = line.rpartition(" ")
                found = ",".join(sorted(head[head.find("{") + 1:-1].split(","))) if labels else ""
                if found == want:
                    return float(value)
        return 0.0

    def stop(self) -> str:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.log.read_text()


def start_api(project: Path, *args: str, env: dict[str, str] | None = None, wait_ready: bool = True) -> Api:
    port = free_port()
    log = project / f"api-{port}.log"
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([str(BIN / "workbench"), "api", "--port", str(port), *args], cwd=project, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})}, start_new_session=True)
    api = Api(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"workbench api exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if api.get("/ready" if wait_ready else "/health").status_code == 200:
                return api
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    api.stop()
    raise AssertionError(f"workbench api did not get ready: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def trained_api_project(tmp_path_factory: pytest.TempPathFactory, demo_files: Path) -> Path:
    """A demo project trained once per module (champion v1, baseline v2), for tests that change it."""
    project = tmp_path_factory.mktemp("api-project")
    shutil.copytree(demo_files, project / "data" / "demo")
    config = demo_config()
    config["demo"] = False
    config["serving"] = {"alias_poll_s": 0.5}
    (project / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run = workbench("run", cwd=project)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return project


def set_config(project: Path, **sections: dict) -> None:
    """Change top-level sections of the project's config (read by the next process started)."""
    path = project / "workbench.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(sections)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.fixture
def api_factory() -> Iterator[list[Api]]:
    """Start services with ``start_api``; every one is stopped at the end."""
    started: list[Api] = []
    yield started
    for api in started:
        api.stop()
