"""What ``POST /predict`` answers per record.

Every prediction carries its id (feedback names it), the score, and for a binary model the label at
``serving.threshold``, the calibrated probability, the confidence of that label and the conformal
prediction set; for regression the value and its conformal interval — from the confidence record of
the version that scored it (:func:`workbench.serving.routing.annotate`). Who served it (role, version,
semver), where its features came from and, after a fallback, why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.serving.routing import Routed


def payload(config: Config, routed: Routed, ids: list[str], sources: list[str], start: int, end: int, annotated: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request: its rows ``start:end`` of a scoring pass, one prediction each (see the module docstring)."""
    binary = config.model.task == "binary"
    threshold = config.serving.threshold
    rows = []
    for i, score in enumerate(routed.scores[start:end].tolist(), start=start):
        row = {"prediction_id": ids[i], "score": score}
        if binary:
            prediction_set = annotated["set"][i]
            row |= {"label": int(score >= threshold), "probability": float(annotated["prob"][i]),
                    "confidence": float(annotated["confidence"][i]),
                    "prediction_set": None if prediction_set is None else [int(v) for v in prediction_set.split(",") if v]}
        else:
            low, high = float(annotated["low"][i]), float(annotated["high"][i])
            row |= {"value": score, "confidence": None, "interval": None if low != low else [low, high]}
        row |= {"model_version": routed.version[i], "model_semver": routed.semver[i], "role": routed.role[i],
                "feature_source": sources[i]}
        if reason := routed.reason(i):
            row["fallback_reason"] = reason
        rows.append(row)
    return {"predictions": rows}
