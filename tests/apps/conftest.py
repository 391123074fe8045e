"""A real ``workbench serve`` (Voila) process on a free port, and helpers to talk to it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OUTPUT = REPO / "test-output"


@dataclass
class Server:
    """A running server: its base URL, token, process and log file."""

    url: str
    token: str
    proc: subprocess.Popen
    log: Path

    def get(self, path: str, *, token: bool = True, headers: dict | None = None) -> tuple[int, dict, str]:
        """GET ``path`` without following redirects: (status, headers, body)."""
        url = self.url + path.lstrip("/")
        if token and self.token:
            url += ("&" if "?" in url else "?") + f"token={self.token}"
        request = urllib.request.Request(url, headers=headers or {})
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=120) as response:
                return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return None


@contextmanager
def serving(args: list[str], *, cwd: Path, token: str = "", env: dict | None = None, timeout: float = 90) -> Iterator[Server]:
    """Start ``args`` (a command that serves on the port it was given), wait until it listens, stop it after."""
    port = int(args[args.index("--port") + 1])
    log = OUTPUT / "logs" / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(log, "w") as out:
        proc = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=full_env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}: {log.read_text()[-3000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"server did not listen on {port} within {timeout}s: {log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(f"http://127.0.0.1:{port}/", token, proc, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the session this fixture started: the server and its kernels
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def serve_args(port: int, *extra: str) -> list[str]:
    """The real console script: ``workbench serve --port PORT ...``."""
    return [str(BIN / "workbench"), "serve", "--port", str(port), *extra]


APPS_TOKEN = "s3cret-test-token"


@pytest.fixture(scope="package")
def apps_server(monitored_demo) -> Iterator[Server]:
    """``workbench serve --pool-size 1`` on the monitored demo with a token, started once for tests/apps/test_browser.py and
    tests/apps/test_http.py (each start pre-heats a kernel per app); neither changes the server or the project."""
    from tests.conftest import free_port

    with serving(serve_args(free_port(), "--pool-size", "1"), cwd=monitored_demo[0], token=APPS_TOKEN,
                 env={"WORKBENCH_SERVE_TOKEN": APPS_TOKEN}) as srv:
        yield srv


def stored_choice(folder: Path, batch: str = "2026-08"):  # noqa: ANN201
    """A monitor run folder (results already written under it) as the run pickers offer it: model v1, the champion."""
    from workbench.apps._context import Choice
    from workbench.reports.catalog import RunInfo

    info = RunInfo(folder.name, folder, {"kind": "monitor", "started": "2026-08-01T00:00:00+00:00", "phases": {}})
    return Choice(folder.name, batch, "1", "1.0.0", "champion", "", info)
