"""The verdict: concept and feature drift summarised from the three analyses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def concept_verdict(prediction: dict[str, Any], performance: dict[str, Any] | None,
                    residuals: pd.DataFrame | None) -> dict[str, Any]:
    """Summarise the three analyses; ``reasons`` lists only what crossed a threshold.

    Concept drift when prediction PSI >= its threshold or performance degraded; feature drift
    when any feature drifted by residuals.

    Returns
    -------
    dict
        ``concept_drift, feature_drift, drifted_features, prediction_drift,
        performance_degraded, labels`` (the performance status, ``"no labels"`` without one),
        ``reasons`` and ``notes`` (what could not be assessed).
    """
    reasons, notes = [], []
    p = prediction
    if p["drift"]:
        reasons.append(f"prediction drift: score PSI {p['psi']:.3f} >= {p['threshold']:g}")
    elif p.get("status", "ok") != "ok":
        notes.append(f"prediction drift not assessed: {p['status']} ({p['reason']})")
    status = performance.get("status", "ok") if performance else "no labels"
    degraded = bool(performance and performance.get("degraded"))
    if degraded:
        q = performance
        reasons.append(f"performance degraded: {q['metric']} {q['reference']:.3f} -> {q['batch']:.3f} (difference "
                       f"{q['difference']:+.3f}, {q['confidence']:.0%} interval [{q['low']:+.3f}, {q['high']:+.3f}])")
    elif status != "ok":
        reason = (performance or {}).get("reason")
        notes.append(f"performance not assessed: {status}" + (f" ({reason})" if reason else ""))
    drifted: list[str] = []
    if residuals is None:
        notes.append("feature drift by residuals not assessed (no labelled batch)")
    else:
        hits = residuals[residuals["drifted"].astype(bool)]
        drifted = [str(f) for f in hits["feature"]]
        if drifted:
            detail = ", ".join(f"{r.feature} (score {r.score:.3f}, p={r.p_value:.2g}, worst bin {r.worst_bin})"
                               for r in hits.itertuples())
            reasons.append(f"feature drift by residuals: {detail}")
    return {"concept_drift": bool(p["drift"]) or degraded, "feature_drift": bool(drifted), "drifted_features": drifted,
            "prediction_drift": bool(p["drift"]), "performance_degraded": degraded, "labels": status,
            "reasons": reasons, "notes": notes}
