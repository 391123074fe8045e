"""The prediction log: appends from threads, export as a batch, labels joined by prediction id or customer id, hostile files."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from workbench.config import Config
from workbench.exceptions import DataError
from workbench.governance import audit
from workbench.serving import predlog


def _config(tmp_path: Path) -> Config:
    return Config(project="p", store=tmp_path / "store", data={"reference": str(tmp_path / "r.parquet"), "target": "churned",
                                                                "id": "customer_id", "timestamp": "snapshot_date"})


def _entry(i: int) -> dict:
    return {"prediction_id": [f"p{i}"], "predicted_at": "2026-11-27T10:00:00", "score": [i / 1000], "model_role": ["champion"],
            "record": [{"customer_id": i, "snapshot_date": "2026-07-01T00:00:00.000", "tenure_months": i % 70, "contract": "monthly"}]}


def _logged(config: Config, n: int = 300) -> None:
    log = predlog.PredictionLog(config, flush_s=0.01)
    log.start()
    threads = [threading.Thread(target=lambda k=k: [log.append(_entry(i)) for i in range(k, n, 3)]) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert log.written == n and log.failed == 0


def test_export_gives_every_logged_record_once_with_labels_by_prediction_id(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _logged(config)
    pd.DataFrame({"prediction_id": ["p1", "p2", "p2"], "churned": [1, 0, 1]}).to_csv(tmp_path / "labels.csv", index=False)
    done = predlog.export(config, tmp_path / "out.parquet", labels=tmp_path / "labels.csv")
    frame = pd.read_parquet(done.path)
    assert done.rows == 300 and sorted(frame["customer_id"]) == list(range(300)) and frame["prediction_id"].is_unique
    assert done.labelled == 2 and frame.set_index("prediction_id").loc["p2", "churned"] == 1  # the later label wins
    assert str(frame["snapshot_date"].dtype).startswith("datetime64")
    assert any(e["action"] == "predictions_export" for e in audit.read(config.store))


def test_labels_join_by_the_id_column_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _logged(config, 30)
    day = next(predlog.log_dir(config).glob("*.jsonl"))
    with day.open("a") as fh:
        fh.write('{"prediction_id": "torn", "rec')
    pd.DataFrame({"customer_id": [3, 4], "churned": [1, 1]}).to_parquet(tmp_path / "labels.parquet")
    done = predlog.export(config, tmp_path / "out.parquet", labels=tmp_path / "labels.parquet")
    assert done.rows == 30 and done.torn_lines == 1 and done.labelled == 2


@pytest.mark.parametrize(("labels", "message"), [
    (pd.DataFrame({"who": [1], "churned": [1]}), "need a 'prediction_id' column or the id column 'customer_id'"),
    (pd.DataFrame({"prediction_id": ["p1"], "outcome": [1]}), "no target column 'churned'"),
])
def test_bad_labels_are_refused_naming_the_file_and_nothing_is_written(tmp_path: Path, labels: pd.DataFrame, message: str) -> None:
    config = _config(tmp_path)
    _logged(config, 10)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(DataError, match=message) as err:
        predlog.export(config, tmp_path / "out.parquet", labels=tmp_path / "labels.csv")
    assert "labels.csv" in str(err.value) and not (tmp_path / "out.parquet").exists()


def test_an_empty_log_says_how_to_fill_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no predictions logged.*workbench api"):
        predlog.export(_config(tmp_path))
