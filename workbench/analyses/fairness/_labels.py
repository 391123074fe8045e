"""Labels a fairness audit can use: 0/1 with both classes present (:func:`label_problem`, :func:`binary_labels`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

NOT_ASSESSABLE = "not assessable"
_ONE = ("1", "1.0", "True")
_ZERO = ("0", "0.0", "False")


def label_problem(y_true: Any) -> str | None:
    """Why rates such as TPR and FPR cannot be computed on these labels, or None when they can.

    Labels must be 0/1 (ints, floats or booleans) and, once missing values are dropped,
    hold both classes: a batch whose labels are all 0 (or all 1) has no TPR (or no FPR) in
    any group. The reason is one line, for a result's ``reason`` or ``status`` field.
    """
    import pandas as pd

    y = pd.Series(y_true, dtype=object).dropna()
    if y.empty:
        return "no labels"
    levels = sorted(set(map(str, y.unique())))
    other = [v for v in levels if v not in _ONE + _ZERO]
    if other:
        shown = ", ".join(repr(v) for v in other[:5]) + (f" and {len(other) - 5} more" if len(other) > 5 else "")
        return f"labels must be 0 or 1, found {shown}. Fix: encode the positive class as 1 in data.target"
    classes = {int(v in _ONE) for v in levels}
    if len(classes) == 1:
        return f"every labelled row has label {classes.pop()} (one class), so TPR and FPR cannot both be computed"
    return None


def binary_labels(y_true: Any) -> np.ndarray:
    """0/1 ints of labels :func:`label_problem` accepts (1, 1.0 and True are 1)."""
    import numpy as np
    import pandas as pd

    return np.asarray(pd.Series(y_true, dtype=object).map(lambda v: str(v) in _ONE), dtype=int)
