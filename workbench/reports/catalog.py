"""The results catalog: every result file name, defined once, and the one reader of run folders.

Phases write their results under these names; apps, reviews, model cards, the runner's summary
and later phases read them through this module (a run by id, the latest run, runs of a kind in
a time window, the latest monitor run of each batch), never by globbing paths or spelling file
names themselves. Run folders whose manifest cannot be read are left out of every listing
but :func:`broken_runs`, which says why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import read_json
from workbench.exceptions import PhaseError, WorkbenchError
from workbench.reports import manifest

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

# Every phase ---------------------------------------------------------------------------------
RESULT_FILE = "result.json"  # written last by every phase: its presence means the phase succeeded
MLFLOW_RUN_ID_FILE = "mlflow_run_id"
# validate
QUALITY_FILE = "quality.json"
BATCHES_FILE = "batches.json"
# train / baseline
HOLDOUT_FILE = "holdout.parquet"
LEADERBOARD_FILE = "leaderboard.parquet"  # train, model.estimator auto: cross-validated candidates, best first
# evaluate
METRICS_PLOT = "metrics.png"
UNSEEN_FILE = "unseen.json"  # challenger vs champion on rows the champion never trained on (retrain runs)
CONFIDENCE_FILE = "confidence.json"  # evaluate: calibration map and conformal quantile of candidate and baseline (runs since issue 16)
PRIVACY_UTILITY_FILE = "privacy_utility.parquet"  # evaluate: holdout metric with clean vs private features per epsilon (privacy.features)
# responsible (holdout audit of a newly registered version)
AUDIT_FILE = "audit.json"
# score
PREDICTIONS_FILE = "predictions.parquet"
CANARY_FILE = "canary.json"
# drift
COLUMNS_FILE = "columns.parquet"
DISTRIBUTIONS_FILE = "distributions.parquet"
DATA_DRIFT_FILE = "data_drift.json"
CONCEPT_FILE = "concept.json"
FEATURE_DRIFT_FILE = "feature_drift.parquet"
VERDICT_FILE = "verdict.json"
EVIDENTLY_FILE = "evidently.html"
EVIDENTLY_SUMMARY_FILE = "evidently.json"  # what the evidently report counted, and with which rule (runs since issue 15)
DRIFT_PLOT = "drift.png"
HISTORY_FILE = "history.parquet"
HISTORY_COLUMNS_FILE = "history_columns.parquet"
HISTORY_PLOT = "history.png"
ESTIMATE_FILE = "estimate.json"  # drift: performance estimated without labels, realised beside it when labels arrived (issue 16)
RELIABILITY_FILE = "reliability.parquet"  # drift: is the model right as often as it says, by confidence bucket (labelled batches)
ESTIMATE_HISTORY_FILE = "estimate_history.parquet"  # drift: estimated and realised performance of every monitored batch
ESTIMATE_PLOT = "estimate.png"  # drift: that history as a chart
PRIVATE_MEANS_FILE = "private_means.parquet"  # drift: noisy means of the bounded columns (privacy.releases.drift with privacy.bounds)
PRIVACY_FILE = "privacy.json"  # drift, fairness: the private release of this phase (mechanism, epsilon, scale, ledger spend)
# fairness (also on the holdout in responsible/)
FAIRNESS_FILE = "fairness.json"
GROUPS_FILE = "groups.parquet"
REFERENCE_GROUPS_FILE = "reference_groups.parquet"
DISPARITY_FILE = "disparity.parquet"
REFERENCE_DISPARITY_FILE = "reference_disparity.parquet"  # the checks on the reference holdout (runs since issue 15)
BIAS_DRIFT_FILE = "bias_drift.parquet"
BIAS_HISTORY_FILE = "bias_history.parquet"
THRESHOLD_FILE = "threshold_suggestion.parquet"
# explain (also on the holdout in responsible/)
EXPLAIN_FILE = "explain.json"
IMPORTANCE_FILE = "importance.parquet"
EXPLANATION_DRIFT_FILE = "explanation_drift.parquet"
IMPORTANCE_PLOT = "importance.png"
BEESWARM_PLOT = "beeswarm.png"
LOCAL_FILE = "local.parquet"  # per explained row: its id, score and each feature's contribution (long form)
# impact
KPIS_FILE = "kpis.parquet"
TREND_FILE = "trend.parquet"
TREND_PLOT = "trend.png"
IMPACT_FILE = "impact.json"
# review
REVIEW_FILE = "review.json"
KPI_TREND_PLOT = "kpi_trend.png"


IMPORTANCE_BY_PREFIX = "importance_by_"
WATERFALL_PREFIX = "waterfall_"


def importance_by_file(column: str) -> str:
    """Importance per group of a sensitive column."""
    return f"{IMPORTANCE_BY_PREFIX}{column}.parquet"


def waterfall_plot(kind: str, key: Any) -> str:
    """A waterfall figure: ``kind`` is ``top_risk`` (key: rank) or ``id`` (key: the row's id)."""
    return f"{WATERFALL_PREFIX}{kind}_{key}.png"


@dataclass(frozen=True)
class RunInfo:
    """A run folder and its manifest."""

    run_id: str
    path: Path
    manifest: dict[str, Any]

    @property
    def status(self) -> str:
        """The run's status (running, succeeded, failed or interrupted)."""
        return self.manifest.get("status", "unknown")

    def phase_status(self, phase: str) -> str | None:
        """A phase's status in this run, or None when the run did not plan it."""
        return self.manifest.get("phases", {}).get(phase, {}).get("status")

    def phase_dir(self, phase: str) -> Path:
        """The folder holding a phase's results."""
        return self.path / phase

    def read(self, phase: str, name: str = RESULT_FILE) -> dict[str, Any] | None:
        """A JSON result of a phase in this run, or None when it was not written."""
        path = self.phase_dir(phase) / name
        return read_json(path) if path.is_file() else None


def list_runs(config: Config, *, kind: str | None = None, since: datetime | None = None, until: datetime | None = None) -> list[RunInfo]:
    """All readable runs, oldest first, optionally of one kind and started within a window."""
    root = config.reports
    if not root.is_dir():
        return []
    runs = []
    for folder in sorted(root.iterdir()):
        info = _try_read(folder)
        if not isinstance(info, RunInfo) or (kind and info.manifest.get("kind") != kind):
            continue
        started = datetime.fromisoformat(info.manifest["started"])
        if (since and started < since) or (until and started >= until):
            continue
        runs.append(info)
    return sorted(runs, key=lambda r: (r.manifest["started"], r.run_id))


@dataclass(frozen=True)
class BrokenRun:
    """A run folder whose manifest cannot be read, and why."""

    run_id: str
    path: Path
    reason: str


def broken_runs(config: Config) -> list[BrokenRun]:
    """Run folders with a missing, truncated or malformed manifest, in name order."""
    root = config.reports
    folders = sorted(root.iterdir()) if root.is_dir() else []
    return [info for info in map(_try_read, folders) if isinstance(info, BrokenRun)]


def _try_read(folder: Path) -> RunInfo | BrokenRun | None:
    """The run in ``folder``, why it cannot be read, or None when it is no run folder."""
    path = folder / manifest.FILENAME
    if not folder.is_dir() or not manifest.RUN_ID_RE.match(folder.name):
        return None
    fix = "Fix: restore the file, or delete the folder if the run is not needed."
    if not path.is_file():
        if not (folder / "notebooks").is_dir():
            return None  # not a run folder
        return BrokenRun(folder.name, folder, f"{path} is missing (the runner stopped before writing it). {fix}")
    try:
        data = manifest.read(folder)
    except json.JSONDecodeError as exc:
        return BrokenRun(folder.name, folder, f"{path} is truncated or not JSON ({exc.msg}: line {exc.lineno} column {exc.colno}). {fix}")
    except (OSError, ValueError) as exc:
        return BrokenRun(folder.name, folder, f"{path} cannot be read ({exc}). {fix}")
    missing = [k for k in ("status", "started", "phases") if not isinstance(data, dict) or k not in data]
    if not missing:
        try:
            datetime.fromisoformat(data["started"])
        except (TypeError, ValueError):
            missing = ["started (an ISO 8601 time)"]
    if missing:
        return BrokenRun(folder.name, folder, f"{path} lacks {', '.join(missing)}. {fix}")
    return RunInfo(folder.name, folder, data)


def get_run(config: Config, run_id: str) -> RunInfo:
    """A run by id; the id is validated first, so it cannot point outside the reports folder."""
    folder = config.reports / manifest.check_run_id(run_id)
    info = _try_read(folder)
    if isinstance(info, BrokenRun):
        raise WorkbenchError(f"run {run_id!r}: {info.reason}")
    if info is None:
        raise WorkbenchError(f"run {run_id!r} not found in {config.reports}. Fix: pick one listed by `workbench runs`.")
    return info


def latest_run(config: Config, *, kind: str | None = None, with_phase: str | None = None) -> RunInfo | None:
    """The newest run (of a kind, or in which ``with_phase`` succeeded), or None."""
    for info in reversed(list_runs(config, kind=kind)):
        if with_phase is None or info.phase_status(with_phase) == "succeeded":
            return info
    return None


def phase_dir(config: Config, phase: str, *, run_id: str | None = None) -> Path:
    """Folder of a phase's results: in ``run_id`` when it ran there, else the latest run where it succeeded."""
    if run_id:
        info = get_run(config, run_id)
        if (info.phase_dir(phase) / RESULT_FILE).is_file():
            return info.phase_dir(phase)
    info = latest_run(config, with_phase=phase)
    if info is None:
        raise PhaseError(
            f"no results of phase {phase!r} found in {config.reports}. "
            f"Fix: run it first (`workbench run --phases {phase}`)."
        )
    return info.phase_dir(phase)


def phase_result(config: Config, phase: str, *, run_id: str | None = None) -> dict[str, Any]:
    """The ``result.json`` a phase wrote."""
    return read_json(phase_dir(config, phase, run_id=run_id) / RESULT_FILE)


@dataclass(frozen=True)
class BatchRun(RunInfo):
    """The latest monitor run of one batch: a run, with the batch as its score phase recorded it."""

    score: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The batch file's name (batches sort by it)."""
        return self.score["batch"]["name"]

    @property
    def batch(self) -> dict[str, Any]:
        """``{name, path, sha256, rows}`` of the batch that was scored."""
        return self.score["batch"]


def latest_per_batch(config: Config, phase: str = "score", *, name: str = RESULT_FILE, runs: list[RunInfo] | None = None,
                     current: Path | None = None, where: Callable[[dict[str, Any]], bool] | None = None) -> list[BatchRun]:
    """The latest monitor run of each batch in which ``phase`` wrote ``name``, in batch-name order.

    Parameters
    ----------
    config : Config
        The project.
    phase, name : str
        The result that must exist in a run for it to count (default: the score phase's ``result.json``).
    runs : list of RunInfo, optional
        Only these runs (e.g. a review's window); default every monitor run.
    current : Path, optional
        The results folder of a phase still running (its run is counted as the latest).
    where : callable, optional
        Keep only runs whose score ``result.json`` passes (e.g. scored by one model version).
    """
    infos = list(runs if runs is not None else list_runs(config, kind="monitor"))
    if current is not None:
        info = _try_read(current.parent)
        infos.append(info if isinstance(info, RunInfo) else RunInfo(current.parent.name, current.parent, {}))
    latest: dict[str, BatchRun] = {}
    for info in infos:
        score = info.read("score") if (info.phase_dir(phase) / name).is_file() else None
        if score is not None and (where is None or where(score)):
            latest.pop(score["batch"]["name"], None)  # the later run replaces the earlier one
            latest[score["batch"]["name"]] = BatchRun(info.run_id, info.path, info.manifest, score)
    return sorted(latest.values(), key=lambda b: b.name)
