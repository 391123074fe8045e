"""The feedback store: predictions indexed by id, feedback checked whole and stored all or nothing, append-only, audited."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench._io import sha256_file
from workbench.config import Config
from workbench.exceptions import AuditError, DataError, FeedbackError, ParameterError
from workbench.governance import audit, feedback, review_queue

FIX_UNKNOWN = "Fix: use an id the service returned or the score phase indexed (a typo, or a batch not scored yet)"


def _config(tmp_path: Path, task: str = "binary") -> Config:
    return Config(project="p", store=tmp_path / "store", data={"reference": str(tmp_path / "r.parquet"), "target": "y", "id": "cid"},
                  model={"task": task})


def _predictions(n: int = 300, *, seed: int = 0, prefix: str = "p") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"prediction_id": [f"{prefix}{i:04d}" for i in range(n)], "score": rng.random(n), "model_version": "3",
                         "entity_id": np.arange(n) + 1000})


def _indexed(tmp_path: Path, n: int = 300, task: str = "binary") -> Config:
    config = _config(tmp_path, task)
    assert feedback.index_predictions(config, _predictions(n), source="batch", batch="2026-03", run_id="r1") == n
    return config


def _count(config: Config, table: str = "feedback") -> int:
    with sqlite3.connect(feedback.db_path(config)) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _csv(tmp_path: Path, rows: dict, name: str = "fb.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_indexing_is_idempotent_and_fills_a_near_threshold_uncertainty(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    frame = _predictions(310)
    assert feedback.index_predictions(config, frame, source="batch", batch="2026-03") == 10  # the 300 already indexed are left alone
    with sqlite3.connect(feedback.db_path(config)) as conn:
        rows = conn.execute("SELECT prediction_id, source, batch, run_id, model_version, entity_id, score, confidence, uncertainty "
                            "FROM predictions WHERE prediction_id = 'p0005'").fetchall()
    score = frame.loc[5, "score"]
    assert rows == [("p0005", "batch", "2026-03", "r1", "3", "1005", score, max(score, 1 - score), pytest.approx(1 - abs(score - 0.5) / 0.5))]
    assert _count(config, "predictions") == 310
    gappy = _predictions(2, prefix="g").assign(entity_id=[7.0, np.nan])  # an id column read as float because of a gap
    feedback.index_predictions(config, gappy, source="batch")
    with sqlite3.connect(feedback.db_path(config)) as conn:
        assert conn.execute("SELECT entity_id FROM predictions WHERE prediction_id LIKE 'g%' ORDER BY 1").fetchall() == [(None,), ("7",)]


def test_indexing_keeps_given_columns_and_regression_has_no_default_uncertainty(tmp_path: Path) -> None:
    config = _config(tmp_path, "regression")
    frame = _predictions(3).assign(set_size=[1, 2, 1], predicted_at=["2026-05-01T10:00:00Z", None, "2026-05-02"])
    assert feedback.index_predictions(config, frame, source="online", batch=None) == 3
    with sqlite3.connect(feedback.db_path(config)) as conn:
        rows = conn.execute("SELECT batch, confidence, set_size, uncertainty, predicted_at FROM predictions ORDER BY prediction_id").fetchall()
    assert [r[:4] for r in rows] == [(None, None, 1, None), (None, None, 2, None), (None, None, 1, None)]
    assert rows[0][4] == "2026-05-01T10:00:00.000000+00:00" and rows[2][4] == "2026-05-02T00:00:00.000000+00:00" and rows[1][4] > "2026-"


def test_indexing_refuses_a_frame_without_its_columns(tmp_path: Path) -> None:
    config = _config(tmp_path)
    with pytest.raises(DataError) as err:
        feedback.index_predictions(config, pd.DataFrame({"prediction_id": ["a"], "score": [0.2]}), source="batch")
    assert str(err.value) == ("predictions to index lack column(s) model_version (found prediction_id, score). "
                              "Fix: pass the scored frame with prediction_id, score and model_version.")
    with pytest.raises(DataError, match=r"^predictions to index: 1 empty prediction id\(s\)\. Fix: give every scored row its prediction_id\.$"):
        feedback.index_predictions(config, pd.DataFrame({"prediction_id": ["a", None], "score": [0.2, 0.3], "model_version": "1"}),
                                   source="batch")
    with pytest.raises(ParameterError, match=r"^source='file': must be one of batch, online\.$"):
        feedback.index_predictions(config, _predictions(2), source="file")


def test_an_import_stores_every_row_and_audits_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_USER", "ana")
    config = _indexed(tmp_path)
    path = _csv(tmp_path, {"prediction_id": ["p0001", "p0002", "p0003"], "label": ["1", "false", ""], "rating": ["", "4", "2"],
                           "given_by": ["", "ben", ""], "given_at": ["2026-05-01T08:00:00+02:00", "", ""], "mode": ["", "implicit", ""],
                           "score": [0.1, 0.2, 0.3]})
    out = feedback.import_file(config, path)
    digest = sha256_file(path)
    assert out == {"stored": 4, "labels": 2, "ratings": 2, "rows": 3, "file": str(path.resolve()), "sha256": digest}
    with sqlite3.connect(feedback.db_path(config)) as conn:
        rows = conn.execute("SELECT prediction_id, kind, label, rating, given_by, given_at, mode, source FROM feedback ORDER BY id").fetchall()
    source = f"{path.resolve()} sha256:{digest}"
    assert rows[0] == ("p0001", "label", 1.0, None, "ana", "2026-05-01T06:00:00.000000+00:00", "explicit", source)
    assert [r[:5] + (r[6],) for r in rows[1:]] == [("p0002", "label", 0.0, None, "ben", "implicit"), ("p0002", "rating", None, 4.0, "ben", "implicit"),
                                                   ("p0003", "rating", None, 2.0, "ana", "explicit")]
    event = audit.read(config.store)[-1]
    assert (event["action"], event["subject"], event["actor"]) == ("feedback", str(path.resolve()), "ana")
    assert {k: event["details"][k] for k in ("rows", "stored", "labels", "ratings", "file", "sha256", "given_by")} == \
        {"rows": 3, "stored": 4, "labels": 2, "ratings": 2, "file": str(path.resolve()), "sha256": digest, "given_by": ["ana", "ben"]}
    assert audit.verify(config.store).ok


def test_one_bad_row_among_a_hundred_stores_nothing(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    labels = ["1"] * 100
    labels[41] = "yes"
    path = _csv(tmp_path, {"prediction_id": [f"p{i:04d}" for i in range(100)], "label": labels})
    events = len(audit.read(config.store))
    with pytest.raises(FeedbackError) as err:
        feedback.import_file(config, path)
    assert str(err.value) == (f"1 problem in {path.resolve()}, nothing stored: row 42, column 'label': 'yes' is not a binary label. "
                              "Fix: write 0 or 1 (or false/true)")
    assert _count(config) == 0 and len(audit.read(config.store)) == events
    labels[41] = "0"
    path = _csv(tmp_path, {"prediction_id": [f"p{i:04d}" for i in range(100)], "label": labels})
    assert feedback.import_file(config, path)["stored"] == 100 and _count(config) == 100


def test_every_problem_of_a_file_is_named_at_once(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    feedback.import_file(config, _csv(tmp_path, {"prediction_id": ["p0009"], "label": [1], "given_by": ["cy"]}, "first.csv"))
    path = _csv(tmp_path, {"prediction_id": ["p0001", "nope", "p0002", "p0002", "", "p0009", "p0004", "p0005", "p0006"],
                           "label": ["yes", "1", "0", "1", "1", "0", "", "1", "1"],
                           "rating": ["", "", "", "", "", "", "", "6", ""],
                           "given_by": ["", "", "", "", "", "cy", "", "", ""],
                           "given_at": ["", "", "", "", "", "", "", "", "yesterday"],
                           "mode": ["", "maybe", "", "", "", "", "", "", ""]})
    before = _count(config)
    with pytest.raises(FeedbackError) as err:
        feedback.import_file(config, path)
    message = str(err.value)
    assert [(p.row, p.column, p.code) for p in err.value.problems] == [
        (1, "label", "invalid"), (2, "mode", "invalid"), (2, "prediction_id", "unknown"), (4, "prediction_id", "duplicate"),
        (5, "prediction_id", "invalid"), (6, "prediction_id", "duplicate"), (7, "label", "invalid"), (8, "rating", "invalid"),
        (9, "given_at", "invalid")]
    actor = repr(audit.actor())
    assert message == (
        f"9 problems in {path.resolve()}, nothing stored: row 1, column 'label': 'yes' is not a binary label. Fix: write 0 or 1 (or false/true); "
        "row 2, column 'mode': 'maybe' is not a mode. Fix: write explicit or implicit (empty: explicit); "
        f"row 2, column 'prediction_id': 'nope' is not a known prediction. {FIX_UNKNOWN}; "
        f"row 4, column 'prediction_id': repeats row 3 (label by {actor} on prediction 'p0002'). Fix: keep one of them; "
        "row 5, column 'prediction_id': empty. Fix: give the prediction_id the service or the scored batch returned; "
        "row 6, column 'prediction_id': label by 'cy' on prediction 'p0009' is already stored. "
        "Fix: drop the row (feedback is append-only: a second opinion comes from another given_by); "
        "row 7, column 'label': no label and no rating. Fix: fill in label or rating, or drop the row; "
        "row 8, column 'rating': '6' is not a rating from 1 to 5. Fix: rate from 1 (bad) to 5 (good); "
        "row 9, column 'given_at': 'yesterday' is not an ISO time. Fix: write e.g. 2026-05-01T12:00:00Z (empty: now)")
    assert _count(config) == before


def test_many_problems_of_one_kind_say_the_fix_once_and_count_the_rest(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    path = _csv(tmp_path, {"prediction_id": [f"x{i}" for i in range(25)], "label": [1] * 25})
    with pytest.raises(FeedbackError) as err:
        feedback.import_file(config, path)
    listed = "; ".join(f"row {i + 1}, column 'prediction_id': 'x{i}' is not a known prediction" for i in range(20))
    assert str(err.value) == f"25 problems in {path.resolve()}, nothing stored: {listed}. {FIX_UNKNOWN}; and 5 more"
    assert len(err.value.problems) == 25 and isinstance(err.value, DataError) and err.value.exit_code == 2


def test_regression_labels_must_be_finite_numbers(tmp_path: Path) -> None:
    config = _indexed(tmp_path, task="regression")
    path = _csv(tmp_path, {"prediction_id": ["p0001", "p0002", "p0003", "p0004"], "label": ["12.5", "abc", "inf", "-3"]})
    with pytest.raises(FeedbackError) as err:
        feedback.import_file(config, path)
    assert str(err.value) == (f"2 problems in {path.resolve()}, nothing stored: row 2, column 'label': 'abc' is not a finite number; "
                              "row 3, column 'label': 'inf' is not a finite number. Fix: write the observed value as a number")
    items = [{"prediction_id": "p0001", "label": 12.5}, {"prediction_id": "p0004", "label": -3}, {"prediction_id": "p0005", "label": True}]
    with pytest.raises(FeedbackError, match=r"item 2, column 'label': True is not a finite number"):
        feedback.record(config, items, actor="api")
    assert feedback.record(config, items[:2], actor="api")["stored"] == 2
    assert feedback.labels_for(config)["label"].tolist() == [12.5, -3.0]


def test_parquet_and_json_lines_are_read_with_their_types(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    pd.DataFrame({"prediction_id": ["p0001", "p0002"], "label": [True, False], "rating": [5.0, np.nan],
                  "given_at": pd.to_datetime(["2026-05-01 10:00", "2026-05-02 11:30"])}).to_parquet(tmp_path / "fb.parquet")
    assert feedback.import_file(config, tmp_path / "fb.parquet")["stored"] == 3
    lines = [json.dumps({"prediction_id": "p0003", "label": 1, "given_by": "dee"}), "", "[1, 2]", "{not json", json.dumps({"prediction_id": "p0004"})]
    (tmp_path / "fb.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(FeedbackError) as err:
        feedback.import_file(config, tmp_path / "fb.jsonl")
    assert [(p.row, p.message) for p in err.value.problems] == [(2, "not an object (list)"), (3, "not an object (str)"),
                                                               (4, "no label and no rating")]
    (tmp_path / "fb.jsonl").write_text(lines[0] + "\n")
    assert feedback.import_file(config, tmp_path / "fb.jsonl")["stored"] == 1
    got = feedback.labels_for(config).set_index("prediction_id")
    assert got["label"].to_dict() == {"p0001": 1.0, "p0002": 0.0, "p0003": 1.0}
    assert got.loc["p0002", "given_at"] == "2026-05-02T11:30:00.000000+00:00" and got.loc["p0003", "given_by"] == "dee"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("fb.csv", "prediction_id,score\np0001,0.3\n", "{path}: no 'label' or 'rating' column; found prediction_id, score. Fix: feedback files "
     "need a 'label' or 'rating' column (the review queue's CSV has both prediction_id and label)."),
    ("fb.csv", "id,label\np0001,1\n", "{path}: no 'prediction_id' column; found id, label. Fix: feedback files need a 'prediction_id' column "
     "(the review queue's CSV has both prediction_id and label)."),
    ("fb.csv", "prediction_id,label,label\np0001,1,0\n", "{path}: column(s) label appear more than once in the header. Fix: keep one of each."),
    ("fb.csv", "prediction_id,label\n", "{path}: no feedback rows. Fix: add rows with prediction_id and label or rating."),
    ("fb.xlsx", "x", "{path}: unsupported file type '.xlsx'. Fix: save feedback as .csv, .parquet or .jsonl (JSON lines)."),
    ("fb.parquet", "not parquet", None),
])
def test_unreadable_files_are_refused_naming_the_file(tmp_path: Path, name: str, content: str, message: str | None) -> None:
    config = _indexed(tmp_path)
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError) as err:
        feedback.import_file(config, path)
    if message is None:
        assert str(err.value).startswith(f"{path}: cannot read Parquet (")
    else:
        assert str(err.value) == message.format(path=path)
    with pytest.raises(DataError, match=r"missing\.csv: file not found\. Fix: check the path"):
        feedback.import_file(config, tmp_path / "missing.csv")
    assert _count(config) == 0


def test_api_items_come_in_three_shapes_and_unknown_fields_are_refused(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    assert feedback.record(config, {"prediction_id": "p0001", "rating": 5}, actor="api")["stored"] == 1
    assert feedback.record(config, [{"prediction_id": "p0002", "label": 0}], actor="api")["stored"] == 1
    assert feedback.record(config, {"feedback": [{"prediction_id": "p0003", "label": 1, "given_by": "eve"}]}, actor="api")["stored"] == 1
    with pytest.raises(FeedbackError) as err:
        feedback.record(config, [{"prediction_id": "p0004", "lable": 1}, 7], actor="api")
    assert str(err.value) == ("3 problems in the request, nothing stored: item 0, column 'lable': unknown field. Fix: send only prediction_id, "
                              "label, rating, given_by, given_at, mode; item 0, column 'label': no label and no rating. Fix: fill in label or "
                              "rating, or drop the row; item 1: not an object (int). Fix: write one object with prediction_id and label or "
                              "rating per row")
    with pytest.raises(FeedbackError, match=r'^1 problem in the request, nothing stored: item 0, column \'body\': no feedback items\. '
                                            r'Fix: send one item, a list of items or \{"feedback": \[\.\.\.\]\}$'):
        feedback.record(config, [], actor="api")
    with sqlite3.connect(feedback.db_path(config)) as conn:
        assert conn.execute("SELECT given_by, source FROM feedback ORDER BY id").fetchall() == [("api", "api"), ("api", "api"), ("eve", "api")]
    assert audit.read(config.store)[-1]["details"]["file"] is None and audit.read(config.store)[-1]["subject"] == "api"


@pytest.mark.parametrize("table", ["predictions", "feedback", "rounds", "queue"])
def test_stored_rows_cannot_be_changed_or_deleted(tmp_path: Path, table: str) -> None:
    config = _indexed(tmp_path)
    feedback.record(config, {"prediction_id": "p0001", "label": 1}, actor="api")
    review_queue.propose(config, budget=5, seed=1)
    with sqlite3.connect(feedback.db_path(config)) as conn:
        rows = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        column = {"predictions": "score", "feedback": "label", "rounds": "budget", "queue": "propensity"}[table]
        with pytest.raises(sqlite3.IntegrityError, match=f"^{table} rows are append-only: UPDATE refused \\(audited data\\)$"):
            conn.execute(f"UPDATE {table} SET {column} = 0")
        with pytest.raises(sqlite3.IntegrityError, match=f"^{table} rows are append-only: DELETE refused \\(audited data\\)$"):
            conn.execute(f"DELETE FROM {table}")
        assert rows > 0 and conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == rows


def test_a_log_that_takes_no_record_stores_nothing(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    audit.record(config.store, "test", "x")
    with open(audit.log_path(config.store), "ab") as fh:
        fh.write(b'{"torn')
    with pytest.raises(AuditError, match="ends in a torn record"):
        feedback.record(config, {"prediction_id": "p0001", "label": 1}, actor="api")
    assert _count(config) == 0


def test_labels_for_gives_the_latest_label_and_no_propensity_to_self_selected_feedback(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    feedback.record(config, [{"prediction_id": "p0001", "label": 1, "given_by": "ann", "given_at": "2026-05-02T00:00:00Z"},
                             {"prediction_id": "p0001", "label": 0, "given_by": "bob", "given_at": "2026-05-01T00:00:00Z"},
                             {"prediction_id": "p0002", "rating": 3},
                             {"prediction_id": "p0003", "label": 0}], actor="api")
    feedback.index_predictions(config, _predictions(5, prefix="q"), source="online", batch="online-2026-05-03")
    feedback.record(config, {"prediction_id": "q0001", "label": 1}, actor="api")
    got = feedback.labels_for(config)
    assert got["prediction_id"].tolist() == ["p0001", "p0003", "q0001"]
    assert got.set_index("prediction_id").loc["p0001", ["label", "given_by"]].tolist() == [1.0, "ann"]
    assert got["propensity"].isna().all() and got["reason"].isna().all() and got["propensity"].dtype == float
    assert feedback.labels_for(config, batch="online-2026-05-03")["prediction_id"].tolist() == ["q0001"]
    assert feedback.labels_for(config, prediction_ids=["p0003", "q0001", "zzz"])["prediction_id"].tolist() == ["p0003", "q0001"]
    assert list(got.columns) == ["prediction_id", "batch", "source", "entity_id", "model_version", "score", "confidence", "label", "given_by",
                                 "given_at", "mode", "reason", "round_id", "propensity"]


def test_concurrent_imports_of_the_same_feedback_store_it_once(tmp_path: Path) -> None:
    config = _indexed(tmp_path)
    items = [{"prediction_id": f"p{i:04d}", "label": i % 2} for i in range(200)]
    outcomes: list[object] = []

    def send() -> None:
        try:
            outcomes.append(feedback.record(config, items, actor="api")["stored"])
        except FeedbackError as exc:
            outcomes.append({p.code for p in exc.problems})

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) == [200, {"duplicate"}, {"duplicate"}, {"duplicate"}]
    assert _count(config) == 200 and audit.verify(config.store).ok
    assert sum(e["action"] == "feedback" for e in audit.read(config.store)) == 1
