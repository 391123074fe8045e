"""Canary releases: route a fixed share of each batch to the challenger, deterministically by id.

A row goes to the challenger when the first 8 bytes of ``sha256("<project>:<id>")``, read as a
number in [0, 1), fall below ``canary.share``: the same customer always lands in the same
arm, whatever the batch's order or size, and arms do not depend on the model versions.
Rows without an id column are routed by their position (stated in the result).
Once labels arrive, :func:`workbench.analyses.canary.compare` puts the arms side by side.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from workbench.analyses.canary import CHALLENGER, CHAMPION

__all__ = ["CHALLENGER", "CHAMPION", "route"]

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd



def route(keys: pd.Series, share: float, *, salt: str) -> np.ndarray:
    """Boolean mask: True for rows routed to the challenger.

    Parameters
    ----------
    keys : pandas.Series
        Row ids (any type; compared as strings).
    share : float
        Share of ids routed to the challenger, in [0, 1). Raising it only adds ids.
    salt : str
        Separates projects (the project name), so two models do not share one split.
    """
    import numpy as np

    if share <= 0:
        return np.zeros(len(keys), dtype=bool)
    # hashlib over each key (not pandas' hash_pandas_object): stable across pandas versions and platforms
    points = [int.from_bytes(hashlib.sha256(f"{salt}:{_text(key)}".encode("utf-8", "surrogatepass")).digest()[:8], "big") / 2**64
              for key in keys.tolist()]
    return np.asarray(points) < share


def _text(key: object) -> str:
    """A key as text; an integral float (an int id column that holds a missing value) hashes like the int."""
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)
