"""Federated training and monitoring with the sites a real team brings: mismatched columns, odd names, a missing or unlabelled batch.

Each case either works or fails naming the site, the key or column and the fix, with nothing written.
The last two tests run real Flower processes (one two-site training, two monitoring runs: ~45 s).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.federated.conftest import SITES, federated_project, site_split
from workbench import federated
from workbench.config import load_config
from workbench.exceptions import ConfigError, DataError, FederatedError
from workbench.federated import _encoding, monitoring, watch
from workbench.governance import actions
from workbench.reports import catalog


@pytest.fixture(scope="module")
def summaries(site_files, tmp_path_factory):  # noqa: ANN001, ANN201
    """Each IID site's encoder summary, as its process sends it."""
    config = load_config(federated_project(tmp_path_factory.mktemp("fed-hostile"), site_files["iid"]))
    parts = {s: site_split(config, site_files["iid"][s]) for s in SITES}
    return {s: _encoding.site_summary(p[0], p[2], "binary") for s, p in parts.items()}


def _without(summary: dict, key: str, column: str) -> dict:
    schema = summary["schema"] | {key: [c for c in summary["schema"][key] if c != column]}
    return summary | {"schema": schema}


def test_a_site_without_a_column_is_named_with_the_column_not_two_long_lists(summaries) -> None:  # noqa: ANN001
    broken = summaries | {"c": _without(summaries["c"], "features", "region")}
    with pytest.raises(DataError) as err:
        _encoding.merge(broken, "binary")
    assert str(err.value) == ("site 'c' and site 'a' disagree on data.features: features only at site 'a': region. "
                              "Fix: give every site file the same columns and types, or declare data.features in the config.")


def test_a_column_one_site_writes_as_text_is_named(summaries) -> None:  # noqa: ANN001
    broken = summaries | {"b": _without(summaries["b"], "numeric", "tenure_months")}
    with pytest.raises(DataError) as err:
        _encoding.merge(broken, "binary")
    assert str(err.value) == ("site 'b' and site 'a' disagree on data.numeric: numeric only at site 'a': tenure_months. "
                              "Fix: give every site file the same columns and types, or declare data.numeric in the config.")


def test_a_site_name_with_spaces_or_unicode_is_refused_with_the_pattern_as_written(tmp_path: Path, site_files) -> None:  # noqa: ANN001
    path = federated_project(tmp_path, {"north site": site_files["iid"]["a"], "b": site_files["iid"]["b"]})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (f"{path}: key 'sites.north site.[key]': string should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{{0,63}}$' "
                              "(got 'north site'). Fix the value in the config.")  # was [a-za-z0-9]: the message was lower-cased whole


def test_a_site_answering_the_server_reads_only_its_own_batches(tmp_path: Path, site_files) -> None:  # noqa: ANN001
    path = federated_project(tmp_path, {"a": site_files["iid"]["a"], "b": site_files["iid"]["b"]})
    config = yaml.safe_load(path.read_text())
    config["sites"]["a"]["batches"] = "a-batches"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp_path / "a-batches").mkdir()
    for file in (tmp_path / "2026-08.parquet", tmp_path / "a-batches" / "2026-08.parquet", tmp_path / "secret.parquet"):
        file.write_bytes(b"")
    config = load_config(path)
    assert monitoring.site_batch(config, "a", "2026-08.parquet", batches_only=True) == tmp_path / "a-batches" / "2026-08.parquet"
    assert monitoring.site_batch(config, "a", "2026-08.parquet") == tmp_path / "2026-08.parquet"  # in-process callers may pass paths
    with pytest.raises(DataError) as err:  # before: the site read whatever file the server named
        monitoring.site_batch(config, "a", str(tmp_path / "secret.parquet"), batches_only=True)
    assert str(err.value) == (f"site 'a': batch '{tmp_path / 'secret.parquet'}' is a path, but a site reads only the files under "
                              "sites.a.batches. Fix: pass --batch the file name (e.g. 'secret.parquet').")


@pytest.fixture(scope="module")
def champion(site_files, demo_files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sites trained for one round and approved; site a's batch has no labels, site b's batch has another name."""
    folder = tmp_path_factory.mktemp("fed-hostile-monitor")
    path = federated_project(folder, {"a": site_files["iid"]["a"], "b": site_files["iid"]["b"]}, rounds=1)
    batch = pd.read_parquet(demo_files / "batches" / "2026-08.parquet")
    for site, part, name in (("a", batch.iloc[::2].drop(columns="churned"), "2026-08.parquet"), ("b", batch.iloc[1::2], "2026-07.parquet")):
        (folder / site).mkdir()
        part.to_parquet(folder / site / name, index=False)
    config = yaml.safe_load(path.read_text())
    for site in ("a", "b"):
        config["sites"][site]["batches"] = str(folder / site)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = federated.train(load_config(path), run_id="hostile-train")
    actions.approve(load_config(path), str(result["registered"]["version"]), reason="hostile tests")
    return path


@pytest.mark.slow
def test_a_site_missing_the_batch_is_named_with_its_own_reason_and_nothing_is_written(champion: Path) -> None:
    config = load_config(champion)
    with pytest.raises(FederatedError) as err:
        watch.monitor(config, batch="2026-08.parquet", run_id="missing-batch")
    message = str(err.value)  # was: "b (no answer: its process died, ...). Fix: restart the missing site(s)"
    assert re.fullmatch(r"round 1 \(monitor\): 1 of 2 sites answered, but federated\.min_sites is 2\. Missing: b \(failed: site 'b': "
                        r"no batch file\(s\) named '2026-08\.parquet' under .*/b\. Fix: pass the file name of one of the site's batches "
                        r"\(sites\.b\.batches\)\., round 1 monitor\)\. Nothing was written \(no drift or fairness table\)\. "
                        r"Fix: correct what the missing site\(s\) report and run again, or lower federated\.min_sites to go on without "
                        r"them\.", message), message
    run = catalog.get_run(config, "missing-batch")
    assert run.status == "failed"
    assert sorted(p.name for p in run.phase_dir("federated").iterdir()) == ["logs"]  # no result, no table


@pytest.mark.slow
def test_with_min_sites_met_the_run_goes_on_and_records_why_a_site_was_dropped(champion: Path) -> None:
    text = champion.read_text().replace("rounds: 1", "rounds: 1\n  min_sites: 1")
    lowered = champion.parent / "min1.yaml"
    lowered.write_text(text)
    out = watch.monitor(load_config(lowered), batch="2026-08.parquet", run_id="one-site")
    assert [(d["site"], d["step"], d["reason"].split(":")[0]) for d in out["dropped"]] == [("b", "monitor", "failed")]
    assert "no batch file(s) named '2026-08.parquet'" in out["dropped"][0]["reason"]
    (site,) = out["sites"]
    assert (site["site"], site["rows"], site["fairness"]) == ("a", 1000, "not counted: the batch lacks column(s) churned")
    text = watch.summary(out)  # what the command prints says it too
    assert "  site a: 1000 rows of 2026-08.parquet" in text and "; fairness not counted: the batch lacks column(s) churned" in text
    assert "  dropped: b (monitor): failed: site 'b': no batch file(s) named '2026-08.parquet'" in text


@pytest.mark.parametrize("batch", ["../2026-08.parquet", "/etc/passwd", "sub/2026-08.parquet", ".."])
def test_a_batch_given_as_a_path_is_refused_before_any_process_starts(tmp_path: Path, site_files, batch: str) -> None:  # noqa: ANN001
    from workbench.exceptions import ParameterError

    path = federated_project(tmp_path, {"a": site_files["iid"]["a"]})
    raw = yaml.safe_load(path.read_text())
    raw["sites"]["a"]["batches"] = "a-batches"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ParameterError, match=r"--batch .*: give the batch's file name \(or stem\) .* not a path"):
        watch.monitor(load_config(path), batch=batch)
    assert not (tmp_path / "reports").exists()


def test_private_features_are_refused_for_federated_training_instead_of_ignored(tmp_path: Path, site_files) -> None:  # noqa: ANN001
    path = federated_project(tmp_path, {"a": site_files["iid"]["a"]})
    raw = yaml.safe_load(path.read_text())
    raw["privacy"] = {"bounds": {"tenure_months": [0, 72]}, "features": {"columns": ["tenure_months"], "epsilon": 1.0}}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(path)
    with pytest.raises(ConfigError, match=r"key 'privacy.features': private features are made from the reference file at central training"):
        federated.train(config)
    federated.check(config, need_data=False)  # monitoring does not train: the key is no obstacle there
    assert not (tmp_path / "reports").exists()
