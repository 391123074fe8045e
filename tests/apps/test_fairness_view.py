"""The fairness app's answer: checks failing since the reference vs newly failing vs groups that shifted, and the mitigation's target."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from workbench.apps import _fairness_lead as lead
from workbench.apps import fairness
from workbench.reports import catalog

RESULT = {"status": "assessed"}


def checks(*rows: tuple[str, float, float]) -> pd.DataFrame:
    """A disparity table: (attribute, disparate impact, equalized-odds gap) with the 0.8 / 0.1 pass marks."""
    frame = pd.DataFrame([{"attribute": a, "disparate_impact": di, "equalized_odds_difference": eo, "di_passed": di >= 0.8,
                           "eo_passed": eo <= 0.1, "passed": di >= 0.8 and eo <= 0.1} for a, di, eo in rows])
    return frame.astype({c: "boolean" for c in ("di_passed", "eo_passed", "passed")})


def drift(*rows: tuple[str, str, float, float, bool]) -> pd.DataFrame:
    """bias_drift rows: (attribute, group, reference recall, batch recall, moved)."""
    return pd.DataFrame([{"attribute": a, "group": g, "reference_rate": ref, "batch_rate": now, "gap": now - ref, "moved": moved,
                          "di_newly_failed": False, "eo_newly_failed": False} for a, g, ref, now, moved in rows])


REFERENCE = checks(("gender", 0.96, 0.01), ("age_band", 0.90, 0.08), ("gender & age_band", 0.81, 0.13))
CALM = drift(("age_band", "60+", 0.69, 0.66, False), ("gender & age_band", "gender=female & age_band=60+", 0.72, 0.70, False))


def test_failing_since_the_reference_only() -> None:
    now = checks(("gender", 0.96, 0.01), ("age_band", 0.94, 0.04), ("gender & age_band", 0.81, 0.11))
    sentence, kind = lead.lead_sentence("2026-01.parquet", RESULT, now, REFERENCE, CALM)
    assert sentence == ("In 2026-01 nothing changed since the reference: the gender & age_band equalized-odds gap has failed since the "
                        "reference (it was 0.13 on the holdout, 0.11 now).")
    assert kind == "warn"
    found = lead.findings(now, REFERENCE, CALM)
    assert lead.tiles(found, RESULT) == [("newly failing / shifted", "none", "green"),
                                         ("failing since the reference", "gender & age_band (equalized-odds gap)", "amber")]


def test_newly_failing_within_noise() -> None:
    now = checks(("gender", 0.96, 0.01), ("age_band", 0.94, 0.12), ("gender & age_band", 0.81, 0.13))
    sentence, kind = lead.lead_sentence("2026-02", RESULT, now, REFERENCE, CALM)
    assert sentence == ("In 2026-02 age_band newly fails the equalized-odds check (gap 0.12, limit 0.1; it was 0.08 on the reference), "
                        "though no group's recall moved beyond its interval; the gender & age_band equalized-odds gap has failed since "
                        "the reference (it was 0.13 on the holdout, 0.13 now).")
    assert kind == "warn"
    assert lead.tiles(lead.findings(now, REFERENCE, CALM), RESULT)[0] == ("newly failing / shifted", "age_band (no group moved)", "amber")


def test_shifted_group_is_the_new_failure() -> None:
    now = checks(("gender", 0.93, 0.03), ("age_band", 0.88, 0.37), ("gender & age_band", 0.796, 0.48))
    moved = drift(("age_band", "60+", 0.69, 0.28, True), ("age_band", "18-29", 0.76, 0.65, False),
                  ("gender & age_band", "gender=female & age_band=60+", 0.72, 0.25, True))
    sentence, kind = lead.lead_sentence("2026-07.parquet", RESULT, now, REFERENCE, moved)
    assert sentence == ("In 2026-07 recall for age_band 60+ fell to 0.28 from 0.69 on the reference — a new failure of the equalized-odds "
                        "check (gap 0.37, limit 0.1; it was 0.08 on the reference); gender & age_band newly fails the disparate-impact check "
                        "(ratio 0.796, minimum 0.8; it was 0.81 on the reference); its equalized-odds gap has failed since the reference "
                        "(it was 0.13 on the holdout, 0.48 now).")
    assert kind == "error"
    found = lead.findings(now, REFERENCE, moved)
    assert lead.focus(found) == "age_band"
    assert lead.tiles(found, RESULT)[0] == ("newly failing / shifted", "age_band: 60+ shifted; gender & age_band: female & 60+ shifted", "red")


def test_shift_while_checks_pass() -> None:
    now = checks(("gender", 0.96, 0.01), ("age_band", 0.92, 0.09))
    moved = drift(("age_band", "18-29", 0.60, 0.75, True))
    sentence, kind = lead.lead_sentence("2026-04", RESULT, now, REFERENCE, moved)
    assert sentence == ("In 2026-04 recall for age_band 18-29 rose to 0.75 from 0.60 on the reference — a shift beyond its interval, "
                        "though the checks still pass.")
    assert kind == "error"


def test_all_pass_and_not_assessable() -> None:
    now = checks(("gender", 0.96, 0.01), ("age_band", 0.92, 0.05))
    assert lead.lead_sentence("2026-03", RESULT, now, REFERENCE, drift()) == (
        "In 2026-03 every fairness check passes for gender and age_band, and no group's recall moved beyond its interval.", "ok")
    assert lead.lead_sentence("2026-09", {"status": "not assessable", "reason": "no labels in this batch yet"}, None, None, None) == (
        "In 2026-09 fairness could not be checked: its labels have not arrived yet.", "info")


def test_older_runs_use_the_bias_drift_flags() -> None:
    now = checks(("age_band", 0.94, 0.12), ("gender & age_band", 0.81, 0.13))
    flags = CALM.assign(eo_newly_failed=CALM["attribute"] == "age_band")
    found = lead.findings(now, None, flags)
    assert [(f.attribute, f.new, f.since) for f in found] == [("age_band", ["equalized_odds"], []), ("gender & age_band", [], ["equalized_odds"])]


def test_mitigation_names_the_check_it_addresses() -> None:
    now = checks(("age_band", 0.94, 0.12), ("gender & age_band", 0.81, 0.13))
    found = lead.findings(now, REFERENCE, CALM)
    assert lead.mitigation_note("age_band", "equalized_odds", found) == (
        "This suggestion addresses the failing equalized-odds check of age_band: fairlearn's ThresholdOptimizer picks per-group "
        "thresholds under the equalized odds constraint (a suggestion; nothing is applied).")
    assert lead.mitigation_note("age_band", "demographic_parity", found).startswith(
        "This suggestion was computed under the demographic parity constraint, which does not address the equalized-odds check")


@pytest.mark.slow
def test_demo_fairness_answer_for_the_shift(monitored_demo) -> None:
    from workbench.apps import prepare
    from workbench.apps._context import AppContext

    project, _ = monitored_demo
    prepared = prepare("fairness", config=str(project / "workbench.yaml"))
    runs = {json.loads((r / "drift" / catalog.VERDICT_FILE).read_text())["batch"]["name"]: r  # the latest run per batch
            for r in sorted((project / "reports").glob("*monitor*")) if (r / "fairness" / catalog.FAIRNESS_FILE).is_file()}
    run = runs["2026-07.parquet"]
    ctx = AppContext(prepared.ctx.config, {"run": run.name})
    app = fairness.FairnessApp(ctx, ctx.choices("fairness"), ctx.pick("fairness", run.name))
    sentence = re.sub("<[^>]+>", "", app.frame.lead.value).replace("&amp;", "&").replace("&#x27;", "'")
    bias = pd.read_parquet(run / "fairness" / catalog.BIAS_DRIFT_FILE)
    old = bias[(bias["attribute"] == "age_band") & (bias["group"] == "60+")].iloc[0]
    assert sentence.startswith(f"In 2026-07 recall for age_band 60+ fell to {old['batch_rate']:.2f} from {old['reference_rate']:.2f} "
                               "on the reference — a new failure of the equalized-odds check"), sentence
    reference = pd.read_parquet(run / "fairness" / catalog.REFERENCE_DISPARITY_FILE).set_index("attribute")
    was = reference.loc["gender & age_band", "equalized_odds_difference"]
    assert f"equalized-odds gap has failed since the reference (it was {was:.2f} on the holdout" in sentence
    assert app.attribute.value == "age_band"
    stored = json.loads((run / "fairness" / catalog.FAIRNESS_FILE).read_text())
    assert stored["threshold_suggestion_for"] == "age_band" and stored["threshold_suggestion_constraint"] == "equalized_odds"
    assert stored["failing_since_reference"]["gender & age_band"] == ["equalized_odds"]
    assert pd.read_parquet(run / "fairness" / catalog.THRESHOLD_FILE)["constraint"].eq("equalized_odds").all()
    app.tabs.tab.selected_index = 2
    assert "This suggestion addresses the failing equalized-odds check of age_band" in app.checks_html.value
