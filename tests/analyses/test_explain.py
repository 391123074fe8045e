"""SHAP explanations on real pipelines: additivity, aggregation to source columns, fallback, plots, drift."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from workbench.analyses import explain as ex
from workbench.data import demo, frames, infer_schema
from workbench.registry import estimators

pytestmark = [
    # shap's import calls Colormap.set_bad/set_over/set_under, which matplotlib marks for deprecation.
    pytest.mark.filterwarnings("ignore:The set_(bad|over|under) function:PendingDeprecationWarning"),
    # numba (used by shap) warns about its own internals on some versions.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:numba.*"),
]


@pytest.fixture(scope="module")
def churn() -> tuple[pd.DataFrame, object]:
    frame = demo.make_frame(3000, month=None)
    schema = infer_schema(frame, target="churned", id="customer_id", timestamp="snapshot_date",
                          sensitive=["gender", "age_band"])
    return frame, schema


def _fit(churn, estimator, *, scale=False):
    frame, schema = churn
    pipe = estimators.build_pipeline(schema, estimator, scale=scale)
    with threadpool_limits(1):
        pipe.fit(frames.features(frame, schema), frames.target(frame, schema, "binary"))
    return pipe


@pytest.fixture(scope="module")
def hgb(churn):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return _fit(churn, HistGradientBoostingClassifier(max_iter=60, random_state=0))


@pytest.fixture(scope="module")
def hgb_expl(churn, hgb) -> ex.Explanation:
    frame, schema = churn
    with threadpool_limits(1):
        return ex.explain(hgb, frames.features(frame, schema), features=schema.features, sample=800)


def test_tree_explanation_adds_up_to_log_odds_and_aggregates_one_hot_columns(churn, hgb, hgb_expl) -> None:
    frame, schema = churn
    e = hgb_expl
    assert (e.method, e.output, e.additivity_ok) == ("tree", "log-odds", True)
    assert e.additivity_max_error < 1e-6
    assert list(e.values.columns) == schema.features
    x = frames.features(frame, schema).loc[e.values.index]
    with threadpool_limits(1):
        margin = hgb.decision_function(x)
    np.testing.assert_allclose(e.values.sum(axis=1) + e.base_value, margin, atol=1e-6)
    import shap

    raw = shap.TreeExplainer(hgb[-1]).shap_values(hgb[:-1].transform(x), check_additivity=False)
    np.testing.assert_allclose(e.values.sum(axis=1), raw.sum(axis=1), atol=1e-9)
    contract = [i for i, c in enumerate(ex.source_columns(hgb)) if c == "contract"]
    np.testing.assert_allclose(e.values["contract"], raw[:, contract].sum(axis=1), atol=1e-12)


def test_source_columns_follow_the_column_transformer_not_name_prefixes(hgb) -> None:
    names = list(hgb[:-1].get_feature_names_out())
    sources = ex.source_columns(hgb)
    assert len(sources) == len(names)
    assert sources[names.index("contract_two-year")] == "contract"
    assert sources[names.index("tenure_months")] == "tenure_months"


def test_sampling_records_rows_and_is_seeded(churn, hgb_expl) -> None:
    frame, _ = churn
    assert (hgb_expl.n_rows, hgb_expl.n_explained, len(hgb_expl.values)) == (len(frame), 800, 800)
    assert hgb_expl.data.index.equals(hgb_expl.values.index)


def test_linear_explainer_for_logistic_regression_adds_up(churn) -> None:
    from sklearn.linear_model import LogisticRegression

    frame, schema = churn
    pipe = _fit(churn, LogisticRegression(max_iter=2000), scale=True)
    e = ex.explain(pipe, frames.features(frame, schema), features=schema.features, sample=500)
    assert (e.method, e.output, e.additivity_ok) == ("linear", "log-odds", True)
    assert list(e.values.columns) == schema.features


def test_random_forest_classifier_is_explained_on_probability(churn) -> None:
    from sklearn.ensemble import RandomForestClassifier

    frame, schema = churn
    pipe = _fit(churn, RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0, n_jobs=1))
    e = ex.explain(pipe, frames.features(frame, schema), features=schema.features, sample=300)
    assert (e.method, e.output, e.additivity_ok) == ("tree", "probability", True)
    assert 0 < e.base_value < 1


def test_regression_hgb_adds_up_to_the_prediction(churn) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    frame, schema = churn
    pipe = estimators.build_pipeline(schema, HistGradientBoostingRegressor(max_iter=30, random_state=0), scale=False)
    x = frames.features(frame, schema)
    with threadpool_limits(1):
        pipe.fit(x, frame["monthly_charges"] * 0 + frame["total_charges"].fillna(0))
        e = ex.explain(pipe, x, features=schema.features, sample=300)
    assert (e.method, e.output, e.additivity_ok) == ("tree", "prediction", True)


@pytest.mark.parametrize("name", ["knn", "dummy"])
def test_models_shap_cannot_explain_fall_back_to_permutation(churn, name: str) -> None:
    from sklearn.dummy import DummyClassifier
    from sklearn.neighbors import KNeighborsClassifier

    frame, schema = churn
    model = KNeighborsClassifier(n_neighbors=15) if name == "knn" else DummyClassifier(strategy="prior")
    pipe = _fit(churn, model, scale=True)
    e = ex.explain(pipe, frames.features(frame, schema), features=schema.features, sample=200)
    assert (e.method, e.output, e.values, e.additivity_ok) == ("permutation", "probability", None, None)
    imp = e.importance()
    assert sorted(imp.index) == sorted(schema.features) and (imp >= 0).all()
    assert (imp.max() > 0) == (name == "knn")
    json.dumps(e.to_dict())
    with pytest.raises(ex.ExplainError, match="needs per-row values"):
        e.by_segment(frame["gender"])
    assert ex.plot_importance(e).axes


def test_two_processes_give_identical_values(churn, hgb, hgb_expl) -> None:
    frame, schema = churn
    with threadpool_limits(1):
        two = ex.explain(hgb, frames.features(frame, schema), features=schema.features, sample=800, n_jobs=2)
    pd.testing.assert_frame_equal(two.values, hgb_expl.values, check_exact=True)
    assert two.base_value == hgb_expl.base_value


def test_workers_do_not_hang_after_the_parent_used_openmp() -> None:
    """GNU libgomp is not fork-safe: once the parent has run an OpenMP predict with several threads
    (as a kernel does, unlike the tests above under threadpool_limits(1)), a forked worker that
    predicts hangs unless it is limited to one OpenMP thread. Run in a subprocess so a hang is a failure."""
    import subprocess
    import sys

    script = """
import warnings; warnings.filterwarnings("ignore")
from sklearn.ensemble import HistGradientBoostingClassifier
from workbench.data import demo
from workbench.analyses import explain
from workbench.data import frames
from workbench.registry import estimators
from workbench.data import infer_schema
frame = demo.make_frame(2000, month=None)
schema = infer_schema(frame, target="churned", id="customer_id", timestamp="snapshot_date", sensitive=["gender", "age_band"])
x = frames.features(frame, schema)
pipe = estimators.build_pipeline(schema, HistGradientBoostingClassifier(max_iter=30, random_state=0), scale=False)
pipe.fit(x, frames.target(frame, schema, "binary"))
pipe.predict_proba(x)
print("additivity", explain.explain(pipe, x, features=schema.features, sample=2000, n_jobs=2).additivity_ok)
"""
    env = {"OMP_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("additivity True")


def test_importance_by_segment_and_json_summary(churn, hgb_expl) -> None:
    frame, schema = churn
    imp = hgb_expl.importance()
    assert list(imp.index) == list(imp.sort_values(ascending=False).index)
    seg = hgb_expl.by_segment(frame["gender"])
    assert seg.shape == (frame["gender"].nunique(), len(schema.features))
    summary = json.loads(json.dumps(hgb_expl.to_dict()))
    assert summary["schema_version"] == 1 and summary["n_explained"] == 800
    assert set(summary["importance"]) == set(schema.features)


def test_explanation_drift_ranks_a_drifting_important_feature_first(churn, hgb, hgb_expl) -> None:
    _, schema = churn
    batch_frame = demo.make_frame(1000, month="2026-06")
    with threadpool_limits(1):
        batch = ex.explain(hgb, frames.features(batch_frame, schema), features=schema.features, sample=500)
    top, least = hgb_expl.importance().index[0], hgb_expl.importance().index[-1]
    drift = pd.DataFrame({"column": [least, top], "effect_size": [0.4, 0.3], "drifted": [True, True]})
    table = ex.explanation_drift(hgb_expl, batch, drift)
    assert table.index[0] == top and bool(table.loc[top, "drifted"])
    assert {"reference", "batch", "change", "relative_change", "drift_impact"} <= set(table.columns)
    plain = ex.explanation_drift(hgb_expl, batch)
    assert plain["change"].abs().is_monotonic_decreasing


def test_top_rows_returns_highest_scores(hgb_expl) -> None:
    scores = pd.Series(np.arange(len(hgb_expl.data), dtype=float), index=hgb_expl.data.index)
    assert list(ex.top_rows(hgb_expl, scores, k=3)) == list(hgb_expl.data.index[::-1][:3])


def test_plots_return_figures_with_axes_and_no_warnings(hgb_expl) -> None:
    from matplotlib.figure import Figure

    row = hgb_expl.values.index[0]
    for fig in (ex.plot_importance(hgb_expl), ex.plot_beeswarm(hgb_expl), ex.plot_waterfall(hgb_expl, row)):
        assert isinstance(fig, Figure) and fig.axes
        fig.savefig(__import__("io").BytesIO(), format="png")
    with pytest.raises(ex.ExplainError, match="was not explained"):
        ex.plot_waterfall(hgb_expl, "no-such-row")


def test_importing_the_package_does_not_import_shap() -> None:
    import subprocess
    import sys

    code = "import sys, workbench.analyses.explain; print('shap' in sys.modules or 'matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
