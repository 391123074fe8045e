"""The Laplace mechanism and noisy counts: noise of the stated scale (OpenDP's sampler), checked inputs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.analyses.privacy._scale import assert_laplace_scale, fits
from workbench.analyses.privacy import Release, laplace, noisy_counts
from workbench.exceptions import ParameterError

DRAWS = 20_000


def test_laplace_adds_noise_of_scale_sensitivity_over_epsilon() -> None:
    exact = np.linspace(-50.0, 50.0, DRAWS).reshape(100, -1)
    noisy = laplace(exact, sensitivity=3.0, epsilon=0.5)
    assert noisy.shape == exact.shape and noisy.dtype == float
    assert_laplace_scale(noisy - exact, 6.0)


def test_the_scale_check_fails_on_numpys_laplace_of_a_wrong_scale() -> None:
    rng = np.random.default_rng(7)
    assert fits(rng.laplace(0.0, 2.0, DRAWS), 2.0)
    assert not fits(rng.laplace(0.0, 2.2, DRAWS), 2.0) and not fits(rng.laplace(0.0, 1.8, DRAWS), 2.0)
    assert not fits(rng.normal(0.0, 2.0 * np.sqrt(2), DRAWS), 2.0)  # the same variance, another distribution


def test_noisy_counts_are_laplace_counts_rounded_and_clipped_at_zero() -> None:
    exact = np.full(DRAWS, 1000.0)
    noisy, release = noisy_counts(exact, epsilon=0.25)
    assert release == Release("laplace", 0.25, 0.0, 1.0, 4.0, f"{DRAWS} count(s)")
    assert np.array_equal(noisy, np.rint(noisy))
    assert_laplace_scale(noisy - exact, 4.0)  # rounding adds a variance of ~1/12, far inside the tolerance at scale 4
    zeros, _ = noisy_counts(np.zeros(2000), epsilon=0.25, sensitivity=2.0)
    assert zeros.min() == 0.0 and (zeros == 0).mean() > 0.5  # clipped: half the noise is negative


def test_a_release_says_what_it_spent() -> None:
    _, release = noisy_counts([3, 4], epsilon=2.0, sensitivity=2.0)
    assert release.to_dict() == {"mechanism": "laplace", "epsilon": 2.0, "delta": 0.0, "sensitivity": 2.0, "scale": 1.0, "what": "2 count(s)"}
    assert laplace([], sensitivity=1.0, epsilon=1.0).size == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epsilon": 0.0}, "The 'epsilon' parameter of laplace must be a finite number > 0. Got 0.0 instead."),
    ({"epsilon": float("inf")}, "The 'epsilon' parameter of laplace must be a finite number > 0. Got inf instead."),
    ({"sensitivity": -1.0}, "The 'sensitivity' parameter of laplace must be a finite number > 0. Got -1.0 instead."),
    ({"epsilon": True}, "The 'epsilon' parameter of laplace must be a finite number > 0. Got True instead."),
], ids=["zero-epsilon", "infinite-epsilon", "negative-sensitivity", "bool-epsilon"])
def test_laplace_refuses_a_bad_epsilon_or_sensitivity(kwargs: dict, message: str) -> None:
    with pytest.raises(ParameterError) as err:
        laplace([1.0], **({"sensitivity": 1.0, "epsilon": 1.0} | kwargs))
    assert str(err.value) == message


def test_laplace_refuses_missing_values() -> None:
    with pytest.raises(ParameterError) as err:
        laplace([1.0, np.nan, np.inf], sensitivity=1.0, epsilon=1.0)
    assert str(err.value) == ("The 'values' parameter of laplace must hold finite numbers. Got 2 NaN or infinite value(s) instead "
                              "(drop or impute missing values before a private release).")
