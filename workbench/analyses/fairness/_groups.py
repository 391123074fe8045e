"""Per-group confusion counts, rates and bootstrap intervals (:func:`group_table`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

MISSING = "(missing)"
RATES = ("selection_rate", "tpr", "fpr", "accuracy", "error_rate")
COLUMNS = ["attribute", "group", "count", "positives"] + [
    f"{r}{s}" for r in RATES for s in ("", "_low", "_high")] + ["status"]


def group_table(y_true: Any, y_pred: Any, sensitive: pd.DataFrame | pd.Series, *, scores: Any = None,
                threshold: float = 0.5, min_group: int = 30, missing: str = "category",
                n_bootstrap: int = 200, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Confusion-matrix rates of every group of each sensitive column and of their intersection.

    Each group's confusion matrix is counted with one ``np.bincount`` over
    ``group code x 4 cells``. Intervals are percentile bootstraps that resample each group's
    four cell counts from a multinomial with the observed cell shares (a bootstrap stratified
    by group: the group size stays fixed), so they cost nothing per row.

    Parameters
    ----------
    y_true : array-like of 0/1
        Labels.
    y_pred : array-like of 0/1 or None
        Decisions; None when ``scores`` is given.
    sensitive : DataFrame or Series
        One column per sensitive attribute. With two or more columns, their intersection is
        an extra attribute named ``"a & b"`` with groups like ``"a=x & b=y"``.
    scores : array-like, optional
        Positive-class scores, thresholded as ``scores >= threshold`` when ``y_pred`` is None.
    min_group : int, default 30
        Groups with fewer rows are reported but excluded from disparity metrics.
    missing : {"category", "error"}, default "category"
        Missing sensitive values become a ``"(missing)"`` group, or raise :class:`DataError`.
    n_bootstrap, confidence, seed
        Bootstrap replicates (0 for no intervals), interval level and random seed.

    Returns
    -------
    pandas.DataFrame
        ``attribute, group, count, positives`` (rows with label 1), then ``selection_rate,
        tpr, fpr, accuracy, error_rate`` each with ``_low`` and ``_high``, and ``status``:
        ``"ok"``, ``"excluded: fewer than {min_group} rows"`` or ``"excluded: no positive
        labels"``. Rates that cannot be computed (no positives for ``tpr``) are NaN.
    """
    import numpy as np
    import pandas as pd

    frame = sensitive.to_frame() if isinstance(sensitive, pd.Series) else sensitive
    cells = _cells(y_true, y_pred, scores, threshold, len(frame))
    _check_options(missing, confidence, n_bootstrap)
    codes, levels = zip(*(_encode(frame[c], c, missing) for c in frame.columns), strict=True)
    attributes = [(str(c), code, [str(v) for v in lev]) for c, code, lev in zip(frame.columns, codes, levels, strict=True)]
    if len(attributes) > 1:
        attributes.append(_intersection(list(frame.columns), codes, levels))
    rng = np.random.default_rng(seed)
    parts = [_attribute_rows(name, code, labels, cells, min_group, n_bootstrap, confidence, rng)
             for name, code, labels in attributes]
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The five rates from ``(..., 4)`` counts ordered TN, FP, FN, TP (NaN where undefined)."""
    import numpy as np

    tn, fp, fn, tp = (counts[..., i].astype(float) for i in range(4))
    n = tn + fp + fn + tp
    div = lambda a, b: np.divide(a, b, out=np.full_like(a, np.nan), where=b > 0)  # noqa: E731
    acc = div(tp + tn, n)
    return {"selection_rate": div(fp + tp, n), "tpr": div(tp, tp + fn), "fpr": div(fp, fp + tn),
            "accuracy": acc, "error_rate": 1.0 - acc}


def _cells(y_true: Any, y_pred: Any, scores: Any, threshold: float, n: int) -> np.ndarray:
    """Cell index per row: 0 TN, 1 FP, 2 FN, 3 TP."""
    import numpy as np

    if y_pred is None:
        if scores is None:
            raise DataError("group_table needs y_pred or scores. Fix: pass y_pred (0/1) or scores= and threshold=.")
        y_pred = np.asarray(scores, dtype=float) >= threshold
    arrays = {"y_true": np.asarray(y_true), "y_pred": np.asarray(y_pred)}
    for name, a in arrays.items():
        if a.shape != (n,):
            raise DataError(f"{name} has shape {a.shape} but sensitive has {n} rows. Fix: pass one value per row.")
        if not np.isin(a, (0, 1)).all():
            raise DataError(f"{name} must hold only 0 and 1. Fix: encode the positive class as 1 "
                            "(threshold scores with scores= and threshold=).")
    return (2 * arrays["y_true"].astype(np.int64) + arrays["y_pred"].astype(np.int64)).astype(np.int64)


def _check_options(missing: str, confidence: float, n_bootstrap: int) -> None:
    if missing not in ("category", "error"):
        raise ParameterError(f"The 'missing' parameter of group_table must be 'category' or 'error'. Got {missing!r} instead.")
    if not 0 < confidence < 1:
        raise ParameterError(f"The 'confidence' parameter of group_table must be in (0, 1). Got {confidence!r} instead.")
    if n_bootstrap < 0:
        raise ParameterError(f"The 'n_bootstrap' parameter of group_table must be >= 0. Got {n_bootstrap!r} instead.")


def _encode(series: pd.Series, column: Any, missing: str) -> tuple[np.ndarray, list[Any]]:
    """Integer codes and levels; missing values get the last code, ``"(missing)"``."""
    import pandas as pd

    codes, levels = pd.factorize(series, sort=True, use_na_sentinel=True)
    n_missing = int((codes < 0).sum())
    levels = list(levels)
    if n_missing:
        if missing == "error":
            raise DataError(f"sensitive column '{column}' has {n_missing} missing values. Fix: fill them "
                            f"(e.g. with 'unknown') or pass missing='category' to report them as a "
                            f"'{MISSING}' group.")
        codes[codes < 0] = len(levels)
        levels.append(MISSING)
    return codes.astype("int64"), levels


def _intersection(columns: list[Any], codes: tuple[np.ndarray, ...], levels: tuple[list[Any], ...]) -> tuple[str, np.ndarray, list[str]]:
    """Mixed-radix code of every combination, labelled ``"a=x & b=y"``."""
    import itertools

    import numpy as np

    code = np.zeros_like(codes[0])
    for c, lev in zip(codes, levels, strict=True):
        code = code * len(lev) + c
    labels = [" & ".join(f"{col}={v}" for col, v in zip(columns, combo, strict=True))
              for combo in itertools.product(*levels)]
    return " & ".join(map(str, columns)), code, labels


def _attribute_rows(name: str, code: np.ndarray, labels: list[str], cells: np.ndarray, min_group: int,
                    n_bootstrap: int, confidence: float, rng: np.random.Generator) -> pd.DataFrame:
    """One row per observed group of one attribute."""
    import numpy as np

    counts = np.bincount(code * 4 + cells, minlength=4 * len(labels)).reshape(len(labels), 4)
    return count_rows(name, counts, labels, min_group, n_bootstrap, confidence, rng)


def count_rows(name: str, counts: np.ndarray, labels: list[str], min_group: int, n_bootstrap: int, confidence: float,
               rng: np.random.Generator) -> pd.DataFrame:
    """One row per group of ``counts`` (TN, FP, FN, TP per group, groups in label order) that has rows."""
    import numpy as np
    import pandas as pd

    seen = counts.sum(axis=1) > 0
    counts, labels = counts[seen], [lab for lab, s in zip(labels, seen, strict=True) if s]
    n, pos = counts.sum(axis=1), counts[:, 2] + counts[:, 3]
    out = {"attribute": name, "group": labels, "count": n, "positives": pos}
    point, (low, high) = rates(counts), _intervals(counts, n_bootstrap, confidence, rng)
    for r in RATES:
        out.update({r: point[r], f"{r}_low": low[r], f"{r}_high": high[r]})
    out["status"] = np.where(n < min_group, f"excluded: fewer than {min_group} rows",
                             np.where(pos == 0, "excluded: no positive labels", "ok"))
    return pd.DataFrame(out)


def _intervals(counts: np.ndarray, n_bootstrap: int, confidence: float,
               rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Percentile bounds from multinomial resamples of each group's cell counts."""
    import numpy as np

    nan = np.full(len(counts), np.nan)
    if n_bootstrap == 0:
        return {r: nan for r in RATES}, {r: nan for r in RATES}
    n = counts.sum(axis=1)
    draws = rng.multinomial(n, counts / n[:, None], size=(n_bootstrap, len(counts)))
    alpha = (1 - confidence) / 2
    low, high = {}, {}
    for r, values in rates(draws).items():
        ok = np.isfinite(values).any(axis=0)
        low[r], high[r] = nan.copy(), nan.copy()
        if ok.any():
            low[r][ok], high[r][ok] = np.nanquantile(values[:, ok], [alpha, 1 - alpha], axis=0)
    return low, high
