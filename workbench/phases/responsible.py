"""The responsible phase (``45_responsible``): fairness and explanations of the version just registered, on its holdout.

The same tables and plots as on a monitored batch (without drift, which needs a batch), so a
person reviewing a challenger or the first champion sees its fairness and what it relies on
before anyone promotes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.analyses import explain, fairness
from workbench.phases._inputs import reference
from workbench.phases.explain import importance_with_error
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.runner.context import PhaseContext


def holdout_audit(phase: PhaseContext, *, min_group: int = 30, sample: int = 2000, n_jobs: int = 2) -> dict[str, Any]:
    """Fairness and explanations of the version just registered, on its holdout.

    The same tables and plots as on a monitored batch (without drift, which needs a batch),
    so a person reviewing a challenger or the first champion sees its fairness and what it
    relies on before anyone promotes it.
    """
    from IPython.display import Image, display

    cfg = phase.config
    registered = phase.input_result("register")
    alias = registered["aliases"][0] if registered["aliases"] else ""
    version = str(registered["version"])  # by number: a concurrent run may move the alias meanwhile
    ref = reference(cfg, alias=version)
    holdout = ref.scored
    out: dict[str, Any] = {"model_version": registered["version"], "semver": registered["semver"], "alias": alias, "rows": len(holdout)}
    sensitive = [c for c in cfg.data.sensitive if c in holdout.columns]
    problem = None if cfg.model.task != "binary" else fairness.label_problem(holdout["y"])
    if cfg.model.task == "binary" and sensitive and problem is None:
        table = fairness.group_table(fairness.binary_labels(holdout["y"]), None, holdout[sensitive], scores=holdout["score"],
                                     min_group=min_group, seed=cfg.model.seed)
        disparity = fairness.disparity(table, di_threshold=cfg.thresholds.disparate_impact, eo_threshold=cfg.thresholds.equalized_odds)
        phase.save_table(catalog.GROUPS_FILE, table)
        phase.save_table(catalog.DISPARITY_FILE, disparity)
        failed = disparity[disparity["passed"].eq(False).fillna(False).astype(bool)]
        out["failed_attributes"] = failed["attribute"].astype(str).tolist()
        if len(failed) and str(failed["attribute"].iloc[0]) in holdout.columns:
            worst = str(failed["attribute"].iloc[0])
            phase.save_table(catalog.THRESHOLD_FILE,
                             fairness.threshold_suggestion(holdout["y"], holdout["score"], holdout[worst], min_group=min_group, seed=cfg.model.seed))
    else:
        reason = "no sensitive columns configured" if not sensitive else "binary tasks only" if problem is None else f"holdout labels: {problem}"
        out["fairness"] = f"{fairness.NOT_ASSESSABLE}: {reason}"
    expl = explain.explain(registry.load(cfg, version).model, holdout, features=ref.schema.features, sample=sample,
                           seed=cfg.model.seed, n_jobs=n_jobs)
    phase.save_table(catalog.IMPORTANCE_FILE, importance_with_error(expl))
    figures = {catalog.IMPORTANCE_PLOT: explain.plot_importance(expl)}
    if expl.values is not None:
        figures[catalog.BEESWARM_PLOT] = explain.plot_beeswarm(expl)
        for col in sensitive:
            phase.save_table(catalog.importance_by_file(col), expl.by_segment(holdout.loc[expl.values.index, col]).reset_index())
    for name, fig in figures.items():
        display(Image(filename=str(phase.save_figure(name, fig))))
    out["explanation"] = expl.to_dict()
    out["top_features"] = expl.importance().head(5).index.tolist()
    phase.save_json(catalog.AUDIT_FILE, out)
    return out
