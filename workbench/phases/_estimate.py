"""The drift phase's performance estimate: how good the model is on a batch before its labels arrive.

Binary models: CBPE (confidence-based performance estimation) from the calibrated probabilities of
the version that scored the batch; regression: DLE (direct loss estimation, a nanny model of the
loss fitted on the reference holdout). Both are fitted on that version's scored holdout, which also
gives the sampling error of a batch of this size. The estimate needs the calibration to hold on the
batch: it sees covariate shift (the inputs move, P(y|x) stays) but not concept drift (P(y|x)
changes) and not shifts into regions the holdout never covered.

When labels arrived with the batch, or reviewed feedback names labels for its predictions, the
realised metrics are set beside the estimate: realised outside the band on the bad side flags
likely concept drift, the case the estimate cannot see by construction. Feedback drawn from the
review queue is weighted by the inverse of its sampling propensity (Horvitz–Thompson), so the
queue's preference for ambiguous predictions does not bias it; self-selected feedback is counted but
not used for the estimate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses import estimation
from workbench.analyses.concept._performance import PRIMARY
from workbench.governance import feedback
from workbench.registry import confidence, versions

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from workbench.config import Config
    from workbench.phases._inputs import Reference

HIGHER = {"roc_auc": True, "accuracy": True, "precision": True, "recall": True, "f1": True, "mae": False, "rmse": False}


def estimate(config: Config, ref: Reference, batch: pd.DataFrame, *, role: str = "champion") -> tuple[dict[str, Any], pd.DataFrame | None]:
    """The batch's estimated performance, realised beside it when labels or feedback exist; and the reliability table.

    ``role`` is the model that scored the batch (``baseline`` after a fallback). Returns the
    ``estimate.json`` body and the reliability table (None without enough labelled rows).
    """
    task, est, threshold = config.model.task, config.estimation, config.serving.threshold
    metric = PRIMARY[task][0]
    record = _record(config, ref, role)
    reference = ref.scored_by[role]
    scores = batch["score"].to_numpy(dtype=float)
    estimator = _fit(config, ref, reference, record)
    estimated = _estimated(estimator, task, batch, scores, record, threshold, ref)
    out: dict[str, Any] = {"schema_version": 1, "task": task, "metric": metric, "scored_by": role, "rows": len(batch), "band": est.band,
                           "method": "CBPE" if task == "binary" else "DLE",
                           "calibration": ((record or {}).get("calibration") or {}).get("method", "none") if task == "binary" else None,
                           "estimated": _banded(estimated, est.band)}
    ref_value = estimated[metric]["reference"]
    limit = ref_value * (1 - est.alert_drop) if HIGHER[metric] else ref_value * (1 + est.alert_drop)
    value = estimated[metric]["value"]
    out["alert_threshold"] = limit
    small = len(batch) < config.thresholds.min_batch_rows  # as for every other statistic: too few rows to judge
    out["alert"] = bool(not small and value == value and (value < limit if HIGHER[metric] else value > limit))
    if small:
        out["note"] = (f"insufficient data: {len(batch)} rows, fewer than thresholds.min_batch_rows ({config.thresholds.min_batch_rows}); "
                       "the estimate is shown but raises no alert")
    if out["alert"]:
        out["alert_reason"] = (f"estimated {metric} {value:.3f} {'below' if HIGHER[metric] else 'above'} {limit:.3f} "
                               f"({est.alert_drop:.0%} {'under' if HIGHER[metric] else 'over'} the reference {ref_value:.3f}; no labels needed)")
    labelled = batch[batch["y"].notna()]
    reliability_table = None
    out["realised"] = None
    if len(labelled) >= config.thresholds.min_batch_rows:
        rows = batch["y"].notna().to_numpy()
        # every row labelled (the usual case): the estimate for the labelled rows is the one already made
        out["realised"] = _realised(estimator, task, labelled, scores[rows], record, threshold, ref, est.band, source="labels",
                                    same_rows=estimated if rows.all() else None)
        reliability_table = _reliability(task, labelled["y"].to_numpy(dtype=float), scores[rows], record, threshold, est.buckets)
        out["coverage"] = _coverage(task, labelled["y"].to_numpy(dtype=float), scores[rows], record, threshold, est.coverage)
    out["feedback"] = _feedback(config, batch, estimated, task, threshold, est.band)
    # the primary metric decides: five metrics each with a 3-SE band would raise a false flag far more often than one
    flagged = [r for r in (out["realised"] or {}).get("comparison", []) if r["concept_drift_likely"] and r["metric"] == metric]
    flagged += [r for r in (out["feedback"] or {}).get("comparison", []) if r["concept_drift_likely"] and r["metric"] == metric]
    out["concept_drift_likely"] = bool(flagged)
    if flagged:
        r = flagged[0]
        out["concept_drift_reason"] = (f"realised {r['metric']} {r['realised']:.3f} is outside the estimate's band "
                                       f"[{r['low']:.3f}, {r['high']:.3f}]: likely concept drift (P(y|x) changed), which the estimate cannot see")
    return out, reliability_table


def _record(config: Config, ref: Reference, role: str) -> dict[str, Any] | None:
    """The confidence record of the version that scored the batch."""
    if role == "baseline":
        mv = versions.alias_version(config, "baseline")
        return confidence.record_of(dict(mv.tags)) if mv is not None else None
    return confidence.record_of(versions.client_tags(config, ref.version))


def _probs(scores: np.ndarray, record: dict[str, Any] | None, threshold: float) -> np.ndarray:
    return estimation.annotate(scores, record, task="binary", threshold=threshold)["prob"]


def _fit(config: Config, ref: Reference, reference: pd.DataFrame, record: dict[str, Any] | None) -> Any:
    y, s = reference["y"].to_numpy(dtype=float), reference["score"].to_numpy(dtype=float)
    if config.model.task == "binary":
        return estimation.CBPE(threshold=config.serving.threshold).fit(y, s, _probs(s, record, config.serving.threshold))
    return estimation.DLE(seed=config.model.seed).fit(reference[ref.schema.features], y, s)


def _estimated(estimator: Any, task: str, frame: pd.DataFrame, scores: np.ndarray, record: dict[str, Any] | None, threshold: float,
               ref: Reference) -> dict[str, dict[str, Any]]:
    if task == "binary":
        return estimator.estimate(scores, _probs(scores, record, threshold))
    import pandas as pd

    features = frame[ref.schema.features].copy()
    for col in ref.numeric:  # as the model saw them: text that is not a number is missing
        features[col] = pd.to_numeric(features[col].astype(object), errors="coerce").astype(float)
    return estimator.estimate(features, scores)


def _banded(estimated: dict[str, dict[str, Any]], band: float) -> dict[str, dict[str, Any]]:
    return {m: e | {"low": e["value"] - band * e["se"], "high": e["value"] + band * e["se"]} for m, e in estimated.items()}


def _realised(estimator: Any, task: str, labelled: pd.DataFrame, scores: np.ndarray, record: dict[str, Any] | None, threshold: float,
              ref: Reference, band: float, *, source: str, same_rows: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Realised metrics on the labelled rows beside the estimate for the same rows (``same_rows``, else estimated here)."""
    y = labelled["y"].to_numpy(dtype=float)
    realised = estimation.realised(y, scores, task=task, threshold=threshold)
    same_rows = same_rows or _estimated(estimator, task, labelled, scores, record, threshold, ref)
    table = estimation.compare(same_rows, realised, band=band, higher_is_better=HIGHER)
    return {"source": source, "rows": len(labelled), "metrics": realised, "comparison": _records(table)}


def _reliability(task: str, y: np.ndarray, scores: np.ndarray, record: dict[str, Any] | None, threshold: float, buckets: int) -> pd.DataFrame:
    if task == "binary":
        return estimation.reliability(y, _probs(scores, record, threshold), buckets=buckets, threshold=threshold)
    annotated = estimation.annotate(scores, record, task=task)
    if annotated["low"].size and annotated["low"][0] == annotated["low"][0]:
        return estimation.reliability_regression(y, annotated["low"], annotated["high"], buckets=buckets)
    return None


def _coverage(task: str, y: np.ndarray, scores: np.ndarray, record: dict[str, Any] | None, threshold: float, target: float) -> dict[str, Any] | None:
    """How often the conformal set or interval held the truth on the labelled rows (None without a conformal record)."""
    import numpy as np

    if not (record or {}).get("conformal"):
        return None
    annotated = estimation.annotate(scores, record, task=task, threshold=threshold)
    if task == "binary":
        held = np.array([str(int(t)) in str(s).split(",") for t, s in zip(y, annotated["set"], strict=True)])
        size = float(np.mean(annotated["set_size"]))
    else:
        held = (y >= annotated["low"]) & (y <= annotated["high"])
        size = float(np.mean(annotated["high"] - annotated["low"]))
    return {"target": target, "observed": float(held.mean()), "rows": int(held.size), "mean_size": size}


def _feedback(config: Config, batch: pd.DataFrame, estimated: dict[str, dict[str, Any]], task: str, threshold: float,
              band: float) -> dict[str, Any] | None:
    """Labels reviewers gave for this batch's predictions: IPW-weighted metrics beside the estimate (None without any)."""
    import numpy as np

    if "prediction_id" not in batch:
        return None
    given = feedback.labels_for(config, prediction_ids=batch["prediction_id"].astype(str).tolist())
    if given.empty:
        return None
    # this run's scores (the index keeps the first scoring's; a later champion may have scored the batch again)
    joined = given[["prediction_id", "label", "propensity"]].merge(batch[["prediction_id", "score"]].astype({"prediction_id": str}), on="prediction_id")
    drawn = joined[joined["propensity"].notna()]
    out: dict[str, Any] = {"labels": len(joined), "from_queue": len(drawn), "self_selected": len(joined) - len(drawn)}
    if len(drawn) < config.thresholds.min_batch_rows:
        return out | {"status": f"too few labels from the review queue ({len(drawn)}; at least thresholds.min_batch_rows = "
                                 f"{config.thresholds.min_batch_rows})"}
    weighted = estimation.ipw_metrics(drawn["label"].to_numpy(dtype=float), drawn["score"].to_numpy(dtype=float),
                                      drawn["propensity"].to_numpy(dtype=float), task=task, threshold=threshold)
    values = {m: w["value"] for m, w in weighted.items()}
    eff = min(w["effective_rows"] for w in weighted.values())
    # the weighted labels are a sample of eff rows: the estimate's sampling error at that size is the yardstick
    scaled = {m: e | {"se": e["se"] * float(np.sqrt(e["rows"] / max(eff, 1.0)))} for m, e in estimated.items()}
    table = estimation.compare(scaled, values, band=band, higher_is_better=HIGHER)
    return out | {"status": "compared", "effective_rows": eff, "metrics": weighted, "comparison": _records(table)}


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    import json

    return json.loads(table.to_json(orient="records"))


class Shown:
    """The estimate as the drift notebook shows it: a sentence, the metrics table and the reliability table."""

    def __init__(self, result: dict[str, Any], reliability: pd.DataFrame | None, metric: str) -> None:
        self.result, self.reliability, self.metric = result, reliability, metric

    def table(self) -> pd.DataFrame:
        """One row per metric: estimated with its band, and realised where labels arrived."""
        import pandas as pd

        realised = (self.result.get("realised") or {}).get("metrics", {})
        return pd.DataFrame([{"metric": m, "estimated": e["value"], "low": e["low"], "high": e["high"], "reference": e["reference"],
                              "realised": realised.get(m)} for m, e in self.result["estimated"].items()])

    def _repr_html_(self) -> str:
        r = self.result
        e = r["estimated"][self.metric]
        text = f"<p><b>{r['method']}</b>: estimated {self.metric} {e['value']:.3f} (band {e['low']:.3f}–{e['high']:.3f}) on {r['rows']} rows"
        text += f"; <b>alert</b>: {r['alert_reason']}" if r["alert"] else "; no alert"
        if r.get("concept_drift_likely"):
            text += f"; <b>{r['concept_drift_reason']}</b>"
        html = text + "</p>" + self.table().to_html(index=False, na_rep="—", float_format="{:.4f}".format)
        if self.reliability is not None:
            html += "<p><b>Reliability</b> (labelled rows)</p>" + self.reliability.to_html(index=False, float_format="{:.3f}".format)
        return html
