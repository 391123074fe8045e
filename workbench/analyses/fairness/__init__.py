"""Fairness audit with fairlearn's metric definitions, fast enough for every batch, and bias drift.

- :func:`group_table`: per-group selection rate, TPR, FPR, accuracy and error rate with
  bootstrap intervals, for each sensitive column and their intersection.
- :func:`disparity`: disparate impact (four-fifths rule), demographic parity, equalized
  odds and equal opportunity per attribute, over the groups large enough to judge.
- :func:`bias_drift`: which groups' rates moved beyond noise between two tables.
- :func:`threshold_suggestion`: what fairlearn's ``ThresholdOptimizer`` would change.
- :func:`group_counts`: the per-group confusion counts every rate is built from, mergeable across
  data sites (:meth:`GroupCounts.merge`, :func:`counts_to_arrays`); :func:`group_table_from_counts`
  gives the :func:`group_table` of the pooled rows from the merged counts.
- :func:`label_problem`: why labels cannot be audited (not 0/1, or one class), else None;
  :func:`binary_labels` turns accepted labels into 0/1 ints.

All are pure functions of arrays and DataFrames. Binary classification only: labels and
decisions are 0/1.
"""

from workbench.analyses.fairness._disparity import disparity
from workbench.analyses.fairness._drift import bias_drift
from workbench.analyses.fairness._groups import MISSING, group_table
from workbench.analyses.fairness._labels import NOT_ASSESSABLE, binary_labels, label_problem
from workbench.analyses.fairness._partials import OTHER, GroupCounts, counts_from_arrays, counts_to_arrays, group_counts, group_table_from_counts
from workbench.analyses.fairness._threshold import threshold_suggestion

__all__ = ["MISSING", "NOT_ASSESSABLE", "OTHER", "GroupCounts", "bias_drift", "binary_labels", "counts_from_arrays", "counts_to_arrays",
           "disparity", "group_counts", "group_table", "group_table_from_counts", "label_problem", "threshold_suggestion"]
