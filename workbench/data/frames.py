"""Frames as a model sees them: feature columns, the label, the label check and the holdout split."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.exceptions import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.config import Config
    from workbench.data.dataset import Schema


def features(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The model's input columns, numeric as float and categorical as strings (NaN kept)."""
    import numpy as np
    import pandas as pd

    out = {}
    for col in schema.features:
        series = frame[col]
        if col in schema.numeric:
            out[col] = pd.to_numeric(series, errors="coerce").astype(float)
        else:
            out[col] = series.astype(object).map(lambda v: np.nan if pd.isna(v) else str(v))
    return pd.DataFrame(out, index=frame.index)


def target(frame: pd.DataFrame, schema: Schema, task: str) -> pd.Series:
    """The label column, as int for binary tasks and float for regression."""
    y = frame[schema.target]
    return y.astype(int) if task == "binary" else y.astype(float)


def check_target(frame: pd.DataFrame, schema: Schema, task: str, *, source: str) -> None:
    """Refuse labels the task cannot use: binary needs 0/1 (or booleans) with both classes present."""
    import pandas as pd

    y = frame[schema.target].dropna()
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(y):
            raise DataError(f"{source}: column '{schema.target}' (data.target) must be numeric for model.task "
                            "'regression'. Fix: point data.target at a numeric column or set model.task: binary.")
        return
    levels = sorted(map(str, y.unique()))
    if not set(levels) <= {"0", "1", "True", "False"} or len(levels) != 2:
        raise DataError(f"{source}: column '{schema.target}' (data.target) must hold the two classes 0 and 1 for "
                        f"model.task 'binary'; found {', '.join(levels[:10])}. Fix: encode the positive class as 1.")


def split(frame: pd.DataFrame, schema: Schema, config: Config, *, source: str = "data.reference") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deterministic train/holdout split (stratified for binary tasks).

    A binary split must leave at least :data:`MIN_PER_CLASS` rows of each class in each part
    (the model and the holdout metrics need both classes); otherwise :class:`DataError` names the
    class counts and the fix, instead of scikit-learn's error from inside the split.
    """
    from sklearn.model_selection import train_test_split

    labelled = frame[frame[schema.target].notna()]
    stratify = labelled[schema.target] if config.model.task == "binary" else None
    try:
        train, holdout = train_test_split(
            labelled, test_size=config.model.test_size, random_state=config.model.seed, stratify=stratify
        )
    except ValueError:  # too few rows for the split (or for stratifying)
        if stratify is None:
            raise DataError(f"{source}: {len(labelled)} labelled rows cannot be split with model.test_size "
                            f"{config.model.test_size}. Fix: add rows to the reference.") from None
        train, holdout = labelled.iloc[0:0], labelled.iloc[0:0]
    if stratify is not None:
        _require_classes(labelled, train, holdout, schema.target, config.model.test_size, source)
    return train, holdout


MIN_PER_CLASS = 2  # rows of each class in the training part and in the holdout


def _require_classes(labelled: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, target: str,
                     test_size: float, source: str) -> None:
    counts = {name: part[target].astype(str).value_counts() for name, part in (("train", train), ("holdout", holdout))}
    classes = sorted(labelled[target].astype(str).unique())
    short = [f"{name} {c}: {int(n.get(c, 0))}" for name, n in counts.items() for c in classes if n.get(c, 0) < MIN_PER_CLASS]
    if short:
        total = labelled[target].astype(str).value_counts()
        raise DataError(
            f"{source}: too few rows to split with model.test_size {test_size}: each class needs at least "
            f"{MIN_PER_CLASS} rows in the training part and in the holdout (short: {', '.join(short)}; "
            f"labelled rows per class: {', '.join(f'{c}: {int(total.get(c, 0))}' for c in classes)}). "
            "Fix: add rows of the rarer class to the reference, or change model.test_size."
        )
