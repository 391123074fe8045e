"""Batch statistics: what :func:`compare` needs from a batch, computed in chunks and merged."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from workbench.analyses.drift import _categorical as cat
from workbench.analyses.drift import _numeric as num
from workbench.analyses.drift._profile import ReferenceProfile
from workbench.exceptions import DataError, ParameterError

PRESENT, ABSENT, TYPE_CHANGED = "present", "absent", "type changed"


@dataclass(frozen=True, eq=False)
class ColumnStats:
    """Mergeable statistics of one batch column (``state``: present, absent or type changed)."""

    kind: str  # "numeric" | "categorical"
    state: str = PRESENT
    count: int = 0  # non-missing values
    missing: int = 0
    values: np.ndarray | None = None  # numeric, exact mode: sorted non-missing values
    bins: np.ndarray | None = None  # numeric, sketch mode: count per profile bin
    below_sum: float = 0.0  # numeric, sketch mode: sum of the values below the first edge
    above_sum: float = 0.0  # numeric, sketch mode: sum of the values at or above the last edge
    levels: Mapping[str, int] | None = None  # categorical: count per level
    retyped: bool = False  # numeric: stored as text whose values all parse as numbers (statistics kept)

    def merge(self, other: ColumnStats) -> ColumnStats:
        """Both chunks' statistics; a column absent (or of another type) in either chunk stays so."""
        state = next((s for s in (ABSENT, TYPE_CHANGED) if s in (self.state, other.state)), PRESENT)
        if state != PRESENT:
            return ColumnStats(self.kind, state, self.count + other.count, self.missing + other.missing)
        return ColumnStats(
            self.kind, state, self.count + other.count, self.missing + other.missing,
            values=_merge_sorted(self.values, other.values),
            bins=None if self.bins is None else self.bins + other.bins,
            below_sum=math.fsum((self.below_sum, other.below_sum)),
            above_sum=math.fsum((self.above_sum, other.above_sum)),
            levels=None if self.levels is None else cat.add_counts(self.levels, other.levels),
            retyped=self.retyped or other.retyped)


@dataclass(frozen=True, eq=False)
class BatchStats:
    """Statistics of a batch against one profile; merge chunks with :meth:`merge` (associative)."""

    profile_id: str
    mode: str
    rows: int
    columns: dict[str, ColumnStats]

    def merge(self, other: BatchStats) -> BatchStats:
        """The statistics of both batches together, as if computed in one pass."""
        if other.profile_id != self.profile_id:
            raise ParameterError("Cannot merge BatchStats computed against different profiles "
                             f"({self.profile_id} and {other.profile_id}); compute both with the same profile.")
        columns = {name: stats.merge(other.columns[name]) for name, stats in self.columns.items()}
        return replace(self, rows=self.rows + other.rows, columns=columns)


def batch_stats(chunk: pd.DataFrame, profile: ReferenceProfile) -> BatchStats:
    """Statistics of one chunk of a batch against ``profile``, ready to :meth:`~BatchStats.merge`.

    Exact mode keeps each numeric column's sorted values; sketch mode keeps counts over the
    profile's bins (plus the sums of values outside the reference range); categorical columns
    keep level counts. A profile column missing from ``chunk`` is recorded as absent, and a
    numeric column holding text as a type change: :func:`compare` reports both.
    """
    columns = {name: column_stats(chunk[name] if name in chunk.columns else None, name, profile)
               for name in profile.columns}
    return BatchStats(profile.profile_id, profile.mode, len(chunk), columns)


def empty_stats(profile: ReferenceProfile, present: list[str] | None = None) -> BatchStats:
    """Statistics of zero rows, the identity of :meth:`BatchStats.merge`; columns not in ``present`` are absent."""
    columns = {}
    for name in profile.columns:
        kind = "numeric" if name in profile.numeric else "categorical"
        if present is not None and name not in present:
            columns[name] = ColumnStats(kind, ABSENT)
        elif kind == "categorical":
            columns[name] = ColumnStats(kind, levels={})
        else:
            columns[name] = _numeric_stats(np.empty(0), 0, profile, name, owned=True)
    return BatchStats(profile.profile_id, profile.mode, 0, columns)


def column_stats(series: pd.Series | None, name: str, profile: ReferenceProfile) -> ColumnStats:
    """Statistics of one profiled column (None: the batch lacks it)."""
    kind = "numeric" if name in profile.numeric else "categorical"
    if series is None:
        return ColumnStats(kind, ABSENT)
    if kind == "categorical":
        levels, missing = cat.level_counts(series)
        return ColumnStats(kind, count=len(series) - missing, missing=missing, levels=levels)
    raw = num.to_float(series)
    if raw is None:
        missing = int(series.isna().sum())
        return ColumnStats(kind, TYPE_CHANGED, len(series) - missing, missing)
    kept, missing = num.finite(raw)
    owned = kept is not raw or series.dtype != np.float64  # else ``raw`` is the frame's own memory
    stats = _numeric_stats(kept, missing, profile, name, owned=owned)
    return replace(stats, retyped=True) if series.dtype != np.float64 and num.is_text(series) else stats


def _numeric_stats(kept: np.ndarray, missing: int, profile: ReferenceProfile, name: str, *, owned: bool) -> ColumnStats:
    """Exact or sketch statistics of a numeric column's finite values (sorted in place when ``owned``)."""
    col = profile.numeric[name]
    if profile.mode == "exact":
        if owned:
            kept.sort()
        return ColumnStats("numeric", count=kept.size, missing=missing, values=kept if owned else np.sort(kept))
    if col.edges is None or col.edges.size == 0:  # an empty reference column: nothing to bin against
        return ColumnStats("numeric", count=kept.size, missing=missing, bins=np.zeros(1, dtype=np.int64))
    bins, below, above = num.sketch_counts(kept, col.edges, col.index)
    return ColumnStats("numeric", count=kept.size, missing=missing, bins=bins, below_sum=below, above_sum=above)


def _merge_sorted(first: np.ndarray | None, second: np.ndarray | None) -> np.ndarray | None:
    """One sorted array from two (timsort merges the two sorted runs in linear time)."""
    if first is None or second is None:
        return None
    if not first.size or not second.size:
        return first if second.size == 0 else second
    return np.sort(np.concatenate([first, second]), kind="stable")


def batch_stats_from_parquet(path: str | os.PathLike[str], profile: ReferenceProfile, *,
                             chunk_rows: int = 1_000_000, row_groups: Sequence[int] | None = None) -> BatchStats:
    """Statistics of a Parquet file (or of its ``row_groups`` only) read in record batches of at most ``chunk_rows`` rows.

    Only the profiled columns are read, one row group at a time; text columns are read
    dictionary-encoded (no Python string per row), and each column goes to pandas on its own.
    Memory stays bounded by one row group plus one column's working arrays (in exact mode, plus
    the sorted values kept; sketch mode keeps bin counts only). Raises :class:`DataError`
    naming an unreadable file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(chunk_rows, int) or isinstance(chunk_rows, bool) or chunk_rows < 1:
        raise ParameterError(f"The 'chunk_rows' parameter of batch_stats_from_parquet must be an int >= 1. "
                         f"Got {chunk_rows!r} instead.")
    try:
        schema = pq.read_schema(path)
        text = [f.name for f in schema
                if f.name in profile.columns and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))]
        source = pq.ParquetFile(path, read_dictionary=text)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{os.fspath(path)}: cannot read as Parquet ({exc}). Check the path and the file format.") from exc
    wanted = [name for name in profile.columns if name in schema.names]
    total = empty_stats(profile, wanted)
    with source:
        for group in range(source.num_row_groups) if row_groups is None else row_groups:  # one at a time: a reader over all reads ahead
            for record_batch in source.iter_batches(batch_size=chunk_rows, row_groups=[group], columns=wanted):
                total = total.merge(_record_batch_stats(record_batch, profile, wanted))
                del record_batch
            pa.default_memory_pool().release_unused()  # else the pool keeps every row group's buffers
    return total


def _record_batch_stats(record_batch: Any, profile: ReferenceProfile, wanted: list[str]) -> BatchStats:
    """Statistics of an Arrow record batch, converting one column to pandas at a time."""
    columns = {name: column_stats(record_batch.column(name).to_pandas() if name in wanted else None, name, profile)
               for name in profile.columns}
    return BatchStats(profile.profile_id, profile.mode, record_batch.num_rows, columns)
