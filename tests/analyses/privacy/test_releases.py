"""Private releases of drift distributions, bounded means and fairness group counts: the stated noise scales, fixed bins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.analyses.privacy._scale import assert_laplace_scale
from workbench.analyses import drift
from workbench.analyses.privacy import OTHER, Release, private_distribution, private_group_counts, private_means
from workbench.exceptions import DataError, ParameterError


@pytest.fixture(scope="module")
def profile() -> drift.ReferenceProfile:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"age": rng.uniform(18, 90, 2000), "plan": rng.choice(["basic", "plus", "pro"], 2000)})
    return drift.build_profile(reference, numeric=["age"], categorical=["plan"])


def _batch(n: int, *, low: float = 18.0, levels: tuple[str, ...] = ("basic", "plus")) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    return pd.DataFrame({"age": rng.uniform(low, 90, n), "plan": rng.choice(list(levels), n)})


def test_private_distribution_releases_the_same_bins_whatever_the_batch(profile: drift.ReferenceProfile) -> None:
    plain = drift.distribution_table(profile, _batch(500))
    odd = drift.distribution_table(profile, _batch(500, low=-5.0, levels=("basic", "gold", "x1")))
    assert len(plain) != len(odd)  # the exact tables differ in their bins: an age below the reference's, two new levels
    released, release = private_distribution(plain, epsilon=1.0)
    released_odd, _ = private_distribution(odd, epsilon=1.0)
    assert released[["column", "bin"]].equals(released_odd[["column", "bin"]])
    assert list(released.columns) == [*plain.columns, "epsilon", "noise_scale"]
    plans = released[released["column"] == "plan"]
    assert plans["bin"].tolist() == [*profile.categorical["plan"].counts, OTHER]  # the reference levels, then one bin for the rest
    assert released_odd.loc[released_odd["bin"] == OTHER, "reference_count"].tolist() == [0.0]
    kept = plain.set_index(["column", "bin"])["reference_count"]
    assert released.set_index(["column", "bin"])["reference_count"].reindex(kept.index).equals(kept)  # the reference is not this budget's
    assert release == Release("laplace", 1.0, 0.0, 2.0, 2.0, f"batch counts of {len(released)} bins over 2 column(s)")
    assert (released["epsilon"] == 1.0).all() and (released["noise_scale"] == 2.0).all()
    assert np.array_equal(released["batch_count"], np.rint(released["batch_count"])) and released["batch_count"].min() >= 0
    assert released.groupby("column")["batch_share"].sum().round(12).tolist() == [1.0, 1.0]


def test_private_distribution_noise_scale_is_columns_over_epsilon() -> None:
    columns, levels = 4, 5000  # 20,000 counts, each far from 0 so no clipping
    table = pd.DataFrame({"column": np.repeat([f"c{i}" for i in range(columns)], levels), "kind": "categorical",
                          "bin": np.tile([f"l{j}" for j in range(levels)], columns), "low": np.nan, "high": np.nan,
                          "reference_count": 10.0, "batch_count": 1000.0, "reference_share": 1 / levels, "batch_share": 1 / levels})
    released, release = private_distribution(table, epsilon=0.5)
    noise = released.loc[released["bin"] != OTHER, "batch_count"].to_numpy() - 1000.0
    assert release.scale == 8.0 and release.sensitivity == 4.0
    assert_laplace_scale(noise, 8.0)


def test_private_distribution_refuses_another_table() -> None:
    with pytest.raises(DataError) as err:
        private_distribution(pd.DataFrame({"column": ["a"], "batch_count": [1.0]}), epsilon=1.0)
    assert str(err.value) == ("private_distribution: the table lacks column(s) kind, bin, low, high, reference_count, reference_share, "
                              "batch_share. Fix: pass the output of workbench.analyses.drift.distribution_table.")


def test_private_means_count_and_sum_scales_split_epsilon_over_two_queries_per_column() -> None:
    m, rows, epsilon = 100, 2000, 20.0  # count scale 2m/eps = 10; sum scale m (hi - lo) / eps = 5 in units of [0, 1]
    frame = pd.DataFrame(np.full((rows, m), 0.5), columns=[f"c{i}" for i in range(m)])  # at the midpoint: the exact centred sum is 0
    bounds = {c: (0.0, 1.0) for c in frame.columns}
    counts, sums = [], []
    for _ in range(100):
        out, release = private_means(frame, bounds=bounds, epsilon=epsilon)
        counts.append(out["count"].to_numpy() - rows)
        sums.append((out["mean"].to_numpy() - 0.5) * out["count"].to_numpy())  # mean = mid + noisy sum / noisy count
    assert release == Release("laplace", 20.0, 0.0, 200.0, 10.0, "count and clamped sum (half-range units) of 100 column(s)")
    assert out["count_scale"].eq(10.0).all() and out["sum_scale"].eq(5.0).all()
    assert_laplace_scale(np.concatenate(counts), 10.0)
    assert_laplace_scale(np.concatenate(sums), 5.0)


def test_private_means_clamps_to_the_declared_bounds_and_ignores_missing_values() -> None:
    frame = pd.DataFrame({"age": [20.0, 30.0, 500.0, np.nan] * 5000, "plan": "basic"})
    out, _ = private_means(frame, bounds={"age": (18.0, 90.0)}, epsilon=50.0)
    assert out[["column", "lower", "upper"]].values.tolist() == [["age", 18.0, 90.0]]
    assert abs(out.loc[0, "count"] - 15000) < 20 and abs(out.loc[0, "mean"] - (20 + 30 + 90) / 3) < 0.1


def test_private_means_refuse_undeclared_or_absent_columns() -> None:
    frame = pd.DataFrame({"age": [20.0]})
    with pytest.raises(DataError) as err:
        private_means(frame, bounds={"age": (0, 1), "income": (0, 1e6)}, epsilon=1.0)
    assert str(err.value) == "private_means: column(s) income are not in the data (found age). Fix: pass only the bounds of columns the data holds."
    with pytest.raises(ParameterError) as err:
        private_means(frame, bounds={}, epsilon=1.0)
    assert str(err.value) == "The 'bounds' parameter of private_means must declare [lower, upper] for at least one column. Got {} instead."
    with pytest.raises(ParameterError) as err:
        private_means(frame, bounds={"age": (5, 5)}, epsilon=1.0)
    assert str(err.value) == "private_means: bounds of age must be finite with lower < upper. Got (5, 5) instead."


def test_private_group_counts_scale_is_attributes_times_count_columns_over_epsilon() -> None:
    groups = 3500  # 3 attributes x 3500 groups x 2 count columns = 21,000 counts
    table = pd.DataFrame({"attribute": np.repeat(["gender", "age_band", "gender & age_band"], groups),
                          "group": np.tile([f"g{j}" for j in range(groups)], 3), "count": 1000, "positives": 400,
                          "selection_rate": 0.4, "selection_rate_low": 0.37})
    released, release = private_group_counts(table, count_columns=["count", "positives"], epsilon=2.0)
    assert list(released.columns) == ["attribute", "group", "count", "positives", "epsilon", "noise_scale"]  # rates from exact rows dropped
    assert release == Release("laplace", 2.0, 0.0, 6.0, 3.0, f"2 count column(s) of {3 * groups} group(s) over 3 attribute(s)")
    assert released[["attribute", "group"]].equals(table[["attribute", "group"]])
    assert_laplace_scale(np.concatenate([released["count"] - 1000, released["positives"] - 400]), 3.0)


def test_private_group_counts_refuse_unknown_count_columns() -> None:
    with pytest.raises(DataError) as err:
        private_group_counts(pd.DataFrame({"group": ["a"], "count": [3]}), count_columns=["count", "positive"], epsilon=1.0)
    assert str(err.value) == "private_group_counts: the table lacks count column(s) positive (found group, count). Fix: name columns of the group table."
