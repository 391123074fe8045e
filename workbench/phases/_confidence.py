"""The evaluate phase's confidence step: calibration and conformal sets fitted on the holdout.

For the candidate and the baseline alike: binary scores get a calibration map (``estimation.calibration``;
``auto`` keeps the raw score unless sigmoid or isotonic calibration lowers the cross-fitted expected
calibration error) and both tasks a split-conformal quantile at ``estimation.coverage`` (MAPIE). The
holdout is the only data the model never trained on, so it is where both are fitted; the coverage
reported is measured on the half of the holdout the quantile was not fitted on (see
:func:`workbench.analyses.estimation.fit_conformal`). Saved as ``confidence.json``; registration puts
each record on its version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.analyses import estimation
from workbench.exceptions import DataError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from workbench.config import Config


@dataclass(frozen=True)
class ConfidenceReport:
    """What the confidence step fitted, per model (``candidate``, ``baseline``)."""

    task: str
    coverage: float
    records: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """The JSON saved as ``confidence.json``."""
        return {"schema_version": 1, "task": self.task, "coverage": self.coverage, **self.records}

    def table(self) -> list[dict[str, Any]]:
        """One row per model: calibration chosen, ECE before and after, conformal coverage and set size or width."""
        rows = []
        for role, rec in self.records.items():
            cal, conf = rec.get("calibration") or {}, rec.get("conformal") or {}
            ece = cal.get("ece", {})
            row = {"model": role, "calibration": cal.get("method", "—"),
                   "ECE raw": ece.get("none"), "ECE calibrated": ece.get(cal.get("method")) if cal else None,
                   "coverage target": self.coverage, "holdout coverage": conf.get("holdout_coverage"),
                   "mean set size" if self.task == "binary" else "interval width": conf.get("holdout_size")}
            if rec.get("notes"):
                row["notes"] = "; ".join(rec["notes"])
            rows.append(row)
        return rows

    def _repr_html_(self) -> str:
        import pandas as pd

        return ("<p><b>Calibrated confidence and conformal sets</b> (fitted on the holdout; coverage measured on the half the "
                "quantile was not fitted on)</p>" + pd.DataFrame(self.table()).to_html(index=False, na_rep="—", float_format="{:.4f}".format))


def fit(config: Config, y: np.ndarray, scores: dict[str, np.ndarray]) -> ConfidenceReport:
    """Fit each model's confidence record on the holdout labels ``y`` and its scores."""
    est, task, seed = config.estimation, config.model.task, config.model.seed
    records: dict[str, dict[str, Any]] = {}
    for role, s in scores.items():
        rec: dict[str, Any] = {"calibration": None, "conformal": None, "notes": []}
        if task == "binary":
            try:
                rec["calibration"] = estimation.fit_calibrator(y, s, method=est.calibration, bins=est.buckets, seed=seed).to_dict()
            except DataError as exc:  # a holdout too small or of one class: the raw score stays the confidence, and the report says why
                rec["notes"].append(f"not calibrated: {exc}")
        try:
            rec["conformal"] = estimation.fit_conformal(y, s, task=task, coverage=est.coverage, seed=seed).to_dict()
        except DataError as exc:
            rec["notes"].append(f"no conformal sets: {exc}")
        records[role] = rec
    return ConfidenceReport(task, est.coverage, records)


def metrics(report: ConfidenceReport) -> dict[str, float]:
    """MLflow metrics of the candidate's record."""
    rec = report.records.get("candidate", {})
    out: dict[str, float] = {}
    if cal := rec.get("calibration"):
        out |= {"ece_raw": cal["ece"]["none"], "ece_calibrated": cal["ece"][cal["method"]]}
    if conf := rec.get("conformal"):
        out |= {"conformal_coverage": conf["holdout_coverage"], "conformal_size": conf["holdout_size"]}
    return {k: float(v) for k, v in out.items() if v is not None}
