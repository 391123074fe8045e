"""Bias drift: has a group's rate moved between a reference and a batch (:func:`bias_drift`)?"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.analyses.fairness._disparity import disparity
from workbench.analyses.fairness._groups import RATES
from workbench.exceptions import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

COLUMNS = ["attribute", "group", "metric", "relative", "reference_rate", "batch_rate", "reference",
           "reference_low", "reference_high", "batch", "batch_low", "batch_high", "gap", "moved",
           "status", "di_newly_failed", "eo_newly_failed"]


def bias_drift(reference_table: pd.DataFrame, batch_table: pd.DataFrame, *, metric: str = "tpr",
               relative: bool = True, di_threshold: float = 0.8, eo_threshold: float = 0.1) -> pd.DataFrame:
    """Compare one rate per group between two :func:`group_table` catalog.

    The compared value is, with ``relative=True`` (default), the group's rate minus the
    median rate of its attribute's included (``"ok"``) groups in the same table: a change
    that hits every group alike (concept drift, a new price list) is not bias, and the
    median is a centre that a shift in one group does not drag along (the mean of all
    rows would make the untouched groups look as if they had moved). With
    ``relative=False`` it is the group's rate itself. The interval is the group's bootstrap
    interval shifted by the same amount (the centre is treated as fixed).

    The rule: a group has ``moved`` when its batch value lies outside the reference
    interval AND ``|batch - reference|`` exceeds the reference interval's half-width plus
    the batch interval's half-width, so both samples' noise counts and two draws from the
    same population rarely flag. Groups excluded (or absent) in either table are never
    ``moved``; ``status`` says why.

    ``di_newly_failed`` / ``eo_newly_failed`` (same on every row of an attribute) are True
    when the attribute passed the disparate-impact / equalized-odds check of
    :func:`disparity` on the reference and fails it on the batch.

    Returns
    -------
    pandas.DataFrame
        ``attribute, group, metric, relative, reference_rate, batch_rate`` (the group's
        rates), ``reference, reference_low, reference_high, batch, batch_low, batch_high``
        (the compared values), ``gap`` (batch - reference), ``moved, status,
        di_newly_failed, eo_newly_failed``; one row per group in either table.
    """
    if metric not in RATES:
        raise ParameterError(f"The 'metric' parameter of bias_drift must be one of "
                             f"{', '.join(RATES)}. Got {metric!r} instead.")
    sides = [_side(t, metric, relative, name) for t, name in ((reference_table, "reference"), (batch_table, "batch"))]
    out = sides[0].merge(sides[1], on=["attribute", "group"], how="outer", sort=False)
    out["metric"], out["relative"], out["gap"] = metric, relative, out["batch"] - out["reference"]
    half = (out["reference_high"] - out["reference_low"]) / 2 + (out["batch_high"] - out["batch_low"]) / 2
    outside = (out["batch"] < out["reference_low"]) | (out["batch"] > out["reference_high"])
    both_ok = (out["reference_status"] == "ok") & (out["batch_status"] == "ok")
    out["moved"] = (both_ok & outside & (out["gap"].abs() > half)).astype(bool)
    out["status"] = ["ok" if good else f"reference: {r if isinstance(r, str) else 'absent'}; "
                     f"batch: {b if isinstance(b, str) else 'absent'}"
                     for good, r, b in zip(both_ok, out["reference_status"], out["batch_status"], strict=True)]
    d_ref = disparity(reference_table, di_threshold=di_threshold, eo_threshold=eo_threshold).set_index("attribute")
    d_bat = disparity(batch_table, di_threshold=di_threshold, eo_threshold=eo_threshold).set_index("attribute")
    for flag in ("di", "eo"):
        was, now = d_ref[f"{flag}_passed"], d_bat[f"{flag}_passed"].reindex(d_ref.index)
        newly = d_ref.index[(was.fillna(False) & ~now.fillna(True)).to_numpy(bool)]
        out[f"{flag}_newly_failed"] = out["attribute"].isin(newly)
    return out[COLUMNS]


def _side(table: pd.DataFrame, metric: str, relative: bool, name: str) -> pd.DataFrame:
    """One table's compared value and interval per group, under ``name``-prefixed columns."""
    t = table
    shift = 0.0
    if relative:
        ok = t[metric].where(t["status"] == "ok")
        shift = ok.groupby(t["attribute"], sort=False).transform("median")
    return t[["attribute", "group"]].assign(**{
        f"{name}_rate": t[metric], name: t[metric] - shift, f"{name}_low": t[f"{metric}_low"] - shift,
        f"{name}_high": t[f"{metric}_high"] - shift, f"{name}_status": t["status"]})
