"""Federated monitoring on a trained demo: a batch split over three sites gives the pooled answer, or a noised one as stated."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import free_port, over_the_wire, workbench, write_config
from workbench import registry
from workbench.analyses import drift, fairness
from workbench.config import load_config
from workbench.data.dataset import Schema
from workbench.exceptions import BudgetExceeded, ConfigError, DataError, ParameterError
from workbench.federated import monitoring
from workbench.governance import privacy_ledger
from workbench.registry import estimators

pytestmark = pytest.mark.slow  # trains the demo once (about a minute); every test after it takes seconds

BATCH = "2026-08"
SITES = ("north", "centre", "south")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, demo_files: Path) -> Path:
    """The trained demo, with its last batch split over three sites that differ as real sites do."""
    project = tmp_path_factory.mktemp("fed-monitor")
    shutil.copytree(demo_files, project / "data" / "demo")
    write_config(project)
    run = workbench("run", cwd=project)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    batch = pd.read_parquet(project / "data" / "demo" / "batches" / f"{BATCH}.parquet")
    parts = np.array_split(np.arange(len(batch)), 3)
    sites = {}
    for name, rows in zip(SITES, parts, strict=True):
        part = batch.iloc[rows].reset_index(drop=True)
        if name == "centre":
            part = part.drop(columns=["support_calls"])  # a column this site does not collect
            part.loc[:20, "contract"] = "prepaid"  # a level only this site has
        if name == "south":
            part["tenure_months"] = part["tenure_months"].astype(str)  # written back as text
            part.loc[:30, "monthly_charges"] = np.nan
        folder = project / "sites" / name
        (folder / "batches").mkdir(parents=True)
        part.to_parquet(folder / "batches" / f"{BATCH}.parquet", index=False)
        part.to_parquet(folder / "train.parquet", index=False)
        sites[name] = {"data": f"sites/{name}/train.parquet", "batches": f"sites/{name}/batches"}
    config = yaml.safe_load((project / "workbench.yaml").read_text())
    config |= {"sites": sites, "privacy": {"budget": {"epsilon": 1000}, "datasets": {"tiny.parquet": {"epsilon": 0.5}}},
               "federated": {"address": f"127.0.0.1:{free_port()}", "round_timeout_s": 60}}
    (project / "workbench.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


def _payloads(config, champ, **kw) -> list[tuple[list[np.ndarray], dict]]:
    """Each site's payload, computed against the champion as the sites receive it."""
    arrays, scalars = monitoring.champion_to_arrays(champ)
    at_site = monitoring.champion_from_arrays(over_the_wire(arrays), dict(scalars))
    model = registry.load(config, "champion")
    return [(over_the_wire(a), s) for a, s in (monitoring.site_payload(config, site, BATCH, at_site, model=model, **kw) for site in SITES)]


def _pooled_expectation(config, champ, project: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What the drift and fairness phases give on the pooled batch: per-column drift rows and the group table."""
    pooled = pd.concat([pd.read_parquet(project / "sites" / s / "batches" / f"{BATCH}.parquet") for s in SITES], ignore_index=True)
    t = config.thresholds
    expected = drift.compare(champ.profile, pooled, alpha=t.data_drift, min_effect_numeric=t.drift_effect, min_effect_categorical=t.drift_effect,
                             min_rows=t.min_batch_rows, max_missing=t.max_missing_share, max_missing_increase=t.missing_share_increase,
                             drift_share=monitoring.DRIFT_SHARE)
    model = registry.load(config, "champion")
    scores = estimators.predict(model.model, pooled, Schema.from_dict(model.schema), "binary")
    groups = fairness.group_table(pooled["churned"], None, pooled[["gender", "age_band"]], scores=scores, seed=config.model.seed)
    return expected.columns, groups


def test_three_sites_give_the_pooled_drift_and_fairness_exactly(project: Path, tmp_path: Path) -> None:
    config = load_config(project / "workbench.yaml")
    champ = monitoring.champion(config, mode="exact")
    result = monitoring.compare(config, monitoring.merge_payloads(_payloads(config, champ), champ), champ)

    columns, groups = _pooled_expectation(config, champ, project)
    pd.testing.assert_frame_equal(result.drift.columns, columns, check_exact=True)  # bit for bit: every statistic and status
    pd.testing.assert_frame_equal(result.groups, groups, check_exact=True)  # the fairness phase's table, intervals included

    status = result.drift.columns.set_index("column")["status"]
    assert status["tenure_months"] == "type changed" and status["support_calls"] == "missing share increased"
    summary = result.to_dict()
    assert [s["problems"] for s in summary["sites"]] == [{}, {"support_calls": "missing column"}, {"tenure_months": "type changed"}]
    assert summary["fairness"]["status"] == "assessed" and summary["dp_epsilon"] is None
    written = monitoring.save(result, tmp_path / "out")
    assert sorted(written) == ["columns.parquet", "data_drift.json", "disparity.parquet", "federated.json", "groups.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(written["columns.parquet"]), columns)


def test_through_real_flower_processes_the_merge_is_the_pooled_batch(project: Path) -> None:
    """Acceptance: the batch split over three sites, one Flower server and one process per site, exact mode."""
    proc = workbench("federated", "monitor", "--batch", BATCH, "--json", cwd=project, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["mode"] == "exact" and [s["site"] for s in out["sites"]] == sorted(SITES) and out["dropped"] == []
    folder = project / "reports" / out["run_id"] / "federated"
    config = load_config(project / "workbench.yaml")
    columns, groups = _pooled_expectation(config, monitoring.champion(config, mode="exact"), project)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "columns.parquet"), columns, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "groups.parquet"), groups, check_exact=True)


def test_dp_refuses_exact_mode_and_an_exhausted_budget(project: Path) -> None:
    config = load_config(project / "workbench.yaml")
    champ = monitoring.champion(config, mode="exact")
    with pytest.raises(ParameterError, match="federated.dp_epsilon is set, but the drift profile is in exact mode, which ships each column's sorted "
                                             "values: values cannot be noised. Fix: monitor in sketch mode"):
        monitoring.site_payload(config, "north", BATCH, champ, dp_epsilon=1.0)
    sketch = monitoring.champion(config, mode="sketch", bins=50)
    tiny = project / "tiny.parquet"
    pd.read_parquet(project / "sites" / "north" / "batches" / f"{BATCH}.parquet").head(100).to_parquet(tiny)
    with pytest.raises(BudgetExceeded, match=r"privacy budget of dataset tiny.parquet \(sha256 \w+\) exceeded: release 'federated monitoring at "
                                             r"site north' asks epsilon 1, 0.5 of 0.5 remain .* Fix: raise privacy.budget.epsilon \(or "
                                             r"privacy.datasets.tiny.parquet.epsilon\)"):
        monitoring.site_payload(config, "north", tiny, sketch, dp_epsilon=1.0)
    (row,) = [e for e in privacy_ledger.ledger(config.store) if e["dataset"] == "tiny.parquet"]
    assert row["epsilon_spent"] == 0 and row["refused"] == 1


def test_dp_noise_per_count_has_the_stated_scale(project: Path) -> None:
    config = load_config(project / "workbench.yaml")
    champ = monitoring.champion(config, mode="sketch", bins=50)
    model = registry.load(config, "champion")
    residuals = []
    for site in ("north", "centre"):
        exact = monitoring.read_payload(*monitoring.site_payload(config, site, BATCH, champ, model=model))
        arrays, meta = monitoring.site_payload(config, site, BATCH, champ, model=model, dp_epsilon=2.0)
        noisy = monitoring.read_payload(arrays, meta)
        # the stated sensitivity: the row count, one histogram per column the site has, one per fairness attribute (3)
        k = 1 + len(drift.count_vectors(exact[0], champ.profile)) + 3
        assert k == (14 if site == "north" else 13) and meta["noise_scale"] == k / 2.0 and meta["dp_epsilon"] == 2.0
        clean = [exact[0].rows, *drift.count_vectors(exact[0], champ.profile).values()]
        labelled = pd.read_parquet(project / "sites" / site / "batches" / f"{BATCH}.parquet")
        scores = estimators.predict(model.model, labelled.assign(support_calls=labelled.get("support_calls", np.nan)),
                                    Schema.from_dict(model.schema), "binary")
        fair = fairness.group_counts(labelled["churned"], None, labelled[["gender", "age_band"]], scores=scores, domain=champ.groups)
        clean += [*fair.counts, fair.combo_counts]
        released = [noisy[0].rows, *drift.count_vectors(noisy[0], champ.profile).values(), *noisy[1].counts, noisy[1].combo_counts]
        diff = np.concatenate([np.ravel(b) - np.ravel(a) for a, b in zip(clean, released, strict=True)])
        residuals.append(diff / meta["noise_scale"])  # in units of the stated scale b
    r = np.concatenate(residuals)
    assert len(r) > 750
    # Laplace(b) / b: E|X| = 1 (sd 1), Var X = 2 (sd of the sample variance sqrt(20 / n)); rounding to whole counts adds < 1 %.
    # With ~780 draws each band is over 4 standard errors wide (simulated: fewer than 1 failure in 50,000 runs).
    assert abs(np.mean(np.abs(r)) - 1) < 0.15, np.mean(np.abs(r))
    assert abs(np.var(r) - 2) < 1.0, np.var(r)
    assert abs(np.mean(r)) < 5 * math.sqrt(2 / len(r))  # centred: no clipping at the site, so no bias
    spent = [e["epsilon_spent"] for e in privacy_ledger.ledger(config.store) if e["dataset"] == f"{BATCH}.parquet"]
    assert spent == [2.0, 2.0]  # one budget per site's file (by content hash), each spent once


def test_dp_at_a_large_epsilon_gives_the_sketch_decision(project: Path) -> None:
    config = load_config(project / "workbench.yaml")
    champ = monitoring.champion(config, mode="sketch", bins=50)
    clean = monitoring.compare(config, monitoring.merge_payloads(_payloads(config, champ), champ), champ)
    noisy = monitoring.compare(config, monitoring.merge_payloads(_payloads(config, champ, dp_epsilon=300.0), champ), champ)
    # noise scale 14/300: a count moves by one with probability ~2e-5, so the decisions are the sketch's
    assert noisy.drift.columns["status"].tolist() == clean.drift.columns["status"].tolist()
    assert (noisy.drift.columns["n_batch"] - clean.drift.columns["n_batch"]).abs().max() <= 2
    summary = noisy.to_dict()
    assert summary["dp_epsilon"] == 300.0 and summary["merged_variance_per_count"] == pytest.approx(2 * (14**2 + 13**2 + 14**2) / 300**2)
    assert summary["fairness"]["min_group"] > 30  # groups that may be noise alone are not judged


def test_merge_refuses_mixed_foreign_or_repeated_payloads(project: Path) -> None:
    config = load_config(project / "workbench.yaml")
    champ = monitoring.champion(config, mode="sketch", bins=50)
    payloads = _payloads(config, champ)
    with pytest.raises(ParameterError, match=r"site 'north' sent its statistics twice"):
        monitoring.merge_payloads([payloads[0], payloads[0]], champ)
    other = monitoring.champion(config, mode="exact")
    with pytest.raises(ParameterError, match=r"site 'north' computed its statistics against model version \d+ / profile \w+, not"):
        monitoring.merge_payloads(payloads, other)
    noisy = monitoring.site_payload(config, "south", BATCH, champ, dp_epsilon=1.0)
    with pytest.raises(ParameterError, match=r"the sites sent counts at different dp_epsilon \(\[0.0, 1.0\]; 0 = exact\)"):
        monitoring.merge_payloads([*payloads[:2], noisy], champ)
    with pytest.raises(ConfigError, match="no site 'east' under 'sites'; the sites are: north, centre, south"):
        monitoring.site_payload(config, "east", BATCH, champ)
    with pytest.raises(DataError, match=r"site 'north': no batch file\(s\) named '2026-01' under"):
        monitoring.site_payload(config, "north", "2026-01", champ)


def test_the_summary_says_whether_the_merged_batch_drifted() -> None:
    from workbench.federated import watch

    result = {"run_id": "r1", "batch": "2026-08.parquet", "mode": "sketch", "drift": {"drift": True, "drifted_columns": 3, "columns": 10},
              "sites": [{"site": "a", "rows": 5, "batch": "2026-08.parquet", "sha256": "ab" * 32}], "fairness": {"status": "ok"}}
    lines = watch.summary(result).splitlines()
    assert lines[1] == "  drift: DRIFT: 3 of 10 columns drifted"
    assert watch.summary(result | {"drift": {"drift": False, "drifted_columns": 0, "columns": 10}}).splitlines()[1] == "  drift: no drift: 0 of 10 columns drifted"
