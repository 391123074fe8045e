"""Plain words for the status page: numbers, names, metrics and lists as a stakeholder reads them.

Pure functions (no file is read here): :mod:`workbench.reports.status` gathers the stored
results and calls these to write its sentences.
"""

from __future__ import annotations

import math
from typing import Any

# Primary performance metrics (concept.json ``performance.metric``) as a sentence names them.
METRICS = {"roc_auc": "AUC", "pr_auc": "precision-recall AUC", "average_precision": "average precision", "accuracy": "accuracy",
           "f1": "F1 score", "log_loss": "log loss", "brier": "Brier score", "rmse": "RMSE (typical error)", "mae": "MAE (mean absolute error)",
           "mape": "MAPE (mean percentage error)", "wape": "WAPE (weighted percentage error)", "r2": "R²"}
# Per-group rates (bias_drift.parquet ``metric``).
RATES = {"tpr": "recall", "fpr": "false positive rate", "selection_rate": "selection rate", "accuracy": "accuracy", "error_rate": "error rate"}
PERIODS = {"day": "a day", "week": "a week", "month": "a month", "quarter": "a quarter", "year": "a year"}
SHARE_UNITS = ("share", "ratio", "fraction", "proportion")
PERCENT_UNITS = ("%", "percent", "pct")
WORDS = {"registered": "registered", "approve": "approved", "reject": "rejected", "promote": "promoted", "rollback": "rolled back"}


def num(value: Any, digits: int = 2) -> str:
    """A number as people write it: at most ``digits`` decimals, no trailing zeros, thousands separated."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "unknown"
    if abs(x) >= 10_000:
        return f"{x:,.0f}"
    if 0 < abs(x) < 10 ** -digits:  # a small value is not zero: show its significant digits
        return f"{x:.3g}"
    text = f"{x:,.{digits}f}".rstrip("0").rstrip(".") if digits else f"{x:,.0f}"
    return "0" if text in ("-0", "") else text


def nums(*values: float, digits: int = 2, most: int = 4) -> list[str]:
    """Numbers written alike (:func:`num`), with more decimals when rounding would make different values look equal."""
    while digits < most and len({num(v, digits) for v in values}) < len(set(values)):
        digits += 1
    return [num(v, digits) for v in values]


def count(value: float) -> str:
    """A per-period amount: whole units from 10 on, one decimal below."""
    return f"{value:,.0f}" if abs(value) >= 10 else num(value, 1)


def names(items: list[str], *, limit: int = 4, more: str = "columns") -> str:
    """``a``, ``a and b``, ``a, b and c``; past ``limit`` items: ``a, b, c and 3 more columns``."""
    items = [str(i) for i in items]
    if len(items) > limit:
        return f"{', '.join(items[:limit - 1])} and {len(items) - limit + 1} more {more}"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}" if items else ""


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 request``, ``2 requests``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def batch_label(name: Any) -> str:
    """A batch file's name as a page names it: ``2026-03.parquet`` -> ``2026-03``."""
    text = str(name)
    return text.rsplit(".", 1)[0] if "." in text else text


def months(labels: list[str]) -> str:
    """Batches in a sentence: ``2026-05``, ``2026-05 and 2026-06``, ``2026-05 to 2026-08`` (four or more)."""
    return f"{labels[0]} to {labels[-1]}" if len(labels) >= 4 else names(labels, limit=4, more="batches")


def metric_name(metric: str) -> str:
    """``roc_auc`` -> ``AUC``; unknown metrics keep their name."""
    return METRICS.get(str(metric), str(metric).replace("_", " "))


def rate_name(metric: str) -> str:
    """``tpr`` -> ``recall``."""
    return RATES.get(str(metric), str(metric).replace("_", " "))


def moved(before: float, after: float) -> str:
    """``fell`` or ``rose``."""
    return "fell" if after < before else "rose"


def ratio_phrase(before: float, after: float) -> str:
    """How big a change is, in words: ``less than half``, ``about half``, ``more than doubled``, ``20% lower``."""
    if not before or not math.isfinite(before) or not math.isfinite(after):
        return ""
    ratio = after / before
    if ratio < 0.45:
        return "less than half"
    if ratio <= 0.55:
        return "about half"
    if ratio > 2.2:
        return "more than double"
    if ratio >= 1.8:
        return "about double"
    return f"{abs(1 - ratio):.0%} {'lower' if ratio < 1 else 'higher'}"


def roles_phrase(roles: list[str], people: dict[str, list[str]]) -> str:
    """``approver, admin`` or, with a roles section, ``approver (bob), admin (carol)``."""
    return ", ".join(f"{role} ({', '.join(people[role])})" if people.get(role) else role for role in roles)


def article(role: str) -> str:
    """``an approver``, ``a data scientist``."""
    words = role.replace("_", " ")
    return ("an " if words[:1] in "aeiou" else "a ") + words


def kpi_value(value: float, unit: str) -> str:
    """A KPI value in its unit: shares as percentages, money and counts with their unit."""
    u = unit.strip()
    if u.lower() in SHARE_UNITS:
        return f"{num(100 * value, 1)}%"
    if u.lower() in PERCENT_UNITS:
        return f"{num(value, 1)}%"
    return f"{num(value)} {u}" if u else num(value)


def kpi_gap(gap: float, unit: str, points: str = "percentage points") -> str:
    """The distance to target in the KPI's unit: ``points`` for shares and percentages."""
    u = unit.strip()
    if u.lower() in SHARE_UNITS:
        return f"{num(100 * abs(gap), 1)} {points}"
    if u.lower() in PERCENT_UNITS:
        return f"{num(abs(gap), 1)} {points}"
    return f"{num(abs(gap))} {u}" if u else num(abs(gap))


def cost_sentence(k: dict[str, Any], *, label: str, unit: str, batch: str, volume: float | None, volume_unit: str, period: str) -> tuple[str, float | None]:
    """The sentence for one KPI of ``impact.json`` (current, target, gap, direction) and the per-period amount.

    ``gap`` > 0 means still to go (the impact phase's convention). Shares are in percentage
    points; with a ``volume`` the gap is also counted per period: for a share, how many of the
    volume's units; otherwise the gap times the volume, in the KPI's unit.
    """
    current, target, gap = float(k["current"]), float(k["target"]), float(k["gap"])
    lower = str(k.get("direction", "higher")) == "lower"
    now = f"{kpi_value(current, unit)} on {batch}"
    if gap <= 0:
        return f"{label} meets its {kpi_value(target, unit)} target ({now}).", None
    side = "above" if lower else "below"
    sentence = f"{label} is {kpi_gap(gap, unit)} {side} its {kpi_value(target, unit)} target ({now})"
    if not volume:
        return sentence + ".", None
    every = PERIODS.get(period, f"a {period}")
    what = volume_unit.strip()
    if unit.strip().lower() in SHARE_UNITS + PERCENT_UNITS:
        share = gap if unit.strip().lower() in SHARE_UNITS else gap / 100
        amount = share * volume
        extra = "over" if lower else "short of"
        return (f"{sentence}: about {count(amount)} of {count(volume)} {what or 'units'} {every} {extra} the target.".replace("  ", " "),
                amount)
    amount = gap * volume
    more = "more" if lower else "less"
    over = f" over {count(volume)} {what} {every}".replace("  ", " ") if what else f" over {count(volume)} {every}"
    return f"{sentence}: about {f'{count(amount)} {unit.strip()}'.strip()} {every} {more} than at the target,{over}.", amount


FALLBACK_CAUSES = (("features unavailable", "the features it needs were unavailable"),
                   ("modelintegrityerror", "the champion's model file failed its integrity check"),
                   ("no version with alias", "no champion was registered"),
                   ("not registered", "no champion was registered"),
                   ("circuit breaker open", "the champion had failed repeatedly and was paused"))


def fallback_cause(reason: Any) -> str:
    """Why the baseline scored instead of the champion, in words (the full reason stays in the score result)."""
    text = str(reason or "").lower()
    return next((words for key, words in FALLBACK_CAUSES if key in text), "the champion failed to score it")
