"""Starting and watching the federated processes on this machine: one Flower server, one process per site.

Each process gets its job (and its secret) as JSON on standard input, runs with Flower's
telemetry off (``FLWR_TELEMETRY_ENABLED=0``) and the workbench's safe environment, and writes its
log to ``<logs>/<name>.log``. Lines a process prints with the event prefix
(:func:`workbench.federated._protocol.emit`) are events: they are timestamped, kept, and handed to
the caller's ``on_event`` callback (progress, timing, tests). The watcher stops everything when
the server ends, when a site fails before the run can reach ``federated.min_sites``, or at the
deadline, and never leaves a process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import workbench
from workbench._io import SAFE_ENV
from workbench.exceptions import FederatedError
from workbench.federated import _protocol

SERVER = "workbench.federated._server"
SITE = "workbench.federated._client"
GRACE_S = 10.0  # how long sites get to leave after the server finished
FAILED_GRACE_S = 2.0  # after a failed server: the sites it admitted were told to leave, any other one would wait in vain


@dataclass
class Fleet:
    """The running processes of one federated run, and the events they reported."""

    logs: Path
    started: float = field(default_factory=time.time)
    ended: float = 0.0  # when every process had exited
    server: subprocess.Popen[str] | None = None
    sites: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    on_event: Callable[[dict[str, Any], Fleet], None] | None = None
    readers: list[threading.Thread] = field(default_factory=list, repr=False)  # one per process: its output into events and log
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def first(self, name: str) -> dict[str, Any] | None:
        """The first event called ``name``, or None."""
        with self._lock:
            return next((e for e in self.events if e["event"] == name), None)

    def dropped(self) -> set[str]:
        """The sites the server has dropped so far."""
        with self._lock:
            return {str(e.get("site")) for e in self.events if e["event"] == "dropped"}

    def _event(self, source: str, event: dict[str, Any]) -> None:
        event["source"] = source
        with self._lock:
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event, self)

    def site_error(self, site: str) -> str | None:
        """The ``error: ...`` line a site process ended with, if any."""
        path = self.logs / f"site-{site}.log"
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []
        return next((line.removeprefix("error: ") for line in reversed(lines) if line.startswith("error: ")), None)

    def all(self) -> list[subprocess.Popen[str]]:
        return [p for p in [self.server, *self.sites.values()] if p is not None]


def environment() -> dict[str, str]:
    """The environment of a federated process: this one's, telemetry off, the safe settings, this workbench first on the path."""
    root = str(Path(workbench.__file__).resolve().parent.parent)
    env = dict(os.environ) | SAFE_ENV | {"FLWR_TELEMETRY_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([root, *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])])
    return env


def spawn(fleet: Fleet, name: str, module: str, job: dict[str, Any]) -> subprocess.Popen[str]:
    """Start ``python -m module`` with ``job`` on its standard input; its events go to the fleet, the rest to its log."""
    log = fleet.logs / f"{name}.log"
    with open(log, "a", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                env=environment(), text=True, bufsize=1)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(job))
    proc.stdin.close()

    def read(stream: Any = proc.stdout) -> None:
        with open(log, "a", encoding="utf-8") as out:
            for line in stream:
                event = _protocol.parse_event(line)
                if event is not None:
                    fleet._event(name, event)
                else:
                    out.write(line)
                    out.flush()
        stream.close()

    reader = threading.Thread(target=read, daemon=True, name=f"events-{name}")
    reader.start()
    fleet.readers.append(reader)
    return proc


def run(server_job: dict[str, Any], site_jobs: dict[str, dict[str, Any]], *, logs: Path, min_sites: int, deadline_s: float,
        server_module: str = SERVER, site_module: str = SITE, on_event: Callable[[dict[str, Any], Fleet], None] | None = None,
        remote: list[str] | None = None) -> Fleet:
    """Run one federated job to its end and return the fleet (its processes have all exited).

    ``site_jobs`` are the sites started here; ``remote`` names the sites that join from their own
    machines (``workbench federated site``): the server waits for them, and they count towards
    ``min_sites`` while the server has not dropped them.

    Raises
    ------
    FederatedError
        A site process failed and fewer than ``min_sites`` remain, the server died without an outcome,
        or the run exceeded ``deadline_s``.
    """
    logs.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(logs, on_event=on_event)
    try:
        fleet.server = spawn(fleet, "server", server_module, server_job)
        for site, job in site_jobs.items():
            fleet.sites[site] = spawn(fleet, f"site-{site}", site_module, job)
        _watch(fleet, min_sites=min_sites, deadline=time.monotonic() + deadline_s, remote=set(remote or ()))
    finally:
        _stop(fleet)
        fleet.ended = time.time()
    return fleet


def _watch(fleet: Fleet, *, min_sites: int, deadline: float, remote: set[str]) -> None:
    assert fleet.server is not None
    while fleet.server.poll() is None:
        failed = {s: p.returncode for s, p in fleet.sites.items() if p.poll() is not None and p.returncode > 0}  # killed ones: the server sees them
        running = sum(p.poll() is None for p in fleet.sites.values()) + len(remote - fleet.dropped())  # remote sites: alive until the server drops them
        if failed and running < min_sites and fleet.first("done") is None:
            named = "; ".join(f"site {s!r}: {(fleet.site_error(s) or f'exit code {code} (see its log)').rstrip('.')}" for s, code in failed.items())
            raise FederatedError(f"{named}. Only {running} site process(es) left, but federated.min_sites is {min_sites}; "
                                 "nothing was registered. Fix the site's problem and run again.")
        if time.monotonic() > deadline:
            raise FederatedError("the federated run did not finish in time (every round is bounded by federated.round_timeout_s); "
                                 f"nothing was registered. See the logs in {fleet.logs}.")
        time.sleep(0.05)


def _stop(fleet: Fleet) -> None:
    """Let the sites leave after the server ended; kill what is left (the server first when it is still running)."""
    if fleet.server is not None and fleet.server.poll() is None:
        fleet.server.kill()
    end = time.monotonic() + (GRACE_S if fleet.server is not None and fleet.server.returncode == 0 else FAILED_GRACE_S)
    for proc in fleet.all():
        try:
            proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
