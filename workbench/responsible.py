"""Responsible-AI phases on a monitored batch: the fairness audit and the SHAP explanations.

Both read what the score (and drift) phases stored and write data (Parquet/JSON) and
server-rendered PNGs, so apps and reviews read them without recomputing. Fairness needs
labels and a binary task; without them the phase records why it was not assessed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.monitoring import Reference
    from workbench.phase import PhaseContext

FAIRNESS_FILE = "fairness.json"


def _not_assessed(phase: PhaseContext, reason: str) -> dict[str, Any]:
    out = {"status": "not assessed", "reason": reason}
    phase.save_json(FAIRNESS_FILE, out)
    return out


def fairness_audit(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, *, min_group: int = 30,
                   missing: str = "category", n_bootstrap: int = 200) -> dict[str, Any]:
    """Per-group table, disparity verdicts and bias drift of the batch against the reference holdout."""
    from workbench import fairness

    cfg = phase.config
    sensitive = list(cfg.data.sensitive)
    if cfg.model.task != "binary":
        return _not_assessed(phase, "fairness metrics are defined for binary tasks")
    if not sensitive:
        return _not_assessed(phase, "no sensitive columns configured (data.sensitive)")
    labelled = batch[batch["y"].notna()]
    if labelled.empty:
        return _not_assessed(phase, "no labels in this batch yet")
    kw = {"min_group": min_group, "missing": missing, "n_bootstrap": n_bootstrap, "seed": cfg.model.seed}
    table = fairness.group_table(labelled["y"].astype(int), None, labelled[sensitive], scores=labelled["score"], **kw)
    reference = ref.scored
    ref_table = fairness.group_table(reference["y"].astype(int), None, reference[sensitive], scores=reference["score"], **kw)
    t = cfg.thresholds
    disparity = fairness.disparity(table, di_threshold=t.disparate_impact, eo_threshold=t.equalized_odds)
    drift = fairness.bias_drift(ref_table, table, metric="tpr", di_threshold=t.disparate_impact, eo_threshold=t.equalized_odds)
    phase.save_table("groups.parquet", table)
    phase.save_table("reference_groups.parquet", ref_table)
    phase.save_table("disparity.parquet", disparity)
    phase.save_table("bias_drift.parquet", drift)
    failed = disparity[disparity["passed"].eq(False).fillna(False).astype(bool)]  # NA = not assessable: neither
    suggestion = None
    if len(failed):
        worst = str(failed["attribute"].iloc[0])
        if worst in labelled.columns:
            suggestion = fairness.threshold_suggestion(labelled["y"].astype(int), labelled["score"], labelled[worst], seed=cfg.model.seed)
            phase.save_table("threshold_suggestion.parquet", suggestion)
    moved = drift[drift["moved"]] if "moved" in drift else drift.iloc[0:0]
    out = {"status": "assessed", "rows": len(labelled), "attributes": sensitive,
           "failed_attributes": failed["attribute"].astype(str).tolist(),
           "bias_drift": [f"{r.attribute}={r.group}" for r in moved.itertuples()],
           "threshold_suggestion_for": suggestion is not None and str(failed["attribute"].iloc[0]) or None}
    phase.save_json(FAIRNESS_FILE, out)
    phase.log_metrics({"fairness_failed_attributes": len(failed), "bias_drift_groups": len(moved)})
    phase.save_table("bias_history.parquet", bias_history(phase))
    return out


def bias_history(phase: PhaseContext) -> pd.DataFrame:
    """Bias drift of every monitored batch (latest run per batch, this one included), one row per group."""
    import pandas as pd

    from workbench import results
    from workbench._io import read_json

    folders = [info.phase_dir("fairness") for info in results.list_runs(phase.config, kind="monitor")] + [phase.dir]
    frames = []
    for folder in dict.fromkeys(folders):
        score = folder.parent / "score" / "result.json"
        if (folder / "bias_drift.parquet").is_file() and score.is_file():
            batch = read_json(score)["batch"]["name"]
            frames.append(pd.read_parquet(folder / "bias_drift.parquet").assign(batch=batch, run_id=folder.parent.name))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    latest = out.groupby("batch")["run_id"].transform("max")
    return out[out["run_id"] == latest].sort_values(["batch", "attribute", "group"]).reset_index(drop=True)


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

    from workbench import explain, registry

    cfg = phase.config
    model = registry.load(cfg, role).model
    features = ref.schema.features
    kw = {"features": features, "sample": sample, "seed": cfg.model.seed, "n_jobs": n_jobs}
    batch_expl = explain.explain(model, batch, **kw)
    ref_expl = explain.explain(model, ref.scored, **kw)
    drift_columns = pd.read_parquet(phase.input_dir("drift") / "columns.parquet")
    ranking = explain.explanation_drift(ref_expl, batch_expl, data_drift=drift_columns)
    phase.save_table("importance.parquet", _importance_with_error(batch_expl))
    phase.save_table("explanation_drift.parquet", ranking.reset_index())
    figures = {"importance.png": explain.plot_importance(batch_expl)}
    if batch_expl.values is not None:
        figures["beeswarm.png"] = explain.plot_beeswarm(batch_expl)
        for rank, row in enumerate(explain.top_rows(batch_expl, batch["score"], k=top), start=1):
            figures[f"waterfall_top_risk_{rank}.png"] = explain.plot_waterfall(batch_expl, row)
        for col in (c for c in cfg.data.sensitive if c in batch.columns):
            phase.save_table(f"importance_by_{col}.parquet", batch_expl.by_segment(batch.loc[batch_expl.values.index, col]).reset_index())
    missing_ids = _explain_ids(phase, model, batch, ids, kw, figures)
    for name, fig in figures.items():
        display(Image(filename=str(phase.save_figure(name, fig))))
    summary = {"batch": batch_expl.to_dict(), "reference": ref_expl.to_dict(), "top_features": batch_expl.importance().head(5).index.tolist(),
               "sample_note": f"explained {batch_expl.n_explained:,} of {batch_expl.n_rows:,} batch rows (seeded sample); "
                              "importance.parquet gives each feature's standard error", "ids_not_found": missing_ids}
    if not batch_expl.additivity_ok and batch_expl.values is not None:
        summary["warning"] = f"SHAP additivity failed (max error {batch_expl.additivity_max_error:.2e})"
    phase.save_json("explain.json", summary)
    return summary


def _importance_with_error(expl: Any) -> pd.DataFrame:
    """Mean |SHAP| per feature with its sampling standard error (permutation: no per-row values)."""
    import numpy as np

    out = expl.importance().rename("importance").to_frame()
    if expl.values is not None:
        out["stderr"] = expl.values.abs().std(ddof=1).reindex(out.index) / np.sqrt(max(1, len(expl.values)))
    return out.rename_axis("feature").reset_index()


def _explain_ids(phase: PhaseContext, model: Any, batch: pd.DataFrame, ids: str, kw: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    """Waterfalls for the rows a person asked for by id; returns the ids not found."""
    from workbench import explain

    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    id_col = phase.config.data.id
    if not wanted or not id_col or id_col not in batch.columns:
        return wanted if wanted and not id_col else []
    rows = batch[batch[id_col].astype(str).isin(wanted)]
    if len(rows):
        expl = explain.explain(model, rows, **{**kw, "sample": len(rows), "n_jobs": 1})
        if expl.values is not None:
            for index, value in zip(expl.values.index, rows.loc[expl.values.index, id_col].astype(str), strict=True):
                figures[f"waterfall_id_{value}.png"] = explain.plot_waterfall(expl, index)
    return sorted(set(wanted) - set(rows[id_col].astype(str)))


def holdout_audit(phase: PhaseContext, *, min_group: int = 30, sample: int = 2000, n_jobs: int = 2) -> dict[str, Any]:
    """Fairness and explanations of the version just registered, on its holdout.

    The same tables and plots as on a monitored batch (without drift, which needs a batch),
    so a person reviewing a challenger or the first champion sees its fairness and what it
    relies on before anyone promotes it.
    """
    from IPython.display import Image, display

    from workbench import explain, fairness, monitoring, registry

    cfg = phase.config
    registered = phase.input_result("register")
    alias = registered["aliases"][0]
    ref = monitoring.reference(cfg, alias=alias)
    holdout = ref.scored
    out: dict[str, Any] = {"model_version": registered["version"], "semver": registered["semver"], "alias": alias, "rows": len(holdout)}
    sensitive = [c for c in cfg.data.sensitive if c in holdout.columns]
    if cfg.model.task == "binary" and sensitive:
        table = fairness.group_table(holdout["y"].astype(int), None, holdout[sensitive], scores=holdout["score"],
                                     min_group=min_group, seed=cfg.model.seed)
        disparity = fairness.disparity(table, di_threshold=cfg.thresholds.disparate_impact, eo_threshold=cfg.thresholds.equalized_odds)
        phase.save_table("groups.parquet", table)
        phase.save_table("disparity.parquet", disparity)
        failed = disparity[disparity["passed"].eq(False).fillna(False).astype(bool)]
        out["failed_attributes"] = failed["attribute"].astype(str).tolist()
        if len(failed) and str(failed["attribute"].iloc[0]) in holdout.columns:
            worst = str(failed["attribute"].iloc[0])
            phase.save_table("threshold_suggestion.parquet",
                             fairness.threshold_suggestion(holdout["y"].astype(int), holdout["score"], holdout[worst], seed=cfg.model.seed))
    else:
        out["fairness"] = "not assessed: " + ("binary tasks only" if sensitive else "no sensitive columns configured")
    expl = explain.explain(registry.load(cfg, alias).model, holdout, features=ref.schema.features, sample=sample,
                           seed=cfg.model.seed, n_jobs=n_jobs)
    phase.save_table("importance.parquet", _importance_with_error(expl))
    figures = {"importance.png": explain.plot_importance(expl)}
    if expl.values is not None:
        figures["beeswarm.png"] = explain.plot_beeswarm(expl)
        for col in sensitive:
            phase.save_table(f"importance_by_{col}.parquet", expl.by_segment(holdout.loc[expl.values.index, col]).reset_index())
    for name, fig in figures.items():
        display(Image(filename=str(phase.save_figure(name, fig))))
    out["explanation"] = expl.to_dict()
    out["top_features"] = expl.importance().head(5).index.tolist()
    phase.save_json("audit.json", out)
    return out
