"""Drift history across every monitored batch, so a person sees when drift began.

Built from the stored results of all monitor runs (through :mod:`workbench.reports.catalog`), one
row per batch (the latest run of each) for the dataset-level verdict, and one row per batch
and column for the per-column effect sizes; plotted as a timeline and a heatmap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config


def build(config: Config, current: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dataset-level and per-column history, one entry per batch (its latest monitor run with a drift verdict).

    ``current`` is the results folder of a drift phase still running (its run counts as the latest).
    """
    import pandas as pd

    rows, cols = [], []
    for b in catalog.latest_per_batch(config, "drift", name=catalog.VERDICT_FILE, current=current):
        folder = b.phase_dir("drift")
        verdict, concept = b.read("drift", catalog.VERDICT_FILE), b.read("drift", catalog.CONCEPT_FILE)
        data = b.read("drift", catalog.DATA_DRIFT_FILE)["dataset"]
        perf = concept["performance"]
        rows.append({"batch": verdict["batch"]["name"], "run_id": b.run_id, "model_version": verdict["model"]["version"],
                     "data_drift": verdict["data_drift"], "drifted_share": data["drifted_share"],
                     "concept_drift": verdict["concept_drift"], "feature_drift": verdict["feature_drift"],
                     "score_psi": concept["prediction_drift"]["psi"], "performance_delta": perf.get("difference"),
                     "alert": verdict["alert"], "fallback": verdict["fallback"]["used"]})
        per = pd.read_parquet(folder / catalog.COLUMNS_FILE)[["column", "effect_size", "p_value", "drifted", "status"]]
        cols.append(per.assign(batch=verdict["batch"]["name"], run_id=b.run_id))
    dataset = pd.DataFrame(rows)
    if dataset.empty:
        return dataset, pd.DataFrame()
    columns = pd.concat(cols, ignore_index=True).sort_values(["batch", "column"]).reset_index(drop=True)
    return dataset.reset_index(drop=True), columns


def plot(dataset: pd.DataFrame, columns: pd.DataFrame) -> Any:
    """Timeline of the dataset verdicts and a heatmap of per-column effect sizes."""
    import numpy as np
    from matplotlib.figure import Figure

    grid = columns.pivot(index="column", columns="batch", values="effect_size").reindex(columns=dataset["batch"])
    drifted = columns.pivot(index="column", columns="batch", values="drifted").reindex(columns=dataset["batch"])
    fig = Figure(figsize=(max(6.0, 0.9 * len(dataset) + 3), 3 + 0.28 * len(grid)))
    top, bottom = fig.subplots(2, 1, height_ratios=[1, max(1.5, 0.2 * len(grid))])
    x = np.arange(len(dataset))
    labels = [str(b).rsplit(".", 1)[0] for b in dataset["batch"]]
    top.plot(x, dataset["drifted_share"], marker="o", label="share of drifted columns")
    top.plot(x, dataset["score_psi"], marker="s", label="score PSI")
    for i, row in dataset.iterrows():
        if row["concept_drift"] or row["feature_drift"]:
            top.axvspan(i - 0.4, i + 0.4, color="#f6ad55", alpha=0.3)
    top.set_xticks(x, labels, rotation=30, fontsize=8)
    top.legend(loc="upper left", fontsize=8)
    top.set_title("Drift history (shaded: concept or feature drift)")
    image = bottom.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="Reds", vmin=0)
    for (i, j), flag in np.ndenumerate(drifted.to_numpy()):
        if flag is True or flag == 1:
            bottom.text(j, i, "●", ha="center", va="center", fontsize=7)
    bottom.set_yticks(range(len(grid)), grid.index, fontsize=8)
    bottom.set_xticks(x, labels, rotation=30, fontsize=8)
    fig.colorbar(image, ax=bottom, label="effect size (● drifted)")
    fig.tight_layout()
    return fig


METRIC_NAMES = {"roc_auc": "ROC AUC", "accuracy": "accuracy", "precision": "precision", "recall": "recall", "f1": "F1", "mae": "MAE",
                "rmse": "RMSE"}


def estimates(config: Config, current: Path | None = None) -> pd.DataFrame:
    """Estimated and realised primary metric of every monitored batch (its latest run with an estimate), in batch order.

    Columns: ``batch, run_id, model_version, metric, estimated, low, high, reference, alert_threshold, alert, realised,
    realised_source`` (labels, feedback or None), ``realised_rows, concept_drift_likely, rows``.
    """
    import pandas as pd

    rows = []
    for b in catalog.latest_per_batch(config, "drift", name=catalog.ESTIMATE_FILE, current=current):
        est = b.read("drift", catalog.ESTIMATE_FILE)
        metric = est["metric"]
        e = est["estimated"][metric]
        realised, source, n = None, None, 0
        fb = est.get("feedback") or {}
        if est.get("realised"):
            realised, source, n = est["realised"]["metrics"].get(metric), "labels", est["realised"]["rows"]
        elif fb.get("status") == "compared":
            realised, source, n = fb["metrics"][metric]["value"], "feedback", fb["from_queue"]
        rows.append({"batch": b.name, "run_id": b.run_id, "model_version": b.score.get("model", {}).get("version"), "metric": metric,
                     "estimated": e["value"], "low": e["low"], "high": e["high"], "reference": e["reference"],
                     "alert_threshold": est["alert_threshold"], "alert": est["alert"], "realised": realised, "realised_source": source,
                     "realised_rows": n, "concept_drift_likely": est["concept_drift_likely"], "rows": est["rows"]})
    return pd.DataFrame(rows)


def estimate_plot(frame: pd.DataFrame) -> Any:
    """Estimated performance per batch with its band, realised beside it where labels arrived, and the alert threshold."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(7.5, 0.8 * len(frame) + 5), 3.4))
    ax = fig.subplots()
    x = np.arange(len(frame))
    metric = METRIC_NAMES.get(str(frame["metric"].iloc[0]), str(frame["metric"].iloc[0]))
    ax.fill_between(x, frame["low"].astype(float), frame["high"].astype(float), color="#90cdf4", alpha=0.45, label="estimate's band")
    ax.plot(x, frame["estimated"].astype(float), marker="o", color="#2b6cb0", label=f"estimated {metric} (no labels needed)")
    real = frame["realised"].astype(float)
    ax.plot(x, real, marker="s", linestyle="none", color="#2f855a", label=f"realised {metric}")
    flagged = frame["concept_drift_likely"].astype(bool).to_numpy()
    if flagged.any():
        ax.plot(x[flagged], real[flagged], marker="X", markersize=11, linestyle="none", color="#c53030", label="outside the band: likely concept drift")
    ax.axhline(float(frame["alert_threshold"].iloc[-1]), color="#c05621", linestyle="--", linewidth=1, label="alert threshold")
    ax.set_xticks(x, [str(b).rsplit(".", 1)[0] for b in frame["batch"]], rotation=30, fontsize=8)
    ax.set_ylabel(metric)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside the chart: never over a point
    ax.set_title(f"{metric}: estimated before labels, realised once they arrived")
    fig.tight_layout()
    return fig
