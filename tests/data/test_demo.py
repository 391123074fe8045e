"""The demo generator: files, schema, determinism and the four planted scenarios.

The scenario tests train one real HistGradientBoostingClassifier on the real reference
and check that the drift, concept-drift and bias signals the module docstring promises
are there, so later modules can be tested against them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from workbench.data import demo

FEATURES = [*demo.NUMERIC, "contract", "payment_method", "internet_service", "region"]
OTHER_AGE_BANDS = [band for band in demo.CATEGORIES["age_band"] if band != "60+"]


def _features(df: pd.DataFrame) -> pd.DataFrame:
    """Model inputs: numeric columns plus categoricals with the demo's fixed levels."""
    x = df[FEATURES].copy()
    for col in ("contract", "payment_method", "internet_service", "region"):
        x[col] = pd.Categorical(x[col], categories=demo.CATEGORIES[col])
    return x


def _tpr(df: pd.DataFrame, pred: np.ndarray, band: str) -> float:
    """True positive rate of ``pred`` among churners of one age band."""
    mask = ((df["age_band"] == band) & (df["churned"] == 1)).to_numpy()
    return float(pred[mask].mean())


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Fit and score single-threaded: on a busy machine OpenMP threads contend and a 0.2 s
    fit can take a minute; one thread is also fastest at this size."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> demo.DemoFiles:
    return demo.generate(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def reference(files) -> pd.DataFrame:
    return pd.read_parquet(files.reference)


@pytest.fixture(scope="module")
def batches(files) -> dict[str, pd.DataFrame]:
    return {path.stem: pd.read_parquet(path) for path in files.batches}


@pytest.fixture(scope="module")
def model(reference):
    """A model trained on 75% of the reference, with its holdout ROC AUC."""
    order = np.random.default_rng(0).permutation(len(reference))
    train, holdout = reference.iloc[order[:6000]], reference.iloc[order[6000:]]
    clf = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    clf.fit(_features(train), train["churned"])
    holdout_auc = roc_auc_score(holdout["churned"], clf.predict_proba(_features(holdout))[:, 1])
    return clf, holdout_auc


@pytest.fixture(scope="module")
def aucs(model, batches) -> dict[str, float]:
    clf, _ = model
    return {month: roc_auc_score(df["churned"], clf.predict_proba(_features(df))[:, 1])
            for month, df in batches.items()}


# --- files and determinism -------------------------------------------------------------

def test_generate_writes_reference_and_one_batch_per_month(files):
    assert files.reference.name == "reference.parquet"
    assert [p.name for p in files.batches] == [f"2026-0{i}.parquet" for i in range(1, 9)]
    assert all(p.parent == files.reference.parent / "batches" for p in files.batches)
    leftovers = [p for p in files.reference.parent.rglob("*") if p.name.endswith(".partial")]
    assert leftovers == []


def test_parquet_generation_is_deterministic(tmp_path, files, reference):
    again = demo.generate(tmp_path)
    pd.testing.assert_frame_equal(pd.read_parquet(again.reference), reference)
    for first, second in zip(files.batches, again.batches, strict=True):
        pd.testing.assert_frame_equal(pd.read_parquet(first), pd.read_parquet(second))


def test_csv_bytes_are_identical_across_runs_and_match_the_frames(tmp_path):
    sizes = {"n_reference": 600, "n_batch": 150, "months": 3, "fmt": "csv"}
    one, two = demo.generate(tmp_path / "a", **sizes), demo.generate(tmp_path / "b", **sizes)
    for a, b in zip([one.reference, *one.batches], [two.reference, *two.batches], strict=True):
        assert a.read_bytes() == b.read_bytes()
    read = pd.read_csv(one.batches[2], parse_dates=["snapshot_date"])
    expected = demo.make_frame(150, month="2026-03", first_id=601 + 2 * 150)
    pd.testing.assert_frame_equal(read, expected)


def test_different_seeds_give_different_data():
    a, b = demo.make_frame(200, seed=1), demo.make_frame(200, seed=2)
    assert not a["monthly_charges"].equals(b["monthly_charges"])


# --- schema ------------------------------------------------------------------------------

def test_columns_and_dtypes(reference, batches):
    for df in [reference, *batches.values()]:
        assert list(df.columns) == list(demo.COLUMNS)
        assert pd.api.types.is_datetime64_any_dtype(df["snapshot_date"])
        for col in ("tenure_months", "support_calls", "num_products", "churned"):
            assert df[col].dtype == np.int64, col
        for col in ("monthly_charges", "total_charges", "avg_session_minutes"):
            assert df[col].dtype == np.float64, col
        for col, levels in demo.CATEGORIES.items():
            assert set(df[col]) == set(levels), col
        assert set(df["churned"]) == {0, 1}


def test_sizes_and_value_ranges(reference, batches):
    assert len(reference) == 8000
    assert {len(df) for df in batches.values()} == {2000}
    assert reference["tenure_months"].between(1, 72).all()
    assert reference["num_products"].between(1, 5).all()
    assert (reference["monthly_charges"] >= 15).all()


def test_customer_ids_are_unique_across_the_whole_demo(reference, batches):
    ids = pd.concat([reference["customer_id"], *(df["customer_id"] for df in batches.values())])
    assert ids.is_unique
    assert ids.str.fullmatch(r"C\d{7}").all()
    assert ids.iloc[0] == "C0000001" and ids.iloc[-1] == "C0024000"


def test_snapshot_dates_lie_in_their_months(reference, batches):
    ref_months = reference["snapshot_date"].dt.to_period("M").astype(str)
    assert sorted(ref_months.unique()) == list(demo.REFERENCE_MONTHS)
    assert list(batches) == demo.batch_months()
    for month, df in batches.items():
        assert (df["snapshot_date"].dt.to_period("M").astype(str) == month).all()
        assert (df["snapshot_date"] == df["snapshot_date"].dt.normalize()).all()
        assert df["snapshot_date"].is_monotonic_increasing


def test_only_total_charges_has_missing_values_about_one_percent(reference, batches):
    for df in [reference, *batches.values()]:
        assert 0.004 <= df["total_charges"].isna().mean() <= 0.02
        assert df.drop(columns="total_charges").notna().all().all()


def test_churn_base_rate_is_between_20_and_30_percent(reference):
    assert 0.20 <= reference["churned"].mean() <= 0.30


def test_features_are_plausibly_correlated(reference):
    charges = reference.groupby("internet_service")["monthly_charges"].mean()
    assert charges["fiber"] > charges["DSL"] > charges["none"]
    product_corr = reference["num_products"].corr(reference["monthly_charges"])
    assert product_corr > 0.2
    tenure = reference.groupby("contract")["tenure_months"].mean()
    assert tenure["two-year"] > tenure["one-year"] > tenure["month-to-month"]
    product = reference["tenure_months"] * reference["monthly_charges"]
    assert reference["total_charges"].corr(product) > 0.99


def test_every_gender_by_age_band_cell_has_at_least_50_rows(batches):
    for month, df in batches.items():
        cells = pd.crosstab(df["gender"], df["age_band"])
        assert cells.shape == (2, 4) and cells.min().min() >= 50, month


# --- planted scenarios -------------------------------------------------------------------

def test_scenario_state_follows_the_scenario_constants():
    assert demo.scenario_state(None) == {"drift_steps": 0, "concept_drift": False,
                                         "bias_shift": False}
    assert demo.scenario_state(demo.SCENARIOS["no_drift"]["months"][-1])["drift_steps"] == 0
    assert demo.scenario_state(demo.SCENARIOS["data_drift"]["start"])["drift_steps"] == 1
    concept = demo.scenario_state(demo.SCENARIOS["concept_drift"]["month"])
    assert concept == {"drift_steps": 3, "concept_drift": True, "bias_shift": False}
    assert demo.scenario_state("2026-08") == {"drift_steps": 6, "concept_drift": True,
                                              "bias_shift": True}


def test_no_drift_in_the_first_two_batches(reference, batches, model, aucs):
    _, holdout_auc = model
    for month in demo.SCENARIOS["no_drift"]["months"]:
        df = batches[month]
        assert ks_2samp(df["monthly_charges"], reference["monthly_charges"]).pvalue > 0.05
        assert ks_2samp(df["tenure_months"], reference["tenure_months"]).pvalue > 0.05
        assert abs(aucs[month] - holdout_auc) <= 0.03
        assert abs(df["churned"].mean() - reference["churned"].mean()) <= 0.03


def test_data_drift_grows_month_over_month(reference, batches):
    ref = reference["monthly_charges"]
    shift = {m: (df["monthly_charges"].mean() - ref.mean()) / ref.std()
             for m, df in batches.items()}
    start = demo.SCENARIOS["data_drift"]["start"]
    drifting = [m for m in batches if m >= start]
    assert all(abs(shift[m]) < 0.1 for m in batches if m < start)
    growth = np.diff([shift[m] for m in drifting])
    assert (growth > 0).all()
    step = demo.SCENARIOS["data_drift"]["monthly_charges_sd_per_month"]
    for k, month in enumerate(drifting, start=1):
        assert shift[month] == pytest.approx(step * k, abs=0.1), month
    ref_m2m = (reference["contract"] == "month-to-month").mean()
    last_m2m = (batches[drifting[-1]]["contract"] == "month-to-month").mean()
    assert last_m2m - ref_m2m > 0.08


def test_data_drift_alone_does_not_hurt_the_model(model, aucs):
    _, holdout_auc = model
    concept = demo.SCENARIOS["concept_drift"]["month"]
    for month in (m for m in aucs if demo.SCENARIOS["data_drift"]["start"] <= m < concept):
        assert aucs[month] >= holdout_auc - 0.03, month


def test_concept_drift_costs_the_reference_model_auc(aucs):
    month = demo.SCENARIOS["concept_drift"]["month"]
    before = str(pd.Period(month, "M") - 1)
    assert aucs[before] - aucs[month] >= 0.08
    assert all(aucs[m] < aucs[before] - 0.08 for m in aucs if m > month)


def test_bias_shift_drops_the_true_positive_rate_of_one_group(model, batches):
    clf, _ = model
    scenario = demo.SCENARIOS["bias_shift"]
    after = scenario["month"]
    before = str(pd.Period(after, "M") - 1)
    tpr = {}
    for month in (before, after):
        pred = clf.predict(_features(batches[month]))
        tpr[month] = {band: _tpr(batches[month], pred, band)
                      for band in demo.CATEGORIES["age_band"]}
    group_drop = tpr[before][scenario["group"]] - tpr[after][scenario["group"]]
    assert group_drop >= 0.15
    for band in OTHER_AGE_BANDS:
        assert abs(tpr[before][band] - tpr[after][band]) < group_drop, band
    others_before = np.mean([tpr[before][band] for band in OTHER_AGE_BANDS])
    assert abs(tpr[before][scenario["group"]] - others_before) <= 0.1
    others_after = np.mean([tpr[after][band] for band in OTHER_AGE_BANDS])
    assert others_after - tpr[after][scenario["group"]] >= 0.15


def test_bias_shift_raises_the_group_churn_rate(batches):
    scenario = demo.SCENARIOS["bias_shift"]
    before = str(pd.Period(scenario["month"], "M") - 1)

    def rate(month: str) -> float:
        df = batches[month]
        return df.loc[df[scenario["column"]] == scenario["group"], "churned"].mean()

    assert rate(scenario["month"]) - rate(before) > 0.3


# --- ensure_demo and validation ----------------------------------------------------------

def test_ensure_demo_generates_once_then_is_a_no_op(tmp_path):
    reference, batches = tmp_path / "data" / "reference.csv", tmp_path / "data" / "batches"
    assert demo.ensure_demo(reference, batches) is True
    assert sorted(p.name for p in batches.iterdir()) == [f"{m}.csv" for m in demo.batch_months()]
    stamps = {p: p.stat().st_mtime_ns for p in [reference, *batches.iterdir()]}
    assert demo.ensure_demo(reference, batches) is False
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_ensure_demo_writes_only_what_is_missing(tmp_path, files):
    reference, batches = tmp_path / "reference.parquet", tmp_path / "batches"
    reference.write_bytes(files.reference.read_bytes())
    before = reference.stat().st_mtime_ns
    assert demo.ensure_demo(reference, batches) is True
    assert reference.stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(pd.read_parquet(batches / "2026-05.parquet"),
                                  pd.read_parquet(files.batches[4]))


def test_ensure_demo_is_safe_when_two_processes_race(tmp_path):
    reference = tmp_path / "demo" / "reference.parquet"
    code = ("import sys; from workbench.data.demo import ensure_demo; "
            "print(ensure_demo(sys.argv[1], sys.argv[2]))")
    args = [sys.executable, "-c", code, str(reference), str(tmp_path / "demo" / "batches")]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2]) for _ in range(2)]
    outputs = sorted(proc.communicate(timeout=60)[0].strip() for proc in procs)
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs == ["False", "True"]
    assert len(list((tmp_path / "demo" / "batches").glob("*.parquet"))) == 8


def test_unknown_format_is_refused_with_the_allowed_values(tmp_path):
    with pytest.raises(ValueError) as err:
        demo.generate(tmp_path, fmt="xlsx")
    assert str(err.value) == (
        "The 'fmt' parameter of generate must be one of ['parquet', 'csv']. Got 'xlsx' instead.")
    assert list(tmp_path.iterdir()) == []


def test_ensure_demo_refuses_an_unknown_suffix(tmp_path):
    reference = tmp_path / "reference.xlsx"
    with pytest.raises(demo.DemoFormatError) as err:
        demo.ensure_demo(reference, tmp_path / "batches")
    assert str(err.value) == (
        f"The demo reference {str(reference)!r} must end in one of ['.parquet', '.csv']. "
        "Got '.xlsx' instead.")
    assert isinstance(err.value, ValueError) and err.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []
