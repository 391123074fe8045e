"""The outcome of a comparison: one row per column and a dataset verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench._io import _jsonable

SCHEMA_VERSION = 1
COLUMNS = ["column", "kind", "test", "statistic", "p_value", "wasserstein", "psi", "jensen_shannon", "effect_size",
           "effect_threshold", "alpha", "drifted", "status", "n_reference", "n_batch", "missing_share_reference",
           "missing_share_batch", "unseen_categories"]
STATUSES = ("ok", "drift", "insufficient data", "missing column", "high missing share", "missing share increased",
            "empty column", "type changed")
_INTS = ("n_reference", "n_batch")
_FLOATS = ("statistic", "p_value", "wasserstein", "psi", "jensen_shannon", "effect_size", "effect_threshold", "alpha",
           "missing_share_reference", "missing_share_batch")


@dataclass(frozen=True)
class DriftResult:
    """Per-column drift rows (``columns``) and the dataset verdict (``dataset``).

    ``columns`` has one row per profiled column, never fewer, with the columns listed in
    :data:`COLUMNS`; ``dataset`` holds ``columns``, ``drifted_columns``, ``drifted_share``,
    ``drift``, ``alpha``, ``mode``, ``n_reference``, ``n_batch`` and ``problems`` (the columns
    whose status is neither ``ok`` nor ``drift``).
    """

    columns: pd.DataFrame
    dataset: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN as None) with ``schema_version``."""
        rows = self.columns.to_dict(orient="records")
        return _jsonable({"schema_version": SCHEMA_VERSION, "dataset": self.dataset, "columns": rows})


def make_result(rows: list[dict[str, Any]], *, mode: str, alpha: float, drift_share: float, n_reference: int,
                n_batch: int) -> DriftResult:
    """Assemble the rows into a :class:`DriftResult` with its dataset verdict."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame = frame.astype({**dict.fromkeys(_FLOATS, "float64"), **dict.fromkeys(_INTS, "int64"), "drifted": bool})
    total, drifted = len(frame), int(frame["drifted"].sum())
    share = drifted / total if total else 0.0
    dataset = {"columns": total, "drifted_columns": drifted, "drifted_share": share,
               "drift": bool(total and share >= drift_share), "alpha": alpha, "mode": mode,
               "n_reference": int(n_reference), "n_batch": int(n_batch),
               "problems": [row["column"] for row in rows if row["status"] not in ("ok", "drift")]}
    return DriftResult(columns=frame, dataset=dataset)
