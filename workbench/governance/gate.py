"""The model CI gate (``workbench gate``, and ``workbench retrain --gate`` before it files an approval).

A candidate version is scored on its own holdout beside the reference it is judged against (the
``champion``, or the ``baseline`` alias) and the static baseline of its own run, and judged with
the evaluate phase's rule, :func:`workbench.analyses.evaluation.decide`, reused as is:

- the primary metric's paired bootstrap interval of candidate minus reference, on the same rows
  (:func:`~workbench.analyses.evaluation.paired_difference`, the same seed, resamples and level
  as the evaluate phase of the candidate's run), is first shifted by the required improvement
  ``min_delta`` (``--min-delta``, default 0: the evaluate phase's own threshold). The gate fails
  when the shifted interval lies entirely below 0, i.e. the candidate is significantly short of
  "reference + min_delta" (``decide``'s "candidate is worse than the champion"), and whenever
  ``decide`` rejects the candidate as worse than the static baseline. With the default 0 the
  gate fails exactly when the evaluate phase recorded "worse than the champion" or "reject";
  a negative ``min_delta`` is a non-inferiority margin.
- fairness, as the responsible phase flags it (:func:`workbench.analyses.fairness.disparity` on
  the candidate's holdout scores, each sensitive attribute and their intersection): an
  equalized-odds difference above ``max_fairness_gap`` (``--max-fairness-gap``, default
  ``thresholds.equalized_odds``) or a disparate impact below ``thresholds.disparate_impact`` fails.

A candidate that is itself the champion is judged against the baseline only, as the evaluate
phase judged the first champion. Each model's metrics are computed and logged by
``mlflow.models.evaluate`` (see :mod:`workbench.governance._gate_mlflow` for where MLflow's
evaluation API fits and where it does not). Every verdict is an audit event (``gate``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench.analyses import fairness
from workbench.analyses.evaluation import HIGHER_IS_BETTER, PRIMARY, comparison_verdict, decide, paired_difference
from workbench.exceptions import ParameterError
from workbench.governance import _gate_inputs, _gate_mlflow, audit, roles
from workbench.governance._gate_inputs import AGAINST, Holdout, Model
from workbench.registry import store

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

__all__ = ["AGAINST", "GateResult", "Thresholds", "check", "thresholds"]

MIN_GROUP = 30  # the responsible phase's smallest group judged (notebooks/45_responsible.ipynb min_group)


@dataclass(frozen=True)
class Thresholds:
    """What the gate requires: the primary metric's improvement over the reference, and the fairness bounds."""

    min_delta: float
    max_fairness_gap: float
    min_disparate_impact: float
    primary: str

    def describe(self) -> str:
        """One line for people (the retrain dry run prints it)."""
        return (f"{self.primary} improvement over the reference >= {self.min_delta:+.3f} (fails when the paired bootstrap interval lies "
                f"entirely below it); equalized-odds gap <= {self.max_fairness_gap:.3f} and disparate impact >= "
                f"{self.min_disparate_impact:.2f} on every sensitive attribute")


def thresholds(config: Config, min_delta: float | None = None, max_fairness_gap: float | None = None) -> Thresholds:
    """The gate's thresholds: the arguments, else the config's (the evaluate phase's 0, ``thresholds.equalized_odds``)."""
    delta = 0.0 if min_delta is None else float(min_delta)
    gap = config.thresholds.equalized_odds if max_fairness_gap is None else float(max_fairness_gap)
    if not math.isfinite(delta):
        raise ParameterError(f"--min-delta must be a finite number, got {min_delta!r}. Fix: pass e.g. --min-delta 0.01.")
    if not 0.0 <= gap <= 1.0:
        raise ParameterError(f"--max-fairness-gap must be between 0 and 1, got {max_fairness_gap!r}. Fix: pass e.g. --max-fairness-gap 0.1.")
    return Thresholds(delta, gap, config.thresholds.disparate_impact, PRIMARY[config.model.task])


@dataclass(frozen=True)
class GateResult:
    """A verdict: ``passed``, the one ``line`` a CI log shows, every failed check, and the evidence (:meth:`to_dict`)."""

    passed: bool
    line: str
    failures: list[str]
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``--json`` prints it, the approval request keeps it, the MLflow gate run stores it as ``gate.json``."""
        return {"passed": self.passed, "line": self.line, "failures": self.failures, **self.evidence}


def check(config: Config, *, version: str | None = None, against: str = "champion", min_delta: float | None = None,
          max_fairness_gap: float | None = None, context: dict[str, Any] | None = None) -> GateResult:
    """Gate one candidate version (see the module docstring); needs the ``view`` permission; audited.

    Parameters
    ----------
    config : Config
        The project.
    version : str, optional
        MLflow version number, semantic version or alias; default the ``challenger``, else the newest candidate.
    against : {"champion", "baseline"}
        The alias holding the reference model.
    min_delta, max_fairness_gap : float, optional
        See :func:`thresholds`.
    context : dict, optional
        Extra facts for the audit event (the retrain run that asked).

    Raises
    ------
    ParameterError
        Unknown version or alias, no reference, or a reference the holdout cannot score (exit 2; nothing audited).
    """
    limits = thresholds(config, min_delta, max_fairness_gap)
    roles.require(config, "view", f"{config.project} (gate)")
    cand_mv = _gate_inputs.candidate(config, version)
    ref_mv = _gate_inputs.reference(config, against)
    store.use_store(config)  # models:/ URIs of a run's baseline resolve through the global tracking URI
    rows = _gate_inputs.holdout(config, cand_mv)
    models = _models(config, cand_mv, ref_mv, against)
    cand, task = models["candidate"], config.model.task
    scores = {role: _gate_inputs.scores(config, m, rows, role=role) for role, m in models.items()}
    kw = {"n_bootstrap": rows.n_bootstrap, "confidence": rows.confidence, "seed": config.model.seed}
    diffs = {role: paired_difference(rows.y, scores["candidate"], scores[role], task, **kw) for role in models if role != "candidate"}
    judged = "champion" if "champion" in diffs else "baseline"  # the comparison min_delta applies to
    sign = 1 if HIGHER_IS_BETTER[PRIMARY[task]] else -1
    required = {role: _shift(d, sign * limits.min_delta) if role == judged else d for role, d in diffs.items()}
    decision = decide(task, required["baseline"], required.get("champion"))
    run_id, metrics = _gate_mlflow.evaluate(config, rows.y, scores, task=task, run_name=f"gate v{cand.version} vs {against} v{ref_mv.version}",
                                            tags={"workbench.kind": "gate", "workbench.gate_version": cand.version, "workbench.gate_against": against})
    fair = _fairness(config, rows, scores["candidate"], limits, cand.label)
    parts = _Parts(cand, models, metrics, diffs, required, limits, rows, judged)
    failures = [*parts.failures(decision), *fair["failures"]]
    note = (f"{cand.label} is the champion itself: judged against its run's baseline only, as the evaluate phase judged the first champion"
            if against == "champion" and judged == "baseline" else "")
    line = (f"gate FAILED: {failures[0]}" + (f" (+{len(failures) - 1} more failed check(s): `workbench gate --json`)" if len(failures) > 1 else "")
            if failures else f"gate passed: {note + '; ' if note else ''}{parts.describe(judged)}; {fair['summary']}")
    evidence = {"candidate": {"version": cand.version, "semver": cand.semver, "run_id": cand_mv.tags.get(registry.TAG + "run_id")},
                "against": against, "reference": {"version": str(ref_mv.version), "semver": ref_mv.tags.get(registry.TAG + "semver", "")},
                "holdout": {"source": rows.source, "rows": len(rows.y), "n_bootstrap": rows.n_bootstrap, "confidence": rows.confidence},
                "primary_metric": PRIMARY[task], "thresholds": vars(limits), "metrics": metrics,
                "comparison": parts.comparison(judged), "comparisons": diffs, "decision": decision,
                "fairness": fair["rows"], "fairness_status": fair["summary"], "notes": [note] if note else [], "mlflow_run_id": run_id}
    result = GateResult(not failures, line, failures, evidence)
    _gate_mlflow.finish(config, run_id, result.to_dict())
    audit.record(config.store, "gate", f"{config.project}/{cand.version}", semver=cand.semver, passed=result.passed, against=against,
                 reference_version=str(ref_mv.version), min_delta=limits.min_delta, max_fairness_gap=limits.max_fairness_gap,
                 reason=line, mlflow_run_id=run_id, **(context or {}))
    return result


def _models(config: Config, cand_mv: Any, ref_mv: Any, against: str) -> dict[str, Model]:
    """``candidate``, the ``baseline`` its evaluate phase compared with (or the baseline alias), and the ``champion`` unless it is the candidate."""
    cand = _gate_inputs.load(config, cand_mv)
    if against == "baseline":
        return {"candidate": cand, "baseline": _gate_inputs.load(config, ref_mv)}
    baseline = _gate_inputs.run_baseline(config, cand_mv) or _gate_inputs.load(config, _gate_inputs.reference(config, "baseline"))
    itself = str(ref_mv.version) == str(cand_mv.version)
    return {"candidate": cand, "baseline": baseline} | ({} if itself else {"champion": _gate_inputs.load(config, ref_mv)})


def _shift(diff: dict[str, float], by: float) -> dict[str, float]:
    """The paired difference minus ``by``: "at least ``by`` better" becomes "better than 0", the form ``decide`` takes."""
    return {**diff, **{k: diff[k] - by for k in ("value", "low", "high")}}


@dataclass(frozen=True)
class _Parts:
    """The primary-metric comparisons, formatted in one place for the pass and the failure lines."""

    cand: Model
    models: dict[str, Model]
    metrics: dict[str, dict[str, float]]
    diffs: dict[str, dict[str, float]]
    required: dict[str, dict[str, float]]
    limits: Thresholds
    rows: Holdout
    judged: str  # the comparison min_delta applies to: "champion", else "baseline"

    def comparison(self, role: str) -> dict[str, Any]:
        """The gap (positive = candidate better), its interval, what was required and the verdict."""
        d = self.diffs[role]
        sign = 1 if HIGHER_IS_BETTER[d["metric"]] else -1
        low, high = sorted((sign * d["low"], sign * d["high"]))
        return {"against": role, "metric": d["metric"], "gap": {"value": sign * d["value"], "low": low, "high": high},
                "required": self.limits.min_delta if role == self.judged else 0.0, "verdict": comparison_verdict(self.required[role])}

    def describe(self, role: str) -> str:
        """``v3 (1.1.0) roc_auc 0.812 vs champion v1 (1.0.0) 0.861 (gap -0.049, 95% CI [...], needs >= +0.000)``."""
        c, primary, ref = self.comparison(role), self.diffs[role]["metric"], self.models[role]
        who = "its run's baseline" if ref.semver == "baseline" else f"{role} {ref.label}"
        g = c["gap"]
        return (f"{self.cand.label} {primary} {self.metrics['candidate'][primary]:.3f} vs {who} {self.metrics[role][primary]:.3f} "
                f"(gap {g['value']:+.3f}, {self.rows.confidence:.0%} CI [{g['low']:+.3f}, {g['high']:+.3f}], needs >= {c['required']:+.3f})")

    def failures(self, decision: dict[str, str]) -> list[str]:
        """The champion comparison short of its requirement (``decide``'s "worse than the champion"), then ``decide``'s rejection."""
        out = [self.describe("champion")] if "champion" in self.required and comparison_verdict(self.required["champion"]) == "worse" else []
        if decision["decision"] == "reject":
            out.append(self.describe("baseline") + ("" if self.judged == "baseline" else
                                                     ": the evaluate phase rejects a candidate worse than the static baseline"))
        return out


def _fairness(config: Config, rows: Holdout, score: Any, limits: Thresholds, label: str) -> dict[str, Any]:
    """The responsible phase's disparity check of the candidate on the holdout, at the gate's bounds."""
    import pandas as pd

    sensitive = [c for c in config.data.sensitive if c in rows.frame.columns]
    problem = None if config.model.task != "binary" else fairness.label_problem(pd.Series(rows.y))
    if config.model.task != "binary" or not sensitive or problem is not None:
        why = "binary tasks only" if config.model.task != "binary" else "no sensitive columns configured" if not sensitive else problem
        return {"rows": [], "failures": [], "summary": f"fairness not assessed ({why})"}
    table = fairness.group_table(fairness.binary_labels(rows.y), None, rows.frame[sensitive].reset_index(drop=True), scores=score,
                                 min_group=MIN_GROUP, n_bootstrap=0, seed=config.model.seed)
    table = fairness.disparity(table, di_threshold=limits.min_disparate_impact, eo_threshold=limits.max_fairness_gap)
    keep = ["attribute", "status", "equalized_odds_difference", "disparate_impact", "reference_group", "lowest_group", "eo_passed", "di_passed"]
    found = [{k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in table[keep].to_dict("records")]
    failures = []
    for r in found:
        if r["eo_passed"] is False:
            failures.append(f"{label} equalized_odds_difference {r['equalized_odds_difference']:.3f} on {r['attribute']}, above the max "
                            f"fairness gap {limits.max_fairness_gap:.3f} (--max-fairness-gap; default thresholds.equalized_odds)")
        if r["di_passed"] is False:
            failures.append(f"{label} disparate_impact {r['disparate_impact']:.3f} on {r['attribute']} ({r['lowest_group']} vs "
                            f"{r['reference_group']}), below {limits.min_disparate_impact:.2f} (thresholds.disparate_impact)")
    assessed = [r for r in found if r["status"] == "assessed"]
    worst = max(assessed, key=lambda r: r["equalized_odds_difference"], default=None)
    summary = (f"fairness: largest equalized-odds gap {worst['equalized_odds_difference']:.3f} on {worst['attribute']} "
               f"(max {limits.max_fairness_gap:.3f}), {len(assessed)} attribute(s) assessed" if worst else "fairness not assessable: groups too small")
    return {"rows": found, "failures": failures, "summary": summary}
