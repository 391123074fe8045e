"""Reference vs batch distribution per column, stored by the drift phase for the drift app's feature picker.

Built from what drift already has: the reference profile's decile edges and counts (the same
bins as PSI) and its categorical level counts, against the batch's counts over the same bins,
so the app shows distributions without reading the reference data again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

MISSING = "(missing)"


def distribution_table(profile: Any, batch: pd.DataFrame) -> pd.DataFrame:
    """One row per column and bin: ``column, kind, bin, low, high, reference_count, batch_count, reference_share, batch_share``.

    Numeric bins follow ``profile.numeric[col].psi_edges`` (``len(edges) + 1`` bins: below the
    first edge, between edges, at or above the last); categorical bins are the reference levels,
    then levels seen only in the batch. Shares are over non-missing values; a missing column
    in the batch gets zero batch counts.
    """
    import numpy as np
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for name, col in profile.numeric.items():
        edges = np.asarray(col.psi_edges, dtype=float)
        ref_counts = np.asarray(col.psi_counts, dtype=float)
        values = pd.to_numeric(batch[name], errors="coerce").to_numpy(dtype=float) if name in batch.columns else np.empty(0)
        values = values[np.isfinite(values)]
        batch_counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1).astype(float)
        lows = np.concatenate([[-np.inf], edges])
        highs = np.concatenate([edges, [np.inf]])
        for i in range(edges.size + 1):
            rows.append({"column": name, "kind": "numeric", "bin": _label(lows[i], highs[i]), "low": lows[i], "high": highs[i],
                         "reference_count": ref_counts[i], "batch_count": batch_counts[i]})
    for name, col in profile.categorical.items():
        seen = batch[name].dropna().astype(str).value_counts() if name in batch.columns else pd.Series(dtype=float)
        levels = list(col.counts) + [level for level in seen.index if level not in col.counts]
        for level in levels:
            rows.append({"column": name, "kind": "categorical", "bin": str(level), "low": np.nan, "high": np.nan,
                         "reference_count": float(col.counts.get(level, 0)), "batch_count": float(seen.get(level, 0))})
    table = pd.DataFrame(rows, columns=["column", "kind", "bin", "low", "high", "reference_count", "batch_count"])
    for side in ("reference", "batch"):
        totals = table.groupby("column")[f"{side}_count"].transform("sum")
        table[f"{side}_share"] = (table[f"{side}_count"] / totals.where(totals > 0)).fillna(0.0)
    return _drop_empty_edges(table)


def _drop_empty_edges(table: pd.DataFrame) -> pd.DataFrame:
    """Drop the open-ended numeric bins when neither side has values there (the usual case below the minimum)."""
    empty = (table["kind"] == "numeric") & (table["reference_count"] == 0) & (table["batch_count"] == 0) & ~table["low"].between(-1e308, 1e308)
    return table[~empty].reset_index(drop=True)


def _label(low: float, high: float) -> str:
    if low == float("-inf"):
        return f"< {high:.4g}"
    if high == float("inf"):
        return f"≥ {low:.4g}"
    return f"[{low:.4g}, {high:.4g})"
