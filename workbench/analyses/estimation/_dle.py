"""Direct loss estimation (DLE) of a regression model's MAE and RMSE on a batch without labels.

NannyML's published algorithm, written here on scikit-learn (NannyML itself is unmaintained, sends
usage telemetry and brings LightGBM and FLAML). Two "nanny" models
(:class:`~sklearn.ensemble.HistGradientBoostingRegressor`) learn, on the labelled reference, the
model's absolute error ``|y - pred|`` and squared error ``(y - pred)^2`` from the features and the
model's own prediction; on a batch, ``MAE = mean(predicted |error|)`` and
``RMSE = sqrt(mean(predicted squared error))``. Unlike CBPE it needs no calibrated model and
follows heteroscedastic noise (errors that grow in some region of the features) as a batch moves
there.

Categorical features (object, category, string dtypes) are encoded by an
:class:`~sklearn.preprocessing.OrdinalEncoder` fitted on the reference (at most ``MAX_LEVELS``
levels; rarer ones share one code) and passed to the booster as categorical; a level unseen in
the reference, like a missing value, becomes NaN, which the booster sends down its
missing-value branch. Numeric features keep their NaNs.

Sampling error: NannyML's reference components, ``sd(|e|) / sqrt(n)`` for MAE and, with
``se(MSE) = sd(e^2) / sqrt(n)`` and the delta method at the reference, ``se(MSE) / (2 RMSE_ref)``
for RMSE, each multiplied by ``estimate / reference``. The per-row spread of a loss grows with
its level (a row's noise that doubles doubles both the mean and the standard deviation of its
absolute error), so a batch estimated twice as lossy as the reference has about twice the
reference's spread: in simulation, moving into a noisier region made the realised MAE vary 1.2-1.5
times more than NannyML's fixed band said, and about as much as the scaled one. With no shift the
factor is 1 and the two agree.

Limits: the loss models learn the reference; rows outside its range get the loss of its nearest
edge, so a batch that moves far past the reference (1.5 SD in simulation) is estimated ~5 %
too low where the noise keeps growing; and a change of P(y | x) is invisible, as for CBPE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.estimation._cbpe import _no_missing, _vector
from workbench.exceptions import DataError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

MIN_REFERENCE_ROWS = 20  # fewer rows cannot fit a loss model worth reporting
MAX_LEVELS = 250  # HistGradientBoosting takes categorical codes below its 255 bins
PREDICTION = "__prediction__"  # the model's prediction, the nanny models' last input
MAX_ROWS = 200_000  # batches above this are estimated from a seeded uniform sample of this many rows (see DLE.estimate)


class DLE:
    """Estimate a regression model's MAE and RMSE on a batch from features and predictions.

    Parameters
    ----------
    seed : int, default 0
        ``random_state`` of the nanny models (their early-stopping split), so fits are reproducible.

    Examples
    --------
    >>> dle = DLE().fit(X_ref, y_ref, pred_ref)  # doctest: +SKIP
    >>> dle.estimate(X_batch, pred_batch)["mae"]  # doctest: +SKIP
    {'value': 1.21, 'se': 0.019, 'reference': 0.93, 'rows': 2000}
    """

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed
        self.features_: list[str] = []
        self.categorical_: list[str] = []
        self.reference_: dict[str, float] | None = None  # realised MAE and RMSE on the reference
        self._encoder: Any = None
        self._models: dict[str, Any] = {}
        self._sd: dict[str, float] = {}  # standard deviation of the reference's |e| and e^2

    def fit(self, X_ref: pd.DataFrame, y_ref: Any, pred_ref: Any) -> DLE:
        """Fit the nanny models of the absolute and squared error on the labelled reference.

        Parameters
        ----------
        X_ref : pandas.DataFrame
            The reference's features (numeric and categorical columns; NaN allowed).
        y_ref : array-like of float
            The reference's labels.
        pred_ref : array-like of float
            The model's predictions on the reference.

        Returns
        -------
        DLE
            ``self``, fitted.

        Raises
        ------
        ParameterError
            ``X_ref`` is not a DataFrame.
        DataError
            Rows not aligned, fewer than ``MIN_REFERENCE_ROWS`` rows, missing or non-numeric
            labels or predictions, or a datetime feature.
        """
        import numpy as np
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.preprocessing import OrdinalEncoder

        _frame(X_ref, "X_ref", "fit")
        y, pred = _vector(y_ref, "reference labels"), _vector(pred_ref, "reference predictions")
        if not len(X_ref) == y.size == pred.size:
            raise DataError(f"reference: {len(X_ref)} feature rows, {y.size} labels and {pred.size} predictions. "
                            "Fix: pass row-aligned features, labels and predictions.")
        if y.size < MIN_REFERENCE_ROWS:
            raise DataError(f"reference: {y.size} rows; DLE needs at least {MIN_REFERENCE_ROWS} labelled rows to fit its loss models. "
                            "Fix: fit on the model's labelled holdout.")
        _no_missing(y, "reference labels", "pass only the labelled rows of the reference")
        self.features_ = list(X_ref.columns)
        self.categorical_ = [c for c in self.features_ if X_ref[c].dtype.kind not in "biufcM"]
        for c in self.features_:
            if X_ref[c].dtype.kind == "M":
                raise DataError(f"reference: feature column {c!r} holds datetimes. Fix: drop it or pass it as numbers (e.g. days since an origin).")
        if self.categorical_:
            self._encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan,
                                           max_categories=MAX_LEVELS, dtype=np.float64)
            self._encoder.fit(_texts(X_ref, self.categorical_))
        design = self._design(X_ref, pred, "reference")
        err = y - pred
        mask = [c in self.categorical_ for c in self.features_] + [False]
        targets = {"mae": np.abs(err), "mse": err**2}
        for name, target in targets.items():
            # Losses are heavy-tailed: small leaves in thin regions catch a few large errors and
            # overstate the loss there (+23 % MSE 1.5 SD out in simulation, default leaves). Leaves of
            # >= 0.5 % of the reference keep the booster from learning that noise; early stopping on a
            # 10 % split with a patience of 30 rounds (10 stopped too soon on these noisy targets and
            # flattened the predicted loss towards the reference mean) sets the number of rounds.
            nanny = HistGradientBoostingRegressor(categorical_features=mask, min_samples_leaf=min(100, max(20, y.size // 200)), max_iter=500,
                                                  early_stopping=y.size >= 1000, n_iter_no_change=30, random_state=self.seed)
            self._models[name] = nanny.fit(design, target)
        self._sd = {name: float(np.std(target)) for name, target in targets.items()}
        self.reference_ = {"mae": float(targets["mae"].mean()), "rmse": float(np.sqrt(targets["mse"].mean()))}
        return self

    def estimate(self, X: pd.DataFrame, pred: Any) -> dict[str, dict[str, Any]]:
        """Estimate MAE and RMSE on a batch from its features and the model's predictions.

        Parameters
        ----------
        X : pandas.DataFrame
            The batch's features: every column the reference had (extra columns are ignored);
            unseen categorical levels and NaN are allowed.
        pred : array-like of float
            The model's predictions on the batch, row-aligned with ``X``.

        Returns
        -------
        dict
            ``{"mae": {...}, "rmse": {...}}``, each ``{"value", "se", "reference", "rows"}``: the
            estimate, its sampling standard error for ``rows`` rows (from the reference), the
            realised reference value and ``len(X)``.

        Raises
        ------
        ParameterError
            Called before :meth:`fit`, or ``X`` is not a DataFrame.
        DataError
            No rows, rows not aligned, missing feature columns, text in a numeric feature, or
            missing predictions.
        """
        import numpy as np

        if self.reference_ is None:
            raise ParameterError("DLE.estimate was called before fit. Fix: call fit(X_ref, y_ref, pred_ref) on the labelled holdout first.")
        _frame(X, "X", "estimate")
        p = _vector(pred, "batch predictions")
        if len(X) != p.size:
            raise DataError(f"batch: {len(X)} feature rows but {p.size} predictions. Fix: pass row-aligned features and predictions.")
        if p.size == 0:
            raise DataError("batch: 0 rows. Fix: pass at least one row with its prediction.")
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise DataError(f"batch: missing feature column(s) {missing} that DLE was fitted on. "
                            "Fix: pass the reference's feature columns (extra columns are ignored).")
        n = p.size
        # The nanny models' predict dominates (~3 s per model per million rows here): above MAX_ROWS the mean predicted loss
        # comes from a seeded uniform sample, and that sample's own error joins the standard error (finite-population corrected).
        rows = np.sort(np.random.default_rng(self.seed).choice(n, MAX_ROWS, replace=False)) if n > MAX_ROWS else None
        design = self._design(X.iloc[rows] if rows is not None else X, p[rows] if rows is not None else p, "batch")
        losses = {name: np.clip(self._models[name].predict(design), 0.0, None) for name in ("mae", "mse")}
        mae, mse = float(losses["mae"].mean()), float(losses["mse"].mean())
        rmse = float(np.sqrt(mse))
        shrink = (1.0 - MAX_ROWS / n) / MAX_ROWS if rows is not None else 0.0
        ref_mae, ref_rmse = self.reference_["mae"], self.reference_["rmse"]
        se_mae = np.hypot(_scaled(self._sd["mae"], mae, ref_mae) / np.sqrt(n), np.sqrt(losses["mae"].var() * shrink))
        se_rmse = np.hypot(_scaled(self._sd["mse"] / (2.0 * ref_rmse) if ref_rmse > 0 else 0.0, rmse, ref_rmse) / np.sqrt(n),
                           np.sqrt(losses["mse"].var() * shrink) / (2.0 * rmse) if rmse > 0 else 0.0)
        return {"mae": {"value": mae, "se": float(se_mae), "reference": ref_mae, "rows": n},
                "rmse": {"value": rmse, "se": float(se_rmse), "reference": ref_rmse, "rows": n}}

    def _design(self, X: pd.DataFrame, pred: np.ndarray, source: str) -> np.ndarray:
        """Numeric features as floats, categorical ones as ordinal codes (unseen and missing: NaN), then the prediction."""
        import numpy as np

        columns = []
        codes = self._encoder.transform(_texts(X, self.categorical_)) if self.categorical_ else None
        for c in self.features_:
            if c in self.categorical_:
                columns.append(codes[:, self.categorical_.index(c)])
                continue
            try:
                columns.append(X[c].to_numpy(dtype=float, na_value=np.nan))
            except (TypeError, ValueError):
                raise DataError(f"{source}: feature column {c!r} must be numeric (it was in the reference) but holds text. "
                                "Fix: pass numbers in that column (missing values as NaN).") from None
        _no_missing(pred, f"{source} predictions", "pass the model's prediction for every row")
        return np.column_stack([*columns, pred])


def _scaled(reference_sd: float, estimate: float, reference: float) -> float:
    """The reference's per-row spread at the batch's estimated loss level (the spread of a loss grows with it)."""
    return reference_sd * (estimate / reference) if reference > 0 else reference_sd


def _frame(X: Any, name: str, method: str) -> None:
    import pandas as pd

    if not isinstance(X, pd.DataFrame):
        raise ParameterError(f"The {name!r} parameter of DLE.{method} must be a pandas DataFrame of features. Got {type(X).__name__} instead.")


def _texts(X: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Categorical columns as an object array of strings, missing values as NaN (the encoder's missing marker)."""
    import numpy as np

    out = np.empty((len(X), len(columns)), dtype=object)
    for j, c in enumerate(columns):
        col = X[c]
        out[:, j] = np.where(col.isna().to_numpy(), np.nan, col.astype(str).to_numpy(dtype=object))
    return out
