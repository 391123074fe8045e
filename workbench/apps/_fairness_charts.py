"""Charts of the fairness app: the answer's group recall against the reference, per-group rates with
intervals and threshold lines, and bias drift over batches. PNG bytes via :mod:`_render`."""

from __future__ import annotations

from typing import Any

from workbench.apps import _render as r

METRICS = {"selection_rate": "selection rate", "tpr": "recall (true positive rate)", "fpr": "false positive rate",
           "accuracy": "accuracy", "error_rate": "error rate"}


def answer_png(groups: Any, reference: Any, attribute: str, metric: str, moved: Any, month: str, label: str) -> bytes:
    """The attribute's groups: this batch's rate with its interval (red: moved beyond its interval) beside the reference's."""
    import numpy as np

    rows = groups[groups["attribute"].astype(str) == attribute].reset_index(drop=True)
    names = rows["group"].astype(str).tolist()
    short = [" & ".join(p.split("=", 1)[-1] for p in n.split(" & ")) for n in names]
    fig = r.figure(min(11.5, max(8.0, 3 + 0.9 * len(names))), 3.4, bottom=1.0 if len(names) > 4 else 0.6)
    ax = fig.subplots()
    x = np.arange(len(rows))
    now = rows[metric].astype(float).to_numpy()
    err = np.nan_to_num(np.vstack([now - rows[f"{metric}_low"].astype(float).to_numpy(), rows[f"{metric}_high"].astype(float).to_numpy() - now]))
    shifted = set(moved["group"].astype(str)) if moved is not None and len(moved) and metric == "tpr" else set()
    colours = [r.RED if n in shifted else (r.BLUE if s == "ok" else r.GREY) for n, s in zip(names, rows["status"], strict=True)]
    ax.bar(x + 0.2, np.nan_to_num(now), width=0.4, color=colours, yerr=np.clip(err, 0, None), capsize=3, label=month)
    if reference is not None:
        ref = reference[reference["attribute"].astype(str) == attribute]
        ref = ref.set_index(ref["group"].astype(str))
        was = ref[metric].reindex(names).astype(float).to_numpy()
        ax.bar(x - 0.2, np.nan_to_num(was), width=0.4, color="#cbd5e0", label="reference (holdout)")
    ax.set_xticks(x, short, rotation=25 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center", fontsize=8)
    if shifted:
        ax.bar([0], [0], width=0, color=r.RED, label="moved beyond its interval")
    ax.set_ylim(0, 1.22)
    ax.set_ylabel(label)
    ax.set_title(f"{label} by {attribute}: {month} vs the reference", fontsize=10)
    ax.legend(fontsize=8, loc="upper right", ncol=3)
    return r.png(fig)


def groups_png(rows: Any, metric: str, check: Any, di_threshold: float, eo_threshold: float) -> bytes:
    """Bars per group with the bootstrap interval, and the threshold the checks use."""
    import numpy as np

    fig = r.figure(8, 3.4)
    ax = fig.subplots()
    values = rows[metric].astype(float).to_numpy()
    low = values - rows[f"{metric}_low"].astype(float).to_numpy()
    high = rows[f"{metric}_high"].astype(float).to_numpy() - values
    x = np.arange(len(rows))
    colors = np.where(rows["status"].to_numpy() == "ok", r.BLUE, r.GREY)
    ax.bar(x, np.nan_to_num(values), color=colors, yerr=np.nan_to_num(np.vstack([low, high])), capsize=4)
    ax.set_xticks(x, rows["group"].astype(str).tolist(), rotation=20 if len(rows) > 4 else 0, ha="right" if len(rows) > 4 else "center", fontsize=8)
    if check is not None and len(check) and check["reference_group"].iloc[0]:
        ref_group = str(check["reference_group"].iloc[0])
        ref = rows[rows["group"].astype(str) == ref_group]
        if metric == "selection_rate" and check["reference_selection_rate"].notna().iloc[0]:
            line = di_threshold * float(check["reference_selection_rate"].iloc[0])
            ax.axhline(line, color=r.RED, linestyle="--", linewidth=1.2, label=f"four-fifths line: {di_threshold:g} × {ref_group}")
        elif metric in ("tpr", "fpr") and len(ref):
            base = float(ref[metric].iloc[0])
            for sign in (-1, 1):
                ax.axhline(base + sign * eo_threshold, color=r.RED, linestyle="--", linewidth=1.2,
                           label=f"{ref_group} ± {eo_threshold:g} (equalized odds)" if sign < 0 else None)
    ax.set_ylabel(METRICS.get(metric, metric))
    ax.set_title(f"{METRICS.get(metric, metric)} by group, 95% intervals (grey: excluded)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower right")
    return r.png(fig)


def bias_drift_png(rows: Any, attribute: str) -> bytes:
    """Relative TPR per group across batches, with the reference interval as a band."""
    fig = r.figure(8, 3.4)
    ax = fig.subplots()
    batch_col = "batch" if "run_id" in rows.columns and rows["batch"].dtype == object else None
    for i, (group, part) in enumerate(rows.groupby("group", sort=True)):
        color = f"C{i % 10}"
        labels = [str(b).rsplit(".", 1)[0] for b in part[batch_col]] if batch_col else ["batch"]
        value = part["gap"].astype(float) + part["reference"].astype(float) if batch_col else part["batch"].astype(float)
        ax.plot(labels, value.to_numpy(), marker="o", color=color, label=str(group))
        ax.fill_between(labels, part["reference_low"].astype(float).to_numpy(), part["reference_high"].astype(float).to_numpy(), color=color, alpha=0.08)
        moved = part["moved"].astype(bool).to_numpy()
        if moved.any():
            ax.scatter([labels[j] for j in range(len(labels)) if moved[j]], value.to_numpy()[moved], s=120, facecolors="none", edgecolors=r.RED)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("TPR relative to the median group")
    ax.set_title(f"Bias drift over batches: {attribute} (red ring: moved)")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=8, ncol=4)
    return r.png(fig)
