"""Federated training through real Flower processes: parity with pooled training, the registered version, the CLI."""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import workbench
from tests.federated.conftest import SITES, federated_project, site_split
from workbench import federated, registry
from workbench._io import read_json, sha256_file
from workbench.config import load_config
from workbench.governance import audit
from workbench.registry import changelog
from workbench.reports import catalog


def _pooled(config, files):  # noqa: ANN001, ANN202 - test helper
    """The sites' training rows pooled, the pooled holdout, and the same preprocessing and estimator fitted on the pooled rows."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from workbench.data import frames

    parts = {s: site_split(config, p) for s, p in files.items()}
    schema = parts["a"][2]
    train, holdout = (pd.concat([p[i] for p in parts.values()], ignore_index=True) for i in (0, 1))
    numeric = [c for c in schema.features if c in schema.numeric]
    categorical = [c for c in schema.features if c not in schema.numeric]
    pre = ColumnTransformer([("num", Pipeline([("i", SimpleImputer(strategy="mean")), ("s", StandardScaler())]), numeric),
                             ("cat", Pipeline([("i", SimpleImputer(strategy="constant", fill_value="(missing)")),
                                               ("o", OneHotEncoder(handle_unknown="ignore", sparse_output=False))]), categorical)])
    model = Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=2000))]).fit(frames.features(train, schema), train["churned"])
    return parts, schema, frames.features(holdout, schema), holdout["churned"].to_numpy(), model


@pytest.mark.slow
def test_iid_sites_train_within_0_01_auc_of_pooled_training_and_register_a_version_naming_each_site(tmp_path, site_files) -> None:  # noqa: ANN001
    import numpy as np
    from sklearn.metrics import roc_auc_score

    config = load_config(federated_project(tmp_path, site_files["iid"]))
    result = federated.train(config, compare_pooled=True)

    parts, _, x_holdout, y_holdout, pooled = _pooled(config, site_files["iid"])
    loaded = registry.load(config, result["registered"]["version"])  # from MLflow, hash-checked, skops with the trusted types
    auc_federated = roc_auc_score(y_holdout, loaded.model.predict_proba(x_holdout)[:, 1])
    auc_pooled = roc_auc_score(y_holdout, pooled.predict_proba(x_holdout)[:, 1])
    print(f"\nIID: federated AUC {auc_federated:.4f}, pooled AUC {auc_pooled:.4f}, gap {auc_federated - auc_pooled:+.4f}")
    assert abs(auc_federated - auc_pooled) <= 0.01
    # the merged encoder is pooled standardisation, not an approximation of it
    assert np.allclose(loaded.model[0].transform(x_holdout), pooled[0].transform(x_holdout), atol=1e-9)
    assert result["comparison"]["federated"]["roc_auc"] == pytest.approx(auc_federated, abs=1e-12)
    assert result["comparison"]["pooled"]["roc_auc"] == pytest.approx(auc_pooled, abs=1e-4)
    assert result["evaluation"]["metrics"]["roc_auc"] == pytest.approx(auc_federated, abs=2e-3)  # from the sites' score histograms
    assert result["evaluation"]["rows"] == len(y_holdout)

    run = catalog.get_run(config, result["run_id"])
    assert (run.status, run.manifest["kind"], run.phase_status("federated")) == ("succeeded", "federated", "succeeded")
    stored = run.read("federated")
    assert stored == json.loads(json.dumps(result))
    assert [h["round"] for h in stored["history"]] == [1, 2, 3, 4, 5] and all(h["sites"] == list(SITES) for h in stored["history"])
    assert stored["dropped"] == [] and stored["refused"] == []
    assert 0 < stored["timing"]["startup_s"] < stored["timing"]["federated_s"] < stored["timing"]["wall_s"]
    expected_sites = {s: {"sha256": sha256_file(site_files["iid"][s]), "rows": len(parts[s][0]), "holdout_rows": len(parts[s][1])} for s in SITES}
    assert {s: {k: v[k] for k in ("sha256", "rows", "holdout_rows")} for s, v in stored["sites"].items()} == expected_sites

    mv = registry.resolve(config, result["registered"]["version"])
    tags = mv.tags
    lineage = json.loads(tags[registry.TAG + "federated"])
    assert lineage["sites"] == expected_sites and (lineage["strategy"], lineage["rounds"], lineage["dropped"]) == ("fedavg", 5, [])
    assert (tags[registry.TAG + "semver"], tags[registry.TAG + "kind"], tags[registry.TAG + "estimator"]) == ("1.0.0", "candidate", "logistic_regression")
    assert tags[registry.TAG + "data_path"] == "federated:a,b,c"
    assert [r["round"] for r in json.loads(tags[registry.TAG + "federated_rounds"])] == [1, 2, 3, 4, 5]
    assert str(registry.alias_version(config, "challenger").version) == str(mv.version)
    # what travelled and was stored holds statistics, never a row: no customer id of any site appears
    ids = set().union(*(set(p[0]["customer_id"]) | set(p[1]["customer_id"]) for p in parts.values()))
    text = (run.path / "federated" / "result.json").read_text() + json.dumps(dict(tags))
    assert not any(i in text for i in list(ids)[:500])

    events = [json.loads(line) for line in audit.log_path(config.store).read_text().splitlines()]
    register = [e for e in events if e["action"] == "register"]
    assert len(register) == 1 and register[0]["details"]["federated"]["sites"] == expected_sites
    purposes = {e["details"].get("purpose") for e in events if e["action"] == "data_access"}
    assert {f"federated training at site {s}" for s in SITES} <= purposes
    assert changelog.read(config)[-1]["text"].startswith("1.0.0 (initial): federated fedavg training across 3 sites (a, b, c; 5 round(s))")


@pytest.mark.slow
def test_skewed_sites_report_their_gap_to_pooled_training_through_the_cli(tmp_path, site_files) -> None:  # noqa: ANN001
    federated_project(tmp_path, site_files["skewed"])
    out = workbench("federated", "train", "--compare-pooled", cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    assert "gap to pooled training (federated - pooled): roc_auc " in out.stdout
    config = load_config(tmp_path / "workbench.yaml")
    run = catalog.latest_run(config, kind="federated")
    result = read_json(run.phase_dir("federated") / catalog.RESULT_FILE)
    shares = {s: v["rows"] for s, v in result["sites"].items()}
    gap = result["comparison"]["gap"]["roc_auc"]
    print(f"\nskewed split (training rows {shares}): federated AUC {result['comparison']['federated']['roc_auc']:.4f}, "
          f"pooled {result['comparison']['pooled']['roc_auc']:.4f}, gap {gap:+.4f}")
    assert math.isfinite(gap) and result["comparison"]["federated"]["roc_auc"] > 0.8
    assert f"registered 1.0.0 as version {result['registered']['version']}" in out.stdout
