"""Concept drift and feature drift of one monitored batch: pure functions over arrays and frames.

Binary tasks give scores = positive-class probabilities and labels 0/1; regression tasks give
predictions and numeric labels. Labels arrive late, so only :func:`prediction_drift` runs
without them; :func:`performance_change` reports ``"no labels"`` instead of failing, and
:func:`residual_drift` refuses a batch without labels (the caller checks first).

Prediction drift
    Population stability index of the batch scores against the reference scores (the model's
    scores on the reference holdout). Cut points are the reference score deciles
    ``quantile(ref, j/bins)`` for ``j = 1 .. bins-1`` (linear interpolation), deduplicated; bin
    ``b`` is ``[c_b, c_{b+1})``, the first bin is open below and the last open above (binary
    scores are clipped to [0, 1], so their outer edges are 0 and 1; regression's are -inf and
    +inf, ``null`` in JSON). With ``r_b`` and ``q_b`` the reference and batch shares, each
    floored at ``EPSILON`` = 1e-4 so an empty bin stays finite,
    ``PSI = sum_b (q_b - r_b) * ln(q_b / r_b)``; drift when ``PSI >= threshold``. The
    two-sample Kolmogorov-Smirnov statistic is reported for information. Fewer than
    ``min_rows`` (30) batch scores is ``"insufficient data"``, never drift: a single row lands
    in one bin and gives a PSI near 8 whatever the model does.

Performance change
    The primary metric (ROC AUC for binary, RMSE for regression) on the reference and on the
    labelled batch rows; ``difference = batch - reference``. Its interval is a percentile
    bootstrap with the two samples resampled independently (the rows differ). The batch is
    ``degraded`` when the whole interval lies on the worse side of 0 (below 0 for AUC, above
    0 for RMSE). Fewer than ``min_labels`` labelled rows, or a single class, gives no verdict.

Residual (feature) drift
    Standardized residual of a row: binary ``(y - p) / sqrt(p (1 - p))`` with ``p`` clipped to
    [1e-6, 1 - 1e-6]; regression ``(y - yhat) / sigma`` with ``sigma`` the standard deviation
    (ddof 1) of the reference residuals. For a calibrated model it has mean 0 in every slice of
    the data, whatever the feature distribution, so a change of its mean within a slice means
    the relation between that slice and the label changed: the model is now wrong there.
    Slices are bins of one feature: reference quantile bins (cut points as above) for numeric
    features, with missing values in their own bin ``(missing)``; reference levels for
    categorical features, with ``(missing)`` and ``(unseen)`` (levels absent from the
    reference). Numeric value bins are pooled left to right until both sides hold at least
    ``min_bin`` rows (a small remainder at the top joins the bin before it); a pooled group is
    one bin below. Any bin still smaller than ``min_bin`` on either side - a ``(missing)`` bin,
    a small categorical level, ``(unseen)`` always (no reference rows) - is skipped. Both are
    counted (``bins_pooled``, ``bins_skipped``). Over the ``B`` bins used, with ``n_b``/``m_b``
    reference/batch rows, means ``mr_b``/``mb_b``, variances ``vr_b``/``vb_b`` (ddof 1) and
    ``d_b = mb_b - mr_b``:

    ``score = sum_b w_b |d_b|`` with ``w_b = m_b / sum_b m_b`` (the batch share among the bins
    used): the average change, in residual standard deviations, of the model's error for a
    batch row. Sampling noise alone makes it about ``sqrt(2/pi) sqrt(1/n_b + 1/m_b)`` per bin
    (0.07 for 400 and 200 rows), above the 0.02 threshold for any batch of ordinary size, so
    the threshold alone would flag almost every batch. Hence the test statistic

    ``T = sum_b d_b^2 / (v_b (1/n_b + 1/m_b))`` with ``v_b = max(vr_b, vb_b)``,

    chi-square with ``B`` degrees of freedom when nothing changed (each term is a squared z of
    one bin; bins are disjoint, so the terms are independent), ``p_value = P(chi2_B >= T)``.
    It is the Welch form ``vr_b/n_b + vb_b/m_b`` with each side's variance replaced by the
    larger of the two: a bin's residuals are skewed (a low-score bin is a small negative
    residual most of the time and a large positive one rarely), and a small sample that happens
    to miss the rare large residuals understates its variance by an order of magnitude, which
    made covariate-shifted tail bins look significant. With the larger variance, simulated
    false alarms at alpha 0.05 (300 seeds; 4,000 reference and 2,000 batch rows; logistic
    truth and model) were 2-4 % per feature with no change and 3-7 % under a one-SD shift
    of one feature (the model's small estimation error weighs differently where the rows went).

    A feature drifts when ``p_value < alpha`` AND ``score >= threshold``: the change is not
    noise, and it is large enough to matter (``threshold`` = 0.02 residual standard deviations
    by default, the seed's number; it only binds for large batches, where the test would call
    a negligible change significant). ``worst_bin`` is the used bin with the largest ``|d_b|``
    and ``worst_bin_diff`` its signed ``d_b`` (positive: the batch's labels are now higher than
    the model predicts there). A feature with no usable bin gets NaN ``score`` and
    ``p_value`` and is not drifted.
"""

from __future__ import annotations

from workbench.analyses.concept._performance import performance_change
from workbench.analyses.concept._prediction import EPSILON, prediction_drift
from workbench.analyses.concept._residual import RESIDUAL_COLUMNS, residual_drift
from workbench.analyses.concept._verdict import concept_verdict

__all__ = ["EPSILON", "RESIDUAL_COLUMNS", "concept_verdict", "performance_change", "prediction_drift", "residual_drift"]
