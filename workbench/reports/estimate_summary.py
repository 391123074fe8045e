"""One batch's stored performance estimate (``drift/estimate.json``) as plain numbers: estimated, band, realised.

One reader for the drift app, the status page and the weekly review, so they agree on which number
is realised (labels first, else reviewed feedback weighted by its sampling propensity), which band it
is judged against (the estimate for the same rows) and which side is worse (lower for error metrics
such as RMSE). Runs monitored before estimates were recorded have no ``estimate.json``: they read as
None, and so does a file of another shape — a reader never raises on an older or torn result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# Metrics where a smaller value is better (every other metric: larger is better).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mse", "log_loss", "brier", "mape", "wape"})
_ERRORS = (KeyError, TypeError, ValueError, AttributeError)


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (``roc_auc``: yes; ``rmse``: no)."""
    return str(metric) not in LOWER_IS_BETTER


def worse(a: float, b: float, metric: str) -> bool:
    """``a`` is worse than ``b`` for ``metric``."""
    return a < b if higher_is_better(metric) else a > b


def decimals(*values: float | None, start: int = 2, most: int = 4) -> int:
    """Decimals that keep different values from looking equal when rounded (``0.905`` and ``0.9049``: 3, then 4)."""
    shown = [v for v in values if v is not None and math.isfinite(v)]
    digits = start
    while digits < most and len({f"{v:.{digits}f}" for v in shown}) < len(set(shown)):
        digits += 1
    return digits


def fmt(value: float | None, digits: int = 2) -> str:
    """A metric value with ``digits`` decimals and thousands separated; ``—`` when unknown."""
    return "—" if value is None or not math.isfinite(value) else f"{value:,.{digits}f}"


def _float(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Summary:
    """The primary metric's estimate for a batch and, once labels or feedback arrived, the realised value beside it.

    ``compared``/``compared_low``/``compared_high`` are the estimate for the rows the realised value
    was measured on (the labelled rows, or the feedback's effective sample), the band it is judged
    against; without a realised value they equal the batch's estimate.
    """

    metric: str
    value: float
    low: float
    high: float
    rows: int
    reference: float | None = None
    alert_threshold: float | None = None
    alert: bool = False
    realised: float | None = None
    source: str | None = None  # "labels" or "feedback"
    realised_rows: int = 0
    compared: float | None = None
    compared_low: float | None = None
    compared_high: float | None = None
    within_band: bool | None = None
    concept_drift_likely: bool = False
    flagged: list[str] = field(default_factory=list)  # other metrics whose realised value fell outside their band on the worse side

    @property
    def higher(self) -> bool:
        """A larger value of the metric is better."""
        return higher_is_better(self.metric)

    @property
    def side(self) -> str | None:
        """Where the realised value lies: ``within`` the band, ``worse`` or ``better`` than it; None before labels or feedback."""
        if self.realised is None:
            return None
        if self.within_band:
            return "within"
        return "worse" if worse(self.realised, self.compared if self.compared is not None else self.value, self.metric) else "better"

    @property
    def drop(self) -> float | None:
        """The alert threshold's distance from the reference, relative (``0.05``: 5 % worse); None when either is unknown."""
        if self.reference in (None, 0) or self.alert_threshold is None:
            return None
        return abs(self.alert_threshold / self.reference - 1)


def summarise(est: dict[str, Any] | None) -> Summary | None:
    """The primary metric of a stored ``estimate.json`` body; None when there is none or it has another shape."""
    if not isinstance(est, dict):
        return None
    try:
        metric = str(est["metric"])
        e = est["estimated"][metric]
        value, low, high = _float(e["value"]), _float(e.get("low")), _float(e.get("high"))
        if value is None:
            return None
        base = {"metric": metric, "value": value, "low": low if low is not None else value, "high": high if high is not None else value,
                "rows": int(est.get("rows") or e.get("rows") or 0), "reference": _float(e.get("reference")),
                "alert_threshold": _float(est.get("alert_threshold")), "alert": bool(est.get("alert")),
                "concept_drift_likely": bool(est.get("concept_drift_likely")), "compared": value, "compared_low": low, "compared_high": high}
        return Summary(**(base | _realised(est, metric)))
    except _ERRORS:
        return None


def _realised(est: dict[str, Any], metric: str) -> dict[str, Any]:
    """The realised side: from labels when they arrived, else from feedback compared by the drift phase."""
    labels, feedback = est.get("realised") or {}, est.get("feedback") or {}
    if labels.get("comparison"):
        table, source, rows = labels["comparison"], "labels", int(labels.get("rows") or 0)
    elif feedback.get("status") == "compared" and feedback.get("comparison"):
        table, source, rows = feedback["comparison"], "feedback", int(feedback.get("from_queue") or 0)
    else:
        return {}
    mine = next((r for r in table if r.get("metric") == metric), None)
    flagged = [str(r["metric"]) for r in table if r.get("metric") != metric and r.get("concept_drift_likely")]
    if mine is None or _float(mine.get("realised")) is None:
        return {"flagged": flagged}
    realised, low, high = _float(mine["realised"]), _float(mine.get("low")), _float(mine.get("high"))
    within = mine.get("within_band")
    if within is None and low is not None and high is not None:
        within = low <= realised <= high
    return {"realised": realised, "source": source, "realised_rows": rows, "compared": _float(mine.get("estimated")), "compared_low": low,
            "compared_high": high, "within_band": None if within is None else bool(within), "flagged": flagged}


def dropped(s: Summary, previous: Summary | None = None, previous_batch: str = "") -> list[str]:
    """Why an estimate dropped, in words; empty when it did not.

    Dropped: worse than its alert threshold, or worse than the previous batch's estimate by more
    than its own band (band × sampling error: a move the batch's size cannot explain).
    """
    why = []
    if s.alert and s.alert_threshold is not None:
        why.append(f"worse than its alert threshold of {s.alert_threshold:.3g}")
    half = s.value - s.low
    if previous is not None and previous.metric == s.metric and worse(s.value, previous.value, s.metric) and abs(s.value - previous.value) > half > 0:
        since = f" since {previous_batch}" if previous_batch else ""
        why.append(f"{'fell' if s.higher else 'rose'} by {abs(s.value - previous.value):.3g}{since}, more than its band (±{half:.3g})")
    return why
