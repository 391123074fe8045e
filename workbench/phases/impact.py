"""The impact phase (``80_impact``): business KPIs of a labelled batch and their trend across batches.

Per KPI (``kpis:`` in the config, see :mod:`workbench.analyses.kpis`): the baseline (the ``baseline``
model on the same rows, or a given number), the target, the current value with a bootstrap
interval, and the gap (positive = still to go), with the model version that produced it.
Written to ``impact/``: ``kpis.parquet``, ``trend.parquet`` (one row per KPI per monitored
batch, latest run of each batch), ``trend.png`` and ``impact.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.analyses import kpis
from workbench.data.dataset import Schema
from workbench.phases._inputs import scored_batch
from workbench.registry import estimators
from workbench.reports import catalog, kpi_trend
from workbench.reports.kpi_trend import trend_image

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.runner.context import PhaseContext

__all__ = ["Impact", "measure", "trend_image"]


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

    cfg = phase.config
    batch, scored = scored_batch(phase)
    model = scored["model"]
    task = cfg.model.task
    applicable = [k for k in cfg.kpis if kpis.applies_to(k, task)]
    skipped = [{"kpi": k.name, "reason": f"defined for {k.task or kpis.inferred_task(k)} models, this one is {task}"}
               for k in cfg.kpis if not kpis.applies_to(k, task)]
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
    phase.save_table(catalog.KPIS_FILE, table)
    trend = kpi_trend.build(cfg, phase.dir)
    phase.save_table(catalog.TREND_FILE, trend)
    if len(trend):
        phase.save_figure(catalog.TREND_PLOT, kpi_trend.plot(trend))
    result = Impact("measured" if reason is None else "not measured", scored["batch"], model, table,
                    trend if len(trend) else pd.DataFrame(), reason, skipped)
    phase.save_json(catalog.IMPACT_FILE, result.summary())
    phase.log_metrics({f"kpi_{r.kpi}": r.current for r in table.itertuples() if pd.notna(r.current)}
                      | {f"kpi_gap_{r.kpi}": r.gap for r in table.itertuples() if pd.notna(r.gap)})
    return result


def _baseline_scores(config: Config, labelled: pd.DataFrame) -> Any:
    """The registered baseline's predictions on the labelled rows (the KPI baseline); None when it cannot score."""
    loaded = registry.try_load(config, "baseline")
    if loaded is None:
        return None
    return estimators.predict(loaded.model, labelled, Schema.from_dict(loaded.schema), config.model.task)
