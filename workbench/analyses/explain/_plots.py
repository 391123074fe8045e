"""Figures for an :class:`Explanation`, drawn on ``matplotlib.figure.Figure`` (no pyplot state).

Rendered server-side (Voila, HTML export) without shap's JavaScript or global figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.explain._explanation import ExplainError, Explanation

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

_UNITS = {"log-odds": "log-odds of the positive class", "probability": "probability of the positive class",
          "prediction": "prediction"}


def plot_importance(expl: Explanation, *, max_display: int = 15) -> Figure:
    """Horizontal bars of :meth:`Explanation.importance`, most important on top."""
    from matplotlib.figure import Figure

    imp = expl.importance().head(max_display)[::-1]
    fig = Figure(figsize=(7, 0.35 * len(imp) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ax.barh([str(i) for i in imp.index], imp.to_numpy(), color="#1f77b4")
    what = "mean |SHAP value|" if expl.values is not None else "mean |change| when shuffled"
    ax.set_xlabel(f"{what} ({_UNITS[expl.output]})")
    ax.set_title(f"What drives the model ({expl.method}, {expl.n_explained} rows)")
    return fig


def plot_beeswarm(expl: Explanation, *, max_display: int = 12, seed: int = 0) -> Figure:
    """One row of dots per feature: x = value, colour = feature value (low blue, high red).

    Numeric features are coloured by their min-max scaled value, categorical ones by their
    level code (alphabetical), so colour there only tells levels apart.
    """
    import numpy as np
    from matplotlib.figure import Figure

    values = _require_values(expl, "plot_beeswarm")
    order = list(expl.importance().head(max_display).index)[::-1]
    rng = np.random.default_rng(seed)
    fig = Figure(figsize=(8, 0.45 * len(order) + 1.5), layout="constrained")
    ax = fig.add_subplot()
    points = None
    for y, col in enumerate(order):
        x = values[col].to_numpy()
        colour = _normalised(expl.data[col])
        jitter = rng.uniform(-0.3, 0.3, len(x))
        points = ax.scatter(x, y + jitter, c=colour, cmap="coolwarm", vmin=0, vmax=1, s=8, alpha=0.7, linewidths=0)
    ax.set_yticks(range(len(order)), [str(c) for c in order])
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(f"SHAP value (impact on {_UNITS[expl.output]})")
    if points is not None:
        bar = fig.colorbar(points, ax=ax, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"])
        bar.set_label("feature value")
    return fig


def plot_waterfall(expl: Explanation, row: Any, *, max_display: int = 10, label: str = "") -> Figure:
    """One row's contributions from the base value to the model output, largest on top.

    ``row`` is an index label of ``expl.values``; features beyond ``max_display`` are summed
    into one "other features" bar. ``label`` names the row in the title (e.g. ``customer_id C-1``;
    default ``row <index label>``).
    """
    from matplotlib.figure import Figure

    values = _require_values(expl, "plot_waterfall")
    if row not in values.index:
        raise ExplainError(f"Row {row!r} was not explained. Fix: pick a label from expl.values.index.")
    contrib = values.loc[row]
    contrib = contrib.reindex(contrib.abs().sort_values(ascending=False, kind="stable").index)
    shown = contrib.head(max_display)
    labels = [f"{c} = {_short(expl.data.at[row, c])}" for c in shown.index]
    if len(contrib) > max_display:
        shown = list(shown.to_numpy()) + [float(contrib.iloc[max_display:].sum())]
        labels.append(f"{len(contrib) - max_display} other features")
    else:
        shown = list(shown.to_numpy())
    fig = Figure(figsize=(8, 0.4 * len(shown) + 1.5), layout="constrained")
    ax = fig.add_subplot()
    start = expl.base_value
    ends = [start]
    for y, value in zip(range(len(shown) - 1, -1, -1), shown, strict=True):
        ax.barh(y, value, left=start, color="#d62728" if value > 0 else "#1f77b4")
        ax.text(start + value, y, f" {value:+.3f}", va="center", ha="left" if value > 0 else "right", fontsize=8)
        start += value
        ends.append(start)
    pad = 0.15 * (max(ends) - min(ends) or 1.0)  # every bar and its label inside the axes (barh's left= is not autoscaled)
    ax.set_xlim(min(ends) - pad, max(ends) + pad)
    ax.set_yticks(range(len(shown) - 1, -1, -1), labels)
    ax.axvline(expl.base_value, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(start, color="black", linewidth=0.8)
    ax.set_xlabel(f"{_UNITS[expl.output]}: base {expl.base_value:.3f} → output {start:.3f}")
    ax.set_title(f"Why {label or f'row {row}'} scored as it did")
    return fig


def _require_values(expl: Explanation, caller: str) -> Any:
    if expl.values is None:
        raise ExplainError(f"{caller} needs per-row values; method 'permutation' has none. "
                           "Fix: use plot_importance.")
    return expl.values


def _normalised(series: Any) -> Any:
    """Numbers min-max scaled to [0, 1]; other values as level codes scaled to [0, 1]; NaN stays NaN."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series):
        x = series.to_numpy(dtype=float)
    else:
        codes = pd.Categorical(series).codes.astype(float)
        x = np.where(codes < 0, np.nan, codes)
    lo, hi = np.nanmin(x) if np.isfinite(x).any() else 0.0, np.nanmax(x) if np.isfinite(x).any() else 1.0
    return (x - lo) / (hi - lo) if hi > lo else np.full_like(x, 0.5)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
