"""Compare explanations: highest-risk rows and how importance moved between two datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.explain._explanation import ExplainError, Explanation

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def top_rows(expl: Explanation, scores: Any, k: int = 5) -> pd.Index:
    """Index labels of the ``k`` explained rows with the highest ``scores``.

    ``scores`` is a Series aligned on the frame's index (e.g. predicted churn probability for
    every row) or an array with one score per explained row.
    """
    import numpy as np
    import pandas as pd

    index = expl.data.index
    if isinstance(scores, pd.Series):
        aligned = scores.reindex(index)
    else:
        arr = np.asarray(scores, dtype=float)
        if len(arr) != len(index):
            raise ExplainError(f"top_rows got {len(arr)} scores for {len(index)} explained rows. "
                               "Fix: pass a Series indexed like the frame, or one score per explained row.")
        aligned = pd.Series(arr, index=index)
    return aligned.sort_values(ascending=False, kind="stable").head(k).index


def explanation_drift(reference: Explanation, batch: Explanation,
                      data_drift: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per feature: importance in reference and batch, change, and (with data drift) its impact.

    Parameters
    ----------
    reference, batch : Explanation
        Same model, explained on the reference set and on a batch.
    data_drift : pandas.DataFrame, optional
        A drift table with columns ``column``, ``effect_size``, ``drifted``. Adds
        ``reference_share`` (the feature's share of total reference importance), ``effect_size``,
        ``drifted`` and ``drift_impact = effect_size * reference_share``: how much a feature
        moves AND how much the model relies on it.

    Returns
    -------
    pandas.DataFrame
        Indexed by feature: ``reference``, ``batch``, ``change`` (batch - reference),
        ``relative_change`` (change / reference, NaN when the reference is 0); sorted by
        ``drift_impact`` when a drift table is given, else by ``|change|``, largest first.
    """
    import numpy as np
    import pandas as pd

    if reference.output != batch.output:
        raise ExplainError(f"Cannot compare explanations of different outputs ({reference.output!r} vs "
                           f"{batch.output!r}). Fix: explain the same model on both datasets.")
    ref, new = reference.importance(), batch.importance()
    table = pd.DataFrame({"reference": ref, "batch": new}).reindex(list(dict.fromkeys([*ref.index, *new.index])))
    table = table.fillna(0.0)
    table["change"] = table["batch"] - table["reference"]
    table["relative_change"] = table["change"] / table["reference"].replace(0.0, np.nan)
    table.index.name = "feature"
    if data_drift is None:
        return table.iloc[np.argsort(-table["change"].abs().to_numpy(), kind="stable")]
    missing = {"column", "effect_size", "drifted"} - set(data_drift.columns)
    if missing:
        raise ExplainError(f"The 'data_drift' parameter of explanation_drift lacks columns {sorted(missing)}. "
                           "Fix: pass the drift table with column, effect_size and drifted.")
    drift = data_drift.drop_duplicates("column").set_index("column")
    total = table["reference"].sum()
    table["reference_share"] = table["reference"] / total if total > 0 else 0.0
    table["effect_size"] = drift["effect_size"].reindex(table.index).astype(float)
    flags = drift["drifted"].reindex(table.index)
    table["drifted"] = [bool(v) if pd.notna(v) else False for v in flags]
    table["drift_impact"] = table["effect_size"] * table["reference_share"]
    return table.sort_values("drift_impact", ascending=False, kind="stable", na_position="last")
