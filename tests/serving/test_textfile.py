"""The batch score phase writes the service's metric names to a Prometheus textfile, adding up across batches."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from workbench.config import load_config
from workbench.serving import metrics

pytestmark = pytest.mark.slow


def test_monitoring_every_batch_adds_up_in_the_textfile(monitored_demo: tuple[Path, object]) -> None:
    project, _ = monitored_demo
    config = load_config(project / "workbench.yaml")
    path = metrics.textfile_path(config)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(path.read_text()) for s in family.samples}
    rows = sum(len(pd.read_parquet(p)) for p in (project / "data" / "demo" / "batches").glob("*.parquet"))
    predicted = sum(v for (name, _), v in samples.items() if name == "workbench_predictions_total")
    assert predicted >= rows  # every batch once (other tests may monitor a few more)
    assert samples[("workbench_breaker_state", (("breaker", "champion"),))] == 0
    assert any(name == "workbench_served_version" and dict(labels)["role"] == "champion" for name, labels in samples)
    assert any(name == "workbench_model_loads_total" and dict(labels) == {"role": "champion", "outcome": "ok"} for name, labels in samples)
