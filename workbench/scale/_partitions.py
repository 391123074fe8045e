"""What one task reads: a batch's files cut into partitions of whole Parquet row groups.

A partition is a file path plus the row groups to read and where its rows start in the batch,
so a worker opens the file itself (only a path travels) and a task's memory is bounded by
``dask.partition_rows`` (and at least one row group: a file written as one huge row group is one
task; write Parquet with row groups of ~1M rows). A CSV file cannot be cut without reading it,
so each CSV file is one task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.data import SUFFIXES
from workbench.data._files import part_files, reading
from workbench.exceptions import DataError


@dataclass(frozen=True)
class Partition:
    """One task's share of a batch: ``path``'s ``row_groups`` (None: the whole file), rows ``start`` to ``start + rows``."""

    path: str
    fmt: str  # "parquet" | "csv"
    row_groups: tuple[int, ...] | None
    start: int | None  # the first row's index in the batch (None for CSV: unknown until read)
    rows: int | None


def batch_files(path: str | Path) -> list[Path]:
    """The data files of a batch: the file itself, or a folder's parts in name order."""
    path = Path(path)
    if path.is_dir():
        return part_files(path, SUFFIXES)
    if not path.is_file():
        raise DataError(f"{path}: batch not found. Fix: check the path (a CSV or Parquet file, or a folder of parts).")
    return [path]


def partitions(files: list[Path], rows_per_task: int) -> list[Partition]:
    """Cut ``files`` into tasks of whole row groups of at most ``rows_per_task`` rows (at least one row group each)."""
    import pyarrow.parquet as pq

    out: list[Partition] = []
    start = 0
    for path in files:
        if not path.name.lower().endswith((".parquet", ".pq")):
            out.append(Partition(str(path), "csv", None, None, None))
            start = -1  # row offsets are unknown after a CSV file
            continue
        with reading(path, "Parquet metadata"):
            meta = pq.read_metadata(path)
        group, rows = [], 0
        for i in range(meta.num_row_groups):
            size = meta.row_group(i).num_rows
            if group and rows + size > rows_per_task:
                out.append(_parquet(path, group, rows, start))
                start, group, rows = _advance(start, rows), [], 0
            group.append(i)
            rows += size
        if group:
            out.append(_parquet(path, group, rows, start))
            start = _advance(start, rows)
    return out


def _parquet(path: Path, group: list[int], rows: int, start: int) -> Partition:
    return Partition(str(path), "parquet", tuple(group), None if start < 0 else start, rows)


def _advance(start: int, rows: int) -> int:
    return -1 if start < 0 else start + rows
