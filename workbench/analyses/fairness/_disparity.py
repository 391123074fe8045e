"""Between-group disparity per attribute (:func:`disparity`), with fairlearn's definitions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

NOT_ASSESSABLE = "not assessable: fewer than two included groups"
COLUMNS = ["attribute", "status", "n_groups", "reference_group", "reference_selection_rate",
           "disparate_impact", "lowest_group", "demographic_parity_difference",
           "demographic_parity_ratio", "equalized_odds_difference", "equal_opportunity_difference",
           "di_passed", "eo_passed", "passed", "excluded_groups"]


def disparity(table: pd.DataFrame, *, reference_group: str | Mapping[str, str] | None = None,
              di_threshold: float = 0.8, eo_threshold: float = 0.1) -> pd.DataFrame:
    """Disparity metrics of each attribute of a :func:`group_table`, over its included groups.

    Only groups with status ``"ok"`` take part; the others are listed in
    ``excluded_groups`` with their counts. With fewer than two included groups the status
    is ``"not assessable: ..."`` and every metric is NaN (fairlearn would report a ratio of
    0 or a "perfect" difference of 0 there).

    Definitions (equal to fairlearn's ``demographic_parity_difference/ratio`` and
    ``equalized_odds_difference`` over the same groups):

    - ``disparate_impact`` (four-fifths rule): min over the other groups of their selection
      rate / the reference group's; the reference is ``reference_group`` or else the
      most-favoured group (highest selection rate), named in ``reference_group``;
      ``lowest_group`` is the group attaining the minimum.
    - ``demographic_parity_difference/ratio``: max - min and min / max of selection rates.
    - ``equalized_odds_difference``: the larger of the TPR range and the FPR range.
    - ``equal_opportunity_difference``: the TPR range (max - min).
    - ``passed``: ``disparate_impact >= di_threshold`` and ``equalized_odds_difference <=
      eo_threshold`` (``di_passed`` and ``eo_passed`` separately); pandas ``boolean``, NA
      when not assessable.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`group_table`.
    reference_group : str, mapping of attribute to group, or None
        Fixed reference group (a str applies to attributes that have that group).
    di_threshold, eo_threshold : float
        Pass marks for disparate impact (at least) and equalized-odds difference (at most).
    """
    import pandas as pd

    rows = [_attribute(name, part, reference_group, di_threshold, eo_threshold)
            for name, part in table.groupby("attribute", sort=False)]
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.astype({c: "boolean" for c in ("di_passed", "eo_passed", "passed")})


def _attribute(name: str, part: pd.DataFrame, reference_group: Any, di_threshold: float,
               eo_threshold: float) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    ok = part[part["status"] == "ok"].set_index("group")
    excluded = ", ".join(f"{g} ({c} rows; {s.removeprefix('excluded: ')})" for g, c, s in
                         part.loc[part["status"] != "ok", ["group", "count", "status"]].itertuples(index=False))
    row: dict[str, Any] = dict.fromkeys(COLUMNS, np.nan)
    row.update(attribute=name, n_groups=len(ok), excluded_groups=excluded, reference_group=None,
               lowest_group=None, di_passed=pd.NA, eo_passed=pd.NA, passed=pd.NA)
    if len(ok) < 2:
        return {**row, "status": NOT_ASSESSABLE}
    sel, tpr, fpr = ok["selection_rate"], ok["tpr"], ok["fpr"]
    ref = reference_group.get(name) if isinstance(reference_group, Mapping) else reference_group
    ref = ref if ref in ok.index else sel.idxmax()
    others = sel.drop(ref) / sel[ref] if sel[ref] > 0 else sel.drop(ref) * np.nan
    eo = max(tpr.max() - tpr.min(), fpr.max() - fpr.min())
    di = float(others.min())
    row.update(status="assessed", reference_group=ref, reference_selection_rate=float(sel[ref]),
               disparate_impact=di, lowest_group=others.idxmin() if others.notna().any() else None,
               demographic_parity_difference=float(sel.max() - sel.min()),
               demographic_parity_ratio=float(sel.min() / sel.max()) if sel.max() > 0 else np.nan,
               equalized_odds_difference=float(eo), equal_opportunity_difference=float(tpr.max() - tpr.min()),
               di_passed=bool(di >= di_threshold), eo_passed=bool(eo <= eo_threshold))
    row["passed"] = row["di_passed"] and row["eo_passed"]
    return row
