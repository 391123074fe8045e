"""Numeric columns: float64 values, exact KS and Wasserstein from sorted arrays, and the binned sketch.

Exact mode works on each column's sorted non-missing values. One ``searchsorted`` places the
batch values in the reference's order; the merged grid then gives both empirical CDFs, from
which the KS statistic and the Wasserstein-1 distance follow in a few vectorised passes.

Sketch mode keeps counts over reference-quantile bin edges (see :func:`sketch_edges`).
Bin ``i`` of ``len(edges) + 1`` holds the values ``x`` with ``edges[i-1] <= x < edges[i]``
(bin 0: below the reference minimum; the last bin: at or above the reference maximum),
exactly ``np.searchsorted(edges, x, side="right")``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

KS_EXACT_MAX_N = 10_000  # scipy.stats.ks_2samp(method="auto") is exact up to this sample size
TINY_P = 1e-10  # below this a KS p-value is not computed exactly (see ks_pvalue)
GRID_CELLS = 1 << 16  # lookup cells that let most values skip the binary search over edges


def to_float(series: pd.Series) -> np.ndarray | None:
    """The column as float64 (missing as NaN), or None when it holds text that is not a number."""
    dtype = series.dtype
    if dtype == np.float64:
        return series.to_numpy()
    if pd.api.types.is_complex_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype) \
            or pd.api.types.is_timedelta64_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return None
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    raw = series.astype(object)
    parsed = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if np.count_nonzero(np.isnan(parsed)) > int(raw.isna().sum()):
        return None
    return parsed


def is_text(series: pd.Series) -> bool:
    """Whether a column's non-missing values are text (str or bytes; categories of text too).

    A numeric column of text is a changed type even when every value parses ("12"): a column
    written as int and read back as string means its producer changed.
    """
    values = series.cat.categories.to_series() if isinstance(series.dtype, pd.CategoricalDtype) else series
    if pd.api.types.is_string_dtype(values.dtype) and not pd.api.types.is_object_dtype(values.dtype):
        return True  # pandas' string dtypes
    return pd.api.types.infer_dtype(values, skipna=True) in ("string", "bytes", "mixed", "mixed-integer")


def finite(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The finite values (NaN and +/-inf count as missing) and the number of missing ones."""
    ok = np.isfinite(values)
    kept = int(np.count_nonzero(ok))
    if kept == values.size:
        return values, 0
    return values[ok], values.size - kept


def first_bad_text(series: pd.Series) -> str:
    """The first non-missing value of ``series`` that does not parse as a number."""
    raw = series.dropna().astype(object)
    bad = raw[pd.to_numeric(raw, errors="coerce").isna()]
    return repr(bad.iloc[0]) if len(bad) else "?"


def ks_wasserstein(reference: np.ndarray, batch: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic D and Wasserstein-1 distance of two sorted, non-empty arrays.

    Equal to ``scipy.stats.ks_2samp(...).statistic`` and ``scipy.stats.wasserstein_distance``:
    the CDFs are the same integer counts divided by the same sizes, evaluated on the merged grid.
    """
    n, m = reference.size, batch.size
    total = n + m
    slots = np.searchsorted(reference, batch, side="right")
    slots += np.arange(m)  # ties: reference values first, then the batch values
    from_batch = np.zeros(total, dtype=bool)
    from_batch[slots] = True
    merged = np.empty(total)
    merged[slots] = batch
    del slots
    np.logical_not(from_batch, out=from_batch)
    merged[from_batch] = reference
    np.logical_not(from_batch, out=from_batch)
    seen_batch = np.cumsum(from_batch, dtype=np.float64)  # counts are exact in float64
    del from_batch
    gaps = np.arange(1, total + 1, dtype=np.float64)
    gaps -= seen_batch
    gaps /= n  # reference CDF
    seen_batch /= m  # batch CDF
    gaps -= seen_batch
    steps = seen_batch[:-1]  # reuse the buffer: buffers touched once are cheaper than fresh ones
    np.subtract(merged[1:], merged[:-1], out=steps)
    del merged
    gaps = gaps[:-1]
    np.abs(gaps, out=gaps)
    # Within a run of ties only the last position is a CDF value, and there the step is > 0.
    d = float(np.max(gaps, where=steps > 0, initial=0.0))
    np.multiply(gaps, steps, out=gaps)
    return d, float(np.sum(gaps))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Two-sided p-value of KS statistic ``d`` for sizes ``n``, ``m``, as ``ks_2samp(method="auto")``.

    Exact (scipy's own lattice-path computation) when both sizes are at most 10,000, otherwise
    ``scipy.stats.kstwo.sf(d, round(n*m/(n+m)))``: scipy's choice of method, so p-values match.
    One shortcut: when the DKW-Massart bound ``2 exp(-2 N d^2)`` puts the p-value below 1e-10,
    the asymptotic Kolmogorov tail is returned instead of scipy's Smirnov sum, whose cost grows
    with N (half a second at N = 500,000); both are then below 1e-10, so they agree within 1e-10.
    """
    if max(n, m) <= KS_EXACT_MAX_N:
        exact = _exact_pvalue(d, n, m)
        if exact is not None:
            return exact
    from scipy import stats

    en = float(np.round(n * m / (n + m)))
    if 2.0 * math.exp(-2.0 * en * d * d) <= TINY_P:
        return float(stats.kstwobign.sf(d * math.sqrt(en)))
    return float(np.clip(stats.kstwo.sf(d, en), 0.0, 1.0))


def _exact_pvalue(d: float, n: int, m: int) -> float | None:
    """scipy's exact two-sample KS p-value, or None when it is unavailable or fails."""
    try:
        from scipy.stats._stats_py import _attempt_exact_2kssamp
    except ImportError:  # pragma: no cover - a future scipy may move it; asymptotic then
        return None
    success, _, prob = _attempt_exact_2kssamp(n, m, math.gcd(n, m), np.float64(d), "two-sided")
    return float(np.clip(prob, 0.0, 1.0)) if success else None


def moments(values: np.ndarray) -> tuple[float, float]:
    """Mean and population standard deviation (ddof=0, as evidently normalises); NaN when empty."""
    if values.size == 0:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values))


def quantile_values(sorted_values: np.ndarray, bins: int) -> np.ndarray:
    """Reference values at quantiles ``j/bins``, j = 0..bins (inverted CDF), with repeats."""
    n = sorted_values.size
    ranks = -(-np.arange(bins + 1, dtype=np.int64) * n // bins)  # ceil(j * n / bins), exact
    return sorted_values[np.maximum(ranks, 1) - 1]


def distinct(sorted_values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array."""
    if sorted_values.size == 0:
        return sorted_values
    return sorted_values[np.r_[True, sorted_values[1:] != sorted_values[:-1]]]


def sketch_edges(sorted_values: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges for the sketch: ``bins + 1`` reference quantiles, with heavy ties split off.

    A value that fills more than one quantile step (a spike of ties, such as a count column's
    values or a zero-inflated column's zero) also gets the next float as an edge, so it has a bin
    of its own and values just above it are not mixed into it. A column with at most ``bins``
    distinct values is treated that way for every value: its sketch is then exact.
    """
    if sorted_values.size == 0:
        return np.empty(0)
    values = distinct(sorted_values)
    if values.size <= bins:
        return edges_with_ties(values, values)
    return edges_from_quantiles(quantile_values(sorted_values, bins))


def edges_from_quantiles(picked: np.ndarray) -> np.ndarray:
    """Sketch edges from ``bins + 1`` quantile values: each distinct one, and a bin of its own for a value repeated."""
    return edges_with_ties(distinct(picked), distinct(picked[1:][picked[1:] == picked[:-1]]))


def edges_with_ties(values: np.ndarray, heavy: np.ndarray) -> np.ndarray:
    """``values`` as edges, plus the next float above each ``heavy`` value (which then fills a bin alone)."""
    split = np.nextafter(heavy, np.inf)
    return np.union1d(values, split[np.isfinite(split)])


def counts_from_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin (``len(edges) + 1`` bins, see the module docstring) of sorted values."""
    below = np.searchsorted(sorted_values, edges, side="left")  # values < each edge
    return np.diff(below, prepend=0, append=sorted_values.size)


class BinIndex:
    """``np.searchsorted(edges, x, side="right")``, mostly by table lookup instead of a search.

    A grid splits the inner reference range into equal cells, computed with the same float
    arithmetic for edges and values. That arithmetic is monotone, so a value has every edge of
    an earlier cell below it and every edge of a later cell above it: in a cell without edges
    the answer is a table entry, in a cell with one or two edges one or two comparisons more,
    and only values in cells crowded with edges are searched.
    """

    def __init__(self, edges: np.ndarray) -> None:
        self.edges = edges
        self.table: np.ndarray | None = None
        trim = edges.size // 100  # tail values fall in the end cells and are searched
        if edges.size < 8 or edges.size >= 2**31 - 1:
            return
        self.low = float(edges[trim])
        self.scale = GRID_CELLS / (float(edges[-1 - trim]) - self.low)
        if not math.isfinite(self.scale):
            return
        per_cell = np.bincount(self._cells(edges), minlength=GRID_CELLS)
        self.before = (np.cumsum(per_cell) - per_cell).astype(np.int32)  # edges in earlier cells
        self.table = np.where(per_cell == 0, self.before, -1).astype(np.int32)
        self.first, self.second = np.full(GRID_CELLS, np.inf), np.full(GRID_CELLS, np.inf)
        self.first[per_cell >= 1] = edges[self.before[per_cell >= 1]]
        self.second[per_cell >= 2] = edges[self.before[per_cell >= 2] + 1]
        self.crowded = per_cell > 2

    def _cells(self, values: np.ndarray) -> np.ndarray:
        cells = values - self.low
        cells *= self.scale
        np.clip(cells, 0, GRID_CELLS - 1, out=cells)
        return cells.astype(np.intp)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Bin index of each finite value."""
        if self.table is None:
            return np.searchsorted(self.edges, values, side="right")
        cells = self._cells(values)
        index = self.table[cells]
        pending = np.flatnonzero(index < 0)
        if pending.size > values.size // 4:  # mostly cells with edges (a column of counts): no subsetting
            index = self._resolve(values, cells)
        elif pending.size:
            index[pending] = self._resolve(values[pending], cells[pending])
        return index

    def _resolve(self, values: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Bin index of values by their cells' edges: compare with up to two, search when crowded."""
        index = self.before[cells]
        index += values >= self.first[cells]
        index += values >= self.second[cells]
        crowded = np.flatnonzero(self.crowded[cells])
        if crowded.size:
            index[crowded] = np.searchsorted(self.edges, values[crowded], side="right")
        return index


def sketch_counts(values: np.ndarray, edges: np.ndarray, index: BinIndex) -> tuple[np.ndarray, float, float]:
    """Bin counts of finite ``values``, and the exact sums of the values below and at/above the edges."""
    bins = index(values)
    counts = np.bincount(bins, minlength=edges.size + 1)
    low = values[bins == 0] if counts[0] else values[:0]
    high = values[bins == edges.size] if counts[-1] else values[:0]
    return counts, math.fsum(low), math.fsum(high)


def binned_ks_wasserstein(edges: np.ndarray, reference: np.ndarray, batch: np.ndarray, below_sum: float,
                          above_sum: float) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance from bin counts over the same edges.

    Both CDFs are known exactly just below every edge. D is the largest gap there, which
    underestimates the true D by at most the largest reference bin mass (about ``1/bins``; see
    :func:`sketch_error_bounds`). Wasserstein integrates the gap with each CDF linear inside a
    bin, and exactly outside the reference range from the sums of the batch values there.
    """
    n, m = int(reference.sum()), int(batch.sum())
    gaps = np.cumsum(reference)[:-1] / n - np.cumsum(batch)[:-1] / m  # at each edge, from below
    d = float(np.max(np.abs(gaps)))
    inside = _linear_area(gaps[:-1], gaps[1:], np.diff(edges))
    below = (int(batch[0]) * float(edges[0]) - below_sum) / m
    above = (above_sum - int(batch[-1]) * float(edges[-1])) / m
    return d, inside + max(below, 0.0) + max(above, 0.0)


def _linear_area(start: np.ndarray, end: np.ndarray, widths: np.ndarray) -> float:
    """Integral of |g| over bins where g runs linearly from ``start`` to ``end``."""
    same_sign = start * end >= 0
    crossing = np.where(same_sign, 1.0, np.abs(end - start))
    area = np.where(same_sign, (np.abs(start) + np.abs(end)) / 2, (start**2 + end**2) / (2 * crossing))
    return float(np.sum(area * widths))


def sketch_error_bounds(edges: np.ndarray, reference: np.ndarray, batch: np.ndarray) -> tuple[float, float]:
    """Upper bounds on ``D_exact - D_sketch`` (>= 0) and ``|W_sketch - W_exact|`` (unnormalised).

    Inside a bin both CDFs rise by their bin mass, so the gap can exceed its value at the bin's
    edges by at most the smaller of the two masses: the KS bound is the largest
    ``min(reference mass, batch mass)`` over the bins, hence at most the largest reference bin
    mass (about ``1/bins`` by construction; a tie-heavy value gets its own exact edge). The
    Wasserstein bound is the sum over inner bins of bin width times the larger of the two
    masses; outside the reference range Wasserstein is exact, and so is a bin holding one value.
    """
    share_r = reference / max(int(reference.sum()), 1)
    share_b = batch / max(int(batch.sum()), 1)
    one_value = np.r_[False, edges[1:] == np.nextafter(edges[:-1], np.inf), False]  # a tie: no error
    ks = float(np.max(np.where(one_value, 0.0, np.minimum(share_r, share_b))[1:], initial=0.0))
    wider = np.where(one_value, 0.0, np.maximum(share_r, share_b))
    return ks, float(np.sum(wider[1:-1] * np.diff(edges)))
