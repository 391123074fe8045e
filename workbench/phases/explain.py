"""The explain phase (``75_explain``): SHAP explanations of a scored batch and of the reference, and their drift.

Explanations come from :mod:`workbench.analyses.explain`; this phase writes data (Parquet/JSON)
and server-rendered PNGs, so apps and reviews read them without recomputing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.analyses import explain
from workbench.phases._inputs import Reference, reference, scored_batch
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.runner.context import PhaseContext

__all__ = ["Reference", "explanations", "importance_with_error", "reference", "scored_batch"]


def explanations(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, *, role: str = "champion",
                 sample: int = 2000, n_jobs: int = 2, top: int = 3, ids: str = "") -> dict[str, Any]:
    """SHAP explanations of the batch and of the reference holdout, their drift, and plots.

    Importance on a sample carries its sampling error: the standard error of each feature's
    mean |SHAP value| over the explained rows (``stderr`` in ``importance.parquet``).
    Waterfalls are drawn for the ``top`` highest-risk rows and for every id in ``ids``
    (comma-separated values of ``data.id``); ids not in the batch are listed, not fatal.
    """
    import pandas as pd
    from IPython.display import Image, display

    cfg = phase.config
    model = registry.load(cfg, role).model
    features = ref.schema.features
    kw = {"features": features, "sample": sample, "seed": cfg.model.seed, "n_jobs": n_jobs}
    batch_expl = explain.explain(model, batch, **kw)
    ref_expl = explain.explain(model, ref.scored, **kw)
    drift_columns = pd.read_parquet(phase.input_dir("drift") / catalog.COLUMNS_FILE)
    ranking = explain.explanation_drift(ref_expl, batch_expl, data_drift=drift_columns)
    phase.save_table(catalog.IMPORTANCE_FILE, importance_with_error(batch_expl))
    phase.save_table(catalog.EXPLANATION_DRIFT_FILE, ranking.reset_index())
    figures = {catalog.IMPORTANCE_PLOT: explain.plot_importance(batch_expl)}
    if batch_expl.values is not None:
        figures[catalog.BEESWARM_PLOT] = explain.plot_beeswarm(batch_expl)
        for rank, row in enumerate(explain.top_rows(batch_expl, batch["score"], k=top), start=1):
            figures[catalog.waterfall_plot("top_risk", rank)] = explain.plot_waterfall(batch_expl, row)
        for col in (c for c in cfg.data.sensitive if c in batch.columns):
            phase.save_table(catalog.importance_by_file(col), batch_expl.by_segment(batch.loc[batch_expl.values.index, col]).reset_index())
    missing_ids = _explain_ids(phase, model, batch, ids, kw, figures)
    for name, fig in figures.items():
        display(Image(filename=str(phase.save_figure(name, fig))))
    summary = {"batch": batch_expl.to_dict(), "reference": ref_expl.to_dict(), "top_features": batch_expl.importance().head(5).index.tolist(),
               "sample_note": f"explained {batch_expl.n_explained:,} of {batch_expl.n_rows:,} batch rows (seeded sample); "
                              "importance.parquet gives each feature's standard error", "ids_not_found": missing_ids}
    if not batch_expl.additivity_ok and batch_expl.values is not None:
        summary["warning"] = f"SHAP additivity failed (max error {batch_expl.additivity_max_error:.2e})"
    phase.save_json(catalog.EXPLAIN_FILE, summary)
    return summary


def importance_with_error(expl: Any) -> pd.DataFrame:
    """Mean |SHAP| per feature with its sampling standard error (permutation: no per-row values)."""
    import numpy as np

    out = expl.importance().rename("importance").to_frame()
    if expl.values is not None:
        out["stderr"] = expl.values.abs().std(ddof=1).reindex(out.index) / np.sqrt(max(1, len(expl.values)))
    return out.rename_axis("feature").reset_index()


def _explain_ids(phase: PhaseContext, model: Any, batch: pd.DataFrame, ids: str, kw: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    """Waterfalls for the rows a person asked for by id; returns the ids not found."""
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    id_col = phase.config.data.id
    if not wanted or not id_col or id_col not in batch.columns:
        return wanted if wanted and not id_col else []
    rows = batch[batch[id_col].astype(str).isin(wanted)]
    if len(rows):
        expl = explain.explain(model, rows, **{**kw, "sample": len(rows), "n_jobs": 1})
        if expl.values is not None:
            for index, value in zip(expl.values.index, rows.loc[expl.values.index, id_col].astype(str), strict=True):
                figures[catalog.waterfall_plot("id", value)] = explain.plot_waterfall(expl, index)
    return sorted(set(wanted) - set(rows[id_col].astype(str)))
