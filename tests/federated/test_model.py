"""The pieces the processes run, in-process and fast: the merged encoder, local steps, pooled metrics, forests, admission proofs, checks."""

from __future__ import annotations

import re

import pytest

from tests.federated.conftest import SITES, federated_project, site_split
from workbench.config import load_config
from workbench.exceptions import ConfigError, DataError
from workbench.federated import _encoding, _model, _protocol, check
from workbench.registry import models


@pytest.fixture(scope="module")
def sites(site_files, tmp_path_factory):  # noqa: ANN001, ANN201
    """The skewed sites' training and holdout rows (as their processes split them) and their merged spec."""
    config = load_config(federated_project(tmp_path_factory.mktemp("fed-model"), site_files["skewed"]))
    parts = {s: site_split(config, site_files["skewed"][s]) for s in SITES}
    schema = parts["a"][2]
    spec = _encoding.merge({s: _encoding.site_summary(p[0], schema, "binary") for s, p in parts.items()}, "binary")
    return config, parts, schema, spec | {"strategy": "fedavg", "penalty": 1.0}


def test_the_encoder_merged_from_site_summaries_is_the_one_fitted_on_the_pooled_rows(sites) -> None:  # noqa: ANN001
    import numpy as np
    import pandas as pd

    from workbench.data import frames

    _, parts, schema, spec = sites
    pooled = pd.concat([frames.features(p[0], schema) for p in parts.values()], ignore_index=True)
    for col in _encoding.numeric_features(spec):
        observed = pooled[col].dropna()
        assert spec["mean"][col] == pytest.approx(observed.mean(), rel=1e-12)
        assert spec["var"][col] == pytest.approx(pooled[col].fillna(observed.mean()).var(ddof=0), rel=1e-9)
    assert spec["levels"]["region"] == sorted(pooled["region"].dropna().unique())
    merged, fitted = _encoding.preprocessor(spec), _encoding.unfitted(spec).fit(pooled)
    holdout = pd.concat([frames.features(p[1], schema) for p in parts.values()], ignore_index=True)
    assert np.allclose(merged.transform(holdout), fitted.transform(holdout), rtol=0, atol=1e-9)
    assert spec["rows"] == len(pooled) and spec["classes"] == {"0": int((pd.concat([p[0] for p in parts.values()])["churned"] == 0).sum()),
                                                              "1": int((pd.concat([p[0] for p in parts.values()])["churned"] == 1).sum())}


def test_sites_that_disagree_on_the_columns_are_refused(sites) -> None:  # noqa: ANN001
    _, parts, schema, _ = sites
    summaries = {s: _encoding.site_summary(p[0], schema, "binary") for s, p in parts.items()}
    summaries["b"]["schema"]["numeric"] = summaries["b"]["schema"]["numeric"][:-1]
    with pytest.raises(DataError, match=re.escape("site 'b' and site 'a' disagree on data.numeric: ")):
        _encoding.merge(summaries, "binary")


def test_pooled_metrics_from_the_sites_equal_the_metrics_of_the_pooled_rows() -> None:
    import numpy as np
    from sklearn import metrics

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 3000).astype(float)
    score = 1 / (1 + np.exp(-(2.0 * y - 1 + rng.normal(0, 1.5, 3000))))
    cuts = [0, 700, 1900, 3000]
    sites = {f"s{i}": (cuts[i + 1] - cuts[i], _model.site_metrics("binary", y[cuts[i]:cuts[i + 1]], score[cuts[i]:cuts[i + 1]])[1])
             for i in range(3)}
    merged = _model.merge_metrics("binary", sites)["metrics"]
    assert merged["accuracy"] == pytest.approx(metrics.accuracy_score(y, score >= 0.5), abs=1e-12)
    assert merged["log_loss"] == pytest.approx(metrics.log_loss(y, score), abs=1e-12)
    assert merged["brier"] == pytest.approx(metrics.brier_score_loss(y, score), abs=1e-12)
    assert merged["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, score), abs=1e-3)
    target = rng.normal(50, 10, 3000)
    pred = target + rng.normal(0, 3, 3000)
    sites = {f"s{i}": (cuts[i + 1] - cuts[i], _model.site_metrics("regression", target[cuts[i]:cuts[i + 1]], pred[cuts[i]:cuts[i + 1]])[1])
             for i in range(3)}
    merged = _model.merge_metrics("regression", sites)["metrics"]
    assert merged["rmse"] == pytest.approx(np.sqrt(metrics.mean_squared_error(target, pred)), rel=1e-12)
    assert merged["mae"] == pytest.approx(metrics.mean_absolute_error(target, pred), rel=1e-12)
    assert merged["r2"] == pytest.approx(metrics.r2_score(target, pred), rel=1e-12)


def test_fedavg_regression_reaches_pooled_ridge_and_its_model_holds_trusted_types_only() -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import Ridge

    from workbench.data import infer_schema

    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x1": rng.normal(10, 3, 3000), "x2": rng.normal(0, 1, 3000), "g": rng.choice(["p", "q", "r"], 3000)})
    frame["y"] = 4 * frame["x1"] - 2 * frame["x2"] + frame["g"].map({"p": 0.0, "q": 5.0, "r": -3.0}) + rng.normal(0, 1, 3000)
    schema = infer_schema(frame, target="y")
    parts = [frame.iloc[:800], frame.iloc[800:2000], frame.iloc[2000:]]
    spec = _encoding.merge({str(i): _encoding.site_summary(p, schema, "regression") for i, p in enumerate(parts)}, "regression")
    spec |= {"strategy": "fedavg", "penalty": 1.0}
    pre = _encoding.preprocessor(spec)
    data = [(pre.transform(p[["x1", "x2", "g"]]), p["y"].to_numpy()) for p in parts]
    params = _model.initial_parameters(spec)
    for round_ in range(10):
        steps = [_model.local_step(spec, params, x, y, epochs=1, seed=round_) for x, y in data]
        params = [sum(len(y) / 3000 * s[0][i] for s, (_, y) in zip(steps, data, strict=True)) for i in range(2)]
    model = _model.pipeline(spec, _model.linear_model(spec, params))
    pooled = Ridge(alpha=1.0).fit(pre.transform(frame[["x1", "x2", "g"]]), frame["y"])
    assert model.score(frame[["x1", "x2", "g"]], frame["y"]) == pytest.approx(pooled.score(pre.transform(frame[["x1", "x2", "g"]]), frame["y"]), abs=0.01)
    assert models.untrusted_types(model) == []


def test_bagging_pools_every_sites_trees_into_one_forest_of_trusted_types(sites) -> None:  # noqa: ANN001
    import numpy as np

    from workbench.data import frames

    _, parts, schema, spec = sites
    spec = spec | {"strategy": "bagging"}
    pre = _encoding.preprocessor(spec)
    encoded = {s: (pre.transform(frames.features(p[0], schema)), p[0]["churned"].to_numpy()) for s, p in parts.items()}
    forests = [_model.load_forest(_model.local_forest(spec, x, y, trees=n, seed=1)) for (x, y), n in zip(encoded.values(), (3, 5, 2), strict=True)]
    pooled = _model.assemble_forest(forests)
    x = pre.transform(frames.features(parts["a"][1], schema))
    by_tree = np.mean([tree.predict_proba(x) for forest in forests for tree in forest.estimators_], axis=0)
    assert pooled.n_estimators == 10 and np.allclose(pooled.predict_proba(x), by_tree)
    assert models.untrusted_types(_model.pipeline(spec, pooled)) == []


def test_an_admission_proof_holds_only_for_its_secret_site_and_nonce() -> None:
    answer = _protocol.proof("s3cret", "a", "n1")
    assert _protocol.verify("s3cret", "a", "n1", answer)
    assert not any([_protocol.verify("other", "a", "n1", answer), _protocol.verify("s3cret", "b", "n1", answer),
                    _protocol.verify("s3cret", "a", "n2", answer), _protocol.verify("s3cret", "a", "n1", None)])


def test_a_config_that_cannot_federate_is_refused_before_any_process_starts(tmp_path, site_files, monkeypatch) -> None:  # noqa: ANN001
    path = federated_project(tmp_path, site_files["iid"], min_sites=4)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: key 'federated.min_sites' is 4 but only 3 sites are configured. "
                                                    "Fix: lower federated.min_sites or add sites.")):
        check(load_config(path))
    text = path.read_text().replace("min_sites: 4", "min_sites: 2")
    path.write_text(text.replace(f"data: {site_files['iid']['a']}", f"data: {site_files['iid']['a']}\n    token_env: WB_TEST_SITE_A_TOKEN"))
    monkeypatch.delenv("WB_TEST_SITE_A_TOKEN", raising=False)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: key 'sites.a.token_env': environment variable WB_TEST_SITE_A_TOKEN is not set. "
                                                    "Fix: export WB_TEST_SITE_A_TOKEN with the site's secret, or remove token_env for a per-run secret.")):
        check(load_config(path))
    monkeypatch.setenv("WB_TEST_SITE_A_TOKEN", "from-the-environment")
    check(load_config(path))
