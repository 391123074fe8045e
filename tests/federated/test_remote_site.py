"""A site on its own machine (``remote: true``): it joins training and monitoring with ``workbench federated site``.

"Its own machine" is a separate project folder with its own store, reports and copy of the config,
holding only its own files, and a separate process started with the real console script: the
server's side never reads the site's files, and the site never reaches the server's registry (the
champion comes with the monitoring task).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import BIN, workbench
from tests.federated.conftest import federated_project
from workbench import federated, registry
from workbench._io import sha256_file
from workbench.config import load_config
from workbench.exceptions import ConfigError
from workbench.federated import site, watch
from workbench.federated.train import check, jobs, local_sites, remote_sites, site_secrets
from workbench.governance import audit
from workbench.reports import catalog

BATCH = "2026-08"
SECRET_ENV = "WB_TEST_SITE_C_TOKEN"


def _machines(root: Path, demo_files: Path, files: dict[str, Path], **federated_keys: object) -> tuple[Path, Path]:
    """The server's project (sites a, b local; c remote, its file not there) and site c's machine (only c's files)."""
    server = root / "server"
    server.mkdir()
    path = federated_project(server, files, **federated_keys)
    raw = yaml.safe_load(path.read_text())
    batch = pd.read_parquet(demo_files / "batches" / f"{BATCH}.parquet")
    machine = root / "site-c"
    for name, rows in zip(("a", "b", "c"), np.array_split(np.arange(len(batch)), 3), strict=True):
        home = machine if name == "c" else server / "sites" / name
        home.mkdir(parents=True, exist_ok=True)
        batch.iloc[rows].to_parquet(home / f"{BATCH}.parquet", index=False)
        raw["sites"][name]["batches"] = str(home)
    raw["sites"]["c"] |= {"data": "not/on/this/machine.parquet", "remote": True, "token_env": SECRET_ENV}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    (machine / "c.parquet").write_bytes(files["c"].read_bytes())
    raw["sites"]["c"] |= {"data": "c.parquet", "batches": "."}  # the same project config, with this machine's paths
    (machine / "workbench.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return path, machine


def _site(machine: Path, *args: str, secret: str) -> subprocess.Popen[str]:
    env = dict(os.environ) | {SECRET_ENV: secret}
    return subprocess.Popen([str(BIN / "workbench"), "federated", "site", "--site", "c", "--wait", "60", "--json", *args],
                            cwd=machine, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_remote_site_started_first_trains_and_monitors_with_the_local_sites(tmp_path, demo_files, site_files, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(SECRET_ENV, "the secret of c")
    path, machine = _machines(tmp_path, demo_files, site_files["iid"], rounds=2)
    config = load_config(path)
    assert check(config) is None and sorted(local_sites(config)) == ["a", "b"]  # c's file is on its own machine

    joining = _site(machine, secret="the secret of c")  # before the server: it waits for it
    result = federated.train(config)
    out, err = joining.communicate(timeout=120)
    assert joining.returncode == 0, out + err
    joined = json.loads(out)
    assert (joined["site"], joined["role"], joined["server"], joined["tls"]) == ("c", "train", config.federated.address, False)
    assert joined["tasks"] >= 1 + 2 * 2  # the summary, then a fit and an evaluate per round (and the profile passes)

    assert sorted(result["sites"]) == ["a", "b", "c"] and result["dropped"] == [] and result["refused"] == []
    assert result["sites"]["c"]["sha256"] == sha256_file(machine / "c.parquet")
    lineage = json.loads(registry.resolve(config, result["registered"]["version"]).tags[registry.TAG + "federated"])
    assert lineage["sites"]["c"]["sha256"] == sha256_file(machine / "c.parquet")
    # the site's machine keeps its own record: the run folder and its data-access log; the server's store never read c's file
    site_config = load_config(machine / "workbench.yaml")
    run = catalog.get_run(site_config, joined["run_id"])
    assert (run.status, run.manifest["kind"], run.read("federated")["tasks"]) == ("succeeded", "federated-site", joined["tasks"])
    assert [e["details"]["purpose"] for e in audit.access(site_config.store, "c.parquet")] == ["federated training at site c"]
    assert audit.access(config.store, result["sites"]["c"]["sha256"]) == []

    registry.set_alias(config, "champion", result["registered"]["version"])
    joining = _site(machine, "--monitor", secret="the secret of c")
    monitored = watch.monitor(config, batch=BATCH)
    out, err = joining.communicate(timeout=120)
    assert joining.returncode == 0, out + err
    assert json.loads(out)["role"] == "monitor"
    by_site = {s["site"]: s for s in monitored["sites"]}
    assert sorted(by_site) == ["a", "b", "c"] and monitored["mode"] == "sketch"
    assert (by_site["c"]["sha256"], by_site["c"]["rows"]) == (sha256_file(machine / f"{BATCH}.parquet"), len(pd.read_parquet(machine / f"{BATCH}.parquet")))
    assert monitored["fairness"]["status"] == "assessed"  # c scored its labelled rows with the champion the server sent
    assert not (site_config.store / "mlflow.db").exists() or registry.alias_version(site_config, "champion") is None


@pytest.mark.slow
def test_a_remote_site_with_the_wrong_secret_is_refused_and_says_so(tmp_path, demo_files, site_files, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(SECRET_ENV, "the secret of c")
    path, machine = _machines(tmp_path, demo_files, site_files["iid"], rounds=1, min_sites=2, round_timeout_s=8)
    config = load_config(path)
    joining = _site(machine, secret="a guess")
    result = federated.train(config)
    out, err = joining.communicate(timeout=120)
    assert joining.returncode == 1, out + err
    assert "site 'c': the server at" in err and "closed the session without sending a task: it refused this site" in err
    assert sorted(result["sites"]) == ["a", "b"]
    assert [(r["site"], r["reason"]) for r in result["refused"]] == [("c", "wrong proof: its secret is not the site's")]
    assert [d["site"] for d in result["dropped"]] == ["c"]
    runs = catalog.list_runs(load_config(machine / "workbench.yaml"))
    assert [(r.manifest["kind"], r.status) for r in runs] == [("federated-site", "failed")]


def test_a_remote_site_needs_a_secret_both_machines_hold(tmp_path) -> None:  # noqa: ANN001
    path = federated_project(tmp_path, {"a": tmp_path / "a.parquet", "c": tmp_path / "c.parquet"})
    raw = yaml.safe_load(path.read_text())
    raw["sites"]["c"]["remote"] = True
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError, match=r"sites\.c.*a remote site needs token_env.*Fix: add token_env"):
        load_config(path)


@pytest.mark.parametrize(("args", "env", "found"), [
    (["--site", "zz"], {}, "site 'zz' is not in key 'sites' (configured: a, c)"),
    (["--site", "a"], {}, "key 'sites.a.token_env' is not set: a site on its own machine proves itself"),
    (["--site", "c"], {}, f"environment variable {SECRET_ENV} is not set. Fix: export {SECRET_ENV}"),
    (["--site", "c", "--server", "10.1.2.3:9092"], {SECRET_ENV: "s"}, "server '10.1.2.3:9092' is not loopback and key 'federated.tls' is not set"),
    (["--site", "c", "--data", "missing.parquet"], {SECRET_ENV: "s"}, "file missing.parquet does not exist on this machine"),
    (["--site", "c", "--monitor"], {SECRET_ENV: "s"}, "key 'sites.c.batches' is not set"),
])
def test_a_site_that_cannot_join_exits_2_naming_the_key_and_the_fix(tmp_path, args: list[str], env: dict[str, str], found: str) -> None:  # noqa: ANN001
    (tmp_path / "c.parquet").write_bytes(b"")
    path = federated_project(tmp_path, {"a": tmp_path / "a.parquet", "c": tmp_path / "c.parquet"})
    raw = yaml.safe_load(path.read_text())
    raw["sites"]["c"] |= {"remote": True, "token_env": SECRET_ENV}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    clean = {k: v for k, v in os.environ.items() if k != SECRET_ENV} | env
    proc = subprocess.run([str(BIN / "workbench"), "federated", "site", *args], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert found in proc.stderr
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())  # nothing started, no run folder


def test_bad_site_arguments_are_refused_by_the_parser(tmp_path) -> None:  # noqa: ANN001
    for args, found in ((["--server", "no-port"], "must be host:port"), (["--wait", "0"], "must be a number of seconds above 0")):
        proc = workbench("federated", "site", "--site", "c", *args, cwd=tmp_path, timeout=60)
        assert proc.returncode == 2 and found in proc.stderr, proc.stderr


def test_the_orchestrator_starts_no_process_for_a_remote_site_and_counts_it_towards_min_sites(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(SECRET_ENV, "s")
    files = {s: tmp_path / f"{s}.parquet" for s in ("a", "b")}
    for p in files.values():
        p.write_bytes(b"")
    path = federated_project(tmp_path, files | {"c": tmp_path / "elsewhere.parquet"}, min_sites=3)
    raw = yaml.safe_load(path.read_text())
    raw["sites"]["c"] |= {"remote": True, "token_env": SECRET_ENV}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(path)
    server, sites = jobs(config, site_secrets(config), rounds=1, outcome=tmp_path, trees=10)
    assert sorted(sites) == ["a", "b"] and sorted(server["secrets"]) == ["a", "b", "c"] and server["secrets"]["c"] == "s"
    assert server["min_sites"] == 3 and remote_sites(config) == ["c"] and federated.remote_sites(config) == ["c"]
    assert site.job(config, "c", monitor=False, data=files["a"])["expect_task"] is True


@pytest.mark.slow
def test_a_remote_site_that_cannot_train_tells_the_server_why_and_exits_1(tmp_path, demo_files, site_files, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(SECRET_ENV, "the secret of c")
    path, machine = _machines(tmp_path, demo_files, site_files["iid"], rounds=1, min_sites=2)
    frame = pd.read_parquet(machine / "c.parquet")
    frame[frame["churned"] == 0].to_parquet(machine / "c.parquet", index=False)  # one class only: c cannot train
    joining = _site(machine, secret="the secret of c")
    result = federated.train(load_config(path))
    out, err = joining.communicate(timeout=120)
    assert joining.returncode == 1, out + err
    assert "holds one class only (0)" in err and "Fix: leave the site out of sites:" in err
    (dropped,) = result["dropped"]  # said at the first task, not "never connected" after round_timeout_s
    assert (dropped["site"], dropped["step"]) == ("c", "summary") and dropped["reason"].startswith("failed: site 'c' (")
    assert "holds one class only (0)" in dropped["reason"] and sorted(result["sites"]) == ["a", "b"]
