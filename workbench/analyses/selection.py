"""Model selection by cross-validation: candidates in, a leaderboard and a winner out.

The caller passes unfitted estimators (or pipelines) by name; each is scored with
scikit-learn's :func:`~sklearn.model_selection.cross_validate` on the same folds
(stratified for binary tasks) with the task's primary metric. Above ``max_rows`` rows the
selection runs on a seeded (stratified) subsample of that size; the caller trains the winner
on all its rows. The winner has the best mean score; an exact tie goes to the earlier candidate.
The many small fits run single-threaded (threadpoolctl): OpenMP estimators such as
HistGradientBoosting otherwise oversubscribe cores that parallel phases already share.
Pure: no files, no MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.analyses.evaluation import HIGHER_IS_BETTER, PRIMARY

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

FOLDS = 5
MAX_ROWS = 20_000  # selection subsample: enough to rank candidates, bounded time on large data
_SCORERS = {"roc_auc": "roc_auc", "rmse": "neg_root_mean_squared_error"}


@dataclass(frozen=True)
class Selection:
    """The leaderboard of a cross-validated selection (best first) and the winner."""

    task: str
    metric: str
    folds: int
    rows: int  # rows the selection used (a subsample above MAX_ROWS)
    train_rows: int  # rows it was given
    board: tuple[dict[str, Any], ...]  # per candidate: estimator, mean, std, fit_seconds, folds' scores

    @property
    def winner(self) -> str:
        """The chosen candidate's name."""
        return self.board[0]["estimator"]

    @property
    def subsampled(self) -> bool:
        """Whether the selection ran on a subsample of the training rows."""
        return self.rows < self.train_rows

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate, best first: rank, estimator, mean, std, fit seconds, chosen."""
        import pandas as pd

        rows = [{"rank": i + 1, **{k: v for k, v in r.items() if k != "scores"}, "chosen": i == 0} for i, r in enumerate(self.board)]
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        """JSON-safe form for ``result.json``."""
        return {"winner": self.winner, "metric": self.metric, "folds": self.folds, "rows": self.rows,
                "train_rows": self.train_rows, "subsampled": self.subsampled, "leaderboard": [dict(r) for r in self.board]}

    def _repr_html_(self) -> str:
        note = f"{self.folds}-fold cross-validated {self.metric} on {self.rows} of {self.train_rows} training rows"
        return f"<p><b>Chosen:</b> {self.winner} ({note})</p>" + self.to_frame().round(4)._repr_html_()


def select(x: pd.DataFrame, y: pd.Series, candidates: dict[str, Any], *, task: str, seed: int = 0,
           folds: int = FOLDS, max_rows: int = MAX_ROWS) -> Selection:
    """Cross-validate every candidate on the same folds of ``(x, y)`` and rank them by the primary metric.

    Parameters
    ----------
    x, y
        The training rows only (never the holdout).
    candidates
        ``name -> unfitted estimator``, in tie-breaking order.
    task
        ``binary`` (ROC AUC, stratified folds) or ``regression`` (RMSE).
    seed
        Seeds the folds and the subsample.
    folds
        Number of folds (fewer when the minority class has fewer rows, never below 2).
    max_rows
        Above this many rows, select on a seeded subsample of this size (stratified for binary).
    """
    import numpy as np
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate, train_test_split
    from threadpoolctl import threadpool_limits

    train_rows = len(x)
    stratify = y if task == "binary" else None
    if train_rows > max_rows:
        x, _, y, _ = train_test_split(x, y, train_size=max_rows, random_state=seed, stratify=stratify)
    metric = PRIMARY[task]
    if task == "binary":
        n = max(2, min(folds, int(y.value_counts().min())))
        cv: Any = StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)
    else:
        n = folds
        cv = KFold(n_splits=n, shuffle=True, random_state=seed)
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    board = []
    for name, estimator in candidates.items():
        with threadpool_limits(limits=1):
            out = cross_validate(estimator, x, y, cv=cv, scoring=_SCORERS[metric], n_jobs=1, error_score="raise")
        scores = out["test_score"] * (1.0 if _SCORERS[metric] == metric else -1.0)  # sklearn negates losses
        board.append({"estimator": name, "mean": float(np.mean(scores)), "std": float(np.std(scores, ddof=1)),
                      "fit_seconds": float(np.mean(out["fit_time"])), "scores": [float(s) for s in scores]})
    board.sort(key=lambda r: -sign * r["mean"])  # stable: an exact tie keeps the candidates' order
    return Selection(task, metric, n, len(x), train_rows, tuple(board))
