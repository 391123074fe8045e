"""Seeded, deterministic generator of the demo customer-churn dataset.

Files (``generate``; ``ensure_demo`` writes the same data to configured paths)::

    <out_dir>/reference.<fmt>          8,000 rows dated 2025-07-01 .. 2025-12-31
    <out_dir>/batches/2026-01.<fmt>    2,000 rows dated within 2026-01, ... up to 2026-08

Each file is a pure function of ``(seed, month, n, first id)``: its generator is
``numpy.random.default_rng([seed, YYYYMM])`` (``[seed, 0]`` for the reference), so files are
identical across runs (same bytes for CSV, same content for Parquet).

Split over data sites (``write_sites``; ``split_rows`` says which rows, pure and seeded)::

    <out_dir>/<site>/train.parquet            the reference's rows of site a, b, c, ...
    <out_dir>/<site>/batches/2026-01.parquet  each batch split the same way, ... up to 2026-08

Columns (:data:`COLUMNS`, levels in :data:`CATEGORIES`): ``customer_id`` str ``"C0000001"``,
unique across the demo (reference first, then batches in month order, each in date order);
``snapshot_date`` datetime64 (midnight) inside its month; ints ``tenure_months`` (1..72),
``support_calls``, ``num_products`` (1..5); floats ``monthly_charges`` (>= 15),
``total_charges`` (tenure x monthly x N(1, 0.04), 1% NaN), ``avg_session_minutes``; str
``contract``, ``payment_method``, ``internet_service``, ``region``; sensitive str ``gender``,
``age_band``; label ``churned`` int 0/1 (27.7% in the default reference). Contract drives
tenure; internet service and products drive charges; age shifts internet mix, tenure and
session time a little. CSV dates are written as ``YYYY-MM-DD``.

The label is Bernoulli(sigmoid(logit)); the *reference relation* is ::

    logit = -2.9 + contract {month-to-month: +1.4, one-year: -0.4, two-year: -1.8}
            - 0.04 (tenure_months - 24) + 2.0 [tenure_months < 4]
            + 0.2 (support_calls - 1.5) + 2.0 ([support_calls >= 4] - 0.1)
            + 1.5 ([internet == fiber and contract == month-to-month] - 0.2)
            + 0.9 [payment_method == electronic_check] + internet {fiber: +0.6, none: -0.8}
            - 0.5 (num_products - 2) - 0.03 (avg_session_minutes - 30)
            + 0.004 ((avg_session_minutes - 30)^2 - 150)

The steps, the interaction and the U-shape are there on purpose: a linear model cannot fit
them, so the boosted candidate clearly beats the logistic-regression baseline (holdout
ROC AUC about 0.92 against 0.87). Price acts only through internet service and products;
gender, region and age have no direct effect (until the bias shift). Churn rate ~0.30.

Planted scenarios (:data:`SCENARIOS`; :func:`scenario_state` says which are active)
-----------------------------------------------------------------------------------
Measured with the demo config's model (HistGradientBoosting, max_iter 200, learning rate
0.08) trained on 75 % of the reference, threshold 0.5 for true positive rates (TPR):

1. ``no_drift``: 2026-01 and 2026-02 come from exactly the reference distribution and
   relation (ROC AUC 0.91, TPR 0.67-0.79 in every age band).
2. ``data_drift``, gradual from 2026-03: with ``k`` = 1 in 2026-03, 2 in 2026-04, ...,
   ``monthly_charges`` rises by ``0.25 k`` reference SDs (``0.25 k x 25.9``, carried into
   ``total_charges``) and the month-to-month share rises by ``0.02 k`` from 0.45 (the other
   contracts keep their ratio; tenure shortens). Labels keep the reference relation, so
   the churn rate creeps up (0.29 -> 0.33 by 2026-04) and ROC AUC does not change (0.91).
3. ``concept_drift``, abrupt from 2026-05 on: tenure stops mattering (linear term and the
   new-customer step both 0), two-year contracts stop protecting (-1.8 -> +0.2), and the
   support-call step and the fiber x month-to-month interaction vanish (both 0); everything
   else, including the intercept, is unchanged. Features follow only the gradual drift.
   ROC AUC falls from 0.91 (2026-04) to 0.77 (2026-05).
4. ``bias_shift``, from 2026-07 on: ``age_band == "60+"`` customers on one- or two-year
   contracts get +4.5 on the logit, unexplained by any feature (a competitor's offer to
   seniors on long contracts; the group's churn rate goes from ~0.3 to ~0.55). The model
   scores exactly these customers low, so the 60+ TPR drops from 0.51 (2026-06; in line
   with the other bands before 2026-07) to 0.28 (2026-07), while the other bands stay at
   0.62-0.65. ROC AUC 0.67 in 2026-07.
Every gender x age_band cell has 180+ rows in a 2,000-row batch (well over 50).
"""

from workbench.data.demo._files import FORMATS, DemoFiles, ensure_demo, ensure_feature_demo, generate
from workbench.data.demo._generate import (
    CATEGORIES,
    COLUMNS,
    DEFAULT_SEED,
    NUMERIC,
    REFERENCE_MONTHS,
    SCENARIOS,
    batch_months,
    make_frame,
    scenario_state,
)
from workbench.data.demo._generate import FIRST_BATCH_MONTH as FIRST_BATCH_MONTH
from workbench.data.demo._generate import MONTHLY_CHARGES_SD as MONTHLY_CHARGES_SD
from workbench.data.demo._generate import MONTHS as MONTHS
from workbench.data.demo._generate import N_BATCH as N_BATCH
from workbench.data.demo._generate import N_REFERENCE as N_REFERENCE
from workbench.data.demo._sites import MAX_SITES, SITES_CONFIG, SPLITS, SiteFiles, site_names, skewed_shares, split_rows, write_sites, write_sites_config
from workbench.exceptions import DemoFormatError

__all__ = ["CATEGORIES", "COLUMNS", "DEFAULT_SEED", "FORMATS", "NUMERIC", "REFERENCE_MONTHS",
           "MAX_SITES", "SCENARIOS", "SITES_CONFIG", "SPLITS", "DemoFiles", "DemoFormatError", "SiteFiles", "batch_months", "ensure_demo",
           "ensure_feature_demo", "generate", "make_frame", "scenario_state", "site_names", "skewed_shares", "split_rows",
           "write_sites", "write_sites_config"]
