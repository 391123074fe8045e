"""The raw tests are calibrated: on samples of one distribution they alarm about alpha of the time.

And the goodness-of-fit chi-square evidently uses (reference shares taken as exact) is not,
which is why the engine uses the two-sample contingency test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.analyses.drift.conftest import categorical
from workbench.analyses.drift import build_profile, compare

PAIRS = 400


def _false_alarm_rates(n: int, seed: int) -> dict[str, float]:
    """Share of PAIRS same-distribution pairs whose p-value is below 0.05, per column."""
    rng = np.random.default_rng(seed)
    alarms = {"x": 0, "levels3": 0, "levels12": 0}

    def draw() -> pd.DataFrame:
        return pd.DataFrame({"x": rng.lognormal(0, 1, n), "levels3": categorical(n, rng, 3),
                             "levels12": categorical(n, rng, 12)})

    for _ in range(PAIRS):
        profile = build_profile(draw(), numeric=["x"], categorical=["levels3", "levels12"])
        p_values = compare(profile, draw()).columns.set_index("column")["p_value"]
        for name in alarms:
            alarms[name] += bool(p_values[name] < 0.05)
    return {name: count / PAIRS for name, count in alarms.items()}


@pytest.mark.parametrize("n", [200, 5000])
def test_ks_and_contingency_chi2_false_alarm_rate_is_near_alpha(n: int) -> None:
    rates = _false_alarm_rates(n, seed=n)
    for name, rate in rates.items():
        assert 0.02 <= rate <= 0.08, (name, rate)


def test_goodness_of_fit_chi2_with_exact_reference_shares_alarms_too_often() -> None:
    """evidently's ``chisquare`` treats reference counts as exact; that ignores half the noise."""
    rng = np.random.default_rng(12)
    alarms = 0
    for _ in range(PAIRS):
        ref, bat = (pd.Series(categorical(5000, rng, 12)).value_counts() for _ in range(2))
        levels = ref.index.union(bat.index)
        expected = ref.reindex(levels, fill_value=0) * bat.sum() / ref.sum()
        alarms += stats.chisquare(bat.reindex(levels, fill_value=0), expected).pvalue < 0.05
    assert alarms / PAIRS > 0.08
