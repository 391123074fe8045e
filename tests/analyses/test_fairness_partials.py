"""Fairness group counts across data sites: merged counts give the pooled group table, intervals included."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from workbench.analyses import fairness
from workbench.exceptions import DataError, ParameterError


def _site(n: int, seed: int, *, extra_level: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gender = rng.choice(["female", "male"], n).astype(object)
    gender[rng.random(n) < 0.05] = None  # missing sensitive values: a "(missing)" group
    band = rng.choice(["18-29", "30-44", "45-59", "60+"], n).astype(object)
    if extra_level:
        band[:40] = "90+"  # a group only this site has
    score = np.clip(rng.normal(0.4 + 0.1 * (band == "60+"), 0.2), 0, 1)
    return pd.DataFrame({"gender": gender, "age_band": band, "region": rng.integers(1, 4, n),  # int-coded groups sort as numbers
                         "y": (rng.random(n) < score).astype(int), "score": score})


SENSITIVE = ["gender", "age_band", "region"]


def _wire(arrays: list[np.ndarray]) -> list[np.ndarray]:
    out = []
    for a in arrays:
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)  # as Flower's NumPy messages carry them: no pickle
        out.append(np.load(io.BytesIO(buf.getvalue()), allow_pickle=False))
    return out


def _counts(site: pd.DataFrame, **kw) -> fairness.GroupCounts:
    arrays, scalars = fairness.counts_to_arrays(fairness.group_counts(site["y"], None, site[SENSITIVE], scores=site["score"], **kw))
    return fairness.counts_from_arrays(_wire(arrays), scalars)


@pytest.fixture(scope="module")
def sites() -> list[pd.DataFrame]:
    return [_site(900, 1), _site(700, 2, extra_level=True), _site(60, 3)]


def test_merged_counts_give_the_pooled_group_table_exactly(sites: list[pd.DataFrame]) -> None:
    pooled = pd.concat(sites, ignore_index=True)
    expected = fairness.group_table(pooled["y"], None, pooled[SENSITIVE], scores=pooled["score"], seed=7)
    merged = _counts(sites[0]).merge(_counts(sites[1])).merge(_counts(sites[2]))
    got = fairness.group_table_from_counts(merged, seed=7)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)  # groups, order, rates and bootstrap intervals
    assert {"(missing)", "90+"} <= set(got["group"]) and any(g.startswith("gender=(missing) & age_band=90+ & region=") for g in got["group"])
    pd.testing.assert_frame_equal(fairness.disparity(got), fairness.disparity(expected), check_exact=True)
    assert merged.rows == len(pooled)


def test_merge_order_does_not_matter(sites: list[pd.DataFrame]) -> None:
    one = _counts(sites[0]).merge(_counts(sites[1])).merge(_counts(sites[2]))
    two = _counts(sites[2]).merge(_counts(sites[0]).merge(_counts(sites[1])))
    pd.testing.assert_frame_equal(fairness.group_table_from_counts(one), fairness.group_table_from_counts(two), check_exact=True)


def test_a_fixed_domain_hides_which_groups_a_site_has(sites: list[pd.DataFrame]) -> None:
    domain = {"gender": ["female", "male"], "age_band": ["18-29", "30-44", "45-59", "60+"], "region": [1, 2, 3]}
    counts = _counts(sites[1], domain=domain)
    # every combination is kept, zeros too: (levels + other + missing) per column
    assert counts.combo_counts.shape == ((2 + 2) * (4 + 2) * (3 + 2), 4)
    assert [len(c) for c in counts.counts] == [4, 6, 5]
    table = fairness.group_table_from_counts(counts).set_index(["attribute", "group"])
    assert table.loc[("age_band", "(other levels)"), "count"] == 40  # "90+" is not in the domain
    assert table.loc[("gender", "(missing)"), "count"] == int(sites[1]["gender"].isna().sum())


def test_mismatched_or_malformed_counts_are_refused(sites: list[pd.DataFrame]) -> None:
    one = _counts(sites[0])
    other = fairness.group_counts(sites[1]["y"], None, sites[1][["gender"]], scores=sites[1]["score"])
    with pytest.raises(ParameterError, match=r"Cannot merge group counts of sensitive columns \['gender', 'age_band', 'region'\] and \['gender'\]"):
        one.merge(other)
    arrays, scalars = fairness.counts_to_arrays(one)
    arrays[1] = -arrays[1]
    with pytest.raises(DataError, match=r"fairness group counts from a site are malformed \(counts do not match the levels, or are negative\)"):
        fairness.counts_from_arrays(arrays, scalars)
    assert fairness.counts_from_arrays(arrays, scalars, noisy=True).clipped().counts[0].min() == 0
    text = sites[0].assign(region=sites[0]["region"].astype(str))
    with pytest.raises(DataError, match="sensitive column 'region' holds values of different types at different sites"):
        _counts(text).merge(_counts(sites[1]))
