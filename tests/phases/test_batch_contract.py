"""Bad batches never score silently: each ends in one clear line, "insufficient data", an explicit alert, or correct handling.

One trained demo project is shared by the module; every case builds a real batch file from the
demo's clean 2026-01 batch and runs the real ``workbench monitor`` on it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import without_kernel_shutdown_noise, workbench

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(trained_demo: Path) -> Path:
    """The demo project after ``workbench run`` (a champion and its baseline registered): the session's shared
    ``trained_demo``, to which each case only adds a monitor run of a batch file of its own name."""
    return trained_demo


@dataclass
class Outcome:
    """What one monitor run left behind."""

    proc: subprocess.CompletedProcess[str]
    folder: Path

    def json(self, phase: str, name: str) -> dict:
        return json.loads((self.folder / phase / name).read_text())

    def columns(self) -> pd.DataFrame:
        return pd.read_parquet(self.folder / "drift" / "columns.parquet").set_index("column")


def _monitor(project: Path, frame: pd.DataFrame, name: str) -> Outcome:
    path = project / name
    frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_parquet(path, index=False)
    before = set((project / "reports").glob("*-monitor-*"))
    proc = workbench("monitor", "--batch", name, cwd=project)
    (folder,) = set((project / "reports").glob("*-monitor-*")) - before
    assert "Traceback" not in without_kernel_shutdown_noise(proc.stdout + proc.stderr), proc.stdout[-3000:] + proc.stderr[-3000:]
    return Outcome(proc, folder)


def _ok(out: Outcome) -> None:
    assert out.proc.returncode == 0, out.proc.stdout[-3000:] + out.proc.stderr[-3000:]


def _eur(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.assign(monthly_charges=[f"EUR {v:.2f}" for v in batch["monthly_charges"]])


def _refused(out: Outcome) -> None:
    assert out.proc.returncode == 1
    first = _eur(pd.read_parquet(out.folder.parent.parent / "data" / "demo" / "batches" / "2026-01.parquet"))["monthly_charges"].iloc[0]
    line = next(line for line in out.proc.stdout.splitlines() if "score       failed" in line)
    assert (f"DataError: {out.folder.parent.parent / 'eur.csv'}: batch refused, nothing scored: column 'monthly_charges' has "
            f"100.0% values that are not numbers (e.g. '{first}'), above thresholds.invalid_share (1%) for a numeric model "
            "feature. Fix: write plain numbers in the column (no units or currency), or re-export the batch with the "
            "reference's numeric types.") in line
    assert not (out.folder / "score" / "predictions.parquet").exists()


def _few_bad_values(batch: pd.DataFrame) -> pd.DataFrame:
    out = batch.astype({"monthly_charges": object})
    out.loc[out.index[:10], "monthly_charges"] = "unknown"  # 0.5 % of 2000 rows: within the 1 % allowance
    return out


def _few_scored_as_missing(out: Outcome) -> None:
    _ok(out)
    check = out.json("score", "result.json")["schema_check"]["columns"]["monthly_charges"]
    assert (check["invalid"], check["invalid_share"], check["example"], check["action"]) == (10, 0.005, "'unknown'", "scored as missing")
    issues = pd.read_parquet(out.folder / "score" / "predictions.parquet")["data_issues"]
    assert issues.iloc[:10].eq("monthly_charges='unknown' is not a number, scored as missing").all() and issues.iloc[10:].eq("").all()
    assert out.columns().loc["monthly_charges", "status"] == "type changed"
    assert "data problems: monthly_charges (type changed)" in out.json("drift", "verdict.json")["reasons"]


def _retyped(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.astype({"tenure_months": str})


def _retyped_named(out: Outcome) -> None:
    _ok(out)
    assert out.json("score", "result.json")["schema_check"]["columns"]["tenure_months"]["action"] == "parsed as numbers"
    row = out.columns().loc["tenure_months"]
    assert row["status"] == "type changed" and row["effect_size"] < 0.05  # the parsed numbers did not drift
    verdict = out.json("drift", "verdict.json")
    assert verdict["alert"] and "data problems: tenure_months (type changed)" in verdict["reasons"]


def _missing_10pct(batch: pd.DataFrame) -> pd.DataFrame:
    out = batch.copy()
    out.loc[out.index[::10], "avg_session_minutes"] = np.nan
    return out


def _missing_alert(out: Outcome) -> None:
    _ok(out)
    row = out.columns().loc["avg_session_minutes"]
    assert (row["status"], row["missing_share_reference"], row["missing_share_batch"]) == ("missing share increased", 0.0, 0.1)
    verdict = out.json("drift", "verdict.json")
    assert verdict["alert"] and verdict["retrain_request"]["status"] == "pending"
    assert ("missing share increased by more than 5% (thresholds.missing_share_increase): avg_session_minutes 0.0% -> 10.0%"
            in verdict["reasons"])


def _one_row(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.iloc[:1]


def _insufficient(out: Outcome) -> None:
    _ok(out)
    verdict = out.json("drift", "verdict.json")
    assert verdict["insufficient_data"] and not verdict["alert"] and "retrain_request" not in verdict
    assert not verdict["concept_drift"] and verdict["reasons"] == []
    assert verdict["notes"][0] == "insufficient data: 1 rows, fewer than thresholds.min_batch_rows (30); no statistic assessed"
    assert set(out.columns()["status"]) == {"insufficient data"}
    prediction = out.json("drift", "concept.json")["prediction_drift"]
    assert prediction["status"] == "insufficient data" and not prediction["drift"]


def _all_null(batch: pd.DataFrame) -> pd.DataFrame:
    return batch.assign(avg_session_minutes=np.nan)


def _empty_column_alert(out: Outcome) -> None:
    _ok(out)
    assert out.json("score", "result.json")["schema_check"]["columns"]["avg_session_minutes"]["missing_share"] == 1.0
    assert out.columns().loc["avg_session_minutes", "status"] == "empty column"
    assert "data problems: avg_session_minutes (empty column)" in out.json("drift", "verdict.json")["reasons"]


CASES: dict[str, tuple[Callable[[pd.DataFrame], pd.DataFrame], str, Callable[[Outcome], None]]] = {
    "numeric-as-text-EUR": (_eur, "eur.csv", _refused),
    "a-few-text-values-scored-as-missing": (_few_bad_values, "few_bad.csv", _few_scored_as_missing),
    "int-retyped-to-string-parquet": (_retyped, "retyped.parquet", _retyped_named),
    "missing-share-0-to-10pct": (_missing_10pct, "holes.parquet", _missing_alert),
    "one-row-batch": (_one_row, "one_row.parquet", _insufficient),
    "all-null-column": (_all_null, "all_null.parquet", _empty_column_alert),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_batch_is_never_scored_silently(trained: Path, case: str) -> None:
    build, name, expect = CASES[case]
    batch = pd.read_parquet(trained / "data" / "demo" / "batches" / "2026-01.parquet")
    expect(_monitor(trained, build(batch), name))
