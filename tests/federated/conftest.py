"""Shared fixtures: the demo's reference split into three site files (IID and skewed), and throwaway federated projects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import demo_config, free_port

SITES = ("a", "b", "c")


@pytest.fixture(scope="session")
def site_files(demo_files: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """The demo reference (every feature column joined) split into three sites, once: ``{"iid": {site: file}, "skewed": {...}}``.

    :func:`workbench.data.demo.split_rows` (seed 17), as ``workbench demo --sites 3`` splits it. IID: a seeded
    shuffle dealt in turn. Skewed by the target: site a gets 60 % of the churners and 20 % of the others,
    b 25 % / 40 %, c 15 % / 40 % (churn shares about 0.55, 0.21, 0.14).
    """
    import pandas as pd

    from workbench.data import demo

    frame = pd.read_parquet(demo_files / "reference.parquet")
    folder = tmp_path_factory.mktemp("federated-sites")
    out: dict[str, dict[str, Path]] = {}
    for split in ("iid", "skewed"):
        out[split] = {}
        for site, index in demo.split_rows(frame["churned"], len(SITES), split).items():
            path = folder / f"{split}-{site}.parquet"
            frame.iloc[index].to_parquet(path, index=False)
            out[split][site] = path
    return out


def federated_project(folder: Path, sites: dict[str, Path], **federated: Any) -> Path:
    """A project config in ``folder`` training across ``sites`` on a free loopback port; ``federated`` keys override."""
    base = demo_config()
    base["demo"] = False
    base["sites"] = {name: {"data": str(path)} for name, path in sites.items()}
    base["federated"] = {"address": f"127.0.0.1:{free_port()}", "rounds": 5, "round_timeout_s": 30} | federated
    path = folder / "workbench.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def site_split(config: Any, path: Path) -> tuple[Any, Any, Any]:
    """A site's training and holdout rows as its process splits them, and the schema."""
    from workbench.data import frames, load_table, sources

    frame = load_table(path).frame
    schema = sources.schema(config, frame, source=str(path))
    train, holdout = frames.split(frame, schema, config)
    return train, holdout, schema


def rogue(config: Path, site: str, data: Path, secret: str, address: str, log: Path, ca: Path | None = None) -> subprocess.Popen[bytes]:
    """A real site process that claims to be ``site`` with ``secret`` (the workbench's own site program, used against it)."""
    from workbench.federated import _processes

    job = {"config": str(config), "site": site, "data": str(data), "secret": secret, "address": address,
           "ca": str(ca) if ca else None, "timeout": 20}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "workbench.federated._client"], stdin=subprocess.PIPE, stdout=out,
                                stderr=subprocess.STDOUT, env=_processes.environment())
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(job).encode())
    proc.stdin.close()
    return proc


def kill_at_round(site: str, round_: int, seen: dict[str, Any]) -> Any:
    """An ``on_event`` callback that SIGKILLs ``site``'s process when the server starts round ``round_``."""
    def on_event(event: dict[str, Any], fleet: Any) -> None:
        seen.setdefault("fleet", fleet)
        if event["event"] == "round" and event["round"] == round_ and "killed" not in seen:
            os.kill(fleet.sites[site].pid, signal.SIGKILL)
            seen["killed"] = event["round"]

    return on_event

