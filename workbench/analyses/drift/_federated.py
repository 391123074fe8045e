"""A sketch-mode reference profile of data spread over sites, built from summaries: no value list is pooled.

Two passes over each site's reference rows:

1. Each site summarises every numeric column (:func:`quantile_summary`): its count of finite
   values, its values at the ``K + 1`` quantile levels ``j / K`` (``K`` = :data:`QUANTILE_LEVELS` =
   1000, inverted CDF as :func:`~workbench.analyses.drift._numeric.quantile_values`, so ``j = 0``
   and ``j = K`` are its minimum and maximum), and its distinct values when it has at most
   ``bins`` of them. :func:`pooled_quantiles` merges the sites' quantile functions and
   :func:`federated_edges` derives the sketch edges (the rule of ``sketch_edges``) and the PSI
   decile edges, a subset of them (as ``build_profile`` does).
2. Each site counts its values over those edges exactly (bin ``i`` holds ``edges[i-1] <= x <
   edges[i]``), its missing values, count, mean and centred sum of squares, and its categorical
   level counts. :func:`numeric_from_counts` and :func:`merge_moments` assemble the columns of a
   ``ReferenceProfile(mode="sketch")`` whose counts are the pooled counts over the agreed edges,
   exactly.

The approximation is in the edges only. Site ``i``'s values at levels ``j/K`` (``j >= 1``) are
``q_ij <= x`` exactly when ``j/K <= F_i(x)`` (its empirical CDF), so giving each of them the weight
``n_i`` makes a distribution ``G`` with ``F(x) - 1/K < G(x) <= F(x)`` everywhere, ``F`` the pooled
empirical CDF (site ``i`` contributes ``floor(K F_i(x)) / K``). The merged quantile at level ``p``
is ``G``'s (the smallest summary value ``x`` with ``G(x) >= p``), so it lies between the exact pooled
quantiles at levels ``p`` and ``p + 1/K``: a rank error of less than ``N / K`` values (0.1 % of the
rows), exact at ``p = 0`` and ``p = 1`` (the sites' minimum and maximum). A column with at most
``bins`` distinct values in all gets every value as an edge, as centrally: its sketch is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from workbench.analyses.drift import _numeric as num
from workbench.analyses.drift._profile import PSI_BINS, NumericProfile
from workbench.exceptions import DataError

QUANTILE_LEVELS = 1000  # K: each site's quantile summary holds K + 1 values


def quantile_summary(sorted_values: np.ndarray, bins: int, levels: int = QUANTILE_LEVELS) -> tuple[np.ndarray, np.ndarray | None]:
    """One site's pass-1 summary of a column: values at quantiles ``j/levels`` (empty without values), and its distinct values if at most ``bins``."""
    if sorted_values.size == 0:
        return np.empty(0), np.empty(0)
    values = num.distinct(sorted_values)
    return num.quantile_values(sorted_values, levels), (values if values.size <= bins else None)


def pooled_quantiles(summaries: Sequence[tuple[int, np.ndarray]], bins: int, levels: int = QUANTILE_LEVELS) -> np.ndarray:
    """Approximate pooled quantiles at ``j / bins``, j = 0..bins, from the sites' ``(count, quantile summary)``.

    Within the bound of the module docstring: between the exact pooled quantiles at ``p`` and
    ``p + 1/levels``; the first and last are the pooled minimum and maximum. Empty when no site has a value.
    """
    parts = [(int(n), np.asarray(q, dtype=float)) for n, q in summaries if n > 0]
    for n, q in parts:
        if q.shape != (levels + 1,):
            raise DataError(f"a site's quantile summary has {q.size} values for {n} values, not {levels + 1}. Fix: send quantile_summary's.")
    if not parts:
        return np.empty(0)
    atoms = np.concatenate([q[1:] for _, q in parts])
    weights = np.concatenate([np.full(levels, n, dtype=np.int64) for n, _ in parts])
    order = np.argsort(atoms, kind="stable")
    atoms, below = atoms[order], np.cumsum(weights[order])  # below[k] / total = G(atoms[k])
    # G(x) >= j / bins  <=>  bins * below >= j * total: whole numbers, no rounding (below N * K * bins < 2**63)
    wanted = np.arange(bins + 1, dtype=np.int64) * int(below[-1])
    found = atoms[np.minimum(np.searchsorted(below * bins, wanted, side="left"), atoms.size - 1)]
    found[0] = min(float(q[0]) for _, q in parts)
    return found


def federated_edges(summaries: Sequence[tuple[int, np.ndarray, np.ndarray | None]], bins: int,
                    levels: int = QUANTILE_LEVELS) -> tuple[np.ndarray, np.ndarray]:
    """Sketch edges and PSI decile edges (a subset of them) from the sites' ``(count, quantiles, distinct or None)``."""
    pairs = [(n, q) for n, q, _ in summaries]
    if not any(n > 0 for n, _ in pairs):
        return np.empty(0), np.empty(0)
    few = [d for n, _, d in summaries if n > 0]
    union = np.unique(np.concatenate(few)) if all(d is not None for d in few) else None
    if union is not None and union.size <= bins:  # every value an edge, a bin of its own: as sketch_edges, exact
        edges = num.edges_with_ties(union, union)
    else:
        edges = num.edges_from_quantiles(pooled_quantiles(pairs, bins, levels))
    psi = num.distinct(pooled_quantiles(pairs, PSI_BINS, levels))
    # PSI bins must be unions of sketch bins, so their edges are sketch edges (as build_profile snaps them)
    return edges, np.unique(edges[np.minimum(np.searchsorted(edges, psi), edges.size - 1)])


def merge_moments(parts: Sequence[tuple[int, float, float]]) -> tuple[int, float, float]:
    """Count, mean and population standard deviation of the union of ``(count, mean, centred sum of squares)`` parts (Chan et al.)."""
    count = sum(int(n) for n, _, _ in parts)
    if count == 0:
        return 0, math.nan, math.nan
    mean = math.fsum(n * m for n, m, _ in parts if n) / count
    m2 = math.fsum(s + n * (m - mean) ** 2 for n, m, s in parts if n)
    return count, mean, math.sqrt(max(m2, 0.0) / count)


def numeric_from_counts(name: str, *, edges: np.ndarray, psi_edges: np.ndarray, counts: np.ndarray, missing: int,
                        mean: float, std: float) -> NumericProfile:
    """A sketch-mode column profile from the pooled counts over ``edges`` (``len(edges) + 1`` bins); PSI counts follow from them."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.shape != (edges.size + 1,):
        raise DataError(f"column {name!r}: {counts.size} bin counts for {edges.size} edges, expected {edges.size + 1}.")
    total = int(counts.sum())
    below = np.cumsum(counts)  # values < edges[k]: the bins 0..k
    psi_counts = np.diff(below[np.searchsorted(edges, psi_edges)], prepend=0, append=total)
    return NumericProfile(name=name, count=total, missing=int(missing), mean=mean, std=std, psi_edges=psi_edges,
                          psi_counts=psi_counts.astype(np.int64), edges=edges, counts=counts)
