"""Data drift: a fast, sample-size-aware comparison of a batch with its reference data.

Build a :class:`ReferenceProfile` once per model version (:func:`build_profile`, cache it with
:meth:`ReferenceProfile.save`), then :func:`compare` each batch with it. The result has one
explicit row per profiled column, whatever happened to the column, and a dataset verdict.

Decision rule
-------------
A column drifts when **its p-value is below alpha AND its effect size reaches the effect
threshold**:

* numeric columns: two-sample Kolmogorov-Smirnov test (p-values as ``scipy.stats.ks_2samp``),
  effect size = Wasserstein-1 distance divided by the reference standard deviation,
  threshold ``min_effect_numeric`` = 0.05;
* categorical columns: two-sample chi-square test on the 2 x L table of level counts (both
  samples random, ``scipy.stats.chi2_contingency``), effect size = Jensen-Shannon distance
  (base 2), threshold ``min_effect_categorical`` = 0.05.

The test alone answers "could this difference be chance?", and with a million rows almost any
difference could not; the effect size alone ignores that 200 rows are noisy. Requiring both
means identical distributions are not flagged at any size (tiny effect), small samples are not
flagged on noise (no significance), and a shift of 0.1 standard deviation (Wasserstein 0.1) is
flagged as soon as there are rows enough for p < alpha. Categorical levels are not compared
by goodness of fit against reference shares taken as exact (evidently's ``chisquare``): that
ignores the reference's own sampling noise and raises false alarms far above alpha.

Statuses other than ``ok``/``drift`` are never skipped silently: fewer than ``min_rows``
non-missing values in either sample, or a constant reference column the batch departs from, is
``"insufficient data"`` (not drifted); a profile column absent from the batch is ``"missing
column"``; a numeric column arriving as text is ``"type changed"`` (also when the text parses as
numbers, e.g. an int column written back as string: then its statistics are still shown); a column with no values on one side is ``"empty
column"``; a batch missing share above ``max_missing`` is ``"high missing share"``, an alert of its
own (drifted, as is an empty batch column); a batch missing share above the reference's by more than
``max_missing_increase`` (absolute, 0.05) is ``"missing share increased"``, an alert too (``drifted``
still says whether the values drifted). A batch of fewer than ``min_rows`` rows is too small for any
statistic: every column it holds is ``"insufficient data"`` (a missing or retyped column is still
named as such, as those do not depend on size). Missing values are NaN,
None and, for numeric columns, +/-inf; their shares are reported. The dataset drifts when the
share of drifted columns reaches ``drift_share``; other statuses are listed in ``problems``.

Modes: ``"exact"`` keeps each numeric reference column sorted (KS and Wasserstein equal scipy's);
``"sketch"`` keeps counts over about 1000 reference-quantile bins: its KS statistic is at most
the largest reference bin mass (~1/bins) below the exact one, its p-value is computed from that
binned statistic with the true sample sizes, and its Wasserstein error is bounded by the bin
widths (details in :func:`compare`). Batch statistics merge across chunks (:meth:`BatchStats.merge`,
:func:`batch_stats_from_parquet`), so a batch larger than memory is read in pieces, and across data
sites without pooling rows: :func:`stats_to_arrays` / :func:`stats_from_arrays` carry them as plain
arrays (no pickle) and :func:`merge_sites` gives what the pooled rows would (exact mode ships each
column's sorted values; sketch mode only counts). A sketch profile of reference data spread over sites is
built from quantile summaries and exact counts (:func:`federated_edges`, :func:`numeric_from_counts`).
"""

from __future__ import annotations

from workbench.analyses.drift._batch import BatchStats, ColumnStats, batch_stats, batch_stats_from_parquet
from workbench.analyses.drift._decide import compare
from workbench.analyses.drift._distributions import distribution_table
from workbench.analyses.drift._federated import (
    QUANTILE_LEVELS,
    federated_edges,
    merge_moments,
    numeric_from_counts,
    pooled_quantiles,
    quantile_summary,
)
from workbench.analyses.drift._partials import (
    check_sums,
    count_vectors,
    merge_sites,
    profile_from_arrays,
    profile_to_arrays,
    stats_from_arrays,
    stats_to_arrays,
    with_counts,
)
from workbench.analyses.drift._profile import CategoricalProfile, NumericProfile, ReferenceProfile, build_profile
from workbench.analyses.drift._result import COLUMNS, STATUSES, DriftResult

__all__ = [
    "build_profile", "ReferenceProfile", "NumericProfile", "CategoricalProfile", "BatchStats", "ColumnStats",
    "batch_stats", "batch_stats_from_parquet", "compare", "DriftResult", "COLUMNS", "STATUSES", "distribution_table",
    "stats_to_arrays", "stats_from_arrays", "merge_sites", "check_sums", "profile_to_arrays", "profile_from_arrays",
    "count_vectors", "with_counts", "QUANTILE_LEVELS", "quantile_summary", "pooled_quantiles", "federated_edges", "merge_moments",
    "numeric_from_counts",
]
