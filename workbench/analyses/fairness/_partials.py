"""Per-group confusion counts as mergeable partials: the fairness audit of a batch spread over data sites.

Every rate :func:`~workbench.analyses.fairness.group_table` reports (selection rate, TPR, FPR,
accuracy, error rate, and their bootstrap intervals) is a function of each group's four cell
counts TN, FP, FN, TP. :func:`group_counts` keeps exactly those per group of each sensitive column
and of their intersection; :meth:`GroupCounts.merge` adds sites' counts; and
:func:`group_table_from_counts` gives the table :func:`group_table` gives on the pooled rows.
:func:`counts_to_arrays` / :func:`counts_from_arrays` carry them as plain arrays (no pickle).

With a ``domain`` (the levels known beforehand, e.g. from the reference data) the groups are
fixed in advance: values outside it are counted in an ``"(other levels)"`` group and every combination
of the intersection is kept, zeros included, so that noise can be added to every count without
revealing which groups a site has (see ``workbench.federated.monitoring``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.analyses.fairness._groups import COLUMNS, MISSING, _cells, _check_options, count_rows
from workbench.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

OTHER = "(other levels)"  # the label workbench.analyses.privacy gives levels outside a fixed domain
LAYOUT_KEY = "fairness_counts"
LAYOUT_VERSION = 1


@dataclass(frozen=True, eq=False)
class GroupCounts:
    """Confusion counts (TN, FP, FN, TP) per group; merge sites with :meth:`merge`.

    ``levels[i]`` holds the sorted non-missing levels of ``columns[i]`` (raw values, as pandas
    sorts them); ``counts[i]`` has one row per level, then ``"(other levels)"``, then ``"(missing)"``.
    With two or more columns, ``combos`` holds the level index per column of each combination
    (``len(levels[i])`` is other, ``+1`` missing) and ``combo_counts`` its four cells.
    """

    columns: tuple[str, ...]
    levels: tuple[np.ndarray, ...]
    counts: tuple[np.ndarray, ...]
    combos: np.ndarray
    combo_counts: np.ndarray

    @property
    def rows(self) -> int:
        """Rows counted (labelled rows with a decision)."""
        return int(self.counts[0].sum()) if self.counts else 0

    def clipped(self) -> GroupCounts:
        """The counts with negative ones (noise) set to 0."""
        import numpy as np

        return GroupCounts(self.columns, self.levels, tuple(np.maximum(c, 0) for c in self.counts), self.combos,
                           np.maximum(self.combo_counts, 0))

    def merge(self, other: GroupCounts) -> GroupCounts:
        """The counts of both together, as if counted in one pass over all the rows."""
        import numpy as np

        if self.columns != other.columns:
            raise ParameterError(f"Cannot merge group counts of sensitive columns {list(self.columns)} and {list(other.columns)}; "
                                 "count every site over the same columns (data.sensitive).")
        levels, counts, maps = [], [], []
        for i, name in enumerate(self.columns):
            merged = _union(self.levels[i], other.levels[i], name)
            ours, theirs = _remap(self.levels[i], merged), _remap(other.levels[i], merged)
            total = np.zeros((merged.size + 2, 4), dtype=np.int64)
            np.add.at(total, ours, self.counts[i])
            np.add.at(total, theirs, other.counts[i])
            levels.append(merged)
            counts.append(total)
            maps.append((ours, theirs))
        combos, combo_counts = self.combos, self.combo_counts
        if len(self.columns) > 1:
            both = np.vstack([np.column_stack([m[0][self.combos[:, i]] for i, m in enumerate(maps)]),
                              np.column_stack([m[1][other.combos[:, i]] for i, m in enumerate(maps)])])
            combos, inverse = np.unique(both, axis=0, return_inverse=True)
            combo_counts = np.zeros((len(combos), 4), dtype=np.int64)
            np.add.at(combo_counts, inverse.reshape(-1), np.vstack([self.combo_counts, other.combo_counts]))
        return GroupCounts(self.columns, tuple(levels), tuple(counts), combos, combo_counts)


def group_counts(y_true: Any, y_pred: Any, sensitive: pd.DataFrame | pd.Series, *, scores: Any = None, threshold: float = 0.5,
                 missing: str = "category", domain: Mapping[str, Sequence[Any]] | None = None) -> GroupCounts:
    """The confusion counts of every group, ready to merge with other sites' (see :func:`group_table`).

    Parameters
    ----------
    y_true, y_pred, sensitive, scores, threshold, missing
        As :func:`~workbench.analyses.fairness.group_table`.
    domain : mapping of column to levels, optional
        Fixed levels per sensitive column: values outside them count in an ``"(other levels)"`` group,
        and every combination of the intersection is kept (zeros too).

    Returns
    -------
    GroupCounts
    """
    import numpy as np
    import pandas as pd

    frame = sensitive.to_frame() if isinstance(sensitive, pd.Series) else sensitive
    cells = _cells(y_true, y_pred, scores, threshold, len(frame))
    _check_options(missing, 0.5, 0)
    columns, levels, codes = tuple(str(c) for c in frame.columns), [], []
    for col in frame.columns:
        code, uniques = pd.factorize(frame[col], sort=True, use_na_sentinel=True)
        n_missing = int((code < 0).sum())
        if n_missing and missing == "error":
            raise DataError(f"sensitive column '{col}' has {n_missing} missing values. Fix: fill them (e.g. with 'unknown') "
                            f"or pass missing='category' to report them as a '{MISSING}' group.")
        lev = np.asarray(uniques)
        if domain is not None:
            lev = np.unique(np.asarray(list(domain[str(col)])))
            found = pd.Index(lev).get_indexer(uniques)
            code = np.where(code < 0, -1, np.where(found[code] < 0, lev.size, found[code]))
        levels.append(lev)
        codes.append(np.where(code < 0, lev.size + 1, code).astype(np.int64))
    counts = tuple(np.bincount(c * 4 + cells, minlength=(lev.size + 2) * 4).reshape(-1, 4).astype(np.int64)
                   for c, lev in zip(codes, levels, strict=True))
    combos, combo_counts = np.empty((0, len(columns)), dtype=np.int64), np.empty((0, 4), dtype=np.int64)
    if len(columns) > 1:
        combos, inverse = np.unique(np.column_stack(codes), axis=0, return_inverse=True)
        combo_counts = np.bincount(inverse.reshape(-1) * 4 + cells, minlength=len(combos) * 4).reshape(-1, 4).astype(np.int64)
        if domain is not None:
            combos, combo_counts = _dense(combos, combo_counts, [lev.size + 2 for lev in levels])
    return GroupCounts(columns, tuple(levels), counts, combos, combo_counts)


def group_table_from_counts(counts: GroupCounts, *, min_group: int = 30, n_bootstrap: int = 200, confidence: float = 0.95,
                            seed: int = 0) -> pd.DataFrame:
    """The :func:`group_table` of the rows these counts came from (the same table as on the pooled rows).

    Groups, their order, the rates and (with the same ``seed``) the bootstrap intervals equal
    ``group_table(..., sensitive=<pooled frame>)``; an ``"(other levels)"`` group appears only when a
    ``domain`` left values out. Parameters as :func:`group_table`.
    """
    import numpy as np
    import pandas as pd

    _check_options("category", confidence, n_bootstrap)
    rng = np.random.default_rng(seed)
    names = [[*map(str, lev), OTHER, MISSING] for lev in counts.levels]
    parts = [count_rows(col, c, labels, min_group, n_bootstrap, confidence, rng)
             for col, c, labels in zip(counts.columns, counts.counts, names, strict=True)]
    if len(counts.columns) > 1:
        order = np.lexsort(counts.combos.T[::-1]) if len(counts.combos) else np.empty(0, dtype=np.int64)
        labels = [" & ".join(f"{col}={names[i][k]}" for i, (col, k) in enumerate(zip(counts.columns, combo, strict=True)))
                  for combo in counts.combos[order].tolist()]
        parts.append(count_rows(" & ".join(counts.columns), counts.combo_counts[order], labels, min_group, n_bootstrap,
                                confidence, rng))
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def counts_to_arrays(counts: GroupCounts) -> tuple[list[np.ndarray], dict[str, str]]:
    """Group counts as numpy arrays (numeric or fixed-width unicode) plus one JSON scalar; see :func:`counts_from_arrays`."""
    import numpy as np

    arrays: list[np.ndarray] = []
    for lev, c in zip(counts.levels, counts.counts, strict=True):
        arrays += [_portable(lev), np.asarray(c, dtype=np.int64)]
    arrays += [np.asarray(counts.combos, dtype=np.int64), np.asarray(counts.combo_counts, dtype=np.int64)]
    layout = {"version": LAYOUT_VERSION, "columns": list(counts.columns), "arrays": len(arrays),
              "text": [lev.dtype == object for lev in counts.levels]}
    return arrays, {LAYOUT_KEY: json.dumps(layout)}


def counts_from_arrays(arrays: Sequence[np.ndarray], scalars: Mapping[str, object], *, noisy: bool = False) -> GroupCounts:
    """The :class:`GroupCounts` :func:`counts_to_arrays` sent; :class:`DataError` when they do not fit together.

    Negative counts are refused unless ``noisy`` (counts with noise added, clipped after merging).
    """
    import numpy as np

    try:
        layout = json.loads(str(scalars[LAYOUT_KEY]))
        k = len(layout["columns"])
        if layout.get("version") != LAYOUT_VERSION or layout["arrays"] != len(arrays) or len(arrays) != 2 * k + 2:
            raise ValueError(f"layout version {layout.get('version')!r} with {layout.get('arrays')} arrays, got {len(arrays)}")
        levels = tuple(np.asarray(arrays[2 * i]).astype(object) if layout["text"][i] else np.asarray(arrays[2 * i])
                       for i in range(k))
        counts = tuple(np.asarray(arrays[2 * i + 1], dtype=np.int64).reshape(-1, 4) for i in range(k))
        combos = np.asarray(arrays[-2], dtype=np.int64).reshape(-1, k)
        combo_counts = np.asarray(arrays[-1], dtype=np.int64).reshape(-1, 4)
        for lev, c in zip(levels, counts, strict=True):
            if len(c) != lev.size + 2 or (not noisy and (c < 0).any()):
                raise ValueError("counts do not match the levels, or are negative")
        if len(combos) != len(combo_counts) or (not noisy and (combo_counts < 0).any()) or (
                len(combos) and ((combos < 0).any() or (combos >= np.array([lev.size + 2 for lev in levels])).any())):
            raise ValueError("intersection counts do not match the levels")
        return GroupCounts(tuple(layout["columns"]), levels, counts, combos, combo_counts)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise DataError(f"fairness group counts from a site are malformed ({exc}). Fix: send what counts_to_arrays "
                        "returns, unchanged, from the same workbench version.") from exc


def _portable(levels: np.ndarray) -> np.ndarray:
    """Levels as an array ``np.save`` stores without pickle: text as fixed-width unicode."""

    return levels.astype(str) if levels.dtype == object else levels


def _union(first: np.ndarray, second: np.ndarray, column: str) -> np.ndarray:
    """The sorted union of two sites' levels (pandas' sort order for one type)."""
    import numpy as np

    try:
        return np.unique(np.concatenate([first, second]))
    except TypeError as exc:
        raise DataError(f"sensitive column {column!r} holds values of different types at different sites "
                        f"({first.dtype} and {second.dtype}). Fix: store it with one type (e.g. text) at every site.") from exc


def _remap(levels: np.ndarray, merged: np.ndarray) -> np.ndarray:
    """Row index in the merged counts of each row of the counts over ``levels`` (other and missing last)."""
    import numpy as np

    return np.concatenate([np.searchsorted(merged, levels), [merged.size, merged.size + 1]]).astype(np.int64)


def _dense(combos: np.ndarray, combo_counts: np.ndarray, radices: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Every combination of the levels (zeros included), in lexicographic order."""
    import numpy as np

    grid = np.indices(radices).reshape(len(radices), -1).T
    dense = np.zeros((len(grid), 4), dtype=np.int64)
    code = np.ravel_multi_index(combos.T, radices) if len(combos) else np.empty(0, dtype=np.int64)
    dense[code] = combo_counts
    return grid.astype(np.int64), dense
