"""workbench.fairness: fairlearn's numbers, honest edge cases, and the demo's planted bias shift."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from workbench.analyses.fairness import MISSING, bias_drift, disparity, group_table, threshold_suggestion
from workbench.exceptions import DataError, ParameterError

METRICS = {"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
           "accuracy": accuracy_score}


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    s = pd.DataFrame({"gender": rng.choice(["female", "male", "other"], n, p=[0.48, 0.48, 0.04]),
                      "age_band": rng.choice(["18-29", "30-44", "45-59", "60+"], n)})
    y = rng.integers(0, 2, n)
    p = np.where(rng.random(n) < 0.7 + 0.05 * (s["age_band"] == "60+"), y, 1 - y)
    return y, p, s


@pytest.mark.parametrize("columns", [["gender"], ["age_band"], ["gender", "age_band"]], ids="+".join)
def test_group_rates_equal_fairlearn_metricframe(columns: list[str]) -> None:
    y, p, s = _data()
    table = group_table(y, p, s[columns] if len(columns) > 1 else s[columns[0]], n_bootstrap=0)
    attribute = " & ".join(columns)
    ours = table[table["attribute"] == attribute].set_index("group")
    frame = MetricFrame(metrics=METRICS, y_true=y, y_pred=p, sensitive_features=s[columns])
    for key, row in frame.by_group.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        label = " & ".join(f"{c}={v}" for c, v in zip(columns, key, strict=True)) if len(columns) > 1 else key[0]
        for metric in METRICS:
            assert ours.at[label, metric] == pytest.approx(row[metric], abs=1e-12, rel=0)
        assert ours.at[label, "error_rate"] == pytest.approx(1 - row["accuracy"], abs=1e-12, rel=0)
    assert len(ours) == len(frame.by_group)


@pytest.mark.parametrize("columns", [["gender"], ["age_band"], ["gender", "age_band"]], ids="+".join)
def test_disparity_equals_fairlearn(columns: list[str]) -> None:
    y, p, s = _data(20000)
    row = disparity(group_table(y, p, s[columns], n_bootstrap=0)).set_index("attribute").loc[" & ".join(columns)]
    kw = {"sensitive_features": s[columns]}
    assert row["status"] == "assessed"
    assert row["demographic_parity_difference"] == pytest.approx(demographic_parity_difference(y, p, **kw), abs=1e-12)
    assert row["demographic_parity_ratio"] == pytest.approx(demographic_parity_ratio(y, p, **kw), abs=1e-12)
    assert row["disparate_impact"] == pytest.approx(demographic_parity_ratio(y, p, **kw), abs=1e-12)
    assert row["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(y, p, **kw), abs=1e-12)
    tpr = MetricFrame(metrics=true_positive_rate, y_true=y, y_pred=p, **kw)
    assert row["equal_opportunity_difference"] == pytest.approx(tpr.difference(), abs=1e-12)


def test_scores_are_thresholded_like_predictions() -> None:
    y, _, s = _data()
    scores = np.random.default_rng(1).random(len(y))
    a = group_table(y, None, s, scores=scores, threshold=0.3, n_bootstrap=0)
    b = group_table(y, (scores >= 0.3).astype(int), s, n_bootstrap=0)
    pd.testing.assert_frame_equal(a, b)


def test_intervals_cover_the_point_and_are_seeded() -> None:
    y, p, s = _data()
    table = group_table(y, p, s, seed=3)
    for rate in ("selection_rate", "tpr", "fpr", "accuracy", "error_rate"):
        assert (table[f"{rate}_low"] <= table[rate]).all() and (table[rate] <= table[f"{rate}_high"]).all()
    pd.testing.assert_frame_equal(table, group_table(y, p, s, seed=3))


def test_tiny_group_is_excluded_with_its_count_not_ratio_zero() -> None:
    y, p, s = _data(2000)
    s.loc[:9, "gender"] = "nonbinary"
    y[:10], p[:10] = 1, 0  # selection rate 0 would make fairlearn's ratio 0
    table = group_table(y, p, s["gender"])
    tiny = table.set_index("group").loc["nonbinary"]
    assert (tiny["count"], tiny["status"]) == (10, "excluded: fewer than 30 rows")
    row = disparity(table).iloc[0]
    assert row["excluded_groups"] == "nonbinary (10 rows; fewer than 30 rows)"
    assert row["n_groups"] == 3 and row["disparate_impact"] > 0.5
    assert demographic_parity_ratio(y, p, sensitive_features=s["gender"]) == 0.0


def test_single_group_column_is_not_assessable() -> None:
    y, p, _ = _data(500)
    row = disparity(group_table(y, p, pd.Series("all", index=range(500), name="site"))).iloc[0]
    assert row["status"] == "not assessable: fewer than two included groups"
    assert np.isnan(row["disparate_impact"]) and np.isnan(row["equalized_odds_difference"])
    assert row["passed"] is pd.NA and row["reference_group"] is None


def test_group_without_positive_labels_is_excluded() -> None:
    y, p, s = _data(2000)
    y[s["age_band"] == "60+"] = 0
    table = group_table(y, p, s["age_band"]).set_index("group")
    assert table.at["60+", "status"] == "excluded: no positive labels"
    assert table.at["60+", "positives"] == 0 and np.isnan(table.at["60+", "tpr"])
    assert np.isnan(table.at["60+", "tpr_low"]) and np.isfinite(table.at["60+", "fpr_low"])
    assert disparity(table.reset_index()).iloc[0]["n_groups"] == 3


def test_missing_sensitive_values_become_a_group() -> None:
    y, p, s = _data(1000)
    s.loc[:99, "age_band"] = None
    table = group_table(y, p, s)
    assert table.set_index(["attribute", "group"]).at[("age_band", MISSING), "count"] == 100
    assert (table["group"] == f"gender=female & age_band={MISSING}").any()
    assert table.groupby("attribute")["count"].sum().eq(1000).all()


def test_missing_sensitive_values_raise_in_error_mode() -> None:
    y, p, s = _data(1000)
    s.loc[:6, "gender"] = np.nan
    message = ("sensitive column 'gender' has 7 missing values. Fix: fill them (e.g. with 'unknown') "
               "or pass missing='category' to report them as a '(missing)' group.")
    with pytest.raises(DataError, match=f"^{re.escape(message)}$"):
        group_table(y, p, s, missing="error")


def test_bad_inputs_are_refused() -> None:
    y, p, s = _data(100)
    with pytest.raises(DataError, match=r"^y_pred must hold only 0 and 1\."):
        group_table(y, p * 2, s)
    with pytest.raises(DataError, match=r"^y_true has shape \(99,\) but sensitive has 100 rows\."):
        group_table(y[:99], p, s)
    with pytest.raises(ParameterError, match="'missing' parameter of group_table must be 'category' or 'error'"):
        group_table(y, p, s, missing="drop")


def test_bias_drift_quiet_on_same_population_and_flags_a_shifted_group() -> None:
    y, p, s = _data(4000, seed=0)
    y2, p2, s2 = _data(4000, seed=1)
    ref, same = group_table(y, p, s), group_table(y2, p2, s2, seed=1)
    assert not bias_drift(ref, same)["moved"].any()
    hit = (s2["age_band"] == "60+").to_numpy() & (y2 == 1)
    p2[hit & (np.random.default_rng(2).random(len(y2)) < 0.6)] = 0
    drift = bias_drift(ref, group_table(y2, p2, s2, seed=1)).set_index(["attribute", "group"])
    assert drift.at[("age_band", "60+"), "moved"]
    assert not drift.loc["gender", "moved"].any()


def test_bias_drift_flags_a_newly_crossed_disparity_threshold() -> None:
    y, p, s = _data(4000)
    ref = group_table(y, p, s["age_band"])
    p2 = p.copy()
    p2[(s["age_band"] == "60+").to_numpy() & (y == 1)] = 0  # 60+ TPR 0 and a lower selection rate
    drift = bias_drift(ref, group_table(y, p2, s["age_band"]))
    assert disparity(ref).at[0, "passed"]
    assert drift["eo_newly_failed"].all() and drift["di_newly_failed"].all()
    assert not bias_drift(ref, ref)[["eo_newly_failed", "di_newly_failed"]].to_numpy().any()


def test_threshold_suggestion_moves_selection_rates_toward_parity() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    s = pd.Series(rng.choice(["a", "b", "c"], n), name="g")
    y = rng.integers(0, 2, n)
    scores = np.clip(0.25 + 0.4 * y + 0.2 * (s == "a") - 0.15 * (s == "c") + rng.normal(0, 0.15, n), 0, 1)
    out = threshold_suggestion(y, scores, s)
    rates = out[[c for c in out.columns if c.endswith(("_before", "_after"))]].to_numpy()
    assert list(out["group"]) == ["a", "b", "c"] and np.isfinite(rates).all()
    before, after = out["selection_rate_before"], out["selection_rate_after"]
    assert after.max() - after.min() < 0.5 * (before.max() - before.min())


@pytest.fixture(scope="module")
def demo_tables() -> dict[str, pd.DataFrame]:
    """Group tables of the demo model: the reference holdout and every batch month."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    from workbench import data
    from workbench.data import demo, frames
    from workbench.registry import estimators

    reference = demo.make_frame(8000, month=None)
    schema = data.infer_schema(reference, target="churned", id="customer_id", timestamp="snapshot_date",
                               sensitive=["gender", "age_band"])
    train, holdout = train_test_split(reference, test_size=0.25, random_state=0, stratify=reference["churned"])
    estimator = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, random_state=0)
    with threadpool_limits(1):
        model = estimators.build_pipeline(schema, estimator, scale=False).fit(frames.features(train, schema), train["churned"])
        batches = {"reference": holdout} | {m: demo.make_frame(2000, month=m, first_id=8001 + 2000 * i)
                                            for i, m in enumerate(demo.batch_months())}
        scores = {k: model.predict_proba(frames.features(f, schema))[:, 1] for k, f in batches.items()}
    return {k: group_table(f["churned"], None, f[["gender", "age_band"]], scores=scores[k])
            for k, f in batches.items()}


def test_bias_drift_flags_the_planted_shift_in_60_plus_only(demo_tables: dict[str, pd.DataFrame]) -> None:
    ref = demo_tables["reference"]
    for month in [f"2026-0{m}" for m in range(1, 7)]:
        drift = bias_drift(ref, demo_tables[month])
        assert not drift.loc[drift["attribute"] == "age_band", "moved"].any(), month
    drift = bias_drift(ref, demo_tables["2026-07"]).set_index(["attribute", "group"])
    assert drift["moved"].loc["age_band"].to_dict() == {"18-29": False, "30-44": False, "45-59": False, "60+": True}
    assert drift.at[("age_band", "60+"), "batch_rate"] < 0.4 < drift.at[("age_band", "60+"), "reference_rate"]
    assert not drift.loc["gender", "moved"].any()


def test_disparity_fails_equal_opportunity_only_after_the_shift(demo_tables: dict[str, pd.DataFrame]) -> None:
    before = disparity(demo_tables["2026-01"]).set_index("attribute").loc["age_band"]
    after = disparity(demo_tables["2026-07"]).set_index("attribute").loc["age_band"]
    assert before["passed"] and before["equal_opportunity_difference"] <= 0.1
    assert not after["passed"] and after["equal_opportunity_difference"] > 0.3


def test_disparate_impact_against_a_named_reference_group() -> None:
    y, p, s = _data(20000)
    table = group_table(y, p, s["age_band"], n_bootstrap=0)
    sel = table.set_index("group")["selection_rate"]
    row = disparity(table, reference_group={"age_band": "30-44"}).iloc[0]
    others = sel.drop("30-44") / sel["30-44"]
    assert (row["reference_group"], row["lowest_group"]) == ("30-44", others.idxmin())
    assert row["disparate_impact"] == pytest.approx(others.min(), abs=1e-12)
    assert disparity(table).iloc[0]["reference_group"] == sel.idxmax()
