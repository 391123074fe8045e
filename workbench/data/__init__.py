"""Data: read, validate, hash and describe datasets; the configured sources; demo data; pre-flight checks.

``from workbench import data`` gives the dataset API of :mod:`workbench.data.dataset` (``Table``,
``Schema``, ``load_table``, ``check_quality``…). The configured reference and batches are read
through :mod:`~workbench.data.sources` (hashed and audited), model inputs are shaped by
:mod:`~workbench.data.frames`, and :mod:`~workbench.data.preflight` checks data files before
anything runs.
"""

from __future__ import annotations

from workbench.data.dataset import (
    SCHEMA_VERSION,
    SUFFIXES,
    Check,
    QualityReport,
    Schema,
    Table,
    category_levels,
    check_quality,
    infer_schema,
    load_table,
    read_columns,
)

__all__ = ["SCHEMA_VERSION", "SUFFIXES", "Check", "QualityReport", "Schema", "Table", "category_levels", "check_quality",
           "infer_schema", "load_table", "read_columns"]
