"""A statistical check that noise is Laplace of a given scale, able to fail on a scale off by 10 %."""

from __future__ import annotations

import math

import numpy as np

SE = 5.0  # tolerance in standard errors of the sampling distribution: a correct scale fails about once in 3.5 million runs


def fits(noise: np.ndarray, scale: float) -> bool:
    """Whether ``noise`` (i.i.d. draws) has the mean absolute deviation and variance of Laplace(0, ``scale``).

    For Laplace(b), |X| is exponential with mean b and standard deviation b, so the mean of n absolute
    draws has standard error b / sqrt(n); X^2 has mean 2 b^2 and standard deviation sqrt(20) b^2 (E X^4 = 24 b^4),
    and X has standard deviation sqrt(2) b.
    """
    n = noise.size
    mad, second, mean = float(np.abs(noise).mean()), float((noise ** 2).mean()), float(noise.mean())
    return (abs(mad - scale) <= SE * scale / math.sqrt(n)
            and abs(second - 2 * scale ** 2) <= SE * math.sqrt(20) * scale ** 2 / math.sqrt(n)
            and abs(mean) <= SE * math.sqrt(2) * scale / math.sqrt(n))


def assert_laplace_scale(noise: np.ndarray, scale: float) -> None:
    """``noise`` fits Laplace(``scale``) and would not fit a scale 10 % larger or smaller (the check has power)."""
    noise = np.asarray(noise, dtype=float).ravel()
    assert noise.size >= 10_000, "too few draws for a 5-standard-error test to tell a 10 % error"
    assert fits(noise, scale), f"mean |noise| {np.abs(noise).mean():.4g}, variance {(noise ** 2).mean():.4g}: not Laplace({scale:g})"
    assert not fits(noise, scale * 1.1) and not fits(noise, scale * 0.9), "the check cannot tell a scale off by 10 %"
