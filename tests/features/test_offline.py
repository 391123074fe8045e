"""Point-in-time reads through the offline store: alignment, no leakage, TTL, cache, input columns, the retrain window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench.config import load_config
from workbench.data import sources
from workbench.exceptions import ConfigError, DataError
from workbench.features import store
from workbench.runner import triggers

pytestmark = pytest.mark.slow


def test_a_dataset_read_joins_the_missing_fields_at_each_rows_time(feature_project: Path) -> None:
    config = load_config(feature_project)
    data = feature_project.parent / "data"
    usage = pd.read_parquet(data / "usage.parquet")
    later = usage.head(5).assign(event_timestamp=usage.head(5)["event_timestamp"] + pd.Timedelta(days=10), spend=-1.0)
    pd.concat([usage, later]).to_parquet(data / "usage.parquet", index=False)  # a later snapshot of 5 entities
    entities = pd.read_parquet(data / "entities.parquet")
    first = entities.iloc[:5]["ts"]
    probe = pd.DataFrame({"entity_id": list(entities["entity_id"].iloc[:5]) * 3 + ["NOPE"],
                          "ts": list(first) + list(first + pd.Timedelta(days=11)) + list(first - pd.Timedelta(days=2)) + [first.iloc[0]],
                          "label": 0})
    probe.to_parquet(data / "probe.parquet", index=False)
    table = sources.read(config, data / "probe.parquet", purpose="test")
    frame = table.frame
    assert list(frame["entity_id"]) == list(probe["entity_id"]) and len(frame) == 16  # every row, in order
    assert (frame["spend"].iloc[:5].to_numpy() == usage["spend"].iloc[:5].to_numpy()).all()  # before the later snapshot: no leak
    assert (frame["spend"].iloc[5:10] == -1.0).all()  # after it: the later values
    assert frame["spend"].iloc[10:].isna().all() and frame["plan"].iloc[10:].isna().all()  # before any snapshot, or unknown: nulls
    assert table.features["rows_without_features"] == {"profile": 6, "usage": 6}
    assert table.features["cache"] == "miss" and set(table.features["seconds"]) == {"profile", "usage"}
    again = sources.read(config, data / "probe.parquet", purpose="test")
    assert again.features["cache"] == "hit"
    pd.testing.assert_frame_equal(again.frame, frame)


def test_ttl_and_input_columns(feature_project: Path) -> None:
    raw = yaml.safe_load(feature_project.read_text())
    raw["features"]["views"]["usage"]["ttl"] = "1h"
    feature_project.write_text(yaml.safe_dump(raw))
    config = load_config(feature_project)
    data = feature_project.parent / "data"
    entities = pd.read_parquet(data / "entities.parquet").head(20)  # stamped 1 h after the snapshot: at the ttl
    entities.assign(ts=entities["ts"] + pd.Timedelta(hours=2), spend=7.0).to_parquet(data / "late.parquet", index=False)
    table = sources.read(config, data / "late.parquet", purpose="test")
    assert table.features["fetched"] == {"profile": ["plan", "tenure"], "usage": ["calls"]}  # spend came with the file
    assert (table.frame["spend"] == 7.0).all()
    assert table.frame["calls"].isna().all() and table.frame["plan"].notna().all()  # usage is older than its 1 h ttl


def test_bad_entity_frames_are_refused(feature_project: Path) -> None:
    data = feature_project.parent / "data"
    raw = yaml.safe_load(feature_project.read_text())
    raw["data"].pop("timestamp")
    feature_project.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="data.timestamp"):
        sources.read(load_config(feature_project), data / "entities.parquet", purpose="test")
    raw["data"]["timestamp"] = "ts"
    feature_project.write_text(yaml.safe_dump(raw))
    pd.read_parquet(data / "entities.parquet").drop(columns=["ts"]).to_parquet(data / "nots.parquet")
    with pytest.raises(DataError, match=r"column 'ts' \(data.timestamp\) is missing"):
        sources.read(load_config(feature_project), data / "nots.parquet", purpose="test")


def test_the_retrain_window_keeps_entity_columns_only(feature_project: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load(feature_project.read_text())
    raw["retrain"] = {"window": 0}
    feature_project.write_text(yaml.safe_dump(raw))
    config = load_config(feature_project)
    out = triggers.build_window(config, tmp_path / "window")
    assert list(pd.read_parquet(out["path"]).columns) == ["entity_id", "ts", "label"]
    applied = store.status(config)
    assert applied["views"]["usage"]["version"] == "1.0" and applied["views"]["usage"]["stale"] in (True, False)
