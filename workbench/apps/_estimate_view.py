"""The drift app's Performance tab: how good the model is on a batch before its labels arrive, and what the labels said once they did.

Pure functions of what the drift phase stored — ``estimate.json`` (read through
:mod:`workbench.reports.estimate_summary`), ``reliability.parquet`` and ``estimate_history.parquet`` —
so tests check the words without widgets: the answer (:func:`answer`), the per-metric table, the
reliability table with its sentence (is the model right as often as it says?), conformal coverage
against its target and the feedback's inverse-propensity-weighted numbers. Runs monitored before
estimates were recorded get :data:`NO_ESTIMATE`, never an error.
"""

from __future__ import annotations

import html
import math
from typing import Any

from workbench.apps import _render as r
from workbench.apps._drift_lead import metric_name
from workbench.apps._leads import batch_label, listing
from workbench.reports.estimate_summary import decimals, fmt, summarise

NO_ESTIMATE = ("This run stored no performance estimate: it was monitored before estimates were recorded. "
               "Monitoring the batch again records one.")
NO_HISTORY = "This run stored no history of estimates, so only this batch's numbers are shown."
COVERAGE_TOLERANCE = 0.02  # conformal coverage within 2 points of its target counts as on target (the acceptance rule)
METRIC_HEADERS = {"metric": "metric", "estimated": "estimated", "band": "band", "reference": "at training", "realised": "realised",
                  "gap": "gap (realised − estimated)", "within_band": "within band", "effective_rows": "effective rows"}
RELIABILITY_HEADERS = {"bucket": "confidence", "rows": "rows", "mean_confidence": "mean confidence", "accuracy": "right",
                       "gap": "gap (right − confidence)"}


def answer(batch: Any, est: dict[str, Any] | None) -> tuple[str, str]:
    """The tab's sentence for one batch: ``(sentence, kind)``, kind ``ok``, ``info``, ``warn`` or ``error``.

    Estimated with its band; the alert when the estimate is worse than its threshold; realised
    beside it once labels (or reviewed feedback) arrived, and whether it lies within the band —
    outside it on the worse side is likely concept drift, which an estimate from the inputs cannot see.
    """
    s = summarise(est)
    if s is None:
        return NO_ESTIMATE, "info"
    month, name = batch_label(batch), metric_name(s.metric)
    known = s.realised is not None
    value, low, high = (s.compared, s.compared_low, s.compared_high) if known else (s.value, s.low, s.high)
    d = decimals(value, low, high, s.realised, s.alert_threshold, s.reference)
    head = f"In {month}, without labels, {name} is estimated at {fmt(value, d)} (band {fmt(low, d)}–{fmt(high, d)})"
    if s.alert and s.alert_threshold is not None:
        head += f", worse than its alert threshold of {fmt(s.alert_threshold, d)}"
        if s.drop is not None:
            head += f" ({s.drop:.0%} {'below' if s.higher else 'above'} {fmt(s.reference, d)} at training)"
    if not known:
        return (f"{head}; no labels yet to confirm it.", "warn") if s.alert else (f"{head}; no labels yet.", "info")
    got = (f"realised {fmt(s.realised, d)} on {s.realised_rows:,} labelled rows" if s.source == "labels" else
           f"reviewed feedback gives {fmt(s.realised, d)} ({s.realised_rows:,} labels from the review queue, weighted by their chance of being drawn)")
    if s.side == "worse":
        return f"{head}; {got} — outside the band, worse than estimated: likely concept drift, which the estimate cannot see.", "error"
    if s.side == "better":
        verdict, kind = "outside the band, better than estimated", "info"
    else:
        verdict, kind = ("within the band, confirming the alert", "warn") if s.alert else ("within the band", "ok")
    if s.flagged:
        names = listing([metric_name(m) for m in s.flagged], 3)
        verdict += (f", but realised {names} fell outside {'its' if len(s.flagged) == 1 else 'their'} "
                    f"band{'' if len(s.flagged) == 1 else 's'}: likely concept drift, which the estimate cannot see")
        kind = "error"
    return f"{head}; {got} — {verdict}.", kind


def tiles(est: dict[str, Any] | None) -> list[tuple[str, str, str | None]]:
    """The estimate's summary tile ``(label, value, colour)``: red when alerted or outside its band on the worse side; none without an estimate."""
    s = summarise(est)
    if s is None:
        return []
    d = decimals(s.value, s.low, s.high)
    colour = "red" if s.alert or s.side == "worse" else ("green" if s.side == "within" else None)
    return [(f"{metric_name(s.metric)} estimated without labels (band {fmt(s.low, d)}–{fmt(s.high, d)})", fmt(s.value, d), colour)]


def metrics_table(est: dict[str, Any]) -> str:
    """Every estimated metric: estimated, band, at training, and realised with its gap once labels arrived (HTML)."""
    import pandas as pd

    compared = {row.get("metric"): row for row in (est.get("realised") or {}).get("comparison") or []}
    rows = []
    for metric, e in (est.get("estimated") or {}).items():
        c = compared.get(metric)
        value, low, high = (c["estimated"], c["low"], c["high"]) if c else (e.get("value"), e.get("low"), e.get("high"))
        rows.append({"metric": metric_name(metric), "estimated": value, "band": _band(low, high), "reference": e.get("reference"),
                     "realised": c.get("realised") if c else None, "gap": c.get("gap") if c else None,
                     "within_band": c.get("within_band") if c else None, "_bad": bool(c and c.get("concept_drift_likely"))})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return ""
    note = (f"<p>With labels, “estimated” is the estimate for the same {int((est.get('realised') or {}).get('rows') or 0):,} labelled rows; "
            "a red row is worse than its band: likely concept drift.</p>" if compared else "")
    return ("<h4>Every metric, estimated and realised</h4>"
            + r.table(frame.drop(columns="_bad"), formats={"estimated": ",.3f", "reference": ",.3f", "realised": ",.3f", "gap": "+,.3f"},
                      bad=frame["_bad"], headers=METRIC_HEADERS) + note)


def _band(low: Any, high: Any) -> str:
    try:
        lo, hi = float(low), float(high)
    except (TypeError, ValueError):
        return "—"
    d = decimals(lo, hi, start=3)
    return f"{fmt(lo, d)}–{fmt(hi, d)}"


def reliability_sentence(table: Any) -> str:
    """Is the model right as often as it says? From the reliability table (binary: ``rows, mean_confidence, accuracy`` per bucket).

    About as often when overall accuracy is within 2 points of the mean confidence, or within 3
    sampling standard errors of it on few rows; otherwise over- or underconfident, naming the bucket
    with the largest gap. Empty for a table without those columns (a regression model's intervals).
    """
    if table is None or table.empty or not {"rows", "mean_confidence", "accuracy"} <= set(table.columns):
        return ""
    t = table[table["rows"] > 0]
    n = int(t["rows"].sum())
    if not n:
        return ""
    conf = float((t["rows"] * t["mean_confidence"]).sum() / n)
    acc = float((t["rows"] * t["accuracy"]).sum() / n)
    tolerance = max(0.02, 3 * math.sqrt(max(acc * (1 - acc), 1e-12) / n))
    said = f"{acc:.1%} of its decisions were right at a mean confidence of {conf:.1%}"
    if abs(acc - conf) <= tolerance:
        return f"On {n:,} labelled rows the model is right about as often as it says: {said}."
    big = t[t["rows"] >= min(50, int(t["rows"].max()))]
    worst = big.loc[(big["accuracy"] - big["mean_confidence"]).abs().idxmax()]
    where = (f"the largest gap, {abs(worst['accuracy'] - worst['mean_confidence']) * 100:.0f} points, is where it is "
             f"{_bucket(worst)} sure")
    if acc < conf:
        return f"On {n:,} labelled rows the model is right less often than it says: {said} (overconfident; {where})."
    return f"On {n:,} labelled rows the model is right more often than it says: {said} (underconfident; {where})."


def _bucket(row: Any) -> str:
    if {"low", "high"} <= set(row.index) and row["low"] == row["low"] and row["high"] == row["high"]:
        return f"{float(row['low']):.0%}–{float(row['high']):.0%}"
    return f"about {float(row['mean_confidence']):.0%}"


def reliability_table(table: Any) -> str:
    """The reliability table (HTML) under its sentence; buckets whose gap is beyond sampling error are red."""
    if table is None or table.empty:
        return ""
    sentence = reliability_sentence(table)
    if not sentence:  # another shape (a regression model's interval coverage by width): shown as stored
        return "<h4>Reliability (labelled rows)</h4>" + r.table(table)
    view = table.assign(bucket=[_bucket(row) for _, row in table.iterrows()], rows=[f"{int(n):,}" for n in table["rows"]],
                        gap=table["accuracy"] - table["mean_confidence"])
    spread = [3 * math.sqrt(max(a * (1 - a), 1e-12) / max(int(n), 1)) for a, n in zip(table["accuracy"], table["rows"], strict=True)]
    bad = (view["gap"].abs() > [max(0.05, s) for s in spread]) & (table["rows"] > 0)
    return (f"<h4>Is the model right as often as it says?</h4><p class=\"wb-reliability\">{html.escape(sentence)}</p>"
            + r.table(view[["bucket", "rows", "mean_confidence", "accuracy", "gap"]], formats={"mean_confidence": ".1%", "accuracy": ".1%", "gap": "+.1%"},
                      bad=bad.reset_index(drop=True), headers=RELIABILITY_HEADERS))


def coverage_sentence(est: dict[str, Any]) -> str:
    """How often the conformal sets (or intervals) held the truth on the labelled rows, against their target; empty without it."""
    cov = est.get("coverage") or {}
    try:
        target, observed, rows, size = float(cov["target"]), float(cov["observed"]), int(cov["rows"]), float(cov["mean_size"])
    except (KeyError, TypeError, ValueError):
        return ""
    regression = est.get("task") == "regression"
    what, truth, size_words = ("intervals", "true value", f"mean width {size:,.3g}") if regression else \
        ("prediction sets", "true label", f"mean set size {size:.2f}")
    if abs(observed - target) <= COVERAGE_TOLERANCE:
        judged = "on target"
    elif observed < target:
        judged = f"below target: on this batch the {what} miss the truth more often than promised"
    else:
        judged = f"above target: the {what} are wider than needed on this batch"
    return f"Conformal {what} held the {truth} for {observed:.1%} of {rows:,} labelled rows against a {target:.0%} target ({size_words}) — {judged}."


def feedback_sentence(est: dict[str, Any]) -> str:
    """What reviewers' labels say about the batch (weighted by the inverse of each label's chance of being drawn); empty without feedback."""
    fb = est.get("feedback") or {}
    if not fb:
        return ""
    labels, queue, selfsel = int(fb.get("labels") or 0), int(fb.get("from_queue") or 0), int(fb.get("self_selected") or 0)
    arrived = (f"{labels:,} feedback label{'s' * (labels != 1)} arrived for this batch's predictions ({queue:,} from the review queue, "
               f"{selfsel:,} given unprompted and left out of the estimate)")
    if fb.get("status") != "compared":
        return f"{arrived}: {fb.get('status') or 'not compared'}."
    return (f"{arrived}; weighted by the inverse of each one's chance of being drawn, the queue's labels are worth "
            f"{float(fb.get('effective_rows') or 0):,.0f} rows.")


def feedback_table(est: dict[str, Any]) -> str:
    """The feedback's weighted metrics beside the estimate (HTML); empty unless the drift phase compared them."""
    import pandas as pd

    fb = est.get("feedback") or {}
    if fb.get("status") != "compared" or not fb.get("comparison"):
        return ""
    frame = pd.DataFrame([{"metric": metric_name(c["metric"]), "estimated": c.get("estimated"), "band": _band(c.get("low"), c.get("high")),
                           "realised": c.get("realised"), "gap": c.get("gap"), "within_band": c.get("within_band"),
                           "effective_rows": (fb.get("metrics") or {}).get(c["metric"], {}).get("effective_rows")} for c in fb["comparison"]])
    bad = pd.Series([bool(c.get("concept_drift_likely")) for c in fb["comparison"]])
    return r.table(frame, formats={"estimated": ",.3f", "realised": ",.3f", "gap": "+,.3f", "effective_rows": ",.0f"}, bad=bad,
                   headers=METRIC_HEADERS | {"realised": "from feedback (weighted)"})


def details(est: dict[str, Any], reliability: Any) -> str:
    """Everything under the chart: the metrics table, reliability, coverage and feedback (HTML)."""
    parts = [metrics_table(est), reliability_table(reliability)]
    coverage = coverage_sentence(est)
    if coverage:
        parts.append(f'<h4>Conformal coverage</h4><p class="wb-coverage">{html.escape(coverage)}</p>')
    feedback = feedback_sentence(est)
    if feedback:
        parts.append(f'<h4>Feedback</h4><p class="wb-feedback">{html.escape(feedback)}</p>' + feedback_table(est))
    return "".join(parts)
