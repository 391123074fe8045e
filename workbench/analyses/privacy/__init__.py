"""Differential privacy with OpenDP: Laplace releases of the aggregates the workbench publishes, and private features.

- :func:`laplace` — the Laplace mechanism (OpenDP's exact sampler, never numpy's generator);
  :func:`noisy_counts` — counts with Laplace noise, rounded and clipped at 0;
- :func:`private_distribution` — the drift phase's distribution table with the batch counts private;
- :func:`private_means` — means of bounded numeric columns (noisy count and clamped sum);
- :func:`private_group_counts` — the counts of a fairness group table;
- :func:`privatize_features` — per-row (local) Laplace noise on features, and :func:`utility_table`,
  the holdout metric with clean vs private features at several epsilons.

Every release returns a :class:`Release` saying what it spent (epsilon, sensitivity, noise scale);
spending it from the dataset's budget is the caller's job
(:func:`workbench.governance.privacy_ledger.spend`), before the release is published. Neighbouring
datasets differ by one row added or removed; each function states the sensitivity it assumes.
Pure statistics: no config, no files, no ledger.
"""

from workbench.analyses.privacy._features import privatize_features, utility_table
from workbench.analyses.privacy._mechanisms import Release, laplace, noisy_counts
from workbench.analyses.privacy._releases import OTHER, private_distribution, private_group_counts, private_means

__all__ = ["OTHER", "Release", "laplace", "noisy_counts", "private_distribution", "private_group_counts", "private_means",
           "privatize_features", "utility_table"]
