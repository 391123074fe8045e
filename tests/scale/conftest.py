"""Multi-file batches for the scale tests: the demo's data written as Parquet parts with small row groups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "num_products", "avg_session_minutes"]
CATEGORICAL = ["contract", "payment_method", "internet_service", "region", "gender", "age_band"]
SENSITIVE = ["gender", "age_band"]


def grown(batch: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """``batch`` resampled to ``rows`` rows, numeric values jittered (so values are not mere repeats), with holes and a new level."""
    rng = np.random.default_rng(seed)
    out = batch.iloc[rng.integers(0, len(batch), rows)].reset_index(drop=True)
    for col in ("monthly_charges", "avg_session_minutes", "total_charges"):
        out[col] = out[col] * rng.normal(1.0, 0.02, rows)
    out.loc[rng.random(rows) < 0.03, "monthly_charges"] = np.nan
    out.loc[rng.random(rows) < 0.01, "region"] = None
    out.loc[rng.random(rows) < 0.001, "contract"] = "lifetime"  # a level the reference never saw
    return out


def write_parts(frame: pd.DataFrame, folder: Path, *, parts: int, row_group: int) -> Path:
    """``frame`` as ``parts`` Parquet files of ``row_group``-row groups in ``folder`` (part-00.parquet, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(frame), parts + 1).astype(int)
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        frame.iloc[lo:hi].to_parquet(folder / f"part-{i:02d}.parquet", row_group_size=row_group, index=False)
    return folder


def predictions_for(frame: pd.DataFrame, path: Path, *, seed: int = 1, row_group: int = 70_000) -> Path:
    """A predictions.parquet like the score phase writes (label, score in batch row order), some labels missing."""
    rng = np.random.default_rng(seed)
    label = frame["churned"].astype(float).to_numpy().copy()
    label[rng.random(len(frame)) < 0.2] = np.nan
    pd.DataFrame({"label": label, "score": rng.random(len(frame))}).to_parquet(path, row_group_size=row_group, index=False)
    return path
