"""Calibrated confidence, conformal sets and performance estimation without labels.

Calculator + result, like :mod:`workbench.analyses.drift`: fit on the reference (the model's
labelled holdout), estimate on a batch, results as plain dicts and frames; no files, no MLflow.

- :mod:`._calibration`: a 1-D calibration map (none, sigmoid or isotonic), chosen by cross-fitted
  expected calibration error, stored as JSON with the model version.
- :mod:`._conformal`: split-conformal prediction sets (binary) and intervals (regression) from MAPIE.
- :mod:`._cbpe`: confidence-based performance estimation (binary: ROC AUC, accuracy, precision,
  recall, F1) with sampling error from the reference.
- :mod:`._dle`: direct loss estimation (regression: MAE, RMSE) with a nanny model of the loss.
- :mod:`._compare`: realised beside estimated, reliability by confidence bucket, the concept-drift flag.
- :mod:`._ipw`: metrics from reviewed feedback, weighted by the inverse of the review queue's sampling propensity.
"""

from __future__ import annotations

from workbench.analyses.estimation._annotate import annotate
from workbench.analyses.estimation._calibration import Calibrator, expected_calibration_error, fit_calibrator
from workbench.analyses.estimation._cbpe import CBPE
from workbench.analyses.estimation._compare import compare, realised, reliability, reliability_regression
from workbench.analyses.estimation._conformal import Conformal, fit_conformal
from workbench.analyses.estimation._dle import DLE
from workbench.analyses.estimation._ipw import ipw_metrics

__all__ = ["CBPE", "DLE", "Calibrator", "Conformal", "annotate", "compare", "expected_calibration_error", "fit_calibrator", "fit_conformal",
           "ipw_metrics", "realised", "reliability", "reliability_regression"]
