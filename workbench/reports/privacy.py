"""What the stored records say about privacy: a phase's private release (``privacy.json``) and a model card's privacy section.

Phases write a ``privacy.json`` beside the tables of a private release (drift distributions,
fairness group counts); apps read it here to say "noise added (ε = …)" next to those tables. The
card's section is gathered from the version's training run (the private-features release in the
train phase's ``result.json``, the utility table the evaluate phase stored) and the monitor runs
that scored with it. Nothing is recomputed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import read_json
from workbench.exceptions import WorkbenchError
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.reports.catalog import BatchRun

RELEASES = ("features", "drift", "fairness")  # features: the training data (reference); drift, fairness: each monitored batch


def release(folder: Path) -> dict[str, Any] | None:
    """The private release a phase stored in ``folder`` (its ``privacy.json``), or None when what it published is exact."""
    path = Path(folder) / catalog.PRIVACY_FILE
    if not path.is_file():
        return None
    record = read_json(path)
    return record if isinstance(record, dict) and record.get("private") else None


def noise_note(record: dict[str, Any] | None) -> str | None:
    """``"noise added (ε = 0.5)"`` for a private release, None for an exact one."""
    if not record:
        return None
    return f"noise added (ε = {float(record['epsilon']):g})"


def card_section(config: Config, run_id: str, monitored: list[BatchRun]) -> dict[str, Any] | None:
    """The model card's privacy section of the version trained in ``run_id`` (None: no privacy configured or recorded).

    States the private features (columns, epsilon, the dataset whose budget paid), the metric loss
    at that epsilon and the utility table (both from the evaluate phase's table), and which
    releases are private, with their epsilon (configured now, and as released for each monitored batch).
    """
    trained = _result(config, run_id, "train") or {}
    features = trained.get("privacy")
    if features is None and config.privacy is None:
        return None
    utility = _utility(config, run_id)
    configured = config.privacy.releases if config.privacy is not None else {}
    releases = [{"release": "features", "private": features is not None, "epsilon": _num(features and features.get("epsilon")),
                 "dataset": str((features or {}).get("dataset") or "the reference")}]
    releases += [{"release": name, "private": name in configured, "epsilon": _num(configured.get(name)), "dataset": "each monitored batch"}
                 for name in RELEASES[1:]]
    at = next((row for row in utility if row["configured"]), None) if features else None
    clean = next((row for row in utility if row["epsilon"] is None), None)
    notes = []
    if features:
        notes.append(f"The model trained on {', '.join(features['columns'])} with per-row Laplace noise (local DP, epsilon "
                     f"{features['epsilon']:g} per row); the holdout and production rows it scores are clean.")
    if utility:
        notes.append("The utility table is computed by the data team from clean data; it is not a private release.")
    return {"epsilon": _num(features and features.get("epsilon")), "columns": list((features or {}).get("columns", [])),
            "bounds": {c: [float(v) for v in b] for c, b in (features or {}).get("bounds", {}).items()},
            "sha256": str((features or {}).get("sha256", "")), "metric": utility[0]["metric_name"] if utility else "",
            "clean_metric": clean["metric"] if clean else None, "private_metric": at["metric"] if at else None,
            "loss": at["loss"] if at else None, "utility": [{k: v for k, v in row.items() if k not in ("configured", "metric_name")} for row in utility],
            "releases": releases, "monitored": _monitored(monitored), "notes": notes}


def _result(config: Config, run_id: str, phase: str) -> dict[str, Any] | None:
    try:
        return catalog.phase_result(config, phase, run_id=run_id or None)
    except (WorkbenchError, OSError):
        return None


def _utility(config: Config, run_id: str) -> list[dict[str, Any]]:
    """The rows of the utility table the version's evaluate phase stored ([] when it stored none)."""
    import pandas as pd

    try:
        folder = catalog.phase_dir(config, "evaluate", run_id=run_id or None)
    except (WorkbenchError, OSError):
        return []
    path = folder / catalog.PRIVACY_UTILITY_FILE
    if not path.is_file():
        return []
    table = pd.read_parquet(path)
    keep = [c for c in ("setting", "epsilon", "metric", "metric_private_holdout", "loss", "mean_abs_noise", "configured", "metric_name") if c in table]
    return [{k: (_num(v) if k not in ("setting", "configured", "metric_name") else bool(v) if k == "configured" else str(v)) for k, v in row.items()}
            for row in table[keep].to_dict(orient="records")]


def _monitored(monitored: list[BatchRun]) -> list[dict[str, Any]]:
    """Each private release of the monitored batches: batch, release, epsilon and the budget left after it."""
    out = []
    for info in monitored:
        for phase in ("drift", "fairness"):
            record = release(info.phase_dir(phase))
            if record:
                out.append({"batch": info.name, "release": phase, "epsilon": float(record["epsilon"]), "remaining": _num(record.get("remaining"))})
    return out


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return None if math.isnan(value) else value
