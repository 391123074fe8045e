"""What fairlearn's ThresholdOptimizer would change (:func:`threshold_suggestion`); nothing is applied."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analyses.fairness._groups import MISSING, group_table
from workbench.analyses.fairness._labels import NOT_ASSESSABLE, binary_labels, label_problem
from workbench.exceptions import ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CONSTRAINTS = ("demographic_parity", "equalized_odds", "true_positive_rate_parity",
               "false_positive_rate_parity", "selection_rate_parity")
COLUMNS = ["group", "count", "selection_rate_before", "selection_rate_after", "accuracy_before",
           "accuracy_after", "tpr_before", "tpr_after", "constraint", "status"]


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
                         min_group: int = 30, seed: int = 0) -> pd.DataFrame:
    """Per-group rates before (one ``threshold``) and after fairlearn's group thresholds.

    Fits ``fairlearn.postprocessing.ThresholdOptimizer(prefit=True,
    predict_method="predict_proba", objective="accuracy_score")`` on the given scores and
    reports, per group, the selection rate, accuracy and TPR of its (randomised, ``seed``)
    predictions on the same rows. A suggestion only: nothing is applied or stored.

    Only groups a disparity check would judge take part: a group with fewer than
    ``min_group`` rows, or with one class only, is never passed to the optimizer (fairlearn
    would refuse it with "Degenerate labels") and gets no ``_after`` rates; its ``status``
    says why. Labels that are not 0/1 or hold one class, fewer than two such groups, or an
    optimizer that cannot fit give ``status`` ``"not assessable: <reason>"``, never an exception.

    Returns
    -------
    pandas.DataFrame
        ``group, count, selection_rate_before/after, accuracy_before/after,
        tpr_before/after, constraint, status`` (``"ok"``, ``"excluded: ..."`` or
        ``"not assessable: ..."``).
    """
    import numpy as np
    import pandas as pd

    if constraint not in CONSTRAINTS:
        raise ParameterError(f"The 'constraint' parameter of threshold_suggestion must be one of "
                             f"{', '.join(CONSTRAINTS)}. Got {constraint!r} instead.")
    s = pd.Series(sensitive).reset_index(drop=True)
    groups = s.astype(object).where(s.notna(), MISSING).astype(str)
    score = np.asarray(scores, dtype=float)
    problem = label_problem(y_true)
    y = binary_labels(y_true)
    before = (score >= threshold).astype(int)
    table = group_table(y, before, groups, min_group=min_group, n_bootstrap=0).set_index("group")
    status = table["status"].where((table["count"] > table["positives"]) | (table["status"] != "ok"),
                                   "excluded: no negative labels")
    included = status.index[status == "ok"]
    after = pd.Series(np.nan, index=groups.index)
    if problem is not None:  # the labels themselves: no group can be judged
        status[:] = f"{NOT_ASSESSABLE}: {problem}"
    elif len(included) < 2:
        status = status.where(status != "ok", f"{NOT_ASSESSABLE}: fewer than two groups with both classes and at least {min_group} rows")
    else:
        problem = _fit(y, score, groups, groups.isin(included), constraint, seed, after)
        if problem is not None:
            status = status.where(status != "ok", f"{NOT_ASSESSABLE}: {problem}")
    out = pd.DataFrame({"count": table["count"]})
    rows = after.notna().to_numpy()
    changed = group_table(y[rows], after[rows].astype(int), groups[rows], min_group=0, n_bootstrap=0).set_index("group") if rows.any() else None
    for rate in ("selection_rate", "accuracy", "tpr"):
        out[f"{rate}_before"] = table[rate]
        out[f"{rate}_after"] = changed[rate].reindex(out.index) if changed is not None else np.nan
    out["constraint"], out["status"] = constraint, status
    return out.rename_axis("group").reset_index()[COLUMNS]


def _fit(y: Any, score: Any, groups: pd.Series, rows: pd.Series, constraint: str, seed: int, after: pd.Series) -> str | None:
    """Fit the optimizer on ``rows`` and write its decisions into ``after``; the reason when it cannot."""
    import numpy as np
    import pandas as pd
    from fairlearn.postprocessing import ThresholdOptimizer

    x = pd.DataFrame({"score": score[rows.to_numpy()]})
    opt = ThresholdOptimizer(estimator=_scores_estimator(), constraints=constraint, prefit=True,
                             predict_method="predict_proba", objective="accuracy_score")
    try:
        opt.fit(x, y[rows.to_numpy()], sensitive_features=groups[rows].to_numpy())
        decided = opt.predict(x, sensitive_features=groups[rows].to_numpy(), random_state=seed)
    except ValueError as exc:  # fairlearn refuses inputs it cannot optimise; say why instead of failing the phase
        return f"fairlearn's ThresholdOptimizer could not fit ({str(exc).splitlines()[0].rstrip('.')})"
    after[rows] = np.asarray(decided, dtype=float)
    return None
