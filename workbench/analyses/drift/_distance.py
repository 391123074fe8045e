"""Distances between two histograms over the same bins: PSI and Jensen-Shannon distance."""

from __future__ import annotations

import numpy as np

PSI_EPSILON = 1e-4  # an empty bin counts as this share, so a level seen on one side only stays finite


def psi(reference: np.ndarray, batch: np.ndarray) -> float:
    """Population stability index, ``sum((b - r) * ln(b / r))`` over bin shares.

    Shares of 0 are replaced by :data:`PSI_EPSILON` (1e-4, the value evidently uses for empty
    bins) before the logarithm; shares are not renormalised afterwards.
    """
    ref = np.maximum(reference / reference.sum(), PSI_EPSILON)
    bat = np.maximum(batch / batch.sum(), PSI_EPSILON)
    return float(np.sum((bat - ref) * np.log(bat / ref)))


def jensen_shannon(reference: np.ndarray, batch: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, so in [0, 1]) between the two histograms."""
    from scipy.spatial import distance

    return float(distance.jensenshannon(reference / reference.sum(), batch / batch.sum(), base=2))
