"""The KPI trend across monitored batches: built from the impact results in the catalog, and plotted.

One row per KPI per monitored batch (the latest monitor run of each batch), oldest batch first;
the impact phase stores it and the monthly review and the impact app read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.reports.catalog import RunInfo

TREND_COLUMNS = ["batch", "kpi", "current", "ci_low", "ci_high", "baseline", "target", "gap", "model_version", "run_id"]


def build(config: Config, current: Path | None = None, *, runs: list[RunInfo] | None = None) -> pd.DataFrame:
    """One row per KPI per monitored batch (latest run of each batch with KPIs), oldest batch first.

    ``current`` is the results folder of an impact phase still running; ``runs`` limits the
    batches to those runs (a review's window).
    """
    import pandas as pd

    frames = []
    for b in catalog.latest_per_batch(config, "impact", name=catalog.KPIS_FILE, current=current, runs=runs):
        frame = pd.read_parquet(b.phase_dir("impact") / catalog.KPIS_FILE)
        if len(frame):
            frames.append(frame.assign(run_id=b.run_id))
    if not frames:
        return pd.DataFrame(columns=TREND_COLUMNS)
    return pd.concat(frames, ignore_index=True).sort_values(["batch", "kpi"]).reset_index(drop=True)


def plot(trend: pd.DataFrame) -> Any:
    """One panel per KPI: the value with its interval per batch, baseline and target; model version at each point."""
    import numpy as np
    from matplotlib.figure import Figure

    names = list(dict.fromkeys(trend["kpi"]))
    fig = Figure(figsize=(max(6.0, 0.8 * trend["batch"].nunique() + 3), 2.8 * len(names)))
    axes = np.atleast_1d(fig.subplots(len(names), 1, squeeze=False)[:, 0])
    for ax, name in zip(axes, names, strict=True):
        k = trend[trend["kpi"] == name].reset_index(drop=True)
        x = np.arange(len(k))
        ax.fill_between(x, k["ci_low"].astype(float), k["ci_high"].astype(float), alpha=0.2, label="95% interval")
        ax.plot(x, k["current"].astype(float), marker="o", label="model")
        ax.plot(x, k["baseline"].astype(float), linestyle="--", color="grey", label="baseline")
        ax.plot(x, k["target"].astype(float), linestyle=":", color="green", label="target")
        for i, row in k.iterrows():
            ax.annotate(f"v{row['model_version']}", (i, row["current"]), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
        worse = "lower" if k["direction"].iloc[0] == "higher" else "higher"
        ax.set_title(f"{k['label'].iloc[0] or name} ({worse} is worse)", fontsize=10)
        ax.set_xticks(x, [str(b).rsplit(".", 1)[0] for b in k["batch"]], rotation=30, fontsize=8)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def trend_image(folder: Path) -> Any:
    """The trend plot stored in an impact results folder (``phase.dir``, or ``catalog.phase_dir(config, "impact")`` in apps)."""
    from IPython.display import Image

    path = Path(folder) / catalog.TREND_PLOT
    return Image(filename=str(path)) if path.is_file() else "no KPI trend yet: no labelled batch has been measured"
