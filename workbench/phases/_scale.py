"""The monitor phases' statistics on the configured executor (``executor:``; :mod:`workbench.scale`).

With ``executor: local`` (the default) the phases compute on the batch frame they already hold,
as before. With ``dask-local`` or ``tcp://...`` the drift statistics and the fairness group
counts are computed on the cluster from the batch's files (workers read their own row groups)
and merged there; the result is the same, exactly in exact mode. A project with a ``features:``
section stays local: its batch is joined with feature-store values on the client, which the
files on disk do not hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import scale
from workbench.reports import catalog
from workbench.scale import stats

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.runner.context import PhaseContext


def where(config: Config) -> str:
    """The executor the statistics run on: the configured one, or ``local`` for a feature-store project."""
    return "local" if config.features is not None else config.executor


def drift_stats(phase: PhaseContext, profile: Any) -> Any | None:
    """The batch's merged drift statistics from the cluster, or None to compute on the frame (executor local)."""
    cfg = phase.config
    if where(cfg) == "local":
        return None
    with scale.open_executor(cfg.executor, cfg.dask) as executor:
        return stats.drift_stats(executor, profile, _batch_path(phase), rows_per_task=cfg.dask.partition_rows)


def group_counts(phase: PhaseContext, sensitive: list[str], *, missing: str) -> Any | None:
    """The labelled rows' merged confusion counts per group from the cluster, or None to count on the frame."""
    cfg = phase.config
    if where(cfg) == "local":
        return None
    predictions = phase.input_dir("score") / catalog.PREDICTIONS_FILE
    with scale.open_executor(cfg.executor, cfg.dask) as executor:
        return stats.group_counts(executor, _batch_path(phase), predictions, sensitive, missing=missing, rows_per_task=cfg.dask.partition_rows)


def _batch_path(phase: PhaseContext) -> Path:
    return Path(phase.input_result("score")["batch"]["path"])
