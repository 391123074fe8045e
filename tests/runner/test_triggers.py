"""Retrain triggers without training: the data window, the derived config, requests and refusals."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, write_config
from workbench.config import load_config
from workbench.exceptions import ConfigError, WorkbenchError
from workbench.governance import audit, requests
from workbench.runner import triggers


def _run(project: Path, *args: str, user: str = "someone") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_USER": user}
    return subprocess.run([str(BIN / "workbench"), *args], cwd=project, capture_output=True, text=True, timeout=300, env=env)


def test_window_without_monitored_batches_is_the_reference_and_the_derived_config_points_at_it(demo_project: Path) -> None:
    config = load_config(demo_project / "workbench.yaml")
    folder = config.store / "retrain" / "r1"
    window = triggers.build_window(config, folder)
    assert window["rows"] == 8000 and [s["path"] for s in window["sources"]] == [str(config.data.reference)]
    derived = triggers.derived_config(config, folder, Path(window["path"]))
    assert derived.data.reference == folder / "training.parquet" and derived.store == config.store and derived.reports == config.reports
    assert derived.project == config.project and derived.model == config.model and derived.demo is False
    assert audit.read(config.store)[-1]["details"]["purpose"] == "reference"  # the window's reads are audited


def test_empty_window_is_refused(demo_project: Path) -> None:
    path = write_config(demo_project, {"retrain": {"reference": False, "window": 2}})
    config = load_config(path)
    with pytest.raises(WorkbenchError) as err:
        triggers.build_window(config, config.store / "retrain" / "r2")
    assert str(err.value) == (f"{path}: the training window is empty (retrain.reference is false and no monitored batch has labels). "
                              "Fix: monitor labelled batches first or set retrain.reference: true.")


def test_event_trigger_without_a_drift_request_is_not_due(demo_project: Path) -> None:  # the hourly event loop's usual answer
    proc = _run(demo_project, "retrain", "--trigger", "event")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert "no retrain due: no pending drift retrain request (monitoring has not crossed a threshold); use --trigger manual" in proc.stdout
    assert not list((demo_project / "reports").glob("*retrain*"))  # nothing ran


def test_a_viewer_cannot_retrain_and_the_attempt_is_audited(demo_project: Path) -> None:
    write_config(demo_project, {"roles": {"vic": "viewer", "sam": "data_scientist"}})
    proc = _run(demo_project, "retrain", "--reason", "because", user="vic")
    assert proc.returncode == 3 and "'vic' (role: viewer) may not train churn-demo (retrain): requires role data_scientist" in proc.stderr
    (event,) = audit.read(demo_project / ".workbench")
    assert (event["actor"], event["action"], event["details"]["attempted"]) == ("vic", "denied", "train")
    assert not (demo_project / ".workbench" / "requests").exists()  # nothing filed, nothing trained


def test_requests_move_through_their_statuses(demo_project: Path) -> None:
    config = load_config(demo_project / "workbench.yaml")
    body = requests.request(config, trigger="manual", run_id="r-1", reasons=["asked for"])
    assert [r["id"] for r in requests.pending(config)] == ["retrain-r-1"]
    requests.update(config, body["id"], status="awaiting approval", version="7")
    stored = json.loads((config.store / "requests" / "retrain-r-1.json").read_text())
    assert stored["status"] == "awaiting approval" and stored["version"] == "7" and stored["updated"]
    assert requests.pending(config) == [] and requests.update(config, None, status="x") is None
    with pytest.raises(WorkbenchError, match=r"retrain request 'nope' not found in .*requests\. Known requests: retrain-r-1\."):
        requests.get(config, "nope")


@pytest.mark.parametrize(("overrides", "message"), [
    ({"canary": {"share": 1.0}}, "key 'canary.share': input should be less than 1 (got 1.0). Fix the value in the config."),
    ({"retrain": {"window": -1}}, "key 'retrain.window': input should be greater than or equal to 0 (got -1). Fix the value in the config."),
    ({"retrain": {"max_age": 3}}, "unknown key 'retrain.max_age' — did you mean 'max_age_days'? Valid keys here: max_age_days, window, reference."),
], ids=["canary-share-1", "negative-window", "typo"])
def test_governance_config_errors_name_the_key(demo_project: Path, overrides: dict, message: str) -> None:
    path = write_config(demo_project, overrides)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: {message}"
