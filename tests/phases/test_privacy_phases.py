"""The phases' private releases, piece by piece, with real OpenDP noise and a real audit trail (fast).

The whole lifecycle with privacy on (utility table in the evaluate report and the card, private
drift and fairness releases of a monitored batch) is in ``test_privacy_demo.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import write_config
from workbench.analyses import fairness
from workbench.analyses.privacy import OTHER
from workbench.config import load_config
from workbench.data import frames, sources
from workbench.exceptions import BudgetExceeded, DataError
from workbench.governance import privacy_ledger
from workbench.phases import _privacy
from workbench.phases.evaluate import PrivacyUtility

FEATURES = {"features": {"columns": ["tenure_months"], "epsilon": 1.0}, "bounds": {"tenure_months": [0, 72]}}


def _groups(seed: int, n: int, levels: tuple[str, ...] = ("a", "b")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"g": rng.choice(levels, n), "h": rng.choice(["x", "y"], n)})
    y = rng.integers(0, 2, n)
    scores = np.clip(y * 0.4 + rng.random(n) * 0.6, 0, 1)
    return fairness.group_table(y, None, frame, scores=scores, n_bootstrap=0, min_group=30)


def test_private_groups_at_a_huge_epsilon_give_back_the_exact_table_on_the_reference_groups() -> None:
    exact, reference = _groups(1, 3000), _groups(2, 500)
    private, release = _privacy.private_groups(exact, reference, epsilon=1000.0, min_group=30)
    # 3 attributes (g, h, their intersection): one row is in one cell of one group of each, so sensitivity 3
    assert (release.sensitivity, release.scale, release.epsilon) == (3.0, 0.003, 1000.0)
    known = private[private["group"] != OTHER].set_index(["attribute", "group"])
    truth = exact.set_index(["attribute", "group"]).loc[known.index]
    assert known["count"].tolist() == truth["count"].tolist() and known["positives"].tolist() == truth["positives"].tolist()
    for rate in ("selection_rate", "tpr", "fpr", "accuracy", "error_rate"):
        np.testing.assert_allclose(known[rate], truth[rate], rtol=0, atol=1e-12)
    assert known["status"].eq("ok").all() and private["tpr_low"].isna().all() and private["noise_scale"].eq(0.003).all()
    assert list(private.columns[:len(exact.columns)]) == list(exact.columns)
    # every attribute has an (other levels) group whatever the batch holds: here it is empty, so excluded
    other = private[private["group"] == OTHER]
    assert sorted(other["attribute"]) == sorted(exact["attribute"].unique()) and other["count"].eq(0).all()
    assert other["status"].eq("excluded: fewer than 30 rows").all()


def test_a_group_only_the_batch_has_is_released_as_other_levels() -> None:
    batch, reference = _groups(3, 3000, ("a", "b", "c")), _groups(4, 3000, ("a", "b"))
    private, _ = _privacy.private_groups(batch, reference, epsilon=1000.0, min_group=30)
    assert "c" not in set(private["group"]) and not private["group"].str.contains("g=c").any()
    only_c = batch[(batch["attribute"] == "g") & (batch["group"] == "c")]["count"].item()
    assert private.set_index(["attribute", "group"]).loc[("g", OTHER), "count"] == only_c


def test_private_group_cells_carry_laplace_noise_of_the_stated_scale() -> None:
    exact, reference = _groups(5, 4000), _groups(6, 500)
    private, release = _privacy.private_groups(exact, reference, epsilon=0.5, min_group=30)
    assert release.scale == 6.0 and private["noise_scale"].eq(6.0).all()
    cells = _privacy._cells_of(exact).set_index(["attribute", "group"])
    noisy = private[private["group"] != OTHER].set_index(["attribute", "group"])[list(_privacy.CELLS)]
    diff = (noisy - cells.loc[noisy.index]).to_numpy().ravel()
    assert diff.std() > 2 and np.abs(diff).mean() < 12  # Laplace(6): mean |x| = 6, rounded and clipped at 0
    recount = noisy.sum(axis=1).astype("int64")
    assert private[private["group"] != OTHER].set_index(["attribute", "group"])["count"].equals(recount)


@pytest.fixture
def project(demo_project: Path) -> Path:
    write_config(demo_project, {"privacy": FEATURES})
    return demo_project


def _split(config):  # noqa: ANN001, ANN202
    table = sources.read_reference(config)
    schema = sources.schema(config, table.frame, source=str(table.path))
    return table, *frames.split(table.frame, schema, config)


def test_private_training_releases_once_and_reuses_the_release(project: Path) -> None:
    config = load_config(project / "workbench.yaml")
    table, train, _ = _split(config)
    private, facts = _privacy.private_training(config, table, train, run_id="run-1")
    assert facts["reused"] is False and (facts["epsilon"], facts["dataset"], facts["sha256"]) == (1.0, "reference.parquet", table.sha256)
    assert (facts["parts"][0]["scale"], facts["columns"], facts["remaining"]) == (1.0, ["tenure_months"], 9.0)
    assert private.drop(columns="tenure_months").equals(train.drop(columns="tenure_months"))
    noise = (private["tenure_months"] - train["tenure_months"]).abs()
    assert 66 < noise.mean() < 78  # Laplace of scale 1 x (72 - 0) / 1: mean |noise| is 72 months
    again, facts2 = _privacy.private_training(config, table, train.iloc[::-1], run_id="run-2")
    assert facts2["reused"] is True and facts2["released_by"] == "run-1"
    assert again["tenure_months"].equals(private["tenure_months"].iloc[::-1])  # the same release, row by row
    [row] = privacy_ledger.ledger(config.store)
    assert (row["sha256"], row["releases"], row["epsilon_spent"]) == (table.sha256, 1, 1.0)


def test_a_refused_spend_writes_no_release(project: Path) -> None:
    write_config(project, {"privacy": {**FEATURES, "datasets": {"reference.parquet": {"epsilon": 0.5}}}})
    config = load_config(project / "workbench.yaml")
    table, train, _ = _split(config)
    with pytest.raises(BudgetExceeded, match=r"^privacy budget of dataset reference\.parquet .* release 'features' asks epsilon 1, "
                                             r"0\.5 of 0\.5 remain"):
        _privacy.private_training(config, table, train, run_id="run-1")
    assert list((config.store / "privacy" / "features").glob("*.parquet")) == []
    assert privacy_ledger.ledger(config.store)[0]["refused"] == 1


def test_private_features_must_be_numeric_columns_of_the_reference(project: Path) -> None:
    write_config(project, {"privacy": {"features": {"columns": ["contract"], "epsilon": 1.0}, "bounds": {"contract": [0, 1]}}})
    config = load_config(project / "workbench.yaml")
    table, train, _ = _split(config)
    with pytest.raises(DataError) as err:
        _privacy.private_training(config, table, train, run_id=None)
    assert str(err.value) == (f"{table.path}: privacy.features.columns contract are not numeric (Laplace noise needs numbers). "
                              "Fix: list numeric columns only in privacy.features.columns.")


def test_the_utility_cell_says_why_there_is_no_table() -> None:
    html = PrivacyUtility(None, "privacy.features is not configured")._repr_html_()
    assert html == "<h3>Privacy: utility of private features</h3><p>privacy.features is not configured</p>"
    table = pd.DataFrame({"setting": ["clean", "epsilon=1"], "epsilon": [np.nan, 1.0], "metric": [0.9, 0.85], "loss": [0.0, 0.05]})
    shown = PrivacyUtility(table, "note")._repr_html_()
    assert "<td>clean</td>" in shown and "<td>1</td>" in shown and "<td>0.05</td>" in shown
