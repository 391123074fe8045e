"""Argument checks and conversion of labels, scores and frame columns to float arrays."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

TASKS = ("binary", "regression")


def _check_task(task: str, caller: str) -> None:
    if task not in TASKS:
        raise ParameterError(f"The 'task' parameter of {caller} must be 'binary' or 'regression'. Got {task!r} instead.")


def _check_int(value: int, name: str, caller: str, least: int) -> None:
    if not isinstance(value, int) or value < least:
        raise ParameterError(f"The {name!r} parameter of {caller} must be an int >= {least}. Got {value!r} instead.")


def _floats(values: Any, what: str) -> np.ndarray:
    """``values`` as a 1-D float array (missing -> NaN); DataError naming ``what`` when not numeric."""
    import numpy as np
    import pandas as pd

    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(float).ravel()
    try:
        series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object).ravel())
        return series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be numeric. Fix: pass numbers (missing values as NaN).") from None


def _finite(values: Any, what: str) -> tuple[np.ndarray, int]:
    """The finite values and how many were dropped; DataError when none is left."""
    import numpy as np

    x = _floats(values, what)
    keep = np.isfinite(x)
    if not keep.any():
        raise DataError(f"{what}: no finite value among {x.size} rows. Fix: pass the model's scores for the rows.")
    return x[keep], int(x.size - keep.sum())


def _labelled(y: Any, s: Any, task: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows with both a label and a score; binary labels must be 0/1."""
    import numpy as np

    y, s = _floats(y, f"{source}: labels"), _floats(s, f"{source}: scores")
    if y.size != s.size:
        raise DataError(f"{source}: {y.size} labels but {s.size} scores. Fix: pass row-aligned labels and scores.")
    keep = np.isfinite(y) & np.isfinite(s)
    y, s = y[keep], s[keep]
    bad = np.setdiff1d(np.unique(y), [0.0, 1.0]) if task == "binary" else []
    if len(bad):
        raise DataError(f"{source}: binary labels must be 0 or 1; found {[float(v) for v in bad[:5]]}. "
                        "Fix: encode the positive class as 1.")
    return y, (np.clip(s, 0.0, 1.0) if task == "binary" else s)


def _require(frame: pd.DataFrame, columns: list[str], source: str) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}. Fix: pass frames with the features, label and score columns.")


def _column(frame: pd.DataFrame, name: str, source: str) -> np.ndarray:
    return _floats(frame[name], f"{source}: column {name!r}")
