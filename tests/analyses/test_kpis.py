"""KPI config and computation: formulas checked at load time, values, gaps and bootstrap intervals by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, demo_config, write_config
from workbench.analyses import kpis
from workbench.config import KpiConfig as Kpi
from workbench.config import load_config
from workbench.exceptions import ConfigError


def _config(tmp_path: Path, kpi_list: list[dict], model: dict | None = None) -> Path:
    base = demo_config()
    overrides = {"kpis": kpi_list, "demo": True}
    if model is not None:
        overrides["model"] = model
    return write_config(tmp_path, overrides, data=base["data"])


def test_demo_config_defines_the_three_kpis() -> None:
    config = load_config(REPO / "workbench.yaml")
    assert [k.name for k in config.kpis] == ["churn_reduction", "cost_per_saved_customer", "forecast_accuracy"]
    assert [kpis.applies_to(k, "binary") for k in config.kpis] == [True, True, False]
    assert [kpis.applies_to(k, "regression") for k in config.kpis] == [False, False, True]


def test_regression_config_keeps_forecast_accuracy(tmp_path: Path) -> None:
    demo = yaml.safe_load((REPO / "workbench.yaml").read_text())["kpis"]
    path = _config(tmp_path, [demo[2]], model={"task": "regression", "estimator": "ridge"})
    config = load_config(path)
    assert [k.name for k in config.kpis if kpis.applies_to(k, config.model.task)] == ["forecast_accuracy"]


GOOD = {"name": "k", "formula": "tp / actual_positive", "direction": "higher", "target": 0.5}


@pytest.mark.parametrize(("change", "message"), [
    ({"formula": "tp / positives"}, "key 'kpis.0': KPI 'k': formula uses unknown name(s) positives; define them under 'values'"),
    ({"formula": "tp / (fn"}, "key 'kpis.0.formula': formula 'tp / (fn' is not a valid expression ('(' was never closed)."),
    ({"formula": "__import__('os').getcwd()"}, "key 'kpis.0.formula': formula \"__import__('os').getcwd()\": only the functions abs, min, max"),
    ({"formula": "tp.real"}, "key 'kpis.0.formula': formula 'tp.real': attribute is not allowed"),
    ({"formula": "1 - wape"}, "key 'kpis.0': KPI 'k': formula uses regression outcome variables but model.task is 'binary'; "
                              "fix the formula or add 'task: regression'"),
    ({"formula": "tp - mae"}, "key 'kpis.0': KPI 'k': formula mixes binary (tp) and regression (mae) outcome variables"),
    ({"values": {"tp": 2.0}}, "key 'kpis.0': KPI 'k': 'values' redefines outcome variable(s) tp; rename them."),
])
def test_bad_kpi_formula_is_refused_by_the_preflight_naming_the_key(tmp_path: Path, change: dict, message: str) -> None:
    path = _config(tmp_path, [{**GOOD, **change}])
    config = load_config(path)  # the shape is fine: formulas are the pre-flight's business
    with pytest.raises(ConfigError) as err:
        kpis.check(config.kpis, config.model.task, source=config.source)
    assert str(err.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(("change", "message"), [
    ({"direction": "up"}, "key 'kpis.0.direction': input should be 'higher' or 'lower' (got 'up')"),
    ({"colour": "red"}, "unknown key 'kpis.0.colour'."),
    ({"threshold": 1.5}, "key 'kpis.0.threshold': input should be less than 1"),
])
def test_bad_kpi_shape_is_refused_at_load_time_naming_the_key(tmp_path: Path, change: dict, message: str) -> None:
    path = _config(tmp_path, [{**GOOD, **change}])
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {message}")


def test_every_bad_kpi_is_reported_at_once(tmp_path: Path) -> None:
    path = _config(tmp_path, [{**GOOD, "formula": "tp / positives"}, {**GOOD, "name": "j", "formula": "tp / (fn"}])
    config = load_config(path)
    with pytest.raises(ConfigError) as err:
        kpis.check(config.kpis, config.model.task, source=config.source)
    assert str(err.value).startswith(f"{path}: 2 problems: (1) key 'kpis.0': KPI 'k': formula uses unknown name(s) positives")
    assert "(2) key 'kpis.1.formula': formula 'tp / (fn' is not a valid expression" in str(err.value)


def test_duplicate_kpi_names_are_refused(tmp_path: Path) -> None:
    path = _config(tmp_path, [GOOD, GOOD])
    with pytest.raises(ConfigError, match=r"key 'kpis': value error, KPI name\(s\) k used more than once; names must be unique"):
        load_config(path)


def _confusion(y: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int, int]:
    flagged = score >= threshold
    return (int((flagged & (y == 1)).sum()), int((flagged & (y == 0)).sum()), int((~flagged & (y == 0)).sum()), int((~flagged & (y == 1)).sum()))


def test_binary_kpis_by_hand_with_gap_improvement_and_interval() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 1500)
    score = np.clip(0.35 * y + rng.random(1500) * 0.7, 0, 1)
    base = rng.random(1500)
    reduction = Kpi(name="red", formula="save_rate * tp / actual_positive", values={"save_rate": 0.35}, direction="higher", target=0.3)
    cost = Kpi(name="cost", formula="contact_cost * predicted_positive / (save_rate * tp)", values={"contact_cost": 25, "save_rate": 0.35},
               direction="lower", target=90, baseline=120)
    table = kpis.table([reduction, cost], "binary", y, score, base, context={"batch": "b", "model_version": "3"}, n_bootstrap=400, seed=1)
    tp, fp, tn, fn = _confusion(y, score)
    btp, bfp, btn, bfn = _confusion(y, base)
    red, cst = table.set_index("kpi").loc["red"], table.set_index("kpi").loc["cost"]
    assert red["current"] == pytest.approx(0.35 * tp / (tp + fn))
    assert red["baseline"] == pytest.approx(0.35 * btp / (btp + bfn)) and red["baseline_source"] == "baseline model"
    assert red["gap"] == pytest.approx(0.3 - red["current"])  # higher is better: target - current
    assert red["improvement"] == pytest.approx(red["current"] - red["baseline"])
    assert cst["current"] == pytest.approx(25 * (tp + fp) / (0.35 * tp))
    assert cst["baseline"] == 120 and cst["baseline_source"] == "given"
    assert cst["gap"] == pytest.approx(cst["current"] - 90)  # lower is better: current - target
    assert cst["improvement"] == pytest.approx(120 - cst["current"])
    for row in (red, cst):
        assert row["ci_low"] < row["current"] < row["ci_high"]
        assert row["batch"] == "b" and row["model_version"] == "3" and row["rows"] == 1500
    again = kpis.table([reduction, cost], "binary", y, score, base, n_bootstrap=400, seed=1)
    assert again["ci_low"].tolist() == table["ci_low"].tolist()  # seeded


def test_forecast_accuracy_by_hand_on_a_regression_batch() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(200, 30, 800)
    pred = y + rng.normal(5, 20, 800)
    accuracy = Kpi(name="forecast_accuracy", formula="1 - wape", direction="higher", target=0.95, task="regression")
    rmse = Kpi(name="rmse_kpi", formula="rmse", direction="lower", target=10, task="regression")
    table = kpis.table([accuracy, rmse], "regression", y, pred, y + rng.normal(0, 40, 800), n_bootstrap=300).set_index("kpi")
    assert table.loc["forecast_accuracy", "current"] == pytest.approx(1 - np.abs(pred - y).sum() / np.abs(y).sum())
    assert table.loc["rmse_kpi", "current"] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)))
    assert table.loc["forecast_accuracy", "ci_low"] < table.loc["forecast_accuracy", "current"] < table.loc["forecast_accuracy", "ci_high"]
    assert table.loc["forecast_accuracy", "on_target"] == bool(table.loc["forecast_accuracy", "gap"] <= 0)


def test_undefined_value_is_nan_not_an_error() -> None:
    kpi = Kpi(name="cost", formula="25 * predicted_positive / tp", direction="lower", target=90)
    y, score = np.array([1, 1, 0, 0]), np.array([0.1, 0.2, 0.9, 0.8])  # no true positive: cost undefined
    assert np.isnan(kpis.value(kpi, y, score, "binary"))


def test_kpis_for_another_task_are_left_out() -> None:
    accuracy = Kpi(name="acc", formula="1 - wape", direction="higher", target=0.9, task="regression")
    table = kpis.table([accuracy], "binary", np.array([0, 1]), np.array([0.2, 0.7]), None, context={"batch": "b"})
    assert table.empty and list(table.columns[:5]) == ["kpi", "label", "unit", "direction", "baseline"]


@settings(max_examples=60, deadline=None)
@given(target=st.floats(-1e3, 1e3), current=st.floats(-1e3, 1e3), direction=st.sampled_from(["higher", "lower"]))
def test_a_positive_gap_always_means_still_to_go(target: float, current: float, direction: str) -> None:
    kpi = Kpi(name="k", formula="tp", direction=direction, target=target)
    reached = current >= target if direction == "higher" else current <= target
    assert (kpis.gap(kpi, current) <= 0) == reached
