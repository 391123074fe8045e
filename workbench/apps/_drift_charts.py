"""Charts of the drift app: the per-column drift heatmap (its answer), the dataset verdict over
time, one column's distributions, the score distribution and estimated vs realised performance. PNG bytes via :mod:`_render`."""

from __future__ import annotations

from typing import Any

from workbench.apps import _render as r
from workbench.apps._leads import batch_label
from workbench.reports.history import estimate_plot


def heatmap_png(history: Any, current: str, threshold: float = 0.05) -> bytes:
    """Which columns drift since when: columns x batches, red cells drifted (darker: larger effect), the shown batch outlined.

    ``history`` has one row per batch and column (``batch, column, effect_size, drifted``), as
    ``history_columns.parquet`` stores it. Columns are ordered by the first batch they drifted in.
    """
    import numpy as np
    from matplotlib.patches import Rectangle

    batches = list(dict.fromkeys(history["batch"].astype(str)))
    labels = [batch_label(b) for b in batches]
    drifted = history.pivot_table(index="column", columns="batch", values="drifted", aggfunc="max").reindex(columns=batches)
    effect = history.pivot_table(index="column", columns="batch", values="effect_size", aggfunc="max").reindex(columns=batches)
    drifted = drifted.fillna(False).astype(bool)
    first = {c: (np.flatnonzero(drifted.loc[c].to_numpy())[0] if drifted.loc[c].any() else len(batches)) for c in drifted.index}
    order = sorted(drifted.index, key=lambda c: (first[c], -float(np.nan_to_num(effect.loc[c].max()))))
    drifted, effect = drifted.loc[order], effect.loc[order]
    n_rows, n_cols = len(order), len(batches)
    fig = r.figure(min(11.5, 3.2 + 0.75 * n_cols), 1.2 + 0.32 * n_rows, left=2.0, bottom=0.7)
    ax = fig.subplots()
    strength = np.clip(np.nan_to_num(effect.to_numpy(dtype=float)) / (4 * threshold), 0, 1)
    red, grey = np.array([0.773, 0.188, 0.188]), np.array([0.93, 0.95, 0.97])
    colours = np.where(drifted.to_numpy()[..., None], 1 - (0.35 + 0.65 * strength[..., None]) * (1 - red), grey)
    ax.imshow(colours, aspect="auto", interpolation="nearest")
    if n_cols <= 16:
        values = effect.to_numpy(dtype=float)
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if drifted.iat[i, j] and strength[i, j] > 0.5 else "#4a5568")
    ax.set_xticks(np.arange(n_cols), labels, rotation=30 if n_cols > 6 else 0, ha="right" if n_cols > 6 else "center", fontsize=8)
    ax.set_yticks(np.arange(n_rows), [str(c) for c in order], fontsize=8)
    ax.tick_params(length=0)
    if current in labels:
        j = labels.index(current)
        ax.add_patch(Rectangle((j - 0.5, -0.5), 1, n_rows, fill=False, edgecolor="black", linewidth=2.2))
    ax.set_title("Which columns drift, since when (red: drifted; number: effect size; box: this batch)", fontsize=10)
    return r.png(fig)


def history_png(history: Any, current: str) -> bytes:
    """Share of drifted columns per batch (red markers: the batch drifted; ring: the shown batch)."""
    import numpy as np

    fig = r.figure(9, 3.2)
    ax = fig.subplots()
    labels = [str(b).rsplit(".", 1)[0] for b in history["batch"]]
    share = history["drifted_share"].astype(float).to_numpy()
    drifted = history["data_drift"].astype(bool).to_numpy()
    x = np.arange(len(labels))
    ax.plot(x, share, color=r.GREY, zorder=1)
    ax.scatter(x, share, c=np.where(drifted, r.RED, r.BLUE), s=40, zorder=2)
    if "concept_drift" in history:
        concept = history["concept_drift"].astype(bool).to_numpy()
        ax.scatter(x[concept], np.full(concept.sum(), 1.02), marker="v", color=r.ORANGE, label="concept drift", zorder=3)
    if current in labels:
        i = labels.index(current)
        ax.scatter([x[i]], [share[i]], s=180, facecolors="none", edgecolors="black", zorder=4, label="shown batch")
    ax.axhline(0.5, color="black", linestyle="--", linewidth=1, label="dataset drift: half the columns")
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylim(-0.02, 1.08)
    ax.set_ylabel("share of drifted columns")
    ax.set_title("Dataset drift per batch (red: drifted)")
    ax.legend(loc="upper left", fontsize=8)
    return r.png(fig)


def distribution_png(rows: Any, name: str, stats: Any) -> bytes:
    """Reference vs batch share per bin of one column."""
    import numpy as np

    fig = r.figure(8, 3.2)
    ax = fig.subplots()
    x = np.arange(len(rows))
    ax.bar(x - 0.2, rows["reference_share"], width=0.4, color=r.BLUE, label="reference (training)")
    drifted = bool(stats["drifted"].iloc[0]) if len(stats) else False
    ax.bar(x + 0.2, rows["batch_share"], width=0.4, color=r.RED if drifted else r.ORANGE, label="batch")
    ax.set_xticks(x, rows["bin"].tolist(), rotation=30 if len(rows) > 5 else 0, ha="right" if len(rows) > 5 else "center", fontsize=8)
    ax.set_ylabel("share of rows")
    ax.set_title(f"{name}: reference vs batch{' (drifted)' if drifted else ''}")
    ax.legend(fontsize=8)
    return r.png(fig)


def concept_png(bins: list[dict[str, Any]]) -> bytes:
    """Share of scores per reference decile of the score, reference vs batch."""
    import numpy as np

    fig = r.figure(8, 3.0, bottom=1.0)
    ax = fig.subplots()
    if bins:
        x = np.arange(len(bins))
        ax.bar(x - 0.2, [b["reference_share"] for b in bins], width=0.4, color=r.BLUE, label="reference holdout")
        ax.bar(x + 0.2, [b["batch_share"] for b in bins], width=0.4, color=r.ORANGE, label="batch")
        ax.set_xticks(x, [f"{b['edge_low']:.2f}–{b['edge_high']:.2f}" for b in bins], rotation=30, ha="right", fontsize=7)
        ax.legend(fontsize=8)
    ax.set_ylabel("share of rows")
    ax.set_title("Model score distribution by reference score decile (prediction drift)")
    return r.png(fig)


def estimate_png(history: Any, current: str) -> bytes:
    """Estimated performance per batch with its band and realised beside it (:func:`workbench.reports.history.estimate_plot`), the shown batch ringed."""
    fig = estimate_plot(history)
    ax = fig.axes[0]
    labels = [batch_label(b) for b in history["batch"]]
    if current in labels:
        i = labels.index(current)
        ax.scatter([i], [float(history["estimated"].iloc[i])], s=200, facecolors="none", edgecolors="black", zorder=5, label="shown batch")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return r.png(fig)
