"""One gated project shared by the gate and retrain-loop tests (package scope: three DAG runs in all).

Built through the real console script on the flat demo: ``workbench run`` (v1 champion, with its
baseline), then ``workbench retrain --gate`` twice — once with ``worse.yaml`` (logistic regression,
the baseline's estimator: not rejected by the evaluate phase, but clearly behind the champion) and
once with the project's own config (the champion's estimator on the same data: as good as it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, write_config
from workbench.config import load_config

# The demo's intersection gender & age_band has an equalized-odds gap above thresholds.equalized_odds (0.1): the
# responsible phase flags it too. The "good" retrain loosens the fairness bound so that only the metric decides.
LOOSE_FAIRNESS = "0.3"


def wb(project: Path, *args: str, user: str = "alice", timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """The real console script in ``project`` as ``user``."""
    env = {**os.environ, "WORKBENCH_USER": user}
    return subprocess.run([str(BIN / "workbench"), *args], cwd=project, capture_output=True, text=True, timeout=timeout, env=env)


def registered(project: Path, proc: subprocess.CompletedProcess[str]) -> dict:
    """The register phase's result of the retrain run ``proc`` printed."""
    run_id = next(line.split()[1].rstrip(":") for line in proc.stdout.splitlines() if line.startswith("run "))
    return json.loads((project / "reports" / run_id / "register" / "result.json").read_text()) | {"run_id": run_id}


@pytest.fixture(scope="package")
def gated(tmp_path_factory: pytest.TempPathFactory, demo_files: Path) -> dict:
    project = tmp_path_factory.mktemp("gated")
    shutil.copytree(demo_files, project / "data" / "demo")
    write_config(project)
    raw = yaml.safe_load((project / "workbench.yaml").read_text())
    raw["model"] |= {"estimator": "logistic_regression", "params": {}}
    (project / "worse.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    out: dict = {"project": project, "config": load_config(project / "workbench.yaml")}
    out["run"] = wb(project, "run", "--run-id", "first")
    assert out["run"].returncode == 0, out["run"].stdout[-3000:] + out["run"].stderr[-3000:]
    out["worse"] = wb(project, "retrain", "--trigger", "manual", "--gate", "--reason", "a weaker estimator", "--config", "worse.yaml")
    out["good"] = wb(project, "retrain", "--trigger", "manual", "--gate", "--max-fairness-gap", LOOSE_FAIRNESS, "--reason", "same model")
    for name in ("worse", "good"):
        assert any(line.startswith("run ") for line in out[name].stdout.splitlines()), out[name].stdout[-3000:] + out[name].stderr[-3000:]
        out[f"{name}_reg"] = registered(project, out[name])
    return out
