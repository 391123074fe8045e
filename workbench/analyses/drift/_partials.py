"""Batch statistics as plain arrays and scalars (no pickle), and the merge of statistics from data sites.

A data site computes :func:`~workbench.analyses.drift.batch_stats` of its part of a batch against
the champion's profile, sends :func:`stats_to_arrays` (numeric or unicode numpy arrays plus one
JSON string: what Flower's NumPy messages carry), and the server rebuilds them losslessly with
:func:`stats_from_arrays` and merges them with :func:`merge_sites`.

What a site sends per column: its state, the counts of values and missing values, and

* numeric columns, ``exact`` mode: **the column's sorted non-missing values** (individual values,
  detached from their rows and from the other columns, but values all the same);
* numeric columns, ``sketch`` mode: the count per profile bin and the sums of the values below
  and above the reference range;
* categorical columns: the count per level.

Exact mode therefore gives the pooled answer bit for bit but reveals every value; sketch mode
sends counts only and is the one to use across organisations (and the only one that takes
per-site noise).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from workbench.analyses.drift._batch import ABSENT, PRESENT, TYPE_CHANGED, BatchStats, ColumnStats, empty_stats
from workbench.analyses.drift._profile import ReferenceProfile
from workbench.exceptions import DataError, ParameterError

LAYOUT_KEY = "drift_stats"  # the scalar holding the JSON layout of the arrays
LAYOUT_VERSION = 1


def stats_to_arrays(stats: BatchStats) -> tuple[list[np.ndarray], dict[str, str]]:
    """Batch statistics as numpy arrays plus one JSON scalar; :func:`stats_from_arrays` rebuilds them exactly.

    Floats travel in float64 arrays (never through text), counts in int64 arrays; level names
    and the structure go in the JSON layout under ``"drift_stats"``.

    Parameters
    ----------
    stats : BatchStats
        From :func:`~workbench.analyses.drift.batch_stats` (or merged).

    Returns
    -------
    arrays : list of numpy.ndarray
        Numeric arrays only (``np.save(..., allow_pickle=False)`` stores them).
    scalars : dict
        ``{"drift_stats": <JSON layout>}``.
    """
    arrays: list[np.ndarray] = []
    columns = []
    for name, col in stats.columns.items():
        entry = {"name": name, "kind": col.kind, "state": col.state, "count": int(col.count),
                 "missing": int(col.missing), "retyped": bool(col.retyped)}
        if col.values is not None:
            entry["values"] = len(arrays)
            arrays.append(np.ascontiguousarray(col.values, dtype=np.float64))
        if col.bins is not None:
            entry["bins"] = len(arrays)
            arrays.append(np.asarray(col.bins, dtype=np.int64))
            arrays.append(np.array([col.below_sum, col.above_sum], dtype=np.float64))
        if col.levels is not None:
            entry["levels"] = list(col.levels)
            entry["level_counts"] = len(arrays)
            arrays.append(np.fromiter(col.levels.values(), dtype=np.int64, count=len(col.levels)))
        columns.append(entry)
    layout = {"version": LAYOUT_VERSION, "profile_id": stats.profile_id, "mode": stats.mode, "rows": int(stats.rows),
              "arrays": len(arrays), "columns": columns}
    return arrays, {LAYOUT_KEY: json.dumps(layout)}


def stats_from_arrays(arrays: Sequence[np.ndarray], scalars: Mapping[str, object]) -> BatchStats:
    """The :class:`BatchStats` that :func:`stats_to_arrays` turned into ``arrays`` and ``scalars``.

    Raises :class:`DataError` when the layout is missing, of another version, or does not match
    the arrays (a message cut short or from another program).
    """
    try:
        layout = json.loads(str(scalars[LAYOUT_KEY]))
        if layout.get("version") != LAYOUT_VERSION or layout["arrays"] != len(arrays):
            raise ValueError(f"layout version {layout.get('version')!r} with {layout.get('arrays')} arrays, got {len(arrays)}")
        columns = {entry["name"]: _column(entry, arrays) for entry in layout["columns"]}
        return BatchStats(layout["profile_id"], layout["mode"], int(layout["rows"]), columns)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(f"drift statistics from a site are malformed ({exc}). Fix: send what stats_to_arrays returns, "
                        "unchanged, from the same workbench version.") from exc


def _column(entry: dict, arrays: Sequence[np.ndarray]) -> ColumnStats:
    """One column's statistics from its layout entry."""
    extra: dict = {}
    if "values" in entry:
        extra["values"] = np.asarray(arrays[entry["values"]], dtype=np.float64)
    if "bins" in entry:
        extra["bins"] = np.asarray(arrays[entry["bins"]], dtype=np.int64)
        below, above = np.asarray(arrays[entry["bins"] + 1], dtype=np.float64).tolist()
        extra.update(below_sum=below, above_sum=above)
    if "levels" in entry:
        counts = np.asarray(arrays[entry["level_counts"]], dtype=np.int64).tolist()
        extra["levels"] = dict(zip(entry["levels"], counts, strict=True))
    return ColumnStats(entry["kind"], entry["state"], int(entry["count"]), int(entry["missing"]),
                       retyped=bool(entry["retyped"]), **extra)


def merge_sites(parts: Sequence[BatchStats], profile: ReferenceProfile, *,
                infinite: Sequence[Mapping[str, int]] | None = None) -> BatchStats:
    """The statistics of one batch spread over data sites: what the pooled rows (``pd.concat``) would give.

    Unlike :meth:`BatchStats.merge` (chunks of one file, where a column absent from one chunk is
    absent from the file), sites hold different files: a column one site lacks is missing in
    that site's rows of the pooled batch, and a numeric column one site sends as non-numeric
    text makes the pooled column text (``"type changed"``, its count of non-missing values
    taken as pandas would).

    Parameters
    ----------
    parts : sequence of BatchStats
        One per site, all computed against ``profile``.
    profile : ReferenceProfile
        The profile they were computed against.
    infinite : sequence of mappings, optional
        Per site, the number of +/-inf values of each numeric column. They count as missing in
        a numeric column but as values in a pooled text column; without them a column whose
        pooled type changed counts them as missing.

    Returns
    -------
    BatchStats

    Raises
    ------
    ParameterError
        When there are no parts, or a part was computed against another profile.
    """
    if not parts:
        raise ParameterError("merge_sites needs the statistics of at least one site. Got none.")
    for part in parts:
        if part.profile_id != profile.profile_id or part.mode != profile.mode or list(part.columns) != profile.columns:
            raise ParameterError(f"Site statistics were computed against profile {part.profile_id} ({part.mode} mode), not "
                                 f"{profile.profile_id} ({profile.mode} mode); compute every site's against the same profile.")
    infinite = infinite if infinite is not None else [{}] * len(parts)
    columns = {name: _merge_column(name, parts, infinite, profile) for name in profile.columns}
    return BatchStats(profile.profile_id, profile.mode, sum(p.rows for p in parts), columns)


def _merge_column(name: str, parts: Sequence[BatchStats], infinite: Sequence[Mapping[str, int]],
                  profile: ReferenceProfile) -> ColumnStats:
    """One column over all sites, as the pooled rows would give it."""
    states = [p.columns[name].state for p in parts]
    kind = parts[0].columns[name].kind
    if all(s == ABSENT for s in states):
        return ColumnStats(kind, ABSENT)
    if TYPE_CHANGED in states:
        # pooled, the column is text: pandas counts NaN/None as missing, and +/-inf as values
        na = sum(_pandas_missing(p, name, inf.get(name, 0)) for p, inf in zip(parts, infinite, strict=True))
        return ColumnStats(kind, TYPE_CHANGED, sum(p.rows for p in parts) - na, na)
    total = None
    for part in parts:
        col = part.columns[name]
        if col.state == ABSENT:  # missing in this site's rows of the pooled batch
            col = replace(empty_stats(profile).columns[name], missing=part.rows)
        total = col if total is None else total.merge(col)
    return total


def _pandas_missing(part: BatchStats, name: str, infinite: int) -> int:
    """What ``Series.isna()`` counts in this site's rows of the column."""
    col = part.columns[name]
    if col.state == ABSENT:
        return part.rows
    if col.state == PRESENT and col.kind == "numeric":
        return col.missing - infinite
    return col.missing


def check_sums(stats: BatchStats) -> None:
    """Raise :class:`DataError` when a column's counts do not add up to the rows (a corrupt or tampered message)."""
    for name, col in stats.columns.items():
        if col.state != ABSENT and col.count + col.missing != stats.rows:
            raise DataError(f"drift statistics of column {name!r}: {col.count} values + {col.missing} missing "
                            f"!= {stats.rows} rows. Fix: resend the site's statistics.")
        if col.bins is not None and col.state == PRESENT and int(np.sum(col.bins)) != col.count:
            raise DataError(f"drift statistics of column {name!r}: bin counts add up to {int(np.sum(col.bins))}, "
                            f"not {col.count}. Fix: resend the site's statistics.")
        if col.values is not None and (col.values.size != col.count or not np.isfinite(col.values).all()
                                       or np.any(col.values[1:] < col.values[:-1])):
            raise DataError(f"drift statistics of column {name!r}: expected {col.count} finite values in ascending order. "
                            "Fix: resend the site's statistics.")
        if not (math.isfinite(col.below_sum) and math.isfinite(col.above_sum)):
            raise DataError(f"drift statistics of column {name!r}: the sums outside the reference range are not finite. "
                            "Fix: resend the site's statistics.")
