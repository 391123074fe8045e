"""Canary releases: route a fixed share of each batch to the challenger, deterministically by id.

A row goes to the challenger when the first 8 bytes of ``sha256("<project>:<id>")``, read as a
number in [0, 1), fall below ``canary.share``: the same customer always lands in the same
arm, whatever the batch's order or size, and arms do not depend on the model versions.
Rows without an id column are routed by their position (stated in the result).
Once labels arrive, :func:`compare` puts the arms side by side: each arm's primary metric on
its own rows, and a paired comparison of challenger against champion on the canary rows
(the champion scores every row, so both models are judged on the same customers).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

CHALLENGER, CHAMPION = "challenger", "champion"


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
    points = [int.from_bytes(hashlib.sha256(f"{salt}:{key}".encode()).digest()[:8], "big") / 2**64 for key in keys.astype(str)]
    return np.asarray(points) < share


def compare(predictions: pd.DataFrame, task: str, *, seed: int = 0, n_bootstrap: int = 200) -> dict[str, Any]:
    """Arms side by side on the labelled rows of a canary batch (``model_role``, ``score``, ``champion_score``, ``label``)."""
    import numpy as np

    from workbench import evaluation

    primary = evaluation.PRIMARY[task]
    metric = evaluation.metric_functions(task)[primary]
    labelled = predictions[predictions["label"].notna()]
    arms: dict[str, Any] = {}
    for arm in (CHAMPION, CHALLENGER):
        rows = predictions[predictions["canary_arm"] == arm]
        lab = labelled[labelled["canary_arm"] == arm]
        y = lab["label"].astype(int if task == "binary" else float).to_numpy()
        value = float(metric(y, lab["score"].to_numpy())) if _measurable(y, task) else None
        arms[arm] = {"rows": len(rows), "labelled_rows": len(lab), "mean_score": float(rows["score"].mean()) if len(rows) else None,
                     primary: value}
    out: dict[str, Any] = {"primary_metric": primary, "arms": arms, "status": "no labels yet" if labelled.empty else "compared"}
    canary = labelled[labelled["canary_arm"] == CHALLENGER]
    y = canary["label"].astype(int if task == "binary" else float).to_numpy()
    if _measurable(y, task) and len(canary) >= 30:
        out["challenger_vs_champion"] = evaluation.paired_difference(
            y, canary["score"].to_numpy(), canary["champion_score"].to_numpy(), task, n_bootstrap=n_bootstrap, seed=seed)
        sign = 1 if evaluation.HIGHER_IS_BETTER[primary] else -1
        low, high = sorted(sign * np.asarray([out["challenger_vs_champion"]["low"], out["challenger_vs_champion"]["high"]]))
        out["verdict"] = "challenger better" if low > 0 else "challenger worse" if high < 0 else "no significant difference"
    elif not labelled.empty:
        out["status"] = "too few labelled canary rows to compare (need 30 with both classes)"
    return out


def _measurable(y: Any, task: str) -> bool:
    return len(y) > 1 and (task != "binary" or len(set(y.tolist())) == 2)
