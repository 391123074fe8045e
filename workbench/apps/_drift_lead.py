"""The drift app's answer: one sentence, its tiles and the evidently statement, from the stored drift results.

Pure functions of what the drift phase stored (``verdict.json``, ``data_drift.json``,
``columns.parquet``, ``concept.json``, ``evidently.json``), so a test or the status page can
check the words without widgets. The sentence, the tiles and the evidently statement use the
same count of drifted columns (``data_drift.json`` ``dataset.drifted_columns``).
"""

from __future__ import annotations

from typing import Any

from workbench.apps._leads import batch_label, listing, pair, share_words
from workbench.reports.estimate_summary import decimals, fmt, summarise

METRIC_NAMES = {"roc_auc": "AUC", "accuracy": "accuracy", "rmse": "RMSE", "mae": "MAE", "r2": "R²", "log_loss": "log loss",
                "average_precision": "average precision", "f1": "F1 score"}
DRIFT_SHARE = 0.5  # the rule of runs that did not store theirs


def metric_name(metric: Any) -> str:
    """A stored metric name as people say it: ``roc_auc`` -> ``AUC``."""
    return METRIC_NAMES.get(str(metric), str(metric or "performance").replace("_", " "))


def dataset_of(data_drift: dict[str, Any]) -> dict[str, Any]:
    """The dataset verdict of ``data_drift.json`` (or that dict itself)."""
    return data_drift.get("dataset", data_drift) if isinstance(data_drift, dict) else {}


def drift_share(data_drift: dict[str, Any]) -> float:
    """The share of drifted columns that makes the whole dataset drifted."""
    return float(data_drift.get("drift_share") or dataset_of(data_drift).get("drift_share") or DRIFT_SHARE)


def drifted_names(columns: Any, verdict: dict[str, Any]) -> list[str]:
    """The drifted columns, largest effect first (the verdict's list when no table is stored)."""
    if columns is not None and len(columns) and "drifted" in columns:
        rows = columns[columns["drifted"].astype(bool)]
        if "effect_size" in rows:
            rows = rows.sort_values("effect_size", ascending=False, na_position="last")
        return rows["column"].astype(str).tolist()
    return [str(c) for c in verdict.get("drifted_columns", [])]


def estimate_clause(estimate: dict[str, Any] | None) -> str:
    """``estimated at 0.91 (band 0.89–0.93)`` from ``estimate.json``, with ``, worse than its alert threshold of 0.87`` when alerted; empty without one."""
    s = summarise(estimate)
    if s is None:
        return ""
    d = decimals(s.value, s.low, s.high, s.alert_threshold)
    alert = f", worse than its alert threshold of {fmt(s.alert_threshold, d)}" if s.alert and s.alert_threshold is not None else ""
    return f"estimated at {fmt(s.value, d)} (band {fmt(s.low, d)}–{fmt(s.high, d)}){alert}"


def performance_clause(concept: dict[str, Any], estimate: dict[str, Any] | None = None) -> tuple[str, bool | None]:
    """What happened to the model's quality, and whether it degraded (None: not assessed).

    Before labels, the performance estimated without them (``estimate.json``) says what can be said.
    """
    perf = concept.get("performance") or {}
    pred = concept.get("prediction_drift") or {}
    metric = metric_name(perf.get("metric"))
    status = perf.get("status", "ok" if perf else "no labels")
    if status == "ok" and perf.get("difference") is not None:
        ref, now = pair(perf["reference"], perf["batch"])
        if perf.get("degraded"):
            moved = "fell" if float(perf["batch"]) < float(perf["reference"]) else "rose"
            return (f"the model's {metric} {moved} from {ref} to {now}, beyond its {float(perf.get('confidence', 0.95)):.0%} interval: "
                    "concept drift"), True
        if pred.get("drift"):
            return (f"{metric} held at {now} (reference {ref}), but the model's scores shifted (PSI {float(pred['psi']):.2f}, "
                    f"threshold {float(pred['threshold']):g}): concept drift"), True
        return f"{metric} held at {now} (reference {ref})", False
    if status == "insufficient labels":
        labelled = perf.get("n_labelled")
        few = f"only {labelled} labels have arrived" if labelled is not None else "too few labels have arrived"
        estimated = estimate_clause(estimate)
        return f"{few}, too few to check the model's {metric}" + (f", {estimated} without them" if estimated else ""), None
    if pred.get("drift"):
        return (f"labels have not arrived yet, but the model's scores shifted (PSI {float(pred['psi']):.2f}, "
                f"threshold {float(pred['threshold']):g}): concept drift"), True
    estimated = estimate_clause(estimate)
    if estimated:
        return f"labels for this batch have not arrived yet, but without them the model's {metric} is {estimated}", None
    return f"labels for this batch have not arrived yet, so the model's {metric} cannot be checked", None


def lead_sentence(batch: Any, verdict: dict[str, Any], data_drift: dict[str, Any], columns: Any, concept: dict[str, Any],
                  estimate: dict[str, Any] | None = None) -> tuple[str, str]:
    """The drift app's answer for one batch: ``(sentence, kind)``, kind ``ok``, ``info``, ``warn`` or ``error``.

    ``verdict``, ``data_drift`` and ``concept`` are the stored JSON results (``{}`` when missing),
    ``columns`` the per-column table (or None), ``estimate`` the performance estimated without
    labels (``estimate.json``; it speaks only while labels are missing, and its alert makes an
    otherwise calm answer a warning).
    """
    month = batch_label(batch)
    dataset = dataset_of(data_drift)
    if not verdict and not dataset:
        return f"No drift results are stored for {month}.", "warn"
    if verdict.get("insufficient_data"):
        rows = verdict.get("rows", dataset.get("n_batch"))
        return f"In {month} the batch has only {rows} rows, too few to judge whether the data or the model drifted.", "warn"
    total = int(dataset.get("columns", 0) or 0)
    count = int(dataset.get("drifted_columns", len(verdict.get("drifted_columns", []))) or 0)
    whole = bool(dataset.get("drift", verdict.get("data_drift")))
    perf, degraded = performance_clause(concept, estimate)
    if count == 0:
        joint = "but" if degraded else "and"
        sentence = f"In {month} production data looks like the training data: no column drifted, {joint} {perf}."
    else:
        names = listing(drifted_names(columns, verdict), 4)
        rule = share_words(drift_share(data_drift))
        verdict_words = (f"at least the {rule} needed to call the whole dataset drifted: data drift" if whole
                         else f"fewer than the {rule} needed to call the whole dataset drifted")
        noun = "column" if total == 1 else "columns"
        sentence = f"In {month}, {count} of {total} {noun} drifted ({names}) — {verdict_words} — and {perf}."
    if whole or degraded:
        kind = "error"
    elif count:
        kind = "warn"
    else:
        kind = "ok" if degraded is False else "info"
    estimated = summarise(estimate)
    if kind in ("ok", "info") and degraded is None and estimated is not None and estimated.alert:
        kind = "warn"
    return sentence, kind


def tiles(verdict: dict[str, Any], data_drift: dict[str, Any], concept: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """The summary tiles ``(label, value, colour)``; the drifted-column count is the sentence's."""
    dataset = dataset_of(data_drift)
    total = int(dataset.get("columns", 0) or 0)
    count = int(dataset.get("drifted_columns", len(verdict.get("drifted_columns", []))) or 0)
    whole = bool(dataset.get("drift", verdict.get("data_drift")))
    colour = "red" if whole else ("amber" if count else "green")
    rule = share_words(drift_share(data_drift))
    perf = concept.get("performance") or {}
    items: list[tuple[str, str, str | None]] = [
        (f"dataset drift (when at least {rule} of the columns drift)", f"{'yes' if whole else 'no'} — {count} of {total} columns", colour),
        ("drifted columns", f"{count} of {total}", colour),
    ]
    if perf.get("status", "ok") == "ok" and perf.get("difference") is not None:
        ref, now = pair(perf["reference"], perf["batch"])
        items.append((f"model {metric_name(perf.get('metric'))} (reference {ref})", now, "red" if perf.get("degraded") else "green"))
    else:
        items.append((f"model {metric_name(perf.get('metric'))}", "labels not arrived" if perf.get("status") != "insufficient labels" else "too few labels", None))
    cv = concept.get("verdict", {})
    concept_drift = bool(verdict.get("concept_drift", cv.get("concept_drift")))
    feature_drift = bool(verdict.get("feature_drift", cv.get("feature_drift")))
    items.append(("concept drift", "yes" if concept_drift else "no", "red" if concept_drift else "green"))
    items.append(("features where the model's errors moved", str(len(cv.get("drifted_features", []))) if feature_drift else "none",
                  "red" if feature_drift else "green"))
    return items


def evidently_statement(summary: dict[str, Any], data_drift: dict[str, Any], columns: Any, verdict: dict[str, Any]) -> str:
    """One sentence setting evidently's count of drifted columns beside this page's, explaining any difference."""
    ours = int(dataset_of(data_drift).get("drifted_columns", len(verdict.get("drifted_columns", []))) or 0)
    theirs = summary.get("drifted_columns")
    if not summary or theirs is None:
        return ("Evidently's report for this batch used evidently's own default tests and thresholds (an effect threshold of 0.1 and "
                f"no significance test), so its count of drifted columns can differ from this page's {ours}; monitoring the batch "
                "again makes it use this page's rule.")
    theirs = int(theirs)
    same_rule = summary.get("method") == "workbench"
    rule = "the same rule as this page" if same_rule else "evidently's own default tests and thresholds"
    if theirs == ours:
        if ours == 0:
            return f"Evidently's report judges each column by {rule} and, like this page, finds no drifted column."
        return f"Evidently's report judges each column by {rule} and counts the same {ours} drifted columns."
    reasons = []
    mine = drifted_names(columns, verdict)
    if summary.get("drifted") is not None:
        only_here = [c for c in mine if c not in summary["drifted"]]
        only_there = [c for c in summary["drifted"] if c not in mine]
        left_out = summary.get("left_out") or {}
        if only_here:
            why = [f"{c} ({left_out[c]})" if c in left_out else c for c in only_here]
            reasons.append(f"this page also counts {listing(why, 5)}")
        if only_there:
            reasons.append(f"evidently also counts {listing(only_there, 5)}")
    if summary.get("sampled"):
        reasons.append(f"evidently compared a sample of {int(summary.get('batch_rows', 0)):,} batch and "
                       f"{int(summary.get('reference_rows', 0)):,} reference rows")
    if not same_rule:
        reasons.append("this page requires both a significant test (p-value below the threshold) and an effect size "
                       "above its threshold, while evidently's default uses an effect threshold of 0.1 alone")
    because = f": {'; '.join(reasons)}" if reasons else ""
    return f"Evidently's report counts {theirs} drifted columns with {rule}; this page counts {ours}{because}."
