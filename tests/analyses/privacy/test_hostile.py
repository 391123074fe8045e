"""Privacy with the inputs a real team brings: text and date columns, overflowing bounds and epsilons, an edited or unwritable ledger.

Each case either works correctly or fails with an error naming the column, key or file and the fix,
and a refused spend leaves the ledger as it was.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.synchronize
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import write_config
from workbench.analyses.privacy import laplace, private_means, privatize_features, utility_table
from workbench.config import load_config
from workbench.exceptions import AuditError, ConfigError, DataError, ParameterError
from workbench.governance import audit, privacy_ledger

SHA = "ef" * 32


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"tenure": [3, 14, 70, 22], "plan": ["basic", "pro", "basic", "pro"], "since": pd.to_datetime(["2024-01-01"] * 4),
                         "Dauer (Monate) é": [1.0, 2.0, np.nan, 4.0]})


@pytest.mark.parametrize(("column", "dtype"), [("plan", "object"), ("since", "datetime64[ns]")])
def test_a_text_or_date_column_is_refused_not_turned_into_noise_around_nothing(column: str, dtype: str) -> None:
    with pytest.raises(DataError) as err:  # before: text became all NaN, a date its nanoseconds clamped to the bounds
        privatize_features(_frame(), columns=[column], bounds={column: (0.0, 1.0)}, epsilon=1.0)
    assert str(err.value) == (f"privatize_features: column(s) {column} ({dtype}) are not numeric; Laplace noise needs numbers. "
                              "Fix: privatize numeric columns only (encode a category as numbers first, or leave it out).")


def test_an_integer_or_unicode_column_comes_back_float_with_its_gaps_kept() -> None:
    frame = _frame().assign(tenure=lambda f: f["tenure"].astype("Int64").mask(f.index == 1))
    private, release = privatize_features(frame, columns=["tenure", "Dauer (Monate) é"],
                                          bounds={"tenure": (0, 72), "Dauer (Monate) é": (0, 10)}, epsilon=1000.0)
    assert private["tenure"].dtype == np.float64 and private["tenure"].isna().tolist() == [False, True, False, False]
    assert private["Dauer (Monate) é"].isna().tolist() == [False, False, True, False] and release.sensitivity == 2.0
    assert frame["tenure"].dtype == "Int64"  # the input is not changed


def test_bounds_whose_width_overflows_and_a_scale_that_overflows_are_refused_by_name() -> None:
    with pytest.raises(ParameterError) as err:
        privatize_features(_frame(), columns=["tenure"], bounds={"tenure": (-1e308, 1e308)}, epsilon=1.0)
    assert str(err.value) == ("privatize_features: bounds of tenure are too wide: upper - lower overflows a float. Got (-1e+308, 1e+308) "
                              "instead. Fix: declare the range the column can really take.")
    with pytest.raises(ParameterError) as err:  # before: OpenDP's bare "scale (inf) must be finite"
        laplace([1.0], sensitivity=1e308, epsilon=1e-300)
    assert str(err.value) == ("laplace: the noise scale sensitivity / epsilon = 1e+308 / 1e-300 overflows a float. "
                              "Fix: use a larger epsilon or narrower bounds.")


def test_the_utility_table_checks_the_training_rows_too() -> None:
    frame = _frame()
    with pytest.raises(DataError, match=r"^utility_table \(train\): column\(s\) tenure are not in the data"):  # before: a KeyError
        utility_table(frame.drop(columns="tenure"), frame, fit_and_score=lambda tr, ho: 0.5, columns=["tenure"],
                      bounds={"tenure": (0, 72)}, epsilons=[1.0])


def test_the_utility_table_of_an_all_missing_column_says_nan_without_a_warning() -> None:
    frame = pd.DataFrame({"empty": [np.nan] * 40, "y": np.arange(40) % 2})  # warnings are errors here: numpy's empty-slice one failed
    table = utility_table(frame, frame, fit_and_score=lambda tr, ho: 0.5, columns=["empty"], bounds={"empty": (0.0, 1.0)}, epsilons=[1.0])
    assert table["setting"].tolist() == ["clean", "epsilon=1"] and math.isnan(table.loc[1, "mean_abs_noise_empty"])


def test_a_private_mean_with_no_value_left_is_nan_not_a_bound() -> None:
    frame = pd.DataFrame({"empty": [np.nan] * 50, "full": np.linspace(0, 1, 50)})
    out, _ = private_means(frame, bounds={"empty": (0.0, 1.0), "full": (0.0, 1.0)}, epsilon=1000.0)  # count noise scale 0.004: rounds to 0
    assert out["count"].tolist() == [0.0, 50.0] and math.isnan(out.loc[0, "mean"]) and abs(out.loc[1, "mean"] - 0.5) < 0.01


@pytest.mark.parametrize(("privacy", "message"), [
    ({"features": {"columns": ["tenure_months"], "epsilon": float("nan")}, "bounds": {"tenure_months": [0, 72]}},
     "key 'privacy.features.epsilon': input should be a finite number (got nan)"),
    ({"budget": {"epsilon": float("nan")}}, "key 'privacy.budget.epsilon': input should be a finite number (got nan)"),
    ({"features": {"columns": ["tenure_months", "tenure_months"], "epsilon": 1}, "bounds": {"tenure_months": [0, 72]}},
     "key 'privacy.features.columns': value error, column(s) tenure_months listed more than once: list each column once"),
    ({"bounds": {"tenure_months": [-1e308, 1e308]}},
     "key 'privacy.bounds': value error, bounds of tenure_months must be finite [lower, upper] with lower < upper and a finite width"),
], ids=["nan-feature-epsilon", "nan-budget", "column-twice", "overflowing-bounds"])
def test_config_refuses_values_that_would_break_a_release_later(tmp_path: Path, privacy: dict, message: str) -> None:
    path = write_config(tmp_path, {"privacy": privacy})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {message}")


def _spend(store: Path, epsilon: float = 1.0) -> dict:
    return privacy_ledger.spend(store, dataset="2026-03.parquet", sha256=SHA, release="drift", epsilon=epsilon, budget_epsilon=3.0)


def test_an_edited_spend_record_does_not_give_budget_back(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _spend(store, 1.5)
    _spend(store, 1.0)
    log = audit.log_path(store)
    edited = log.read_bytes().replace(b'"epsilon": 1.5', b'"epsilon": 0.0', 1)  # same size: the head file still matches
    log.write_bytes(edited)
    with pytest.raises(AuditError) as err:  # before: spent counted 1.0, and 1.5 more was granted past the budget of 3
        _spend(store, 1.5)
    assert str(err.value).startswith(f"{log}: record 1 (")
    assert str(err.value).endswith("content does not match its hash (edited). The privacy ledger reads the budget spent from this log, "
                                   "so it cannot be trusted; nothing was spent or released. Fix: run `workbench audit verify`; "
                                   "restore the log from a backup.")
    with pytest.raises(AuditError, match="the spending it would show is unknown"):
        privacy_ledger.ledger(store)
    assert log.read_bytes() == edited  # nothing appended


def test_a_torn_tail_still_shows_the_spending_and_refuses_the_next_spend(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _spend(store, 1.0)
    log = audit.log_path(store)
    torn = log.read_bytes() + b'{"ts": "2026-'
    log.write_bytes(torn)
    assert [row["epsilon_spent"] for row in privacy_ledger.ledger(store)] == [1.0]
    with pytest.raises(AuditError, match="ends in a torn record"):
        _spend(store, 1.0)
    assert log.read_bytes() == torn


def test_a_store_that_cannot_be_written_is_a_clear_error_and_spends_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.write_text("not a folder")  # works as root too, where a read-only folder is still writable
    with pytest.raises(AuditError) as err:
        _spend(store)
    assert str(err.value).startswith(f"privacy ledger in {store}: cannot record the spend of release 'drift' on dataset 2026-03.parquet (")
    assert str(err.value).endswith("nothing was spent or released. Fix: make the store folder writable (config key store) and run again.")


_SPEND_READ_ONLY = """
import json, sys
from pathlib import Path
from workbench.exceptions import AuditError
from workbench.governance import privacy_ledger
store = Path(sys.argv[1])
try:
    privacy_ledger.spend(store, dataset="2026-03.parquet", sha256=sys.argv[2], release="drift", epsilon=1.0, budget_epsilon=3.0)
    error = None
except AuditError as exc:
    error = str(exc)
print(json.dumps({"error": error, "ledger": [row["epsilon_spent"] for row in privacy_ledger.ledger(store)]}))
"""


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_read_only_store_is_a_clear_error(tmp_path: Path) -> None:
    import json
    import shutil
    import subprocess
    import sys

    store = tmp_path / "store"
    _spend(store, 1.0)
    before = audit.log_path(store).read_bytes()
    for path in (store, *store.iterdir()):
        path.chmod(0o555 if path.is_dir() else 0o444)
    # root (CI, containers) writes anywhere through CAP_DAC_OVERRIDE: the spend runs in a process without it, as a user's would
    prefix = [] if os.geteuid() != 0 else [shutil.which("setpriv") or "setpriv", "--bounding-set=-dac_override,-dac_read_search",
                                           "--inh-caps=-dac_override,-dac_read_search"]
    try:
        proc = subprocess.run([*prefix, sys.executable, "-c", _SPEND_READ_ONLY, str(store), SHA], capture_output=True, text=True, timeout=120)
    finally:
        for path in (store, *store.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "(PermissionError: " in out["error"] and out["error"].endswith(
        "nothing was spent or released. Fix: make the store folder writable (config key store) and run again.")
    assert out["ledger"] == [1.0]  # reading still works
    assert audit.log_path(store).read_bytes() == before


def _append_access(store: str, stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        audit.record(Path(store), "data_access", "batch.parquet", path="batch.parquet", sha256="0" * 64, rows=1, purpose="monitor")


def test_spends_while_other_processes_append_to_the_audit_trail_never_see_a_broken_log(tmp_path: Path) -> None:
    store = tmp_path / "store"
    ctx = multiprocessing.get_context("spawn")  # other commands reading data while a phase spends
    stop = ctx.Event()
    writers = [ctx.Process(target=_append_access, args=(str(store), stop)) for _ in range(2)]
    for proc in writers:
        proc.start()
    try:
        while not audit.log_path(store).exists():
            time.sleep(0.01)
        # before: the log read before a head written after looked like deleted records (52 of 60 spends refused)
        spent = [_spend(store, 0.05)["spent"] for _ in range(30)]
    finally:
        stop.set()
        for proc in writers:
            proc.join(timeout=30)
    assert spent[-1] == pytest.approx(1.5) and audit.verify(store).ok


def test_a_deleted_audit_log_is_not_an_empty_ledger(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _spend(store, 1.0)
    audit.log_path(store).unlink()  # the head file still counts one record
    with pytest.raises(AuditError, match=r"record 1: missing \(the head file says 1 records"):
        privacy_ledger.ledger(store)
    with pytest.raises(AuditError):
        _spend(store, 1.0)


def test_a_dataset_budget_keyed_by_a_path_is_refused_not_silently_unused(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"privacy": {"datasets": {"batches/2026-03.parquet": {"epsilon": 1}}}})
    with pytest.raises(ConfigError) as err:  # before: the batch got privacy.budget (10) instead of its budget of 1
        load_config(path)
    assert str(err.value).startswith(f"{path}: key 'privacy.datasets': value error, keys are dataset file names, not paths: "
                                     "'batches/2026-03.parquet' would match no dataset. Fix: write '2026-03.parquet'")
