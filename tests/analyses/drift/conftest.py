"""Seeded real-valued data for the drift tests: several shapes, ties, missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd

SHAPES = ("normal", "lognormal", "exponential", "uniform", "bimodal", "counts")


def sample(shape: str, n: int, rng: np.random.Generator, shift: float = 0.0) -> np.ndarray:
    """``n`` values of a named shape; ``shift`` moves them by that many standard deviations."""
    if shape == "normal":
        x, sd = rng.normal(10, 2, n), 2.0
    elif shape == "lognormal":
        x, sd = rng.lognormal(0, 0.5, n), 0.60
    elif shape == "exponential":
        x, sd = rng.exponential(3, n), 3.0
    elif shape == "uniform":
        x, sd = rng.uniform(-1, 1, n), 0.577
    elif shape == "bimodal":
        x, sd = np.where(rng.random(n) < 0.4, rng.normal(-2, 1, n), rng.normal(3, 1.5, n)), 2.8
    else:  # integer counts: many ties
        x, sd = rng.poisson(4, n).astype(np.float64), 2.0
    return x + shift * sd


def categorical(n: int, rng: np.random.Generator, levels: int = 5, tilt: float = 0.0) -> np.ndarray:
    """``n`` draws of ``levels`` string levels with Zipf-like shares; ``tilt`` moves share to the last level."""
    p = 1 / np.arange(1, levels + 1)
    p /= p.sum()
    p = (1 - tilt) * p + tilt * np.eye(levels)[-1]
    return np.array([f"L{i}" for i in range(levels)], dtype=object)[rng.choice(levels, n, p=p)]


def frame(n: int, seed: int, *, shift: float = 0.0, tilt: float = 0.0, missing: float = 0.0) -> pd.DataFrame:
    """A frame with one column per shape (``num_<shape>``) and two categorical columns."""
    rng = np.random.default_rng(seed)
    data = {f"num_{shape}": sample(shape, n, rng, shift) for shape in SHAPES}
    if missing:
        data["num_normal"][rng.random(n) < missing] = np.nan
    data["cat_few"] = categorical(n, rng, 3, tilt)
    data["cat_many"] = categorical(n, rng, 12, tilt)
    return pd.DataFrame(data)


NUMERIC = [f"num_{shape}" for shape in SHAPES]
CATEGORICAL = ["cat_few", "cat_many"]

