"""Properties over many inputs: identical samples never drift, shifts do, and chunking is invisible."""

from __future__ import annotations

import functools
import math
import tempfile

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.analyses.drift.conftest import CATEGORICAL, NUMERIC, SHAPES, frame, sample
from workbench.analyses.drift import ReferenceProfile, batch_stats, build_profile, compare

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODES = st.sampled_from(["exact", "sketch"])
values = st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan), st.sampled_from([0.0, 1.0, 2.0])), min_size=1, max_size=200)
levels = st.lists(st.one_of(st.sampled_from(["a", "b", "c", "d"]), st.none()), min_size=1, max_size=200)


def _assert_same(first: pd.DataFrame, second: pd.DataFrame, mode: str) -> None:
    """Exact mode is bit-for-bit; sketch sums of outlying values may differ in the last bit."""
    pd.testing.assert_frame_equal(first, second, check_exact=mode == "exact", rtol=1e-12)


@SETTINGS
@given(data=st.data(), mode=MODES)
def test_identical_samples_never_drift(data: st.DataObject, mode: str) -> None:
    n = data.draw(st.integers(1, 200))
    x = data.draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan)), min_size=n, max_size=n))
    c = data.draw(st.lists(st.sampled_from(["a", "b", None]), min_size=n, max_size=n))
    sample_frame = pd.DataFrame({"x": x, "c": c})
    result = compare(build_profile(sample_frame, numeric=["x"], categorical=["c"], mode=mode), sample_frame,
                     max_missing=1.0, min_rows=1)
    assert not result.columns["drifted"].any()
    assert set(result.columns["status"]) <= {"ok", "empty column"}
    assert (result.columns.query("status == 'ok'")["statistic"] == 0).all()


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), shape=st.sampled_from(SHAPES), shift=st.floats(0.25, 1.0), mode=MODES)
def test_a_shifted_sample_drifts_once_there_are_rows_enough(seed: int, shape: str, shift: float, mode: str) -> None:
    rng = np.random.default_rng(seed)
    reference, batch = (pd.DataFrame({"x": sample(shape, 4000, rng, s)}) for s in (0.0, shift))
    row = compare(build_profile(reference, numeric=["x"], categorical=[], mode=mode), batch).columns.iloc[0]
    assert row.drifted and row.status == "drift"


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), mode=MODES)
def test_results_do_not_depend_on_row_order(seed: int, mode: str) -> None:
    reference, batch = frame(600, seed), frame(400, seed + 1, shift=0.1, missing=0.1)
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode)
    shuffled = batch.sample(frac=1.0, random_state=seed % 2**31).reset_index(drop=True)
    pd.testing.assert_frame_equal(compare(profile, batch).columns, compare(profile, shuffled).columns, check_exact=True)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), mode=MODES, cuts=st.lists(st.integers(0, 500), max_size=6), right_fold=st.booleans())
def test_merged_chunk_statistics_equal_one_pass(seed: int, mode: str, cuts: list[int], right_fold: bool) -> None:
    reference, batch = frame(700, seed), frame(500, seed + 1, shift=0.2, missing=0.05)
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode)
    bounds = [0, *sorted(cuts), 500]
    chunks = [batch_stats(batch.iloc[a:b], profile) for a, b in zip(bounds, bounds[1:], strict=False)]
    if right_fold:
        merged = functools.reduce(lambda acc, s: s.merge(acc), reversed(chunks[:-1]), chunks[-1])
    else:
        merged = functools.reduce(lambda acc, s: acc.merge(s), chunks[1:], chunks[0])
    assert merged.rows == 500
    _assert_same(compare(profile, merged).columns, compare(profile, batch).columns, mode)


@SETTINGS
@given(x=values, c=levels, mode=MODES, seed=st.integers(0, 1000))
def test_saved_and_loaded_profiles_compare_identically(x: list[float], c: list[str | None], mode: str, seed: int) -> None:
    n = min(len(x), len(c))
    reference = pd.DataFrame({"x": x[:n], "c": c[:n]})
    batch = frame(300, seed).rename(columns={"num_bimodal": "x", "cat_few": "c"})
    batch["c"] = batch["c"].map({"L0": "a", "L1": "b", "L2": "e"})
    profile = build_profile(reference, numeric=["x"], categorical=["c"], mode=mode, bins=50)
    with tempfile.TemporaryDirectory() as folder:
        loaded = ReferenceProfile.load(profile.save(folder))
    assert (loaded.profile_id, loaded.mode, loaded.rows, loaded.columns) == (profile.profile_id, mode, n, ["x", "c"])
    pd.testing.assert_frame_equal(compare(loaded, batch, min_rows=1).columns, compare(profile, batch, min_rows=1).columns,
                                  check_exact=True)


@pytest.mark.parametrize("mode", ["exact", "sketch"])
def test_merging_is_associative(mode: str) -> None:
    reference, batch = frame(900, 5), frame(600, 6, shift=0.3)
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode)
    a, b, c = (batch_stats(batch.iloc[i:i + 200], profile) for i in (0, 200, 400))
    _assert_same(compare(profile, a.merge(b).merge(c)).columns, compare(profile, a.merge(b.merge(c))).columns, mode)
