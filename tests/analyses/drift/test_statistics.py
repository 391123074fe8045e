"""Our KS and Wasserstein equal scipy's (and evidently's), and the sketch stays within its bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.analyses.drift.conftest import CATEGORICAL, NUMERIC, SHAPES, frame, sample
from workbench.analyses.drift import _numeric as num
from workbench.analyses.drift import build_profile, compare


def evidently_import_noise(test):
    """evidently 0.7 touches ``numpy.core`` and deprecated litestar helpers while it imports."""
    test = pytest.mark.filterwarnings("ignore::DeprecationWarning:evidently")(test)
    return pytest.mark.filterwarnings("ignore::DeprecationWarning:litestar")(test)
SIZES = [(300, 200), (2000, 2000), (5000, 3001), (12000, 9000)]  # the last is past scipy's exact limit


def _pair(shape: str, n: int, m: int, seed: int, shift: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return sample(shape, n, rng), sample(shape, m, rng, shift)


@pytest.mark.parametrize("n,m", SIZES, ids=[f"{n}x{m}" for n, m in SIZES])
@pytest.mark.parametrize("shape", SHAPES)
def test_ks_and_wasserstein_equal_scipy(shape: str, n: int, m: int) -> None:
    ref, bat = _pair(shape, n, m, seed=n + m)
    d, w = num.ks_wasserstein(np.sort(ref), np.sort(bat))
    expected = stats.ks_2samp(ref, bat)
    assert abs(d - expected.statistic) <= 1e-12
    assert abs(num.ks_pvalue(d, n, m) - expected.pvalue) <= 1e-9
    assert abs(w - stats.wasserstein_distance(ref, bat)) <= 1e-9


@pytest.mark.parametrize("ref,bat", [
    ([1.0, 2, 2, 3], [2.0, 2, 5]),
    ([0.0] * 50 + [1.0] * 50, [0.0] * 30 + [1.0] * 70),
    (np.round(np.linspace(0, 3, 400), 1), np.round(np.linspace(0.5, 2, 250), 1)),
    ([5.0], [5.0]),
], ids=["tiny", "binary", "rounded", "single-equal"])
def test_ties_and_tiny_samples_equal_scipy(ref: list[float], bat: list[float]) -> None:
    ref, bat = np.asarray(ref, dtype=float), np.asarray(bat, dtype=float)
    d, w = num.ks_wasserstein(np.sort(ref), np.sort(bat))
    expected = stats.ks_2samp(ref, bat)
    assert abs(d - expected.statistic) <= 1e-12
    assert abs(num.ks_pvalue(d, ref.size, bat.size) - expected.pvalue) <= 1e-9
    assert abs(w - stats.wasserstein_distance(ref, bat)) <= 1e-9


def test_compare_reports_scipy_numbers_for_every_shape() -> None:
    reference, batch = frame(4000, 1), frame(3000, 2, shift=0.2)
    result = compare(build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL), batch).columns
    for name in NUMERIC:
        row = result.set_index("column").loc[name]
        ks = stats.ks_2samp(reference[name], batch[name])
        assert abs(row.statistic - ks.statistic) <= 1e-12 and abs(row.p_value - ks.pvalue) <= 1e-9
        w = stats.wasserstein_distance(reference[name], batch[name]) / np.std(reference[name])
        assert abs(row.wasserstein - w) <= 1e-9 and row.effect_size == row.wasserstein


def test_categorical_numbers_equal_scipy() -> None:
    reference, batch = frame(3000, 3), frame(2000, 4, tilt=0.1)
    row = compare(build_profile(reference, numeric=[], categorical=["cat_many"]), batch).columns.iloc[0]
    table = pd.crosstab(np.r_[np.zeros(3000), np.ones(2000)], np.r_[reference.cat_many, batch.cat_many]).to_numpy()
    chi2 = stats.chi2_contingency(table)
    assert row.statistic == pytest.approx(chi2.statistic, rel=1e-12) and row.p_value == pytest.approx(chi2.pvalue, rel=1e-9)
    from scipy.spatial.distance import jensenshannon

    assert row.jensen_shannon == pytest.approx(jensenshannon(table[0] / 3000, table[1] / 2000, base=2), rel=1e-12)
    assert row.effect_size == row.jensen_shannon


@evidently_import_noise
@pytest.mark.parametrize("shape", ["normal", "lognormal", "counts"])
def test_ks_and_wasserstein_agree_with_evidently_stattests(shape: str) -> None:
    from evidently.legacy.calculations.stattests import ks_stat_test, wasserstein_stat_test
    from evidently.legacy.core import ColumnType

    ref, bat = (pd.Series(x) for x in _pair(shape, 3000, 2500, seed=7))
    row = compare(build_profile(pd.DataFrame({"x": ref}), numeric=["x"], categorical=[]), pd.DataFrame({"x": bat}))
    row = row.columns.iloc[0]
    ks = ks_stat_test(ref, bat, ColumnType.Numerical, None)  # evidently reports the p-value as its drift score
    assert abs(row.p_value - ks.drift_score) <= 1e-6
    assert abs(row.statistic - stats.ks_2samp(ref, bat).statistic) <= 1e-6  # the D behind evidently's p-value
    wasserstein = wasserstein_stat_test(ref, bat, ColumnType.Numerical, None)
    assert abs(row.wasserstein - wasserstein.drift_score) <= 1e-9


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_sketch_ks_and_wasserstein_within_documented_bounds(shape: str, shift: float) -> None:
    ref, bat = _pair(shape, 20000, 15000, seed=11, shift=shift)
    ref_sorted, bat_sorted = np.sort(ref), np.sort(bat)
    d_exact, w_exact = num.ks_wasserstein(ref_sorted, bat_sorted)
    edges = num.sketch_edges(ref_sorted, 1000)
    ref_counts = num.counts_from_sorted(ref_sorted, edges)
    bat_counts, below, above = num.sketch_counts(bat, edges, num.BinIndex(edges))
    d_sketch, w_sketch = num.binned_ks_wasserstein(edges, ref_counts, bat_counts, below, above)
    ks_bound, w_bound = num.sketch_error_bounds(edges, ref_counts, bat_counts)
    assert d_sketch <= d_exact + 1e-12 and d_exact - d_sketch <= ks_bound + 1e-12
    assert abs(w_sketch - w_exact) <= w_bound + 1e-12
    # The KS bound is at most the largest reference bin mass: 1/1000 (+1 value of rounding) ...
    assert ks_bound <= np.max(np.where(np.diff(edges, append=np.inf) > 1e-9, ref_counts[1:], 0)) / ref.size
    assert ks_bound <= 1 / 1000 + 1 / ref.size
    if shape == "counts":  # ... and 0 when every distinct reference value has a bin of its own
        assert ks_bound == 0 and d_sketch == pytest.approx(d_exact, abs=1e-12)
        if shift == 0:
            assert w_sketch == pytest.approx(w_exact, rel=1e-9)


def test_sketch_bins_equal_searchsorted_for_every_value() -> None:
    rng = np.random.default_rng(5)
    ref = np.sort(np.r_[rng.lognormal(0, 2, 30000), rng.normal(0, 1e-3, 5000), np.zeros(3000), rng.poisson(3, 9000)])
    edges = num.sketch_edges(ref, 1000)
    near = [edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf)]
    values = np.concatenate([rng.lognormal(0, 2, 20000), rng.poisson(3, 20000), np.zeros(9), *near, [-1e300, 1e300]])
    assert np.array_equal(num.BinIndex(edges)(values), np.searchsorted(edges, values, side="right"))


@pytest.mark.parametrize("shift,drifted", [(0.0, False), (0.4, True)])
def test_sketch_and_exact_make_the_same_decisions(shift: float, drifted: bool) -> None:
    reference, batch = frame(30000, 21), frame(20000, 22, shift=shift, tilt=shift / 2)
    results = [compare(build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode), batch).columns
               for mode in ("exact", "sketch")]
    assert results[0]["drifted"].tolist() == results[1]["drifted"].tolist() == [drifted] * len(results[0])
    assert results[0]["status"].tolist() == results[1]["status"].tolist()


@pytest.mark.parametrize("shift", [0.0, 0.01, 0.02, 0.05])
def test_large_sample_p_values_equal_scipy_including_the_tiny_p_shortcut(shift: float) -> None:
    """Past scipy's exact limit: kstwo as scipy, or below 1e-10 the cheap Kolmogorov tail."""
    ref, bat = _pair("normal", 200_000, 150_000, seed=3, shift=shift)
    d, _ = num.ks_wasserstein(np.sort(ref), np.sort(bat))
    expected = stats.ks_2samp(ref, bat)
    assert abs(d - expected.statistic) <= 1e-12
    assert abs(num.ks_pvalue(d, ref.size, bat.size) - expected.pvalue) <= 1e-10
