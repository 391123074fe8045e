"""Each prediction's calibrated confidence and conformal set or interval, from a version's stored confidence record.

The record is what the evaluate phase fitted on the holdout (``confidence.json``, kept on the
registered version as a tag): ``{"calibration": Calibrator.to_dict() | None, "conformal":
Conformal.to_dict() | None}``. The batch score phase and the online service call
:func:`annotate` with the same record, so a prediction carries the same confidence wherever it
was made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.estimation._calibration import Calibrator
from workbench.analyses.estimation._conformal import Conformal

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


def annotate(scores: Any, record: dict[str, Any] | None, *, task: str, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Per prediction: ``prob`` (calibrated P(y=1)), ``confidence``, the conformal set or interval, and ``uncertainty``.

    Parameters
    ----------
    scores : array-like
        The model's raw scores (binary: P(y=1); regression: the predicted value).
    record : dict or None
        The version's confidence record; None (a version registered before calibration existed)
        gives the raw score as ``prob`` and no set.
    task : {"binary", "regression"}
    threshold : float
        Binary decision threshold (a score at or above it is label 1).

    Returns
    -------
    dict of arrays
        Binary: ``prob``, ``confidence`` (the calibrated probability of the predicted label),
        ``set`` ("0", "1", "0,1" or "" for an empty set), ``set_size`` (-1 without a conformal
        record) and ``uncertainty`` in [0, 1] (1 at the threshold, 0 at certainty: what the review
        queue ranks by). Regression: ``low``, ``high`` (NaN without a record) and ``uncertainty``
        (NaN: split-conformal intervals have one width, so there is nothing to rank).
    """
    import numpy as np

    s = np.asarray(scores, dtype=float)
    record = record or {}
    conformal = Conformal.from_dict(record["conformal"]) if record.get("conformal") else None
    if task == "regression":
        low, high = conformal.intervals(s) if conformal else (np.full(s.shape, np.nan), np.full(s.shape, np.nan))
        return {"low": low, "high": high, "uncertainty": np.full(s.shape, np.nan)}
    prob = Calibrator.from_dict(record["calibration"]).apply(s) if record.get("calibration") else np.clip(s, 0.0, 1.0)
    label = s >= threshold
    confidence = np.where(label, prob, 1.0 - prob)
    # distance of the calibrated probability from the threshold, scaled to [0, 1] on the side it lies
    span = np.where(prob >= threshold, 1.0 - threshold, threshold)
    uncertainty = 1.0 - np.clip(np.abs(prob - threshold) / span, 0.0, 1.0)
    if conformal is None:
        return {"prob": prob, "confidence": confidence, "set": np.full(s.shape, None, dtype=object),
                "set_size": np.full(s.shape, -1), "uncertainty": uncertainty}
    member = conformal.sets(s)
    names = np.array(["", "1", "0", "0,1"], dtype=object)  # index: 2 * (0 in set) + (1 in set)
    return {"prob": prob, "confidence": confidence, "set": names[2 * member[:, 0] + member[:, 1]],
            "set_size": member.sum(axis=1).astype(int), "uncertainty": uncertainty}
