"""Drift history across every monitored batch, so a person sees when drift began.

Built from the stored results of all monitor runs (through :mod:`workbench.results`), one
row per batch (the latest run of each) for the dataset-level verdict, and one row per batch
and column for the per-column effect sizes; plotted as a timeline and a heatmap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.phase import PhaseContext


def _monitored(config: Config, extra: Path | None) -> list[tuple[str, Path]]:
    """(run_id, drift folder) of every monitor run with a verdict, plus ``extra`` (the running phase)."""
    from workbench import monitoring, results

    found = [(info.run_id, info.phase_dir("drift")) for info in results.list_runs(config, kind="monitor")]
    if extra is not None:
        found.append((extra.parent.name, extra))
    seen, out = set(), []
    for run_id, folder in found:
        if run_id not in seen and (folder / monitoring.VERDICT_FILE).is_file():
            seen.add(run_id)
            out.append((run_id, folder))
    return out


def build(config: Config, current: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dataset-level and per-column history, one entry per batch (its latest monitor run)."""
    import pandas as pd

    from workbench._io import read_json

    rows, cols = [], []
    for run_id, folder in _monitored(config, current):
        verdict, concept = read_json(folder / "verdict.json"), read_json(folder / "concept.json")
        data = read_json(folder / "data_drift.json")["dataset"]
        perf = concept["performance"]
        rows.append({"batch": verdict["batch"]["name"], "run_id": run_id, "model_version": verdict["model"]["version"],
                     "data_drift": verdict["data_drift"], "drifted_share": data["drifted_share"],
                     "concept_drift": verdict["concept_drift"], "feature_drift": verdict["feature_drift"],
                     "score_psi": concept["prediction_drift"]["psi"], "performance_delta": perf.get("difference"),
                     "alert": verdict["alert"], "fallback": verdict["fallback"]["used"]})
        per = pd.read_parquet(folder / "columns.parquet")[["column", "effect_size", "p_value", "drifted", "status"]]
        cols.append(per.assign(batch=verdict["batch"]["name"], run_id=run_id))
    dataset = pd.DataFrame(rows)
    if dataset.empty:
        return dataset, pd.DataFrame()
    dataset = dataset.sort_values(["batch", "run_id"]).drop_duplicates("batch", keep="last").reset_index(drop=True)
    columns = pd.concat(cols, ignore_index=True)
    columns = columns[columns["run_id"].isin(dataset["run_id"])].sort_values(["batch", "column"]).reset_index(drop=True)
    return dataset, columns


def record(phase: PhaseContext) -> pd.DataFrame:
    """Build the history including this run, save tables and a plot; return the dataset-level table."""
    dataset, columns = build(phase.config, phase.dir)
    phase.save_table("history.parquet", dataset)
    phase.save_table("history_columns.parquet", columns)
    if not dataset.empty:
        phase.save_figure("history.png", plot(dataset, columns))
    return dataset


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
