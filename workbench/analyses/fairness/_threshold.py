"""What fairlearn's ThresholdOptimizer would change (:func:`threshold_suggestion`); nothing is applied."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.fairness._groups import group_table
from workbench.exceptions import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CONSTRAINTS = ("demographic_parity", "equalized_odds", "true_positive_rate_parity",
               "false_positive_rate_parity", "selection_rate_parity")
COLUMNS = ["group", "count", "selection_rate_before", "selection_rate_after", "accuracy_before",
           "accuracy_after", "tpr_before", "tpr_after", "constraint"]


def _scores_estimator() -> Any:
    """A fitted sklearn classifier whose ``predict_proba`` returns its single input column."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    class _Scores(ClassifierMixin, BaseEstimator):
        def fit(self, X: Any, y: Any = None) -> _Scores:  # noqa: N803 (sklearn's name)
            self.classes_ = [0, 1]
            return self

        def predict_proba(self, X: Any) -> Any:  # noqa: N803
            import numpy as np

            p = np.asarray(X, dtype=float).reshape(len(X), -1)[:, 0]
            return np.column_stack([1 - p, p])

        def predict(self, X: Any) -> Any:  # noqa: N803
            return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    return _Scores().fit(None)


def threshold_suggestion(y_true: Any, scores: Any, sensitive: pd.Series, *,
                         constraint: str = "demographic_parity", threshold: float = 0.5,
                         seed: int = 0) -> pd.DataFrame:
    """Per-group rates before (one ``threshold``) and after fairlearn's group thresholds.

    Fits ``fairlearn.postprocessing.ThresholdOptimizer(prefit=True,
    predict_method="predict_proba", objective="accuracy_score")`` on the given scores and
    reports, per group, the selection rate, accuracy and TPR of its (randomised, ``seed``)
    predictions on the same rows. A suggestion only: nothing is applied or stored.

    Returns
    -------
    pandas.DataFrame
        ``group, count, selection_rate_before/after, accuracy_before/after,
        tpr_before/after, constraint``.
    """
    import numpy as np
    import pandas as pd
    from fairlearn.postprocessing import ThresholdOptimizer

    if constraint not in CONSTRAINTS:
        raise ParameterError(f"The 'constraint' parameter of threshold_suggestion must be one of "
                             f"{', '.join(CONSTRAINTS)}. Got {constraint!r} instead.")
    s = pd.Series(sensitive).reset_index(drop=True)
    x = pd.DataFrame({"score": np.asarray(scores, dtype=float)})
    y = np.asarray(y_true).astype(int)
    opt = ThresholdOptimizer(estimator=_scores_estimator(), constraints=constraint, prefit=True,
                             predict_method="predict_proba", objective="accuracy_score")
    opt.fit(x, y, sensitive_features=s)
    after = np.asarray(opt.predict(x, sensitive_features=s, random_state=seed)).astype(int)
    before = (x["score"].to_numpy() >= threshold).astype(int)
    tables = [group_table(y, p, s, min_group=0, n_bootstrap=0).set_index("group") for p in (before, after)]
    out = pd.DataFrame({"count": tables[0]["count"]})
    for rate in ("selection_rate", "accuracy", "tpr"):
        out[f"{rate}_before"], out[f"{rate}_after"] = tables[0][rate], tables[1][rate]
    out["constraint"] = constraint
    return out.reset_index()[COLUMNS]
