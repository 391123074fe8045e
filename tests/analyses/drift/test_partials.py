"""Batch statistics across data sites: plain arrays on the wire, and merged results equal to the pooled batch's."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.analyses.drift.conftest import CATEGORICAL, NUMERIC, frame
from tests.conftest import over_the_wire
from workbench.analyses import drift
from workbench.exceptions import DataError, ParameterError


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return frame(3000, 0)


@pytest.fixture(scope="module", params=["exact", "sketch"])
def profile(request: pytest.FixtureRequest, reference: pd.DataFrame) -> drift.ReferenceProfile:
    return drift.build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=request.param)


def _sites() -> list[pd.DataFrame]:
    """Three sites' parts of one batch, with everything that can differ between sites."""
    a, b, c = frame(500, 1, shift=0.2, missing=0.1), frame(400, 2), frame(300, 3, tilt=0.3)
    b = b.drop(columns=["num_uniform", "cat_few"])  # two columns missing at one site
    a["num_counts"] = a["num_counts"].astype(int).astype(str)  # a numeric column written as text (that parses)
    a.loc[:3, "num_exponential"] = np.inf  # infinite values count as missing in a numeric column...
    c["num_exponential"] = c["num_exponential"].astype(object)
    c.loc[:5, "num_exponential"] = "n/a"  # ...but as values once another site's text makes the pooled column text
    c.loc[:10, "cat_many"] = "only-at-c"  # a level present at one site only
    c.loc[20:40, "cat_few"] = None
    return [a, b, c]


def _merged(sites: list[pd.DataFrame], profile: drift.ReferenceProfile) -> drift.BatchStats:
    parts = []
    for site in sites:
        arrays, scalars = drift.stats_to_arrays(drift.batch_stats(site, profile))
        assert all(isinstance(v, str) for v in scalars.values())
        part = drift.stats_from_arrays(over_the_wire(arrays), scalars)
        drift.check_sums(part)
        parts.append(part)
    infinite = [{n: int(np.isinf(pd.to_numeric(s[n], errors="coerce")).sum()) for n in NUMERIC if n in s} for s in sites]
    return drift.merge_sites(parts, profile, infinite=infinite)


def test_merged_site_statistics_give_the_pooled_answer(profile: drift.ReferenceProfile) -> None:
    sites = _sites()
    pooled = drift.compare(profile, pd.concat(sites, ignore_index=True), min_rows=30)
    merged = drift.compare(profile, _merged(sites, profile), min_rows=30)
    if profile.mode == "exact":  # bit for bit: the same sorted values, the same counts
        pd.testing.assert_frame_equal(merged.columns, pooled.columns, check_exact=True)
    else:  # the same counts; sums of values outside the range may differ in the last bit (summed per site first)
        pd.testing.assert_frame_equal(merged.columns, pooled.columns, rtol=1e-12)
    assert merged.dataset == pooled.dataset
    status = merged.columns.set_index("column")["status"]
    assert status["num_uniform"] == "missing share increased" and status["num_exponential"] == "type changed"
    assert status["num_counts"] == "type changed" and "only-at-c" in merged.columns.set_index("column").loc["cat_many", "unseen_categories"]


def test_merge_is_order_free_and_a_site_without_rows_changes_nothing(profile: drift.ReferenceProfile) -> None:
    sites = _sites()
    forward = drift.compare(profile, _merged(sites, profile), min_rows=30).columns
    backward = drift.compare(profile, _merged([*sites[::-1], sites[0].iloc[:0]], profile), min_rows=30).columns
    pd.testing.assert_frame_equal(forward, backward, rtol=1e-12)


def test_a_column_absent_at_every_site_stays_a_missing_column(profile: drift.ReferenceProfile) -> None:
    sites = [s.drop(columns=["num_normal"]) for s in _sites()]
    row = drift.compare(profile, _merged(sites, profile), min_rows=30).columns.set_index("column").loc["num_normal"]
    assert row["status"] == "missing column" and row["n_batch"] == 0


def test_the_profile_travels_losslessly(profile: drift.ReferenceProfile) -> None:
    arrays, scalars = drift.profile_to_arrays(profile)
    copy = drift.profile_from_arrays(over_the_wire(arrays), scalars)
    assert copy.profile_id == profile.profile_id and copy.columns == profile.columns
    batch = _sites()[0]
    pd.testing.assert_frame_equal(drift.compare(copy, batch).columns, drift.compare(profile, batch).columns, check_exact=True)


def test_malformed_or_foreign_statistics_are_refused(profile: drift.ReferenceProfile, reference: pd.DataFrame) -> None:
    stats = drift.batch_stats(_sites()[1], profile)
    arrays, scalars = drift.stats_to_arrays(stats)
    with pytest.raises(DataError, match=r"drift statistics from a site are malformed \(layout version 1 with \d+ arrays, got \d+\)"):
        drift.stats_from_arrays(arrays[:-1], scalars)
    other = drift.build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=profile.mode)
    with pytest.raises(ParameterError, match="Site statistics were computed against profile"):
        drift.merge_sites([stats, drift.batch_stats(_sites()[1], other)], profile)
    tampered = drift.BatchStats(stats.profile_id, stats.mode, stats.rows + 1, stats.columns)
    with pytest.raises(DataError, match=r"drift statistics of column 'num_normal': \d+ values \+ \d+ missing != 401 rows"):
        drift.check_sums(tampered)


def test_exact_mode_ships_values_and_sketch_mode_only_counts(profile: drift.ReferenceProfile) -> None:
    stats = drift.batch_stats(_sites()[1], profile)  # 400 rows; 5 of the 6 numeric columns
    floats = sum(a.size for a in drift.stats_to_arrays(stats)[0] if a.dtype == np.float64)
    if profile.mode == "exact":
        assert floats == 5 * 400 - int(_sites()[1]["num_normal"].isna().sum())  # every non-missing value
        with pytest.raises(ParameterError, match="count_vectors needs sketch-mode statistics"):
            drift.count_vectors(stats, profile)
    else:
        assert floats == 5 * 2  # the two sums outside the reference range of each numeric column, nothing else


def test_count_vectors_round_trip_to_the_same_decision(reference: pd.DataFrame) -> None:
    profile = drift.build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode="sketch", bins=50)
    stats = drift.batch_stats(_sites()[2], profile)
    vectors = drift.count_vectors(stats, profile)
    assert all(v.dtype == np.int64 for v in vectors.values())
    assert {name: int(v.sum()) for name, v in vectors.items()} == dict.fromkeys(vectors, 300)  # one count per row per column
    again = drift.with_counts(stats, profile, vectors, rows=stats.rows, clip=True)
    before = drift.compare(profile, stats).columns.set_index("column")
    after = drift.compare(profile, again).columns.set_index("column")
    pd.testing.assert_series_equal(after["statistic"], before["statistic"], rtol=1e-12)  # KS and chi-square: counts only
    assert (after["status"] == before["status"]).all()
    assert after.loc["cat_many", "unseen_categories"] == "(other levels)"  # levels outside the profile's, by one name
    assert math.isclose(after.loc["num_normal", "p_value"], before.loc["num_normal", "p_value"], rel_tol=1e-9)
