"""The fairness app's answer: one sentence and its tiles, separating checks that fail since the reference
from checks that newly fail and groups that shifted, from the stored fairness results.

Pure functions of what the fairness phase stored (``fairness.json``, ``disparity.parquet``,
``reference_disparity.parquet``, ``bias_drift.parquet``). The reference is the registered
version's holdout audit; runs stored before ``reference_disparity.parquet`` existed fall back to
``bias_drift.parquet``'s ``di_newly_failed`` / ``eo_newly_failed`` flags (then the reference values are not named).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.apps._leads import against, batch_label, listing, number

# check: (what fails, its stored value column, its pass flag, the value's name, the limit's name)
CHECKS = {"equalized_odds": ("equalized-odds gap", "equalized_odds_difference", "eo_passed", "gap", "limit"),
          "disparate_impact": ("disparate impact", "disparate_impact", "di_passed", "ratio", "minimum")}
CHECK_NAMES = {"equalized_odds": "equalized-odds", "disparate_impact": "disparate-impact"}
CONSTRAINTS = {"equalized_odds": "equalized odds", "demographic_parity": "demographic parity",
               "true_positive_rate_parity": "equal recall", "false_positive_rate_parity": "equal false-positive rates",
               "selection_rate_parity": "equal selection rates"}
CONSTRAINT_FOR = {"equalized_odds": "equalized_odds", "disparate_impact": "demographic_parity"}


@dataclass
class Finding:
    """One attribute's state in a batch: checks newly failing, failing since the reference, groups that moved."""

    attribute: str
    new: list[str] = field(default_factory=list)
    since: list[str] = field(default_factory=list)
    moved: Any = None  # rows of bias_drift.parquet with moved, largest change first

    @property
    def shifted(self) -> bool:
        return self.moved is not None and len(self.moved) > 0


def _failing(disparity: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if disparity is None:
        return out
    for _, row in disparity.iterrows():
        bad = [check for check, (_, _, flag, _, _) in CHECKS.items() if flag in row and _is_false(row[flag])]
        if bad:
            out[str(row["attribute"])] = bad
    return out


def _is_false(value: Any) -> bool:
    try:
        return value is not None and not bool(value) and value == value
    except TypeError:  # pandas NA: not assessable
        return False


def findings(disparity: Any, reference: Any, bias_drift: Any) -> list[Finding]:
    """Per attribute (in the disparity table's order): newly failing and since-reference checks, and moved groups."""
    now = _failing(disparity)
    attributes = [str(a) for a in disparity["attribute"]] if disparity is not None else []
    was = _failing(reference) if reference is not None else None
    if bias_drift is not None and "attribute" not in bias_drift:
        bias_drift = None  # an empty table: no group to compare
    out = []
    for attribute in attributes:
        rows = bias_drift[bias_drift["attribute"].astype(str) == attribute] if bias_drift is not None else None
        if was is not None:
            new = [c for c in now.get(attribute, []) if c not in was.get(attribute, [])]
        else:  # older runs: bias_drift's flags say which checks passed on the reference and fail now
            flags = {"disparate_impact": "di_newly_failed", "equalized_odds": "eo_newly_failed"}
            new = [c for c in now.get(attribute, []) if rows is not None and flags[c] in rows and rows[flags[c]].astype(bool).any()]
        since = [c for c in now.get(attribute, []) if c not in new]
        moved = None
        if rows is not None and "moved" in rows:
            moved = rows[rows["moved"].astype(bool)]
            moved = moved.reindex(moved["gap"].abs().sort_values(ascending=False).index) if "gap" in moved else moved
        out.append(Finding(attribute, new, since, moved))
    return out


def group_name(attribute: str, group: Any) -> str:
    """``age_band 60+``; an intersection group ``gender=female & age_band=60+`` as ``female & 60+ (gender & age_band)``."""
    text = str(group)
    if " & " in attribute:
        return " & ".join(part.split("=", 1)[-1] for part in text.split(" & ")) + f" ({attribute})"
    return f"{attribute} {text}"


def _value(disparity: Any, attribute: str, check: str) -> Any:
    if disparity is None:
        return None
    rows = disparity[disparity["attribute"].astype(str) == attribute]
    column = CHECKS[check][1]
    return float(rows[column].iloc[0]) if len(rows) and column in rows and rows[column].notna().iloc[0] else None


def _redundant(f: Finding, found: list[Finding]) -> bool:
    """An intersection's moved groups that all contain a moved group of a single attribute (its shift is already named)."""
    if " & " not in f.attribute or not f.shifted:
        return False
    singles = {f"{g.attribute}={row['group']}" for g in found if " & " not in g.attribute and g.shifted for _, row in g.moved.iterrows()}
    return bool(singles) and all(any(s in str(group).split(" & ") for s in singles) for group in f.moved["group"])


def lead_sentence(batch: Any, result: dict[str, Any], disparity: Any, reference: Any, bias_drift: Any, *,
                  di_threshold: float = 0.8, eo_threshold: float = 0.1, attribute: str | None = None) -> tuple[str, str]:
    """The fairness app's answer for one batch: ``(sentence, kind)``; ``attribute`` (the picked one) is named first."""
    month = batch_label(batch)
    if result.get("status") not in (None, "assessed"):
        reason = str(result.get("reason") or "")
        why = "its labels have not arrived yet" if "no labels" in reason else (reason or "the results say it is not assessable")
        return f"In {month} fairness could not be checked: {why}.", "info"
    if disparity is None or not len(disparity):
        return f"No fairness results are stored for {month}.", "warn"
    found = findings(disparity, reference, bias_drift)
    limits = {"equalized_odds": eo_threshold, "disparate_impact": di_threshold}
    order = sorted(found, key=lambda f: (f.attribute != attribute, not f.shifted, not f.new, " & " in f.attribute))
    clauses: list[str] = []
    last = None

    def check_words(f: Finding, check: str, was: Any = None) -> str:
        _, _, _, value_name, limit_name = CHECKS[check]
        value = _value(disparity, f.attribute, check)
        ref = f"; it was {number(was)} on the reference" if was is not None else ""
        return f"the {CHECK_NAMES[check]} check ({value_name} {against(value, limits[check])}, {limit_name} {limits[check]:g}{ref})"

    for f in order:
        ref_values = {c: _value(reference, f.attribute, c) for c in CHECKS}
        new = list(f.new)
        if f.shifted and not _redundant(f, found):
            row = f.moved.iloc[0]
            moved = "fell" if float(row["batch_rate"]) < float(row["reference_rate"]) else "rose"
            clause = (f"recall for {group_name(f.attribute, row['group'])} {moved} to {number(row['batch_rate'])} from "
                      f"{number(row['reference_rate'])} on the reference")
            if "equalized_odds" in new:  # recall is half of equalized odds: the shift is that failure
                clause += " — a new failure of " + check_words(f, "equalized_odds", ref_values["equalized_odds"])
                new.remove("equalized_odds")
            else:
                clause += " — a shift beyond its interval" + (", though the checks still pass" if not f.new and not f.since else "")
            clauses.append(clause)
            last = f.attribute
        if new:
            subject = "it" if last == f.attribute else f.attribute
            steady = "" if f.shifted else ", though no group's recall moved beyond its interval"
            clauses.append(f"{subject} newly fails {' and '.join(check_words(f, c, ref_values[c]) for c in new)}{steady}")
            last = f.attribute
        for c in f.since:
            was, now = ref_values[c], _value(disparity, f.attribute, c)
            subject = f"its {CHECKS[c][0]}" if last == f.attribute else f"the {f.attribute} {CHECKS[c][0]}"
            clauses.append(f"{subject} has failed since the reference (" + (f"it was {number(was)} on the holdout, " if was is not None else "")
                           + f"{number(now)} now)")
            last = f.attribute
    if not clauses:
        attrs = listing([f.attribute for f in found], 4)
        return f"In {month} every fairness check passes for {attrs}, and no group's recall moved beyond its interval.", "ok"
    shifted = any(f.shifted for f in found)
    new = any(f.new for f in found)
    if not shifted and not new:
        return f"In {month} nothing changed since the reference: {'; '.join(clauses)}.", "warn"
    return f"In {month} {'; '.join(clauses)}.", "error" if shifted else "warn"


def focus(found: list[Finding]) -> str | None:
    """The attribute the answer's chart shows: a shifted one, else a newly failing one, else one failing since the reference."""
    for test in (lambda f: f.shifted and " & " not in f.attribute, lambda f: f.shifted, lambda f: bool(f.new), lambda f: bool(f.since)):
        for f in found:
            if test(f):
                return f.attribute
    return found[0].attribute if found else None


def tiles(found: list[Finding], result: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """``newly failing / shifted`` (red when a group moved, amber when a check only crossed its line) and ``failing since reference`` (amber)."""
    if result.get("status") not in (None, "assessed"):
        return [("fairness audit", "not assessable", None)]
    new = [f"{f.attribute}: {', '.join(' & '.join(p.split('=', 1)[-1] for p in str(g).split(' & ')) for g in f.moved['group'].head(2))} shifted"
           if f.shifted
           else f"{f.attribute} (no group moved)" for f in found if f.new or f.shifted]
    since = [f"{f.attribute} ({', '.join(CHECKS[c][0] for c in f.since)})" for f in found if f.since]
    colour = "red" if any(f.shifted for f in found) else ("amber" if new else "green")
    return [("newly failing / shifted", "; ".join(new) or "none", colour),
            ("failing since the reference", "; ".join(since) or "none", "amber" if since else "green")]


def mitigation_note(attribute: str | None, constraint: str | None, found: list[Finding]) -> str:
    """Which failing check a stored ThresholdOptimizer suggestion addresses (or that it does not address it)."""
    if not attribute or not constraint:
        return ""
    f = next((x for x in found if x.attribute == attribute), None)
    failing = (f.new + f.since) if f else []
    target = next((c for c in failing if CONSTRAINT_FOR[c] == constraint), None)
    words = CONSTRAINTS.get(constraint, constraint.replace("_", " "))
    if target:
        return (f"This suggestion addresses the failing {CHECK_NAMES[target]} check of {attribute}: fairlearn's ThresholdOptimizer picks "
                f"per-group thresholds under the {words} constraint (a suggestion; nothing is applied).")
    checks = " and ".join(CHECK_NAMES[c] for c in failing) or "no failing"
    return (f"This suggestion was computed under the {words} constraint, which does not address the {checks} check of {attribute}; "
            "monitoring the batch again computes one for the failing check.")
