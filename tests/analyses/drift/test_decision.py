"""The sample-size-aware decision, and an explicit row for every kind of problem."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.analyses.drift.conftest import CATEGORICAL, NUMERIC, categorical, frame
from workbench.analyses.drift import COLUMNS, BatchStats, DriftResult, batch_stats, build_profile, compare
from workbench.exceptions import DataError, ParameterError

MODES = ["exact", "sketch"]


def _row(result: DriftResult, column: str) -> pd.Series:
    return result.columns.set_index("column").loc[column]


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, pd.DataFrame]:
    return frame(2000, 1), frame(1500, 2)


@pytest.mark.parametrize("mode", MODES)
def test_identical_distributions_at_a_million_rows_are_not_flagged(mode: str) -> None:
    rng = np.random.default_rng(1)
    draw = lambda: pd.DataFrame({"x": rng.normal(0, 1, 1_000_000), "c": categorical(1_000_000, rng, 12)})
    result = compare(build_profile(draw(), numeric=["x"], categorical=["c"], mode=mode), draw())
    assert result.columns["drifted"].tolist() == [False, False]
    assert (result.columns["effect_size"] < 0.01).all()  # whatever the p-values say, the effect is tiny
    assert result.dataset["drift"] is False


@pytest.mark.parametrize("mode", MODES)
def test_a_tenth_of_a_standard_deviation_shift_at_100k_rows_is_flagged(mode: str) -> None:
    rng = np.random.default_rng(2)
    reference, batch = pd.DataFrame({"x": rng.normal(0, 1, 100_000)}), pd.DataFrame({"x": rng.normal(0.1, 1, 100_000)})
    row = _row(compare(build_profile(reference, numeric=["x"], categorical=[], mode=mode), batch), "x")
    assert row.drifted and row.status == "drift" and row.p_value < 1e-10
    assert row.wasserstein == pytest.approx(0.1, abs=0.01)


def test_the_same_shift_in_a_small_sample_is_not_flagged() -> None:
    rng = np.random.default_rng(3)
    reference, batch = pd.DataFrame({"x": rng.normal(0, 1, 100)}), pd.DataFrame({"x": rng.normal(0.1, 1, 100)})
    row = _row(compare(build_profile(reference, numeric=["x"], categorical=[]), batch), "x")
    assert row.p_value > 0.05 and not row.drifted and row.status == "ok"


def test_a_shifted_categorical_mix_is_flagged(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, _ = small
    batch = frame(1500, 3, tilt=0.25)
    result = compare(build_profile(reference, numeric=[], categorical=CATEGORICAL), batch)
    assert result.columns["drifted"].tolist() == [True, True]
    assert result.dataset == {"columns": 2, "drifted_columns": 2, "drifted_share": 1.0, "drift": True, "alpha": 0.05,
                              "mode": "exact", "n_reference": 2000, "n_batch": 1500, "problems": []}


@pytest.mark.parametrize("mode", MODES)
def test_every_problem_gets_its_own_explicit_row(mode: str, small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, batch = small[0].copy(), small[1].copy()
    reference["ref_empty"] = np.nan
    reference["constant"] = 3.0
    profile = build_profile(reference, numeric=[*NUMERIC, "ref_empty", "constant"], categorical=CATEGORICAL, mode=mode)
    batch = batch.drop(columns=["num_uniform"])  # missing column
    batch["num_lognormal"] = np.nan  # empty column
    batch.loc[batch.index[:1000], "num_exponential"] = np.nan  # 67% missing
    batch["num_bimodal"] = ["n/a"] * 5 + list(batch["num_bimodal"].iloc[5:])  # text in a numeric column
    batch["ref_empty"] = 1.0
    batch["constant"] = np.r_[np.full(1000, 3.0), np.full(500, 4.0)]
    batch.loc[batch.index[:40], "cat_many"] = "brand new"
    batch.loc[batch.index[40:45], "cat_many"] = "also new"
    result = compare(profile, batch)
    rows = result.columns.set_index("column")
    expected = {"num_normal": ("ok", False), "num_lognormal": ("empty column", True),
                "num_exponential": ("high missing share", True), "num_uniform": ("missing column", False),
                "num_bimodal": ("type changed", False), "num_counts": ("ok", False), "ref_empty": ("empty column", False),
                "constant": ("insufficient data", False), "cat_few": ("ok", False), "cat_many": ("drift", True)}
    assert {name: (row.status, row.drifted) for name, row in rows.iterrows()} == expected
    assert list(rows.index) == list(expected)  # one row per profiled column, in profile order
    assert rows.loc["cat_many", "unseen_categories"] == "also new,brand new"
    assert rows.loc["num_exponential", "missing_share_batch"] == pytest.approx(1000 / 1500)
    assert rows.loc["num_exponential", "n_batch"] == 500 and not np.isnan(rows.loc["num_exponential", "p_value"])
    assert rows.loc["num_uniform", "n_batch"] == 0 and np.isnan(rows.loc["num_uniform", "missing_share_batch"])
    assert result.dataset["problems"] == ["num_lognormal", "num_exponential", "num_uniform", "num_bimodal",
                                          "ref_empty", "constant"]
    assert result.dataset["drifted_columns"] == 3 and result.dataset["drift"] is False


def test_too_few_rows_is_insufficient_data_not_a_verdict(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, batch = small
    result = compare(build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL), batch.iloc[:29])
    assert set(result.columns["status"]) == {"insufficient data"} and not result.columns["drifted"].any()
    assert result.columns["p_value"].notna().all()  # the numbers are still shown
    assert compare(build_profile(reference, numeric=NUMERIC, categorical=[]), batch.iloc[:29], min_rows=29
                   ).columns["status"].isin(["ok", "drift"]).all()


def test_a_constant_reference_column_the_batch_keeps_is_ok() -> None:
    reference, batch = pd.DataFrame({"x": np.ones(100)}), pd.DataFrame({"x": np.ones(50)})
    row = _row(compare(build_profile(reference, numeric=["x"], categorical=[]), batch), "x")
    assert (row.status, row.effect_size, row.p_value) == ("ok", 0.0, 1.0)


def test_numbers_written_as_text_are_read_as_numbers_and_named_a_type_change() -> None:
    reference = pd.DataFrame({"x": np.arange(100.0)})
    batch = pd.DataFrame({"x": [str(v) for v in np.arange(100.0)] + [None]})
    row = _row(compare(build_profile(reference, numeric=["x"], categorical=[]), batch), "x")
    assert (row.status, row.statistic, row.missing_share_batch) == ("type changed", 0.0, 1 / 101)  # parsed, and named


def test_missing_values_and_infinities_are_counted_not_dropped_silently() -> None:
    reference = pd.DataFrame({"x": np.r_[np.arange(96.0), np.nan, np.inf, -np.inf, np.nan], "c": ["a", None] * 50})
    profile = build_profile(reference, numeric=["x"], categorical=["c"])
    rows = compare(profile, reference).columns.set_index("column")
    assert rows.loc["x", "n_reference"] == 96 and rows.loc["x", "missing_share_reference"] == 0.04
    assert rows.loc["c", "n_reference"] == 50 and rows.loc["c", "missing_share_batch"] == 0.5


def test_categorical_levels_match_by_name_across_dtypes() -> None:
    reference = pd.DataFrame({"c": np.tile([1, 2, 3], 100)})
    batch = pd.DataFrame({"c": np.r_[np.tile([1.0, 2.0, 3.0], 100), np.nan]})  # ints became floats
    row = _row(compare(build_profile(reference, numeric=[], categorical=["c"]), batch), "c")
    assert (row.status, row.unseen_categories, row.statistic) == ("ok", "", 0.0)


def test_a_batch_of_zero_rows_is_an_error(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    profile = build_profile(small[0], numeric=NUMERIC, categorical=CATEGORICAL)
    for batch in (small[1].iloc[:0], batch_stats(small[1].iloc[:0], profile)):
        with pytest.raises(DataError) as error:
            compare(profile, batch)
        assert str(error.value) == ("batch has 0 rows: there is nothing to compare with the reference profile. "
                                    "Pass a batch with at least one row.")


def test_bad_arguments_are_refused_with_the_valid_values(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, batch = small
    with pytest.raises(ParameterError) as error:
        build_profile(reference, numeric=NUMERIC, categorical=[], mode="fast")
    assert str(error.value) == ("The 'mode' parameter of build_profile must be one of 'exact', 'sketch'. "
                                "Got 'fast' instead.")
    with pytest.raises(DataError) as error:
        build_profile(reference[["num_normal"]], numeric=["num_normal", "age"], categorical=[])
    assert str(error.value) == ("reference has no column 'age' (listed in numeric); its columns are: num_normal. "
                                "Fix the numeric list.")
    with pytest.raises(DataError) as error:
        build_profile(reference, numeric=["cat_few"], categorical=[])
    first = reference["cat_few"].iloc[0]
    assert str(error.value) == (f"reference column 'cat_few' is listed as numeric but holds text (e.g. '{first}'); "
                                "list it in categorical or fix the data.")
    with pytest.raises(ParameterError) as error:
        build_profile(reference, numeric=["cat_few"], categorical=["cat_few"])
    assert str(error.value) == "Column 'cat_few' is listed in both numeric and categorical; list it in one of them."
    profile = build_profile(reference, numeric=NUMERIC, categorical=[])
    with pytest.raises(ParameterError) as error:
        compare(profile, batch, alpha=1.5)
    assert str(error.value) == "The 'alpha' parameter of compare must be a float in (0, 1). Got 1.5 instead."
    other = build_profile(reference, numeric=NUMERIC, categorical=[])
    with pytest.raises(ParameterError, match="computed against profile"):
        compare(other, batch_stats(batch, profile))


def test_result_has_the_documented_columns_and_serialises_to_json(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, batch = small
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode="sketch")
    result = compare(profile, batch.drop(columns="cat_few"))
    assert list(result.columns.columns) == COLUMNS == [
        "column", "kind", "test", "statistic", "p_value", "wasserstein", "psi", "jensen_shannon", "effect_size",
        "effect_threshold", "alpha", "drifted", "status", "n_reference", "n_batch", "missing_share_reference",
        "missing_share_batch", "unseen_categories"]
    assert result.columns["drifted"].dtype == bool and result.columns["n_batch"].dtype == np.int64
    assert set(result.columns["test"]) == {"ks", "chi2"}
    assert result.columns.query("kind == 'categorical'")["wasserstein"].isna().all()
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["schema_version"] == 1 and data["dataset"]["problems"] == ["cat_few"]
    assert data["columns"][-2]["p_value"] is None and data["columns"][0]["column"] == "num_normal"


def test_batch_stats_are_accepted_in_place_of_the_frame(small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, batch = small
    profile = build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL)
    stats = batch_stats(batch, profile)
    assert isinstance(stats, BatchStats) and stats.rows == 1500
    pd.testing.assert_frame_equal(compare(profile, stats).columns, compare(profile, batch).columns)


@pytest.mark.parametrize("mode", MODES)
def test_a_missing_share_rising_from_0_to_10_percent_is_named(mode: str) -> None:
    rng = np.random.default_rng(11)
    reference = pd.DataFrame({"x": rng.normal(0, 1, 4000), "c": categorical(4000, rng)})
    batch = pd.DataFrame({"x": rng.normal(0, 1, 2000), "c": categorical(2000, rng)})
    batch.loc[batch.index[:200], ["x", "c"]] = np.nan  # 0 % -> 10 %, far below the 50 % cap
    profile = build_profile(reference, numeric=["x"], categorical=["c"], mode=mode)
    rows = compare(profile, batch).columns.set_index("column")
    assert rows["status"].tolist() == ["missing share increased"] * 2 and not rows["drifted"].any()
    assert rows.loc["x", "missing_share_reference"] == 0.0 and rows.loc["x", "missing_share_batch"] == pytest.approx(0.1)
    assert compare(profile, batch, max_missing_increase=0.1).columns["status"].tolist() == ["ok", "ok"]
    assert compare(profile, batch.iloc[150:]).columns["status"].tolist() == ["ok", "ok"]  # 50/1850 = 2.7 %: within


@pytest.mark.parametrize("mode", MODES)
def test_a_one_row_batch_is_insufficient_data_in_every_column(mode: str, small: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, batch = small
    one = batch.iloc[:1].copy()
    one["num_normal"] = np.nan  # 100 % missing in one row says nothing either
    one["num_counts"] = "n/a"  # but a retyped column is still named
    result = compare(build_profile(reference, numeric=NUMERIC, categorical=CATEGORICAL, mode=mode), one.drop(columns=["cat_few"]))
    status = result.columns.set_index("column")["status"].to_dict()
    assert status.pop("num_counts") == "type changed" and status.pop("cat_few") == "missing column"
    assert set(status.values()) == {"insufficient data"} and not result.columns["drifted"].any()
    assert result.dataset["drift"] is False


def test_an_int_column_written_back_as_parquet_strings_is_a_type_change(tmp_path) -> None:
    from workbench.analyses.drift import batch_stats_from_parquet

    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"n": rng.poisson(4, 3000), "x": rng.normal(0, 1, 3000)})
    batch = pd.DataFrame({"n": rng.poisson(4, 1000).astype(str), "x": reference["x"].to_numpy()[::3]})
    batch.to_parquet(tmp_path / "batch.parquet")
    for mode in MODES:
        profile = build_profile(reference, numeric=["n", "x"], categorical=[], mode=mode)
        for source in (batch, batch_stats_from_parquet(tmp_path / "batch.parquet", profile, chunk_rows=300)):
            rows = compare(profile, source).columns.set_index("column")
            assert rows["status"].tolist() == ["type changed", "ok"], (mode, type(source))
            assert rows.loc["n", "effect_size"] < 0.1 and not rows.loc["n", "drifted"]  # the parsed numbers are still compared
