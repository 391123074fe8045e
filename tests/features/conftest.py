"""A small feature-store project: entity files and two Parquet views, written per test (no Feast needed to build it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import demo_config

VIEWS = {
    "profile": {"plan": "string", "tenure": "int64"},
    "usage": {"spend": "float64", "calls": "int64"},
}


def write_feature_project(folder: Path, *, n: int = 300, views: dict | None = None, online: str = "sqlite", seed: int = 0) -> Path:
    """Entity file (id, ts, label) + one Parquet source per view; returns the config path."""
    rng = np.random.default_rng(seed)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    ids = [f"E{i:05d}" for i in range(n)]
    when = pd.Timestamp("2026-06-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    profile = pd.DataFrame({"entity_id": ids, "event_timestamp": when, "plan": rng.choice(["a", "b", "c"], n), "tenure": rng.integers(1, 60, n)})
    usage = pd.DataFrame({"entity_id": ids, "event_timestamp": when, "spend": rng.gamma(2.0, 20.0, n).round(2), "calls": rng.integers(0, 8, n)})
    profile.to_parquet(data / "profile.parquet", index=False)
    usage.to_parquet(data / "usage.parquet", index=False)
    logit = (usage["spend"] - 40) / 20 + (profile["plan"] == "a") * 1.0
    entities = pd.DataFrame({"entity_id": ids, "ts": when.tz_localize(None) + pd.Timedelta(hours=1),
                             "label": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)})
    entities.to_parquet(data / "entities.parquet", index=False)
    base = demo_config()
    base.update({"project": "fs-test", "demo": False, "kpis": [],
                 "data": {"reference": "data/entities.parquet", "target": "label", "id": "entity_id", "timestamp": "ts"},
                 "features": {"entity": {"name": "entity", "key": "entity_id"}, "online": online,
                              "views": {name: {"source": f"data/{name}.parquet", "timestamp": "event_timestamp", "ttl": "400d",
                                               "version": "1.0", "fields": dict(fields)} for name, fields in (views or VIEWS).items()}}})
    base.pop("serving", None)
    path = folder / "workbench.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


@pytest.fixture
def feature_project(tmp_path: Path) -> Path:
    """The config path of a fresh small feature-store project."""
    return write_feature_project(tmp_path)


def edit_view(config_path: Path, view: str, **changes: object) -> None:
    """Change one view's definition in the config file (fields merge; ``drop`` removes fields)."""
    raw = yaml.safe_load(config_path.read_text())
    spec = raw["features"]["views"][view]
    for name in changes.pop("drop", []):
        spec["fields"].pop(name)
    spec["fields"].update(changes.pop("fields", {}))
    spec.update(changes)
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
