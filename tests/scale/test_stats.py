"""Batch statistics per partition, merged: equal to the in-memory results (the local executor; Dask in test_cluster.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.scale.conftest import CATEGORICAL, NUMERIC, SENSITIVE, grown, predictions_for, write_parts
from workbench import scale
from workbench.analyses import drift, fairness
from workbench.config import DaskConfig
from workbench.data import load_table
from workbench.exceptions import DataError
from workbench.scale import stats


@pytest.fixture(scope="module")
def batch(demo_files: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("parts")
    frame = grown(pd.read_parquet(demo_files / "batches" / "2026-05.parquet"), 120_000)
    parts = write_parts(frame, folder / "2026-09", parts=3, row_group=7_000)
    return {"frame": frame, "parts": parts, "predictions": predictions_for(frame, folder / "predictions.parquet", row_group=9_000),
            "reference": pd.read_parquet(demo_files / "reference.parquet")}


def test_partitions_are_whole_row_groups_of_at_most_the_task_size_and_know_where_they_start(batch: dict) -> None:
    files = scale.batch_files(batch["parts"])
    assert [f.name for f in files] == ["part-00.parquet", "part-01.parquet", "part-02.parquet"]
    parts = scale.partitions(files, 20_000)
    assert all(p.rows <= 20_000 for p in parts) and sum(p.rows for p in parts) == 120_000
    assert [p.start for p in parts] == list(np.cumsum([0] + [p.rows for p in parts[:-1]]))
    assert len(parts) == 9 and all(len(p.row_groups) == 2 for p in parts)  # 40,000 rows a file: 6 groups (5 x 7,000 + 5,000), 2 per task
    assert len(scale.partitions(files, 1_000)) == sum(len(p.row_groups) for p in parts)  # at least one whole row group per task


@pytest.mark.parametrize("mode", ["exact", "sketch"])
def test_merged_partition_statistics_give_the_in_memory_verdict(batch: dict, mode: str) -> None:
    profile = drift.build_profile(batch["reference"], numeric=NUMERIC, categorical=CATEGORICAL, mode=mode)
    want = drift.compare(profile, load_table(batch["parts"]).frame)
    with scale.open_executor("local", DaskConfig()) as executor:
        merged = stats.drift_stats(executor, profile, batch["parts"], rows_per_task=10_000)
    got = drift.compare(profile, merged)
    assert merged.rows == 120_000 and want.dataset == got.dataset
    if mode == "exact":
        pd.testing.assert_frame_equal(got.columns, want.columns, check_exact=True)  # bit for bit
    else:  # counts are exact; the sums beyond the reference range are added in another order
        pd.testing.assert_frame_equal(got.columns, want.columns, rtol=1e-12)
    assert "contract" in want.columns["column"].tolist()


def test_merged_group_counts_give_the_group_table_of_the_labelled_rows(batch: dict) -> None:
    frame, scored = batch["frame"], pd.read_parquet(batch["predictions"])
    labelled = frame.assign(y=scored["label"], score=scored["score"]).loc[lambda f: f["y"].notna()]
    want = fairness.group_table(fairness.binary_labels(labelled["y"]), None, labelled[SENSITIVE], scores=labelled["score"], seed=3)
    with scale.open_executor("local", DaskConfig()) as executor:
        counts = stats.group_counts(executor, batch["parts"], batch["predictions"], SENSITIVE, rows_per_task=10_000)
    pd.testing.assert_frame_equal(fairness.group_table_from_counts(counts, seed=3), want, check_exact=True)


def test_a_folder_of_parts_reads_as_one_batch_with_one_hash(batch: dict, tmp_path: Path) -> None:
    table = load_table(batch["parts"])
    assert table.rows == 120_000 and table.path == batch["parts"]
    pd.testing.assert_frame_equal(table.frame, batch["frame"], check_dtype=False)
    copy = write_parts(batch["frame"], tmp_path / "copy", parts=3, row_group=7_000)
    assert load_table(copy).sha256 == table.sha256
    (copy / "part-02.parquet").rename(copy / "part-03.parquet")
    assert load_table(copy).sha256 != table.sha256  # a renamed part is another batch


def test_bad_folders_are_refused_naming_the_part_and_the_fix(batch: dict, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"a folder with no data files .*Fix: write the batch's parts there"):
        load_table((tmp_path / "empty").mkdir() or tmp_path / "empty")
    mixed = write_parts(batch["frame"].head(100), tmp_path / "mixed", parts=1, row_group=50)
    batch["frame"].head(10).to_csv(mixed / "part-01.csv", index=False)
    with pytest.raises(DataError, match="parts in both CSV and Parquet"):
        scale.batch_files(mixed)
    uneven = write_parts(batch["frame"].head(100), tmp_path / "uneven", parts=2, row_group=50)
    pd.read_parquet(uneven / "part-01.parquet").drop(columns="region").to_parquet(uneven / "part-01.parquet")
    with pytest.raises(DataError, match=r"part-01.parquet: its columns differ from part-00.parquet's .*'region'.*Fix: write every part"):
        load_table(uneven)
    gone = write_parts(batch["frame"].head(100), tmp_path / "nosens", parts=1, row_group=50)
    pd.read_parquet(gone / "part-00.parquet").drop(columns="gender").to_parquet(gone / "part-00.parquet")
    with scale.open_executor("local", DaskConfig()) as executor, pytest.raises(DataError, match=r"no column 'gender' \(data.sensitive\)"):
        stats.group_counts(executor, gone, batch["predictions"], SENSITIVE, rows_per_task=10_000)


def test_a_csv_batch_is_one_task_per_file_and_gives_the_same_statistics(batch: dict, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    small = batch["frame"].head(3_000)
    small.iloc[:1_500].to_csv(folder / "a.csv", index=False)
    small.iloc[1_500:].to_csv(folder / "b.csv", index=False)
    parts = scale.partitions(scale.batch_files(folder), 1_000)
    assert [(p.fmt, p.start) for p in parts] == [("csv", None), ("csv", None)]
    profile = drift.build_profile(batch["reference"], numeric=NUMERIC, categorical=CATEGORICAL)
    with scale.open_executor("local", DaskConfig()) as executor:
        got = drift.compare(profile, stats.drift_stats(executor, profile, folder, rows_per_task=1_000))
        assert stats.group_counts(executor, folder, batch["predictions"], SENSITIVE, rows_per_task=1_000) is None  # counted on the frame
    pd.testing.assert_frame_equal(got.columns, drift.compare(profile, load_table(folder).frame).columns, check_exact=True)


def test_the_executor_key_takes_local_dask_local_or_a_scheduler_address(tmp_path: Path) -> None:
    from tests.conftest import write_config
    from workbench.config import load_config
    from workbench.exceptions import ConfigError

    for good in ("local", "dask-local", "tcp://10.0.0.5:8786", "tls://scheduler.internal:8786"):
        assert load_config(write_config(tmp_path, {"executor": good})).executor == good
    with pytest.raises(ConfigError, match=r"key 'executor': .*must be 'local' \(default\), 'dask-local' .* or a Dask scheduler address "
                                          r"such as 'tcp://10.0.0.5:8786' \(got 'dask'\)"):
        load_config(write_config(tmp_path, {"executor": "dask"}))
    same = [load_config(write_config(tmp_path, {"executor": e})).sha256() for e in ("local", "tcp://h:1")]
    assert same[0] == same[1]  # where the work runs is not lineage


def test_an_unreachable_scheduler_is_named_with_the_fix() -> None:
    from tests.conftest import free_port
    from workbench.exceptions import ExecutorError

    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ExecutorError, match=rf"cannot reach the Dask scheduler at {address} .*Fix: start it \(`dask scheduler`"):
        with scale.open_executor(address, DaskConfig(connect_timeout_s=1)):
            pass


def test_dask_local_starts_one_cluster_per_command_and_the_phases_join_it(batch: dict) -> None:
    import os

    with scale.cluster("dask-local", DaskConfig(workers=1)) as address:
        assert os.environ[scale.ADDRESS_ENV] == address and address.startswith("tcp://127.0.0.1:")
        with scale.open_executor("dask-local", DaskConfig()) as executor:  # what a phase's kernel does: joins, starts nothing
            assert executor.client.scheduler.address == address and executor.workers() == 1
            profile = drift.build_profile(batch["reference"], numeric=NUMERIC, categorical=CATEGORICAL)
            for _ in range(4):  # the same profile again on one client: a content-keyed scatter of it used to hang by the third call
                merged = stats.drift_stats(executor, profile, batch["parts"], rows_per_task=40_000)
    assert scale.ADDRESS_ENV not in os.environ
    pd.testing.assert_frame_equal(drift.compare(profile, merged).columns, drift.compare(profile, batch["frame"]).columns, check_exact=True)


def test_monitor_refuses_fan_out_arguments_that_do_not_fit(tmp_path: Path) -> None:
    from tests.conftest import workbench

    cases = [(("--executor", "dask-local"), "error: --executor goes with --all-projects. Fix: set the project's executor in its config"),
             (("--all-projects", str(tmp_path), "--batch", "x.parquet"), "error: --batch names one project's batch; --all-projects monitors"),
             (("--all-projects", str(tmp_path)), f"error: {tmp_path}: no project folder with a workbench.yaml in it or in its sub-folders"),
             (("--all-projects", str(tmp_path), "--executor", "dask"), "argument --executor: must be 'local' (default), 'dask-local'")]
    for args, message in cases:
        proc = workbench("monitor", *args, cwd=tmp_path)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
