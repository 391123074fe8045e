"""Holdout evaluation: metrics with bootstrap confidence intervals, and the candidate
compared with the current champion and the static baseline on the same rows.

Confidence intervals are percentile bootstraps from :func:`scipy.stats.bootstrap`; the
comparison uses a paired bootstrap of the difference in the primary metric, so both
models are judged on the same resampled rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd


PRIMARY = {"binary": "roc_auc", "regression": "rmse"}
HIGHER_IS_BETTER = {"roc_auc": True, "average_precision": True, "accuracy": True, "f1": True,
                    "brier": False, "log_loss": False, "rmse": False, "mae": False, "r2": True}


def metric_functions(task: str) -> dict[str, Callable[[Any, Any], float]]:
    """The metrics reported for a task, as ``f(y_true, score)``."""
    import numpy as np
    from sklearn import metrics as m

    if task == "binary":
        return {
            "roc_auc": m.roc_auc_score,
            "average_precision": m.average_precision_score,
            "accuracy": lambda y, p: m.accuracy_score(y, p >= 0.5),
            "f1": lambda y, p: m.f1_score(y, p >= 0.5, zero_division=0.0),
            "brier": m.brier_score_loss,
            "log_loss": lambda y, p: m.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]),
        }
    return {
        "rmse": lambda y, p: float(np.sqrt(m.mean_squared_error(y, p))),
        "mae": m.mean_absolute_error,
        "r2": m.r2_score,
    }


def _interval(statistic: Callable[..., float], arrays: tuple[Any, ...], n_resamples: int, confidence: float, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of a paired statistic (NaN when it cannot be computed)."""
    from scipy import stats

    try:
        res = stats.bootstrap(arrays, statistic, paired=True, vectorized=False, n_resamples=n_resamples,
                              confidence_level=confidence, method="percentile", random_state=seed)
    except ValueError:
        return float("nan"), float("nan")
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def metrics_with_ci(y: np.ndarray, score: np.ndarray, task: str, *, n_bootstrap: int = 200, confidence: float = 0.95, seed: int = 0) -> dict[str, dict[str, float]]:
    """Each metric's value and bootstrap interval: ``{name: {"value", "low", "high"}}``."""
    out = {}
    for name, fn in metric_functions(task).items():
        low, high = _interval(lambda a, b, fn=fn: fn(a, b), (y, score), n_bootstrap, confidence, seed)
        out[name] = {"value": float(fn(y, score)), "low": low, "high": high}
    return out


def paired_difference(y: np.ndarray, first: np.ndarray, second: np.ndarray, task: str, *,
                      n_bootstrap: int = 200, confidence: float = 0.95, seed: int = 0) -> dict[str, float]:
    """Primary metric of ``first`` minus ``second`` on the same rows, with a paired interval."""
    fn = metric_functions(task)[PRIMARY[task]]
    stat = lambda a, b, c: fn(a, b) - fn(a, c)  # noqa: E731
    low, high = _interval(stat, (y, first, second), n_bootstrap, confidence, seed)
    return {"metric": PRIMARY[task], "value": float(stat(y, first, second)), "low": low, "high": high}


def decide(task: str, vs_baseline: dict[str, float], vs_champion: dict[str, float] | None) -> dict[str, str]:
    """The recorded decision: reject, first champion, or challenger (with a recommendation).

    Rules, on the primary metric's paired interval (sign-adjusted so positive = candidate better):
    worse than the baseline (interval entirely below 0) → ``reject``; no champion yet →
    ``champion``; otherwise ``challenger``, recommending promotion only when the interval
    against the champion is entirely above 0.
    """
    sign = 1 if HIGHER_IS_BETTER[PRIMARY[task]] else -1
    if sign * vs_baseline["high" if sign > 0 else "low"] < 0:
        return {"decision": "reject", "reason": "candidate is worse than the static baseline on the holdout"}
    if vs_champion is None:
        return {"decision": "champion", "reason": "no champion yet: the first accepted candidate becomes champion"}
    low, high = sorted((sign * vs_champion["low"], sign * vs_champion["high"]))
    if low > 0:
        return {"decision": "challenger", "recommendation": "promote", "reason": "candidate is better than the champion"}
    if high < 0:
        return {"decision": "challenger", "recommendation": "keep champion", "reason": "candidate is worse than the champion"}
    return {"decision": "challenger", "recommendation": "keep champion", "reason": "no significant difference from the champion"}


@dataclass
class Evaluation:
    """Metrics per model on the holdout, the paired comparisons and the decision."""

    task: str
    rows: int
    metrics: dict[str, dict[str, dict[str, float]]]
    comparisons: dict[str, dict[str, float]]
    decision: dict[str, str]
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per (model, metric) with value and interval."""
        import pandas as pd

        rows = [{"model": model, "metric": name, **vals} for model, ms in self.metrics.items() for name, vals in ms.items()]
        return pd.DataFrame(rows).pivot(index="metric", columns="model", values="value")

    def summary(self) -> dict[str, Any]:
        """JSON-safe form for ``result.json``."""
        return {"task": self.task, "rows": self.rows, "primary_metric": PRIMARY[self.task], "metrics": self.metrics,
                "comparisons": self.comparisons, "decision": self.decision, "notes": self.notes}

    def _repr_html_(self) -> str:
        return self.to_frame().round(4)._repr_html_() + f"<p><b>Decision:</b> {self.decision}</p>"


def comparison_verdict(diff: dict[str, float]) -> str:
    """``first better``, ``first worse`` or ``no significant difference`` from a :func:`paired_difference` interval."""
    sign = 1 if HIGHER_IS_BETTER[diff["metric"]] else -1
    low, high = sorted((sign * diff["low"], sign * diff["high"]))
    return "better" if low > 0 else "worse" if high < 0 else "no significant difference"
