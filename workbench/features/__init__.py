"""The feature store: versioned feature views (Feast) that training, scoring, monitoring and the online service read.

Definitions live in the config's ``features:`` section (:class:`workbench.config.FeaturesConfig`);
:mod:`.definitions` hashes them and keeps the version ledger; :mod:`.sources` checks the Parquet
sources with pyarrow; :mod:`.store` applies and materializes; :mod:`.offline` builds point-in-time
correct frames; :mod:`.online` answers the scoring service by entity id; :mod:`.metrics` holds the
Prometheus metrics. Only :mod:`._feast` imports Feast (seconds to import), and only when features
are read, so ``import workbench.features`` is cheap.
"""

from workbench.features.definitions import check_model, content_hash, key_column, lineage

__all__ = ["check_model", "content_hash", "key_column", "lineage"]
