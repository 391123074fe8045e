"""Canary arms side by side, once labels arrive.

Each arm's primary metric on its own rows, and a paired comparison of challenger against
champion on the canary rows: the champion scores every row (``champion_score``), so both
models are judged on the same customers. Routing itself is :mod:`workbench.governance.canary`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses import evaluation

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CHALLENGER, CHAMPION = "challenger", "champion"  # the arm names (``canary_arm`` in the predictions)


def compare(predictions: pd.DataFrame, task: str, *, seed: int = 0, n_bootstrap: int = 200) -> dict[str, Any]:
    """Arms side by side on the labelled rows of a canary batch (``model_role``, ``score``, ``champion_score``, ``label``)."""
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
        verdict = evaluation.comparison_verdict(out["challenger_vs_champion"])
        out["verdict"] = verdict if verdict.startswith("no") else f"challenger {verdict}"
    elif not labelled.empty:
        out["status"] = "too few labelled canary rows to compare (need 30 with both classes)"
    return out


def _measurable(y: Any, task: str) -> bool:
    return len(y) > 1 and (task != "binary" or len(set(y.tolist())) == 2)
