"""Profiles on disk (JSON + npz, no pickle, atomic) and batches read from Parquet in chunks."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.analyses.drift.conftest import CATEGORICAL, NUMERIC, frame
from workbench.analyses.drift import ReferenceProfile, batch_stats, batch_stats_from_parquet, build_profile, compare
from workbench.exceptions import DataError

MODES = ["exact", "sketch"]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return frame(3000, 31, missing=0.05)


@pytest.mark.parametrize("mode", MODES)
def test_profile_is_saved_as_json_and_plain_arrays(tmp_path: Path, reference: pd.DataFrame, mode: str) -> None:
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode)
    folder = profile.save(tmp_path / "profile")
    arrays_file = f"arrays-{profile.profile_id}.npz"
    assert sorted(p.name for p in folder.iterdir()) == [arrays_file, "profile.json"]  # no temp files left behind
    meta = json.loads((folder / "profile.json").read_text())
    assert (meta["schema_version"], meta["mode"], meta["rows"], meta["arrays"]) == (1, mode, 3000, arrays_file)
    assert meta["categorical"][0]["counts"] == profile.categorical["cat_few"].counts
    with zipfile.ZipFile(folder / arrays_file) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
    with np.load(folder / arrays_file, allow_pickle=False) as arrays:  # plain numeric arrays only
        assert all(arrays[key].dtype.kind in "fi" for key in arrays.files)
    loaded = ReferenceProfile.load(folder)
    batch = frame(2000, 32, shift=0.2)
    pd.testing.assert_frame_equal(compare(loaded, batch).columns, compare(profile, batch).columns, check_exact=True)


def test_loading_a_folder_without_a_profile_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        ReferenceProfile.load(tmp_path)
    expected = f"{tmp_path / 'profile.json'}: no such file; save a profile there with ReferenceProfile.save(folder)."
    assert str(error.value) == expected


def test_saving_replaces_the_profile_and_a_failed_save_keeps_it(tmp_path: Path, reference: pd.DataFrame) -> None:
    first = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL)
    first.save(tmp_path)
    second = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode="sketch")
    second.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"arrays-{second.profile_id}.npz", "profile.json"]
    before = (tmp_path / "profile.json").read_bytes()
    broken = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL)
    broken.categorical["cat_few"].counts["bad"] = object()  # not JSON: refused before anything is written
    with pytest.raises(TypeError):
        broken.save(tmp_path)
    assert (tmp_path / "profile.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"arrays-{second.profile_id}.npz", "profile.json"]
    assert ReferenceProfile.load(tmp_path).mode == "sketch"


def _write_parquet(path: Path, batch: pd.DataFrame, row_group_size: int) -> Path:
    pq.write_table(pa.Table.from_pandas(batch, preserve_index=False), path, row_group_size=row_group_size)
    assert pq.ParquetFile(path).num_row_groups > 1
    return path


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("chunk_rows", [333, 1000, 10_000])
def test_parquet_in_chunks_equals_the_whole_frame(tmp_path: Path, reference: pd.DataFrame, mode: str, chunk_rows: int) -> None:
    batch = frame(2500, 33, shift=0.15, missing=0.1)
    batch["cat_many"] = batch["cat_many"].astype("category")  # read back as dictionary-encoded
    batch["extra"] = 1.0  # not profiled: not read
    path = _write_parquet(tmp_path / "batch.parquet", batch, row_group_size=700)
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode)
    stats = batch_stats_from_parquet(path, profile, chunk_rows=chunk_rows)
    assert stats.rows == 2500
    whole = batch_stats(batch, profile)
    for name, column in stats.columns.items():
        other = whole.columns[name]
        assert (column.count, column.missing, column.levels) == (other.count, other.missing, other.levels)
    pd.testing.assert_frame_equal(compare(profile, stats).columns, compare(profile, batch).columns,
                                  check_exact=mode == "exact", rtol=1e-12)


def test_parquet_without_a_profiled_column_reports_it_missing(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = _write_parquet(tmp_path / "batch.parquet", frame(1000, 34).drop(columns=["cat_few"]), row_group_size=400)
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode="sketch")
    rows = compare(profile, batch_stats_from_parquet(path, profile, chunk_rows=300)).columns.set_index("column")
    assert rows.loc["cat_few", "status"] == "missing column" and (rows.drop(index="cat_few")["status"] == "ok").all()


def test_an_empty_parquet_file_is_a_zero_row_batch(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.Table.from_pandas(frame(10, 35).iloc[:0], preserve_index=False), path)
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode="sketch")
    with pytest.raises(DataError, match="^batch has 0 rows"):
        compare(profile, batch_stats_from_parquet(path, profile))


def test_an_unreadable_parquet_file_names_the_file(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "batch.parquet"
    path.write_text("not parquet")
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL)
    with pytest.raises(DataError, match="^" + re.escape(f"{path}: cannot read as Parquet")):
        batch_stats_from_parquet(path, profile)


def test_drift_engine_imports_no_evidently() -> None:
    import subprocess
    import sys

    code = "import sys, workbench.analyses.drift; print('evidently' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
