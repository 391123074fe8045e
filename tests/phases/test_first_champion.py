"""A first version becomes champion only once its fairness and explanations audit and its model card exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import workbench
from workbench import registry
from workbench.config import load_config
from workbench.reports import model_card

pytestmark = pytest.mark.slow


def test_a_first_version_is_champion_only_with_its_audit_and_card(demo_project: Path) -> None:
    first = workbench("run", "--phases", "validate,train,baseline,evaluate,register", cwd=demo_project)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "model:    churn-demo v1 (semver 1.0.0, challenger, not champion yet: its model card was not produced)" in first.stdout
    config = load_config(demo_project / "workbench.yaml")
    assert registry.alias_version(config, "champion") is None and registry.alias_version(config, "baseline") is None
    assert str(registry.alias_version(config, "challenger").version) == "1"
    monitor = workbench("monitor", "--batch", "data/demo/batches/2026-01.parquet", cwd=demo_project)
    assert monitor.returncode == 1 and "has no champion to monitor yet" in monitor.stderr
    rest = workbench("run", "--phases", "responsible,model_card", cwd=demo_project)
    assert rest.returncode == 0, rest.stderr[-2000:]
    assert "model:    churn-demo v1 (semver 1.0.0, champion)" in rest.stdout
    assert str(registry.alias_version(config, "champion").version) == "1" and registry.alias_version(config, "challenger") is None
    baseline = registry.alias_version(config, "baseline")
    assert baseline.tags["workbench.champion_version"] == "1"
    card = model_card.read(config)
    assert card["model"]["aliases"] == ["champion"] and card["fairness"]["status"] == "assessed"
    verify = workbench("audit", "verify", cwd=demo_project)
    assert verify.returncode == 0 and "aliases match" in verify.stdout, verify.stdout + verify.stderr
    # A truncated manifest of the training run is reported, and never empties the card.
    run_id = registry.alias_version(config, "champion").tags["workbench.run_id"]
    manifest = demo_project / "reports" / run_id / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])
    runs = workbench("runs", cwd=demo_project)
    assert runs.returncode == 0 and any(run_id in line and "broken" in line for line in runs.stdout.splitlines()), runs.stdout
    refreshed = model_card.generate(config)
    assert refreshed["metrics"] == card["metrics"] and refreshed["metrics"]["rows"] > 0
    assert refreshed["explanations"] == card["explanations"] and refreshed["fairness"]["checks"] == card["fairness"]["checks"]
    assert any("records of the training run are unreadable" in x["text"] for x in refreshed["limitations"])
