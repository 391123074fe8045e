"""The fairness phase (``70_fairness``): the fairness audit of a labelled, scored batch, with bias drift.

Per-group rates with intervals, disparity checks and bias drift come from
:mod:`workbench.analyses.fairness`; this phase reads what the score phase stored and writes
tables (Parquet/JSON) the apps and reviews read. Fairness needs a binary task and 0/1 labels of
both classes; without them the phase records ``"not assessable"`` and the reason, and fails nothing.

With ``privacy.releases.fairness`` the batch's group table is published from Laplace-noised
confusion counts (:func:`workbench.phases._privacy.private_groups`), spent from the batch file's
budget before anything is written and recorded in ``privacy.json``; the disparity checks are
computed from that table (post-processing), and the results that would need the exact rows are
not published: bias drift (its intervals are sampling intervals) and the threshold suggestion
(fitted on the rows). The reference holdout's tables stay exact (another dataset, the data
team's). A refused spend fails the phase: no exact table is published in place of the private one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses import fairness
from workbench.phases import _privacy, _scale
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
    counts = _scale.group_counts(phase, sensitive, missing=missing)  # None: executor local, count on the frame
    table = (fairness.group_table(fairness.binary_labels(labelled["y"]), None, labelled[sensitive], scores=labelled["score"], **kw)
             if counts is None else fairness.group_table_from_counts(counts, min_group=min_group, n_bootstrap=n_bootstrap, seed=cfg.model.seed))
    reference = ref.scored
    ref_table = fairness.group_table(fairness.binary_labels(reference["y"]), None, reference[sensitive], scores=reference["score"], **kw)
    t = cfg.thresholds
    released = _private(phase, table, ref_table, min_group=min_group)
    if released is not None:
        table = released["groups"]
    disparity = fairness.disparity(table, di_threshold=t.disparate_impact, eo_threshold=t.equalized_odds)
    drift = fairness.bias_drift(ref_table, table, metric="tpr", di_threshold=t.disparate_impact, eo_threshold=t.equalized_odds)
    phase.save_table(catalog.GROUPS_FILE, table)
    phase.save_table(catalog.REFERENCE_GROUPS_FILE, ref_table)
    phase.save_table(catalog.DISPARITY_FILE, disparity)
    if released is None:
        phase.save_table(catalog.BIAS_DRIFT_FILE, drift)
    else:
        phase.save_json(catalog.PRIVACY_FILE, released["record"])
    ref_disparity = fairness.disparity(ref_table, di_threshold=t.disparate_impact, eo_threshold=t.equalized_odds)
    phase.save_table(catalog.REFERENCE_DISPARITY_FILE, ref_disparity)
    failed = disparity[disparity["passed"].eq(False).fillna(False).astype(bool)]  # NA = not assessable: neither
    moved = drift[drift["moved"]] if "moved" in drift and released is None else drift.iloc[0:0]
    newly = _newly_failing(disparity, ref_disparity)
    target = _suggestion_target(failed, newly, moved)
    suggestion = None
    if target is not None and target[0] in labelled.columns and released is None:
        suggestion = fairness.threshold_suggestion(labelled["y"], labelled["score"], labelled[target[0]], constraint=target[1],
                                                   min_group=min_group, seed=cfg.model.seed)
        phase.save_table(catalog.THRESHOLD_FILE, suggestion)
    out = {"status": "assessed", "rows": len(labelled), "attributes": sensitive,
           "failed_attributes": failed["attribute"].astype(str).tolist(),
           "newly_failing": newly,
           "failing_since_reference": _failing_since(disparity, ref_disparity),
           "bias_drift": [f"{r.attribute}={r.group}" for r in moved.itertuples()],
           "threshold_suggestion_for": target[0] if suggestion is not None else None,
           "threshold_suggestion_constraint": target[1] if suggestion is not None else None,
           "private": released is not None}
    if released is not None:
        out["rows"] = int(table.loc[table["attribute"] == sensitive[0], "count"].sum())  # the noisy count: the exact one is not released
        out["not_published"] = released["record"]["not_published"]
    phase.save_json(catalog.FAIRNESS_FILE, out)
    phase.log_metrics({"fairness_failed_attributes": len(failed), "bias_drift_groups": len(moved)})
    phase.save_table(catalog.BIAS_HISTORY_FILE, bias_history(phase))
    return out


def _private(phase: PhaseContext, table: pd.DataFrame, ref_table: pd.DataFrame, *, min_group: int) -> dict[str, Any] | None:
    """The private group table of the batch and its record, spent but not yet written (None: ``privacy.releases.fairness`` not set)."""
    epsilon = _privacy.release_epsilon(phase.config, "fairness")
    if epsilon is None:
        return None
    groups, release = _privacy.private_groups(table, ref_table, epsilon=epsilon, min_group=min_group)
    facts = phase.input_result("score")["batch"]
    spent = _privacy.spend(phase.config, dataset=facts["name"], sha256=facts["sha256"], release="fairness", epsilon=epsilon, run_id=phase.run_id)
    record = _privacy.record("fairness", [release], spent, tables=[catalog.GROUPS_FILE, catalog.DISPARITY_FILE],
                             not_published=[catalog.BIAS_DRIFT_FILE, catalog.THRESHOLD_FILE],
                             not_private=["the reference holdout's tables", "the batch's row count in the score phase"])
    phase.log_metrics({"privacy_fairness_epsilon": epsilon, "privacy_budget_remaining": spent["remaining"]})
    return {"groups": groups, "record": record}


CHECK_CONSTRAINT = {"equalized_odds": "equalized_odds", "disparate_impact": "demographic_parity"}  # the failing check -> ThresholdOptimizer's constraint


def _failing_checks(disparity: pd.DataFrame) -> dict[str, list[str]]:
    """The checks each attribute fails: ``{"age_band": ["equalized_odds"], ...}`` (not assessable: none)."""
    import pandas as pd

    out: dict[str, list[str]] = {}
    for row in disparity.itertuples():
        checks = [name for name, flag in (("disparate_impact", row.di_passed), ("equalized_odds", row.eo_passed))
                  if flag is not None and flag is not pd.NA and not bool(flag)]
        if checks:
            out[str(row.attribute)] = checks
    return out


def _failing_since(disparity: pd.DataFrame, reference: pd.DataFrame) -> dict[str, list[str]]:
    """The checks that fail on the batch and failed on the reference holdout too, per attribute."""
    was = _failing_checks(reference)
    both = {a: [c for c in checks if c in was.get(a, [])] for a, checks in _failing_checks(disparity).items()}
    return {a: checks for a, checks in both.items() if checks}


def _newly_failing(disparity: pd.DataFrame, reference: pd.DataFrame) -> dict[str, list[str]]:
    """The checks that fail on the batch but did not fail on the reference holdout, per attribute."""
    was = _failing_checks(reference)
    new = {a: [c for c in checks if c not in was.get(a, [])] for a, checks in _failing_checks(disparity).items()}
    return {a: checks for a, checks in new.items() if checks}


def _suggestion_target(failed: pd.DataFrame, newly: dict[str, list[str]], moved: pd.DataFrame) -> tuple[str, str] | None:
    """The attribute and ThresholdOptimizer constraint a mitigation should address: a newly failing check first
    (an attribute whose groups moved before one that only crossed the line), else the first failing attribute;
    equalized odds failing -> ``equalized_odds``, only disparate impact -> ``demographic_parity``."""
    if failed.empty:
        return None
    shifted = set(moved["attribute"].astype(str)) if len(moved) else set()
    order = sorted(newly, key=lambda a: (a not in shifted, " & " in a)) + [str(a) for a in failed["attribute"] if str(a) not in newly]
    attribute = order[0]
    checks = newly.get(attribute) or _failing_checks(failed).get(attribute, [])
    check = "equalized_odds" if "equalized_odds" in checks else "disparate_impact"
    return attribute, CHECK_CONSTRAINT[check]


def bias_history(phase: PhaseContext) -> pd.DataFrame:
    """Bias drift of every monitored batch (latest run per batch, this one included), one row per group."""
    import pandas as pd

    frames = [pd.read_parquet(b.phase_dir("fairness") / catalog.BIAS_DRIFT_FILE).assign(batch=b.name, run_id=b.run_id)
              for b in catalog.latest_per_batch(phase.config, "fairness", name=catalog.BIAS_DRIFT_FILE, current=phase.dir)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values(["batch", "attribute", "group"]).reset_index(drop=True)
