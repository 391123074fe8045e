"""The Laplace mechanism, drawn by OpenDP's secure sampler, and the record of a release (:class:`Release`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from workbench.exceptions import ParameterError


@dataclass(frozen=True)
class Release:
    """What a private release spent and how: ``epsilon`` (and ``delta``) at ``sensitivity``, noise ``scale``.

    ``sensitivity`` is the L1 sensitivity of the whole released vector and ``scale`` the Laplace scale
    (``sensitivity / epsilon``), both in the units ``what`` names; the ledger spends ``epsilon``.
    """

    mechanism: str
    epsilon: float
    delta: float
    sensitivity: float
    scale: float
    what: str

    def to_dict(self) -> dict[str, Any]:
        """The release as a JSON-ready dict (for results files and the audit trail)."""
        return asdict(self)


def laplace(values: Any, *, sensitivity: float, epsilon: float) -> np.ndarray:
    """``values`` plus i.i.d. Laplace noise of scale ``sensitivity / epsilon``, drawn by OpenDP.

    OpenDP's ``make_laplace`` samples exactly (no floating-point attack on the noise, unlike
    numpy's generator), so this is epsilon-DP for any query whose L1 sensitivity over
    neighbouring datasets is at most ``sensitivity``. The caller states that sensitivity;
    nothing here can check it.

    Parameters
    ----------
    values : array-like of float
        The exact answers (any shape; all finite).
    sensitivity : float
        L1 sensitivity of the whole vector: how much all of ``values`` together can change
        when one individual is added or removed.
    epsilon : float
        Privacy loss of this release (> 0).

    Returns
    -------
    numpy.ndarray
        A float array of the shape of ``values``.

    Raises
    ------
    ParameterError
        ``epsilon`` or ``sensitivity`` not a finite number > 0, or a value NaN or infinite.
    """
    scale = noise_scale(sensitivity=sensitivity, epsilon=epsilon, caller="laplace")
    exact = np.asarray(values, dtype=float)
    bad = int((~np.isfinite(exact)).sum())
    if bad:
        raise ParameterError(f"The 'values' parameter of laplace must hold finite numbers. Got {bad} NaN or infinite value(s) instead "
                             "(drop or impute missing values before a private release).")
    if exact.size == 0:
        return exact.copy()
    noisy = _vector_laplace(scale)(exact.ravel().tolist())
    return np.asarray(noisy, dtype=float).reshape(exact.shape)


def noisy_counts(counts: Any, *, epsilon: float, sensitivity: float = 1.0) -> tuple[np.ndarray, Release]:
    """Counts with Laplace noise of scale ``sensitivity / epsilon``, rounded and clipped at 0.

    Rounding and clipping only post-process the noisy answer, which keeps the guarantee (they
    read no data). Clipping at 0 biases small counts upwards; the noise scale is in the
    :class:`Release`.

    Parameters
    ----------
    counts : array-like
        Exact counts.
    epsilon : float
        Privacy loss of the release.
    sensitivity : float
        L1 sensitivity of the whole vector (1: one individual changes one count by one).

    Returns
    -------
    (numpy.ndarray, Release)
        The noisy counts (floats holding whole numbers) and what was spent.
    """
    noisy = laplace(counts, sensitivity=sensitivity, epsilon=epsilon)
    release = Release("laplace", float(epsilon), 0.0, float(sensitivity), float(sensitivity) / float(epsilon), f"{noisy.size} count(s)")
    return np.clip(np.rint(noisy), 0.0, None), release


def noise_scale(*, sensitivity: float, epsilon: float, caller: str) -> float:
    """``sensitivity / epsilon`` after checking both are finite and > 0 (ParameterError naming ``caller``)."""
    for name, value in (("epsilon", epsilon), ("sensitivity", sensitivity)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not math.isfinite(value) or value <= 0:
            raise ParameterError(f"The {name!r} parameter of {caller} must be a finite number > 0. Got {value!r} instead.")
    scale = float(sensitivity) / float(epsilon)
    if not math.isfinite(scale):  # a tiny epsilon over a huge sensitivity overflows: OpenDP would refuse it without naming either
        raise ParameterError(f"{caller}: the noise scale sensitivity / epsilon = {sensitivity!r} / {epsilon!r} overflows a float. "
                             "Fix: use a larger epsilon or narrower bounds.")
    return scale


_MEASUREMENTS: dict[float, Any] = {}


def _vector_laplace(scale: float) -> Any:
    """OpenDP's vector Laplace measurement at ``scale`` (built once per scale)."""
    if scale not in _MEASUREMENTS:
        # the submodules, not ``opendp.prelude``: the prelude imports opendp.extras.sklearn (and sklearn, ~1 s)
        from opendp import domains, measurements, metrics
        from opendp.mod import enable_features

        enable_features("contrib")  # make_laplace is marked contrib in OpenDP 0.16 (not yet vetted by their review)
        if len(_MEASUREMENTS) > 256:
            _MEASUREMENTS.clear()
        _MEASUREMENTS[scale] = measurements.make_laplace(domains.vector_domain(domains.atom_domain(T=float, nan=False)),
                                                         metrics.l1_distance(T=float), scale=scale)
    return _MEASUREMENTS[scale]
