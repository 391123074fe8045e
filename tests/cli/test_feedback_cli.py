"""``workbench feedback queue|import|status`` through the real console script, on a store of synthetic indexed predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import workbench, write_config
from workbench.config import load_config
from workbench.governance import feedback


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project whose store indexes 300 predictions of batch 2026-03 and 40 online ones (no training: the CLI reads the store)."""
    write_config(tmp_path)
    config = load_config(tmp_path / "workbench.yaml")
    rng = np.random.default_rng(0)
    for n, prefix, source, batch in ((300, "b", "batch", "2026-03"), (40, "o", "online", "online-2026-05-01")):
        frame = pd.DataFrame({"prediction_id": [f"{prefix}{i:04d}" for i in range(n)], "score": rng.random(n), "model_version": "1",
                              "entity_id": rng.integers(10_000, 99_999, n)})
        feedback.index_predictions(config, frame, source=source, batch=batch)
    return tmp_path


def test_a_queue_round_writes_the_reviewers_csv_and_its_import_closes_it(project: Path) -> None:
    queue = workbench("feedback", "queue", "--budget", "20", "--batch", "2026-03", "--seed", "4", "--out", "review.csv", cwd=project)
    assert queue.returncode == 0, queue.stderr
    lines = queue.stdout.splitlines()
    assert lines[0].split() == ["prediction_id", "batch", "entity_id", "score", "confidence", "reason", "propensity", "labelled"]
    assert len(lines) == 1 + 20 + 2 and lines[-2].startswith("round ") and lines[-2].endswith(": 18 uncertain + 2 random of a pool of 300; 20 to label")
    assert lines[-1] == f"wrote {project / 'review.csv'}: fill in the label column, then run: workbench feedback import {project / 'review.csv'}"
    sheet = pd.read_csv(project / "review.csv", dtype={"prediction_id": str})
    assert list(sheet.columns) == ["prediction_id", "batch", "entity_id", "score", "confidence", "reason", "propensity", "label"]
    assert len(sheet) == 20 and sheet["label"].isna().all() and sheet["reason"].value_counts().to_dict() == {"uncertain": 18, "random": 2}
    sheet["label"] = (sheet["score"] >= 0.5).astype(int)
    sheet.to_csv(project / "review.csv", index=False)
    done = workbench("feedback", "import", "review.csv", cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"stored 20 feedback row(s) from {project / 'review.csv'}: 20 label(s), 0 rating(s) (sha256 ")
    status = workbench("feedback", "status", "--json", cwd=project)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == [
        {"batch": "2026-03", "source": "batch", "predictions": 300, "labelled": 20, "rated": 0, "queued": 20, "open": 0},
        {"batch": "online-2026-05-01", "source": "online", "predictions": 40, "labelled": 0, "rated": 0, "queued": 0, "open": 0}]
    text = workbench("feedback", "status", cwd=project).stdout.splitlines()
    assert text[0].split() == ["batch", "source", "predictions", "labelled", "rated", "queued", "open"]
    assert text[1].split() == ["2026-03", "batch", "300", "20", "0", "20", "0"]


def test_importing_the_same_sheet_twice_exits_2_and_stores_nothing_more(project: Path) -> None:
    pd.DataFrame({"prediction_id": ["b0001", "o0002"], "label": [1, "true"], "rating": [None, 4]}).to_csv(project / "fb.csv", index=False)
    assert workbench("feedback", "import", "fb.csv", cwd=project).returncode == 0
    again = workbench("feedback", "import", "fb.csv", cwd=project)
    assert again.returncode == 2 and again.stdout == ""
    user = feedback.audit.actor()
    fix = "Fix: drop the row (feedback is append-only: a second opinion comes from another given_by)"
    assert again.stderr.strip() == (f"error: 3 problems in {project / 'fb.csv'}, nothing stored: row 1, column 'prediction_id': label by "
                                    f"{user!r} on prediction 'b0001' is already stored; row 2, column 'prediction_id': label by {user!r} on "
                                    f"prediction 'o0002' is already stored; row 2, column 'prediction_id': rating by {user!r} on prediction "
                                    f"'o0002' is already stored. {fix}")
    counts = json.loads(workbench("feedback", "status", "--json", cwd=project).stdout)
    assert [(c["labelled"], c["rated"]) for c in counts] == [(1, 0), (1, 1)]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["queue", "--budget", "0"], 2, "error: budget=0: must be a whole number of predictions, 1 or more. Fix: pass e.g. --budget 50."),
    (["queue", "--budget", "5", "--control-share", "0.01"], 2, "error: control_share=0.01: must be between 0.1 and 1 (below 10% the random "
                                                               "stratum is too small for unbiased estimates). Fix: pass e.g. --control-share 0.2."),
    (["queue", "--budget", "5", "--batch", "2026-13"], 2, "error: batch '2026-13' has no indexed predictions (indexed batches: 2026-03, "
                                                          "online-2026-05-01). Fix: pick one of those, or score the batch first "
                                                          "(`workbench monitor --batch FILE`)."),
    (["import", "nothing.csv"], 2, "error: {project}/nothing.csv: file not found. Fix: check the path (feedback files are CSV, Parquet or "
                                   "JSON lines)."),
    (["queue"], 2, "usage: workbench feedback queue"),
], ids=["budget", "control-share", "batch", "missing-file", "no-budget"])
def test_bad_arguments_exit_2_naming_the_fix(project: Path, args: list[str], code: int, message: str) -> None:
    proc = workbench("feedback", *args, cwd=project)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.startswith(message.format(project=project)), proc.stderr
    counts = json.loads(workbench("feedback", "status", "--json", cwd=project).stdout)
    assert sum(c["queued"] + c["labelled"] for c in counts) == 0


def test_an_exhausted_pool_says_so_and_a_status_of_nothing_says_how_to_fill_it(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    first = workbench("feedback", "queue", "--budget", "100", "--batch", "online-2026-05-01", cwd=project)
    assert first.returncode == 0 and "of a pool of 40; 40 to label" in first.stdout
    again = workbench("feedback", "queue", "--budget", "5", "--batch", "online-2026-05-01", cwd=project)
    assert again.returncode == 0 and again.stdout == "nothing to review: every indexed prediction of batch online-2026-05-01 is already queued\n"
    empty = tmp_path_factory.mktemp("empty")
    write_config(empty)
    status = workbench("feedback", "status", cwd=empty)
    assert status.returncode == 0 and status.stdout.startswith("no predictions indexed yet: score a batch")
