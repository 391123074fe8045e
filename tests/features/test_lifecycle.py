"""The demo as shipped (``make run``): the lifecycle reads its features through the feature store.

Trains on entity files whose features all come from the two demo views (point-in-time joins), records
the views and their schema versions on the model version and its card, scores a batch through the
store, and then shows the version rule at work: a compatible minor change (a field added) still scores
with the old model; an incompatible major one is refused naming both versions.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import workbench
from workbench import registry
from workbench.config import load_config
from workbench.governance import audit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(shipped_demo: tuple[Path, list]) -> Path:
    """The shipped demo trained (``--run-id first``, then a second run registering a challenger): the session's
    ``shipped_demo``. This module adds only the online store (materialize); the version test works on a copy."""
    return shipped_demo[0]


def test_the_demo_trains_on_features_from_the_store(trained: Path) -> None:
    entities = pd.read_parquet(trained / "data/demo/entities/reference.parquet")
    assert "monthly_charges" not in entities.columns and {"customer_id", "snapshot_date", "churned"} <= set(entities.columns)
    config = load_config(trained / "workbench.yaml")
    reads = [e for e in audit.read(config.store) if e["action"] == "data_access" and e["details"].get("purpose") == "reference"]
    assert reads and all(e["details"]["feature_views"] == {"customer_profile": "1.0", "customer_usage": "1.0"} for e in reads)
    train = json.loads((trained / "reports/first/train/result.json").read_text())
    assert "monthly_charges" in train["schema"]["features"] and "contract" in train["schema"]["features"]
    assert train["data"]["rows_without_features"] == {"customer_profile": 0, "customer_usage": 0}
    mv = registry.alias_version(config, "champion")
    views = json.loads(mv.tags[registry.TAG + "feature_views"])
    assert {n: v["version"] for n, v in views.items()} == {"customer_profile": "1.0", "customer_usage": "1.0"}
    card = json.loads((trained / ".workbench/cards/churn-demo/v1/model_card.json").read_text())
    assert "customer_usage 1.0 (definition sha256" in card["lineage"]["feature_views"]


def test_materialize_and_status(trained: Path) -> None:
    done = workbench("features", "materialize", "--until", "2026-09-01", cwd=trained, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "into the sqlite online store until 2026-09-01T00:00:00+00:00" in done.stdout
    status = json.loads(workbench("features", "status", "--json", cwd=trained).stdout)
    assert status["materialized_until"] == "2026-09-01T00:00:00+00:00"
    assert status["views"]["customer_usage"]["newest_event"] == "2026-08-31T00:00:00+00:00"
    prom = (trained / ".workbench/metrics/workbench_features_churn-demo.prom").read_text()
    assert 'workbench_feature_staleness_seconds{view="customer_usage"}' in prom
    assert 'workbench_feature_load_time_seconds_count{store="offline",view="customer_profile"}' in prom
    bad = workbench("features", "materialize", "--until", "yesterday", cwd=trained)
    assert bad.returncode == 2 and "--until 'yesterday' is not an ISO date" in bad.stderr


def _monitor(project: Path, month: str):
    return workbench("monitor", "--batch", str(project / f"data/demo/entities/batches/{month}.parquet"), cwd=project, timeout=900)


def test_an_old_model_scores_after_a_minor_change_and_is_refused_after_a_major_one(trained: Path, tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(trained, project)
    source = project / "data/demo/features/customer_usage.parquet"
    usage = pd.read_parquet(source)
    usage["late_payments"] = (usage["support_calls"] % 3).astype("int64")
    usage.to_parquet(source, index=False)
    raw = yaml.safe_load((project / "workbench.yaml").read_text())
    view = raw["features"]["views"]["customer_usage"]
    view["fields"]["late_payments"] = "int64"
    (project / "workbench.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    refused = workbench("features", "apply", cwd=project)
    assert refused.returncode == 2 and "feature view 'customer_usage' changed (field 'late_payments' added) but its version is still 1.0" in refused.stderr

    view["version"] = "1.1"
    (project / "workbench.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    minor = _monitor(project, "2026-02")
    assert minor.returncode == 0, minor.stdout[-3000:] + minor.stderr[-3000:]
    score = json.loads(next((project / "reports").glob("*/score/result.json")).read_text())
    assert not score["fallback"]["used"] and score["model"]["role"] == "champion"
    assert score["batch"]["features"]["views"]["customer_usage"]["version"] == "1.1"

    view["version"] = "2.0"
    view["fields"]["support_calls"] = "float64"
    usage["support_calls"] = usage["support_calls"].astype("float64")
    usage.to_parquet(source, index=False)
    (project / "workbench.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    major = _monitor(project, "2026-03")
    assert major.returncode == 1, major.stdout[-3000:]
    said = major.stdout + major.stderr
    assert "trained on feature view 'customer_usage' 1.0; the store now serves 2.0" in said, said[-3000:]
