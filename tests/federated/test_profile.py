"""The reference profile of a federated model: computed by the sites at training, monitored by the sites, refused centrally."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import workbench
from tests.federated.conftest import SITES, federated_project
from workbench import federated, registry
from workbench.analyses import drift
from workbench.analyses.drift import _numeric as num
from workbench.config import load_config
from workbench.exceptions import ParameterError, PhaseError
from workbench.federated import _profile_store, monitoring, watch

BATCH = "2026-08"
K = drift.QUANTILE_LEVELS


def _rank_bounds(pooled: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact pooled quantiles at levels j/bins and j/bins + 1/K (inverted CDF, whole-number ranks)."""
    n, j = pooled.size, np.arange(bins + 1, dtype=np.int64)
    low = -(-j * n // bins)  # ceil(j n / bins)
    high = np.minimum(-(-(j * K + bins) * n // (bins * K)), n)  # ceil((j/bins + 1/K) n)
    return pooled[np.maximum(low, 1) - 1], pooled[high - 1]


def test_merged_quantiles_lie_between_the_pooled_quantiles_at_p_and_p_plus_1_over_k() -> None:
    rng = np.random.default_rng(5)
    sites = [rng.normal(0, 1, 3000),  # continuous
             np.r_[np.zeros(900), rng.exponential(2, 600)],  # a spike of ties (zero-inflated)
             rng.integers(0, 40, 250).astype(float),  # fewer rows than quantile levels, discrete
             rng.normal(5, 3, 17)]
    summaries = [(len(v), drift.quantile_summary(np.sort(v), 1000)[0]) for v in sites]
    pooled = np.sort(np.concatenate(sites))
    for bins in (1000, 10, 7):
        merged = drift.pooled_quantiles(summaries, bins)
        low, high = _rank_bounds(pooled, bins)
        assert merged.shape == (bins + 1,) and merged[0] == pooled[0] and merged[-1] == pooled[-1]
        assert np.all(low <= merged) and np.all(merged <= high), bins
    # a column with few distinct values in all gets every value as an edge: the central sketch's edges exactly
    few = [np.sort(rng.integers(0, 30, 500).astype(float)) for _ in range(3)]
    edges, psi = drift.federated_edges([(v.size, *drift.quantile_summary(v, 1000)) for v in few], 1000)
    assert np.array_equal(edges, num.sketch_edges(np.sort(np.concatenate(few)), 1000)) and np.isin(psi, edges).all()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, demo_files: Path, site_files: dict[str, dict[str, Path]]) -> tuple[Path, dict]:
    """The demo trained across three IID sites (one round), each site with a third of batch 2026-08; made champion."""
    project = tmp_path_factory.mktemp("fed-profile")
    config_path = federated_project(project, site_files["iid"], rounds=1)
    batch = pd.read_parquet(demo_files / "batches" / f"{BATCH}.parquet")
    raw = yaml.safe_load(config_path.read_text())
    for site, rows in zip(SITES, np.array_split(np.arange(len(batch)), 3), strict=True):
        (project / "sites" / site).mkdir(parents=True)
        batch.iloc[rows].to_parquet(project / "sites" / site / f"{BATCH}.parquet", index=False)
        raw["sites"][site]["batches"] = f"sites/{site}"
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(config_path)
    result = federated.train(config)
    registry.set_alias(config, "champion", result["registered"]["version"])
    return project, result


@pytest.mark.slow
def test_the_sites_profile_holds_the_pooled_counts_exactly_over_edges_near_the_pooled_quantiles(trained, site_files) -> None:  # noqa: ANN001
    project, result = trained
    config = load_config(project / "workbench.yaml")
    version = result["registered"]["version"]
    champ = monitoring.champion(config, mode="sketch")
    profile = champ.profile
    assert (champ.version, profile.mode, profile.bins) == (version, "sketch", 1000)
    assert result["profile"] == {"sites": list(SITES), "bins": 1000, "profile_id": profile.profile_id}
    assert (_profile_store.folder(config, version) / "profile.json").is_file()  # where the drift phase's cache looks

    pooled = pd.concat([pd.read_parquet(site_files["iid"][s]) for s in SITES], ignore_index=True)
    assert profile.rows == len(pooled)
    for name, col in profile.numeric.items():
        values, missing = num.finite(num.to_float(pooled[name]))
        values = np.sort(values)
        assert np.array_equal(col.counts, num.counts_from_sorted(values, col.edges)), name  # exact, not approximate
        assert np.isin(col.psi_edges, col.edges).all() and np.array_equal(col.psi_counts, num.counts_from_sorted(values, col.psi_edges)), name
        assert (col.count, col.missing) == (values.size, missing)
        assert col.mean == pytest.approx(values.mean(), rel=1e-12) and col.std == pytest.approx(values.std(), rel=1e-9)
        if num.distinct(values).size <= profile.bins:  # few distinct values: the central sketch's edges exactly
            assert np.array_equal(col.edges, num.sketch_edges(values, profile.bins)), name
        else:  # quantile edges within the stated error: between the pooled quantiles at p and p + 1/K
            quantiles = drift.pooled_quantiles([(site.size, drift.quantile_summary(site, 1000)[0]) for site in
                                                (np.sort(num.finite(num.to_float(pd.read_parquet(site_files["iid"][s])[name]))[0]) for s in SITES)], 1000)
            assert np.array_equal(col.edges, num.edges_from_quantiles(quantiles)), name
            low, high = _rank_bounds(values, 1000)
            assert np.all(low <= quantiles) and np.all(quantiles <= high), name
            single = np.r_[False, col.edges[1:] == np.nextafter(col.edges[:-1], np.inf), False]
            assert col.counts[~single].max() / values.size <= 1 / 1000 + 1 / K + 2 / values.size, name  # about 1/bins a bin, as centrally
    for name, col in profile.categorical.items():
        counts, missing = drift._categorical.level_counts(pooled[name])
        assert (col.counts, col.missing) == (counts, missing), name
    assert champ.sensitive == ["gender", "age_band"]
    for name in champ.sensitive:
        assert champ.groups[name].tolist() == np.unique(np.asarray(pooled[name].dropna().unique())).tolist()

    with pytest.raises(ParameterError, match=rf"model 'churn-demo' v{version} was trained across sites \(a, b, c\): it has no reference file, only the "
                                             r"sketch-mode profile its sites computed at training, so mode 'exact' is not available. Fix: monitor "
                                             r"it in sketch mode \(`workbench federated monitor --batch NAME --mode sketch`\)"):
        monitoring.champion(config, mode="exact")
    with pytest.raises(ParameterError, match="mode 'exact' is not available"):
        watch.monitor(config, batch=BATCH, mode="exact")  # refused before any process starts


@pytest.mark.slow
def test_the_federated_champion_is_monitored_by_its_sites_as_a_central_sketch_compare_would(trained) -> None:  # noqa: ANN001
    project, result = trained
    proc = workbench("federated", "monitor", "--batch", BATCH, "--mode", "sketch", "--json", cwd=project, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert (out["mode"], out["version"], [s["site"] for s in out["sites"]]) == ("sketch", result["registered"]["version"], list(SITES))
    config = load_config(project / "workbench.yaml")
    champ = monitoring.champion(config, mode="sketch")
    pooled = pd.concat([pd.read_parquet(project / "sites" / s / f"{BATCH}.parquet") for s in SITES], ignore_index=True)
    t = config.thresholds
    central = drift.compare(champ.profile, pooled, alpha=t.data_drift, min_effect_numeric=t.drift_effect, min_effect_categorical=t.drift_effect,
                            min_rows=t.min_batch_rows, max_missing=t.max_missing_share, max_missing_increase=t.missing_share_increase,
                            drift_share=monitoring.DRIFT_SHARE)
    columns = pd.read_parquet(project / "reports" / out["run_id"] / "federated" / "columns.parquet")
    # merged sketch counts are exact, so the decision is the central one; the sums of values beyond the reference range are
    # added site by site (one float rounding, ~1e-16 relative, in the Wasserstein part)
    assert columns["status"].tolist() == central.columns["status"].tolist() and columns["drifted"].tolist() == central.columns["drifted"].tolist()
    pd.testing.assert_frame_equal(columns, central.columns, check_exact=False, rtol=1e-12)
    assert len(columns) == len(champ.profile.columns)
    assert out["fairness"]["status"] == "assessed"


@pytest.mark.slow
def test_central_monitor_refuses_a_federated_champion_before_anything_runs(trained) -> None:  # noqa: ANN001
    project, result = trained
    before = sorted(p.name for p in (project / "reports").iterdir())
    proc = workbench("monitor", "--batch", str(project / "sites" / "a" / f"{BATCH}.parquet"), cwd=project, timeout=120)
    version = result["registered"]["version"]
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (f"model 'churn-demo' v{version} (champion, 1.0.0) was trained across sites (a, b, c) by `workbench federated train`: it has no reference "
            "file for the score and drift phases to compare a batch with, only the sketch profile its sites computed. Fix: monitor it where "
            "the data lives: `workbench federated monitor --batch NAME --mode sketch`") in proc.stderr
    assert sorted(p.name for p in (project / "reports").iterdir()) == before  # no run folder
    from workbench.phases import _inputs

    config = load_config(project / "workbench.yaml")
    with pytest.raises(PhaseError, match=r"was trained across sites \(a, b, c\)"):  # a phase reaching for the reference file
        _inputs.reference_frame(config, dict(registry.alias_version(config, "champion").tags))
