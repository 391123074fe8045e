"""Batch statistics computed per partition on an executor and merged: drift statistics and fairness group counts.

Each task opens its own partition (a path and row groups, :mod:`workbench.scale._partitions`),
computes the statistics the analyses already merge — :func:`~workbench.analyses.drift.batch_stats`
(sorted values in exact mode, bin counts in sketch mode, level counts) and
:func:`~workbench.analyses.fairness.group_counts` (confusion cells per group) — and the
executor merges them pairwise. The merge is the one chunked and federated monitoring use, so
the exact-mode result equals the in-memory one bit for bit, and sketch mode stays within its
documented error (the sums of values outside the reference range are added in another order).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from workbench.analyses import drift, fairness
from workbench.data._files import reading
from workbench.exceptions import DataError
from workbench.scale._partitions import Partition, batch_files, partitions

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.analyses.drift import BatchStats, ReferenceProfile
    from workbench.analyses.fairness import GroupCounts
    from workbench.scale._executor import DaskExecutor, LocalExecutor


def drift_stats(executor: LocalExecutor | DaskExecutor, profile: ReferenceProfile, batch: str | Path, *, rows_per_task: int) -> BatchStats:
    """The merged :class:`~workbench.analyses.drift.BatchStats` of a batch (a file or a folder of parts) against ``profile``.

    Pass the result to :func:`workbench.analyses.drift.compare` as the batch. Raises
    :class:`DataError` naming a file that cannot be read, or a batch without rows.
    """
    parts = partitions(batch_files(batch), rows_per_task)
    if not parts:
        raise DataError(f"{batch}: the batch has no rows. Fix: point at a batch with data.")
    return executor.map_reduce(partition_drift_stats, parts, _merge_stats, profile)


def group_counts(executor: LocalExecutor | DaskExecutor, batch: str | Path, predictions: str | Path, sensitive: list[str], *,
                 rows_per_task: int, missing: str = "category") -> GroupCounts | None:
    """Merged per-group confusion counts of the labelled rows: sensitive columns from the batch, label and score from ``predictions``.

    Each task reads its partition's sensitive columns and the same rows of the score phase's
    ``predictions.parquet`` (columns ``label`` and ``score``, in batch row order). Returns None
    when the batch holds CSV files (their row offsets are unknown until read): count on the frame then.
    ``missing`` as :func:`~workbench.analyses.fairness.group_table` (``"error"`` refuses missing sensitive values).
    """
    parts = partitions(batch_files(batch), rows_per_task)
    if not parts or any(p.start is None for p in parts):
        return None
    return executor.map_reduce(partition_group_counts, parts, _merge_counts, (str(predictions), tuple(sensitive), missing))


def partition_drift_stats(part: Partition, profile: ReferenceProfile) -> BatchStats:
    """One task: the drift statistics of one partition (runs on a worker; reads the file itself)."""
    if part.fmt == "csv":
        import pandas as pd

        with reading(Path(part.path), "CSV"):  # read whole, as load_table reads it: the same type inference
            frame = pd.read_csv(part.path, low_memory=False)
        return drift.batch_stats(frame, profile)
    return drift.batch_stats_from_parquet(part.path, profile, row_groups=part.row_groups)


def partition_group_counts(part: Partition, spec: tuple[str, tuple[str, ...], str]) -> GroupCounts:
    """One task: the confusion counts per group of one partition's labelled rows."""
    predictions, sensitive, missing = spec
    groups = _read_rows(part.path, list(sensitive), part.row_groups)
    scored = _rows_between(predictions, ["label", "score"], part.start, part.start + part.rows)
    labelled = scored["label"].notna().to_numpy()
    return fairness.group_counts(fairness.binary_labels(scored["label"].to_numpy()[labelled]), None,
                                 groups.loc[labelled].reset_index(drop=True), scores=scored["score"].to_numpy()[labelled], missing=missing)


def _merge_stats(first: BatchStats, second: BatchStats) -> BatchStats:
    return first.merge(second)


def _merge_counts(first: GroupCounts, second: GroupCounts) -> GroupCounts:
    return first.merge(second)


def _read_rows(path: str, columns: list[str], row_groups: tuple[int, ...] | None) -> pd.DataFrame:
    """``columns`` of ``row_groups`` as pandas (text as object, as ``pd.read_parquet`` gives it); a missing column is named."""
    import pyarrow.parquet as pq

    with reading(Path(path), "Parquet"):
        source = pq.ParquetFile(path)
        absent = [c for c in columns if c not in source.schema_arrow.names]
        if absent:
            raise DataError(f"{path}: no column {absent[0]!r} (data.sensitive). Fix: write the sensitive columns in every part of the batch.")
        table = source.read_row_groups(list(row_groups), columns=columns) if row_groups is not None else source.read(columns=columns)
    return table.to_pandas()


def _rows_between(path: str, columns: list[str], start: int, stop: int) -> pd.DataFrame:
    """Rows ``start`` to ``stop`` of a Parquet file, reading only the row groups that hold them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with reading(Path(path), "Parquet"):
        source = pq.ParquetFile(path)
        groups, first, offset = [], None, 0
        for i in range(source.num_row_groups):
            size = source.metadata.row_group(i).num_rows
            if offset + size > start and offset < stop:
                groups.append(i)
                first = offset if first is None else first
            offset += size
        if offset < stop:
            raise DataError(f"{path}: {offset} rows, fewer than the batch's {stop}. Fix: score the batch again (`workbench monitor --batch`).")
        table = source.read_row_groups(groups, columns=columns) if groups else pa.table({c: [] for c in columns})
    return table.slice(start - (first or 0), stop - start).to_pandas()
