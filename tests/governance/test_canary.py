"""Canary routing (deterministic by id) and the comparison of the two arms once labels arrive."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.analyses import canary as canary_arms
from workbench.governance import canary

IDS = pd.Series([f"C{i:07d}" for i in range(20_000)])


def test_share_is_respected_and_zero_routes_nothing() -> None:
    assert canary.route(IDS, 0.0, salt="churn-demo").sum() == 0
    share = canary.route(IDS, 0.2, salt="churn-demo").mean()
    assert 0.19 < share < 0.21  # binomial sd 0.0028 at n = 20,000


def test_routing_depends_on_the_id_only() -> None:
    mask = pd.Series(canary.route(IDS, 0.25, salt="churn-demo"), index=IDS)
    shuffled = IDS.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = pd.Series(canary.route(shuffled.iloc[:5000], 0.25, salt="churn-demo"), index=shuffled.iloc[:5000])
    assert (again == mask.loc[again.index]).all()  # order and batch size do not matter
    other = canary.route(IDS, 0.25, salt="another-model")
    assert (other != mask.to_numpy()).mean() > 0.3  # another project gets its own split


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=200, unique=True), st.floats(0.0, 0.99), st.floats(0.0, 0.99))
def test_raising_the_share_only_adds_rows(ids: list[str], a: float, b: float) -> None:
    low, high = sorted((a, b))
    keys = pd.Series(ids)
    assert not (canary.route(keys, low, salt="m") & ~canary.route(keys, high, salt="m")).any()


def _batch(n: int = 4000, labelled: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    truth = rng.uniform(0.02, 0.98, n)
    y = (rng.uniform(size=n) < truth).astype(float)
    champion = np.clip(truth + rng.normal(0, 0.35, n), 0, 1)  # a noisier model
    arm = np.where(canary.route(IDS.iloc[:n], 0.3, salt="m"), canary.CHALLENGER, canary.CHAMPION)
    served = np.where(arm == canary.CHALLENGER, truth, champion)
    return pd.DataFrame({"score": served, "champion_score": champion, "label": y if labelled else np.nan, "canary_arm": arm})


def test_compare_finds_the_better_challenger_on_the_same_customers() -> None:
    out = canary_arms.compare(_batch(), "binary", seed=0)
    arms = out["arms"]
    assert out["status"] == "compared" and out["verdict"] == "challenger better"
    assert arms["challenger"]["rows"] + arms["champion"]["rows"] == 4000
    assert arms["challenger"]["roc_auc"] > arms["champion"]["roc_auc"]
    diff = out["challenger_vs_champion"]
    assert diff["metric"] == "roc_auc" and 0 < diff["low"] < diff["value"] < diff["high"]


def test_compare_without_labels_or_with_too_few() -> None:
    assert canary_arms.compare(_batch(labelled=False), "binary")["status"] == "no labels yet"
    few = _batch(60)
    out = canary_arms.compare(few, "binary")
    assert out["status"] == "too few labelled canary rows to compare (need 30 with both classes)" and "verdict" not in out


@pytest.mark.parametrize("share", [0.05, 0.5])
def test_route_returns_a_boolean_mask_per_row(share: float) -> None:
    mask = canary.route(IDS.iloc[:100], share, salt="x")
    assert mask.dtype == bool and mask.shape == (100,)


def test_an_int_id_made_float_by_a_missing_value_keeps_its_arm_and_any_text_hashes() -> None:
    ints = pd.Series(range(1000))
    floats = pd.Series([*map(float, range(1000)), float("nan")])  # what pandas makes of an int column with a gap
    assert (canary.route(ints, 0.3, salt="m") == canary.route(floats, 0.3, salt="m")[:1000]).all()
    assert canary.route(pd.Series(["\ud800", "ok"]), 0.5, salt="m").shape == (2,)  # a lone surrogate is a valid JSON string
