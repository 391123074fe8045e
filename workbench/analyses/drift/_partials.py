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
from workbench.analyses.drift._profile import CategoricalProfile, NumericProfile, ReferenceProfile
from workbench.analyses.privacy import OTHER
from workbench.exceptions import DataError, ParameterError

LAYOUT_KEY = "drift_stats"  # the scalar holding the JSON layout of the arrays
PROFILE_KEY = "drift_profile"
LAYOUT_VERSION = 1
_PROFILE_ARRAYS = ("psi_edges", "psi_counts", "values", "edges", "counts")


def profile_to_arrays(profile: ReferenceProfile) -> tuple[list[np.ndarray], dict[str, str]]:
    """A reference profile as numpy arrays plus one JSON scalar (the server sends it to the sites).

    :func:`profile_from_arrays` rebuilds it exactly, ``profile_id`` included, so the sites'
    statistics merge and compare against it. An exact-mode profile holds the reference's sorted
    values, a sketch-mode profile its bin edges (reference quantiles) and counts.
    """
    arrays: list[np.ndarray] = []
    numeric = []
    for col in profile.numeric.values():
        entry = {"name": col.name, "count": int(col.count), "missing": int(col.missing), "moments": len(arrays)}
        arrays.append(np.array([col.mean, col.std], dtype=np.float64))  # floats in arrays: NaN and every bit kept
        for key in _PROFILE_ARRAYS:
            if getattr(col, key) is not None:
                entry[key] = len(arrays)
                arrays.append(np.asarray(getattr(col, key)))
        numeric.append(entry)
    categorical = [{"name": c.name, "missing": int(c.missing), "levels": list(c.counts), "counts": [int(v) for v in c.counts.values()]}
                   for c in profile.categorical.values()]
    layout = {"version": LAYOUT_VERSION, "profile_id": profile.profile_id, "mode": profile.mode, "bins": int(profile.bins),
              "rows": int(profile.rows), "arrays": len(arrays), "numeric": numeric, "categorical": categorical}
    return arrays, {PROFILE_KEY: json.dumps(layout)}


def profile_from_arrays(arrays: Sequence[np.ndarray], scalars: Mapping[str, object]) -> ReferenceProfile:
    """The :class:`ReferenceProfile` :func:`profile_to_arrays` sent; :class:`DataError` when malformed."""
    try:
        layout = json.loads(str(scalars[PROFILE_KEY]))
        if layout.get("version") != LAYOUT_VERSION or layout["arrays"] != len(arrays) or layout["mode"] not in ("exact", "sketch"):
            raise ValueError(f"layout version {layout.get('version')!r} with {layout.get('arrays')} arrays, got {len(arrays)}")
        numeric = {}
        for e in layout["numeric"]:
            mean, std = np.asarray(arrays[e["moments"]], dtype=np.float64).tolist()
            got = {key: np.asarray(arrays[e[key]]) for key in _PROFILE_ARRAYS if key in e}
            numeric[e["name"]] = NumericProfile(e["name"], int(e["count"]), int(e["missing"]), mean, std, **got)
        categorical = {e["name"]: CategoricalProfile(e["name"], dict(zip(e["levels"], map(int, e["counts"]), strict=True)), int(e["missing"]))
                       for e in layout["categorical"]}
        return ReferenceProfile(layout["mode"], int(layout["bins"]), int(layout["rows"]), numeric, categorical, layout["profile_id"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(f"the drift profile from the server is malformed ({exc}). Fix: send what profile_to_arrays returns, "
                        "unchanged, from the same workbench version.") from exc


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


def count_vectors(stats: BatchStats, profile: ReferenceProfile) -> dict[str, np.ndarray]:
    """Every count of ``stats`` as one histogram per column that is not absent: what per-site noise goes on.

    A numeric column gives its bin counts then its missing count (sketch mode; exact mode keeps
    values, not counts, and is refused), a categorical column its counts over the profile's levels,
    one count of every other level, and the missing count; a column whose type changed, its counts
    of values and missing values. Each row of the batch adds one to exactly one count of each
    histogram. Rebuild the statistics from (noisy) histograms with :func:`with_counts`.
    """
    if profile.mode != "sketch":
        raise ParameterError("count_vectors needs sketch-mode statistics: exact mode keeps each column's sorted values, "
                             "which are not counts. Build the profile with mode='sketch'.")
    out = {}
    for name, col in stats.columns.items():
        if col.state == ABSENT:
            continue
        if col.state == TYPE_CHANGED:
            out[name] = np.array([col.count, col.missing], dtype=np.int64)
        elif col.kind == "numeric":
            out[name] = np.append(np.asarray(col.bins, dtype=np.int64), col.missing)
        else:
            known = profile.categorical[name].counts
            out[name] = np.array([*(col.levels.get(k, 0) for k in known), sum(v for k, v in col.levels.items() if k not in known),
                                  col.missing], dtype=np.int64)
    return out


def with_counts(stats: BatchStats, profile: ReferenceProfile, vectors: Mapping[str, np.ndarray], *, rows: int,
                clip: bool = False) -> BatchStats:
    """The statistics holding :func:`count_vectors`' histograms ``vectors`` (e.g. after noise) and ``rows`` rows.

    Counts are rounded; with ``clip`` negative ones become 0 (noisy counts: clip once, after the
    sites' counts are added, so that the noise of the sites cancels rather than piles up). A
    column's count of values is the sum of its bins or levels; levels outside the profile's come
    back as one level ``"(other levels)"``. The sums of values outside the reference range are
    taken as if every such value sat at the range's edge (they are not counts: the Wasserstein
    part beyond the reference range is left out).
    """
    columns = dict(stats.columns)
    for name, vec in vectors.items():
        col, vec = columns[name], np.rint(np.asarray(vec, dtype=np.float64)).astype(np.int64)
        vec = np.maximum(vec, 0) if clip else vec
        if col.state == TYPE_CHANGED:
            columns[name] = replace(col, count=int(vec[0]), missing=int(vec[1]))
        elif col.kind == "numeric":
            edges, bins = profile.numeric[name].edges, vec[:-1]
            lo, hi = (float(edges[0]) * int(bins[0]), float(edges[-1]) * int(bins[-1])) if edges is not None and edges.size else (0.0, 0.0)
            columns[name] = replace(col, count=int(bins.sum()), missing=int(vec[-1]), bins=bins, below_sum=lo, above_sum=hi)
        else:
            levels = {k: v for k, v in zip([*profile.categorical[name].counts, OTHER], vec[:-1].tolist(), strict=True) if v != 0}
            columns[name] = replace(col, count=sum(levels.values()), missing=int(vec[-1]), levels=levels)
    return replace(stats, rows=max(int(rows), 0) if clip else int(rows), columns=columns)
