"""The fairness phase (``70_fairness``): the fairness audit of a labelled, scored batch, with bias drift.

Per-group rates with intervals, disparity checks and bias drift come from
:mod:`workbench.analyses.fairness`; this phase reads what the score phase stored and writes
tables (Parquet/JSON) the apps and reviews read. Fairness needs a binary task and 0/1 labels of
both classes; without them the phase records ``"not assessable"`` and the reason, and fails nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses import fairness
from workbench.phases._inputs import Reference, reference, scored_batch
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.runner.context import PhaseContext

__all__ = ["Reference", "audit", "bias_history", "reference", "scored_batch"]


def _not_assessed(phase: PhaseContext, reason: str) -> dict[str, Any]:
    out = {"status": fairness.NOT_ASSESSABLE, "reason": reason}
    phase.save_json(catalog.FAIRNESS_FILE, out)
    return out


def audit(phase: PhaseContext, ref: Reference, batch: pd.DataFrame, *, min_group: int = 30,
                   missing: str = "category", n_bootstrap: int = 200) -> dict[str, Any]:
    """Per-group table, disparity verdicts and bias drift of the batch against the reference holdout."""
    cfg = phase.config
    sensitive = list(cfg.data.sensitive)
    if cfg.model.task != "binary":
        return _not_assessed(phase, "fairness metrics are defined for binary tasks")
    if not sensitive:
        return _not_assessed(phase, "no sensitive columns configured (data.sensitive)")
    labelled = batch[batch["y"].notna()]
    if labelled.empty:
        return _not_assessed(phase, "no labels in this batch yet")
    problem = fairness.label_problem(labelled["y"])
    if problem:
        return _not_assessed(phase, f"batch labels: {problem}")
    kw = {"min_group": min_group, "missing": missing, "n_bootstrap": n_bootstrap, "seed": cfg.model.seed}
    table = fairness.group_table(fairness.binary_labels(labelled["y"]), None, labelled[sensitive], scores=labelled["score"], **kw)
    reference = ref.scored
    ref_table = fairness.group_table(fairness.binary_labels(reference["y"]), None, reference[sensitive], scores=reference["score"], **kw)
    t = cfg.thresholds
    disparity = fairness.disparity(table, di_threshold=t.disparate_impact, eo_threshold=t.equalized_odds)
    drift = fairness.bias_drift(ref_table, table, metric="tpr", di_threshold=t.disparate_impact, eo_threshold=t.equalized_odds)
    phase.save_table(catalog.GROUPS_FILE, table)
    phase.save_table(catalog.REFERENCE_GROUPS_FILE, ref_table)
    phase.save_table(catalog.DISPARITY_FILE, disparity)
    phase.save_table(catalog.BIAS_DRIFT_FILE, drift)
    failed = disparity[disparity["passed"].eq(False).fillna(False).astype(bool)]  # NA = not assessable: neither
    suggestion = None
    if len(failed):
        worst = str(failed["attribute"].iloc[0])
        if worst in labelled.columns:
            suggestion = fairness.threshold_suggestion(labelled["y"], labelled["score"], labelled[worst], min_group=min_group, seed=cfg.model.seed)
            phase.save_table(catalog.THRESHOLD_FILE, suggestion)
    moved = drift[drift["moved"]] if "moved" in drift else drift.iloc[0:0]
    out = {"status": "assessed", "rows": len(labelled), "attributes": sensitive,
           "failed_attributes": failed["attribute"].astype(str).tolist(),
           "bias_drift": [f"{r.attribute}={r.group}" for r in moved.itertuples()],
           "threshold_suggestion_for": suggestion is not None and str(failed["attribute"].iloc[0]) or None}
    phase.save_json(catalog.FAIRNESS_FILE, out)
    phase.log_metrics({"fairness_failed_attributes": len(failed), "bias_drift_groups": len(moved)})
    phase.save_table(catalog.BIAS_HISTORY_FILE, bias_history(phase))
    return out


def bias_history(phase: PhaseContext) -> pd.DataFrame:
    """Bias drift of every monitored batch (latest run per batch, this one included), one row per group."""
    import pandas as pd

    frames = [pd.read_parquet(b.phase_dir("fairness") / catalog.BIAS_DRIFT_FILE).assign(batch=b.name, run_id=b.run_id)
              for b in catalog.latest_per_batch(phase.config, "fairness", name=catalog.BIAS_DRIFT_FILE, current=phase.dir)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values(["batch", "attribute", "group"]).reset_index(drop=True)
