"""Fairness audit with fairlearn's metric definitions, fast enough for every batch, and bias drift.

- :func:`group_table`: per-group selection rate, TPR, FPR, accuracy and error rate with
  bootstrap intervals, for each sensitive column and their intersection.
- :func:`disparity`: disparate impact (four-fifths rule), demographic parity, equalized
  odds and equal opportunity per attribute, over the groups large enough to judge.
- :func:`bias_drift`: which groups' rates moved beyond noise between two tables.
- :func:`threshold_suggestion`: what fairlearn's ``ThresholdOptimizer`` would change.

All are pure functions of arrays and DataFrames. Binary classification only: labels and
decisions are 0/1.
"""

from workbench.analyses.fairness._disparity import disparity
from workbench.analyses.fairness._drift import bias_drift
from workbench.analyses.fairness._groups import MISSING, group_table
from workbench.analyses.fairness._threshold import threshold_suggestion

__all__ = ["MISSING", "bias_drift", "disparity", "group_table", "threshold_suggestion"]
