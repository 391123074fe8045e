"""Config sections of calibrated confidence, performance estimation and feedback (README, 'Performance before labels')."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workbench.config._base import _Strict


class EstimationConfig(_Strict):
    """Calibrated confidence, conformal sets and label-free performance estimation (README, 'Performance before labels')."""

    calibration: Literal["auto", "none", "sigmoid", "isotonic"] = "auto"  # auto: whichever lowers the cross-fitted ECE on the holdout
    coverage: float = Field(0.9, ge=0.5, lt=1.0)  # conformal prediction sets (binary) or intervals (regression) hold the truth this often
    band: float = Field(3.0, gt=0.0, le=10.0)  # an estimate's band: this many sampling standard errors either side
    alert_drop: float = Field(0.05, gt=0.0, lt=1.0)  # alert when the estimated primary metric is this much (relative) worse than the reference
    buckets: int = Field(10, ge=2, le=50)  # confidence buckets of the reliability table


class FeedbackConfig(_Strict):
    """The feedback store and its review queue (README, 'Feedback')."""

    control_share: float = Field(0.1, ge=0.1, le=1.0)  # share of the review queue drawn uniformly at random (keeps estimates unbiased)
