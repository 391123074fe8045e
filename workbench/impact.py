"""The impact phase: business KPIs of a labelled batch, their trend across batches, and the model card refreshed.

Per KPI (``kpis:`` in the config, see :mod:`workbench.kpis`): the baseline (the ``baseline``
model on the same rows, or a given number), the target, the current value with a bootstrap
interval, and the gap (positive = still to go), with the model version that produced it.
Written to ``impact/``: ``kpis.parquet``, ``trend.parquet`` (one row per KPI per monitored
batch, latest run of each batch), ``trend.png`` and ``impact.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.phase import PhaseContext

KPIS_FILE = "kpis.parquet"
TREND_FILE = "trend.parquet"
TREND_PLOT = "trend.png"
IMPACT_FILE = "impact.json"


@dataclass
class Impact:
    """The KPI table of one batch and the trend across batches."""

    status: str
    batch: dict[str, Any]
    model: dict[str, Any]
    kpis: pd.DataFrame = field(repr=False)
    trend: pd.DataFrame = field(repr=False)
    reason: str | None = None
    skipped: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-safe form for ``impact.json`` and ``result.json``."""
        rows = self.kpis.drop(columns=["batch"], errors="ignore").to_dict(orient="records")
        return {"status": self.status, "reason": self.reason, "batch": self.batch, "model": self.model, "kpis": rows,
                "off_target": [r["kpi"] for r in rows if not r["on_target"]], "skipped_kpis": self.skipped,
                "batches_in_trend": sorted(self.trend["batch"].unique().tolist()) if len(self.trend) else []}

    def _repr_html_(self) -> str:
        head = f"<p><b>Batch</b> {self.batch.get('name')} · <b>model</b> v{self.model.get('version')} ({self.model.get('semver')}, {self.model.get('role')})</p>"
        if self.status != "measured":
            return head + f"<p><b>KPIs not measured:</b> {self.reason}</p>"
        cols = ["label", "unit", "direction", "baseline", "target", "current", "ci_low", "ci_high", "gap", "improvement", "on_target"]
        note = "<p>gap &gt; 0: still to go to the target; improvement &gt; 0: better than the baseline.</p>"
        return head + self.kpis.set_index("kpi")[cols].round(4)._repr_html_() + note


def measure(phase: PhaseContext, *, n_bootstrap: int = 1000) -> Impact:
    """Compute the KPI table of the scored batch and the trend; save them (see the module docstring)."""
    import pandas as pd

    from workbench import kpis, monitoring

    cfg = phase.config
    batch, scored = monitoring.scored_batch(phase)
    model = scored["model"]
    task = cfg.model.task
    applicable = [k for k in cfg.kpis if k.applies_to(task)]
    skipped = [{"kpi": k.name, "reason": f"defined for {k.task or kpis.inferred_task(k)} models, this one is {task}"}
               for k in cfg.kpis if not k.applies_to(task)]
    labelled = batch[batch["y"].notna()]
    reason = None
    if not applicable:
        reason = "no KPIs configured for this task (add a 'kpis:' section to the config)"
    elif labelled.empty:
        reason = "no labels in this batch yet (KPIs need outcomes)"
    context = {"model_version": str(model["version"]), "model_semver": model["semver"], "model_role": model["role"],
               "batch": scored["batch"]["name"]}
    if reason:
        table = kpis.table([], task, labelled["y"].to_numpy(), labelled["score"].to_numpy(), None, context=context)
    else:
        base = _baseline_scores(cfg, labelled) if any(k.baseline == "model" for k in applicable) else None
        table = kpis.table(applicable, task, labelled["y"].to_numpy(), labelled["score"].to_numpy(), base, context=context,
                           n_bootstrap=n_bootstrap, seed=cfg.model.seed)
    phase.save_table(KPIS_FILE, table)
    trend = build_trend(cfg, phase.dir)
    phase.save_table(TREND_FILE, trend)
    if len(trend):
        phase.save_figure(TREND_PLOT, plot(trend))
    result = Impact("measured" if reason is None else "not measured", scored["batch"], model, table,
                    trend if len(trend) else pd.DataFrame(), reason, skipped)
    phase.save_json(IMPACT_FILE, result.summary())
    phase.log_metrics({f"kpi_{r.kpi}": r.current for r in table.itertuples() if pd.notna(r.current)}
                      | {f"kpi_gap_{r.kpi}": r.gap for r in table.itertuples() if pd.notna(r.gap)})
    return result


def _baseline_scores(config: Config, labelled: pd.DataFrame) -> Any:
    """The registered baseline's predictions on the labelled rows (the KPI baseline); None when it cannot score."""
    from workbench import registry, training
    from workbench.data import Schema

    loaded = registry.try_load(config, "baseline")
    if loaded is None:
        return None
    return training.predict(loaded.model, labelled, Schema.from_dict(loaded.schema), config.model.task)


def build_trend(config: Config, current: Path | None = None) -> pd.DataFrame:
    """One row per KPI per monitored batch (the latest monitor run of each batch), oldest batch first."""
    import pandas as pd

    from workbench import results

    folders = [info.phase_dir("impact") for info in results.list_runs(config, kind="monitor")]
    if current is not None:
        folders.append(current)
    frames = []
    for folder in dict.fromkeys(folders):
        path = folder / KPIS_FILE
        if path.is_file():
            frame = pd.read_parquet(path)
            if len(frame):
                frames.append(frame.assign(run_id=folder.parent.name))
    if not frames:
        return pd.DataFrame(columns=["batch", "kpi", "current", "ci_low", "ci_high", "baseline", "target", "gap", "model_version", "run_id"])
    out = pd.concat(frames, ignore_index=True)
    latest = out.groupby("batch")["run_id"].transform("max")
    return out[out["run_id"] == latest].sort_values(["batch", "kpi"]).reset_index(drop=True)


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
    """The trend plot stored in an impact results folder (``phase.dir``, or ``results.phase_dir(config, "impact")`` in apps)."""
    from IPython.display import Image

    path = Path(folder) / TREND_PLOT
    return Image(filename=str(path)) if path.is_file() else "no KPI trend yet: no labelled batch has been measured"
