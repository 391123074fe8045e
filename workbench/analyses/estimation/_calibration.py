"""A 1-D calibration map from the model's raw score to P(y=1), chosen by cross-fitted expected calibration error.

The map is tiny (two numbers, or at most :data:`MAX_KNOTS` knots) so it is stored as JSON beside the
model version and applied with numpy alone; scikit-learn fits it (``LogisticRegression`` on the logit
of the score for Platt scaling, ``IsotonicRegression`` for the isotonic map).

The input checks here (``_floats``, ``_probabilities``, ``_labels``, ``_aligned``) are shared by the
other modules of this package, so every function names a bad input the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

METHODS = ("none", "sigmoid", "isotonic")  # in order of complexity: "auto" prefers the earlier within noise
MAX_KNOTS = 200  # an isotonic map this size fits in an MLflow tag (8000 characters) as JSON
_EDGE = 1e-6  # scores are clipped to [_EDGE, 1 - _EDGE] before the logit, so 0 and 1 stay finite
_SIGMOID_C = 100.0  # near-unpenalised Platt scaling; the small penalty keeps a separable sample finite


# --- input checks (shared by the package) ----------------------------------------------------

def _floats(values: Any, what: str) -> np.ndarray:
    """``values`` as a 1-D float array, or a DataError naming ``what``."""
    import numpy as np

    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be numeric. Fix: pass numbers, one per row.") from None
    if x.ndim != 1:
        raise DataError(f"{what} must hold one value per row; got shape {x.shape}. Fix: pass a 1-D array or a column.")
    if x.size == 0:
        raise DataError(f"{what} has no rows. Fix: pass at least one row.")
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise DataError(f"{what}: {bad} of {x.size} values are missing or infinite. Fix: drop those rows first.")
    return x


def _probabilities(values: Any, what: str) -> np.ndarray:
    """Finite values in [0, 1] (a raw ``predict_proba[:, 1]`` or a calibrated probability)."""

    x = _floats(values, what)
    outside = x[(x < 0) | (x > 1)]
    if outside.size:
        raise DataError(f"{what} must be probabilities in [0, 1]; {outside.size} of {x.size} values are outside "
                        f"(e.g. {float(outside[0])!r}). Fix: pass predict_proba[:, 1], not a decision function or a margin.")
    return x


def _labels(values: Any, what: str = "y") -> np.ndarray:
    """Binary labels as an int array of 0 and 1."""
    import numpy as np

    try:
        y = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{what} must hold only 0 and 1. Fix: encode the positive class as 1 and the other as 0.") from None
    if y.ndim != 1 or y.size == 0:
        raise DataError(f"{what} must hold one label per row; got shape {y.shape}. Fix: pass a non-empty 1-D array or a column.")
    bad = np.unique(y[(y != 0) & (y != 1)])
    if bad.size:
        raise DataError(f"{what} must hold only 0 and 1; found {[float(v) for v in bad[:5]]}. "
                        "Fix: encode the positive class as 1 and the other as 0.")
    return y.astype(int)


def _aligned(a: np.ndarray, b: np.ndarray, names: tuple[str, str]) -> None:
    if a.size != b.size:
        raise DataError(f"{names[0]} has {a.size} rows but {names[1]} has {b.size}. Fix: pass row-aligned arrays.")


def _logit(scores: np.ndarray) -> np.ndarray:
    import numpy as np

    s = np.clip(scores, _EDGE, 1 - _EDGE)
    return np.log(s) - np.log1p(-s)


# --- the calibrator ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration map: raw score -> calibrated P(y=1).

    Attributes
    ----------
    method : {"none", "sigmoid", "isotonic"}
    params : dict
        ``sigmoid``: ``{"a", "b"}`` with ``prob = 1 / (1 + exp(-(a * logit(score) + b)))``;
        ``isotonic``: ``{"x", "y"}``, at most :data:`MAX_KNOTS` increasing knots, applied with
        ``np.interp`` (flat beyond the ends); ``none``: ``{}``.
    ece : dict of str to float
        Cross-fitted (out-of-fold) expected calibration error of every method tried, and of the raw
        score under ``"none"``, on the rows the calibrator was fitted on.
    rows : int
        Rows the map was fitted on.
    """

    method: str
    params: dict
    ece: dict
    rows: int

    def apply(self, scores: Any) -> np.ndarray:
        """Calibrated P(y=1) for raw scores.

        Parameters
        ----------
        scores : array-like
            The model's raw ``predict_proba[:, 1]``, in [0, 1].

        Returns
        -------
        numpy.ndarray
            Probabilities in [0, 1], one per score.
        """
        import numpy as np

        s = _probabilities(scores, "scores")
        if self.method == "sigmoid":
            from scipy.special import expit  # no overflow warning for extreme logits

            return expit(self.params["a"] * _logit(s) + self.params["b"])
        if self.method == "isotonic":
            return np.interp(s, np.asarray(self.params["x"], dtype=float), np.asarray(self.params["y"], dtype=float))
        return s.copy()

    def to_dict(self) -> dict:
        """A JSON-safe dict; :meth:`from_dict` rebuilds an identical calibrator.

        Returns
        -------
        dict
            ``method``, ``params``, ``ece``, ``rows`` as plain Python floats, lists and ints.
        """
        params = {k: [float(v) for v in val] if isinstance(val, list | tuple) else float(val) for k, val in self.params.items()}
        return {"method": self.method, "params": params, "ece": {k: float(v) for k, v in self.ece.items()}, "rows": int(self.rows)}

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        """Rebuild a calibrator stored with :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            The output of :meth:`to_dict` (after a JSON round trip or not).

        Returns
        -------
        Calibrator
        """
        keys = {"none": set(), "sigmoid": {"a", "b"}, "isotonic": {"x", "y"}}
        ok = isinstance(d, dict) and {"method", "params", "ece", "rows"} <= set(d) and d["method"] in keys
        if not ok or not isinstance(d["params"], dict) or set(d["params"]) != keys[d["method"]]:
            raise DataError(f"calibrator: {d!r:.200} is not a dict from Calibrator.to_dict() (keys method, params, ece, rows; "
                            "params a, b for sigmoid, x, y for isotonic). Fix: store and load the dict from Calibrator.to_dict() unchanged.")
        params = {k: [float(v) for v in val] if isinstance(val, list | tuple) else float(val) for k, val in d["params"].items()}
        return cls(method=d["method"], params=params, ece={k: float(v) for k, v in d["ece"].items()}, rows=int(d["rows"]))


# --- expected calibration error ------------------------------------------------------------------

def _bins(probs: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bin index over [0, 1]; a probability of exactly 1 goes in the last bin."""
    import numpy as np

    return np.minimum((probs * bins).astype(int), bins - 1)


def expected_calibration_error(y: Any, probs: Any, *, bins: int = 10) -> float:
    """Expected calibration error: the row-weighted mean of |observed rate - mean probability| over equal-width bins.

    Parameters
    ----------
    y : array-like of 0 and 1
    probs : array-like
        Predicted P(y=1), in [0, 1].
    bins : int
        Equal-width bins over [0, 1].

    Returns
    -------
    float
        Between 0 (perfectly calibrated in every bin) and 1.
    """
    import numpy as np

    # Written here: scikit-learn has no ECE, and its calibration_curve drops the bin counts the weighting needs.
    if int(bins) < 1:
        raise ParameterError(f"bins must be at least 1; got {bins!r}. Fix: pass bins=10.")
    bins = int(bins)
    yy, p = _labels(y), _probabilities(probs, "probs")
    _aligned(yy, p, ("y", "probs"))
    idx = _bins(p, bins)
    # sum over bins of |sum(y) - sum(p)| / n  ==  sum of (n_b / n) * |rate_b - mean_p_b|
    gap = np.bincount(idx, weights=yy, minlength=bins) - np.bincount(idx, weights=p, minlength=bins)
    return float(np.abs(gap).sum() / p.size)


def _ece_noise(probs: np.ndarray, bins: int) -> float:
    """Expected ECE of a perfectly calibrated predictor with these probabilities: the noise floor of ECE.

    Each bin's |rate - mean probability| is then roughly half-normal with sd sqrt(p(1-p)/n_b), whose
    mean is sqrt(2 p (1 - p) / (pi n_b)); weighting by n_b / n gives the sum below.
    """
    import numpy as np

    idx = _bins(probs, bins)
    n = np.bincount(idx, minlength=bins)
    mean = np.divide(np.bincount(idx, weights=probs, minlength=bins), n, out=np.zeros(bins), where=n > 0)
    return float(np.sqrt(2 * n * mean * (1 - mean) / np.pi).sum() / probs.size)


# --- fitting -------------------------------------------------------------------------------------

def _fit_map(method: str, y: np.ndarray, scores: np.ndarray) -> dict:
    """The parameters of one calibration map fitted on all of ``y, scores``."""
    import numpy as np

    if method == "sigmoid":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=_SIGMOID_C).fit(_logit(scores)[:, None], y)
        return {"a": float(model.coef_[0, 0]), "b": float(model.intercept_[0])}
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
        x, v = model.X_thresholds_, model.y_thresholds_
        if x.size > MAX_KNOTS:
            # evenly spaced by rank, so dense score regions keep more knots; both ends are kept
            keep = np.unique(np.linspace(0, x.size - 1, MAX_KNOTS).round().astype(int))
            x, v = x[keep], v[keep]
        # 6 significant digits keep 200 knots well inside an MLflow tag (8000 characters; full floats would not fit)
        # and move no probability by more than 1e-6 relative; knots that round together are merged (np.interp wants x increasing)
        x, v = np.array([float(f"{t:.6g}") for t in x]), np.array([float(f"{t:.6g}") for t in v])
        last = np.r_[x[1:] > x[:-1], True]
        return {"x": [float(t) for t in x[last]], "y": [float(t) for t in v[last]]}
    return {}


def _cross_fitted(method: str, y: np.ndarray, scores: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Out-of-fold calibrated probabilities: each row calibrated by a map fitted without it."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    out = np.empty(scores.size)
    for fit_rows, held_out in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(scores[:, None], y):
        params = _fit_map(method, y[fit_rows], scores[fit_rows])
        out[held_out] = Calibrator(method, params, {}, int(fit_rows.size)).apply(scores[held_out])
    return out


def _check_fit_inputs(y: Any, scores: Any, method: str, folds: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if method != "auto" and method not in METHODS:
        raise ParameterError(f"method must be one of auto, {', '.join(METHODS)}; got {method!r}. Fix: pass method='auto'.")
    if int(folds) < 2:
        raise ParameterError(f"folds must be at least 2; got {folds!r}. Fix: pass folds=5.")
    if int(bins) < 1:
        raise ParameterError(f"bins must be at least 1; got {bins!r}. Fix: pass bins=10.")
    yy, s = _labels(y), _probabilities(scores, "scores")
    _aligned(yy, s, ("y", "scores"))
    counts = np.bincount(yy, minlength=2)
    if (counts == 0).any():
        raise DataError(f"y has only class {int(yy[0])}; calibration needs both classes. "
                        "Fix: calibrate on a labelled holdout with positives and negatives.")
    if yy.size < 2 * folds:
        raise DataError(f"calibration needs at least {2 * folds} rows (2 per fold, {folds} folds); got {yy.size}. "
                        "Fix: calibrate on a larger labelled holdout or pass fewer folds.")
    if counts.min() < folds:
        rare = int(counts.argmin())
        raise DataError(f"y has {int(counts.min())} rows of class {rare}; {folds}-fold cross-fitting needs at least {folds} of each class. "
                        "Fix: calibrate on a larger labelled holdout or pass fewer folds.")
    return yy, s


def fit_calibrator(y: Any, scores: Any, *, method: str = "auto", folds: int = 5, bins: int = 10, seed: int = 0) -> Calibrator:
    """Fit a calibration map on labelled held-out rows, choosing the method by cross-fitted ECE.

    Parameters
    ----------
    y : array-like of 0 and 1
        Labels of rows the model did not train on (its holdout).
    scores : array-like
        The model's raw ``predict_proba[:, 1]`` for those rows.
    method : {"auto", "none", "sigmoid", "isotonic"}
        ``"auto"`` chooses (below); any other forces that method, and its cross-fitted ECE is still
        reported beside the raw score's.
    folds : int
        Stratified folds for cross-fitting (each class needs at least this many rows).
    bins : int
        Bins of the expected calibration error.
    seed : int
        Seeds the fold assignment, so the choice is reproducible.

    Returns
    -------
    Calibrator
        The map fitted on all rows, with the cross-fitted ECE of everything tried.

    Notes
    -----
    ``"auto"`` computes out-of-fold calibrated probabilities for ``sigmoid`` and ``isotonic`` and the
    ECE of each and of the raw score. ``sigmoid`` is taken whenever its cross-fitted ECE is below the
    raw score's: a two-parameter map on the logit is close to the identity on a calibrated score, so
    taking it costs little, while a mild over-confidence it would fix (a boosted model's, typically)
    biases every performance estimate made from the probabilities — on the demo, by twice the
    estimate's standard error although the ECE moves by less than its noise. ``isotonic`` (a step
    function with as many parameters as it has knots) is taken only if its ECE is below the current
    choice's by more than the ECE noise floor (the expected ECE of a perfectly calibrated predictor
    with these scores and bin counts): a map fitted to noise would add error on new rows.
    """
    yy, s = _check_fit_inputs(y, scores, method, folds, bins)
    folds, bins = int(folds), int(bins)
    tried = ("sigmoid", "isotonic") if method == "auto" else tuple(m for m in (method,) if m != "none")
    ece = {"none": expected_calibration_error(yy, s, bins=bins)}
    for m in tried:
        ece[m] = expected_calibration_error(yy, _cross_fitted(m, yy, s, folds, seed), bins=bins)
    chosen = method
    if method == "auto":
        noise = _ece_noise(s, bins)
        chosen = "sigmoid" if ece["sigmoid"] < ece["none"] else "none"
        if ece[chosen] - ece["isotonic"] > noise:
            chosen = "isotonic"
    return Calibrator(method=chosen, params=_fit_map(chosen, yy, s), ece=ece, rows=int(yy.size))
