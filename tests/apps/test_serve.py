"""``workbench serve`` refuses unsafe or impossible setups before starting, and configures Voila locked down."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest

from tests.conftest import workbench
from workbench.analyses.drift import distribution_table
from workbench.apps import server as serve


@pytest.mark.parametrize("ip", ["0.0.0.0", "192.168.1.20", "::", "example.org", ""])
def test_non_loopback_bind_without_token_is_refused(demo_project, ip):
    done = workbench("serve", "--ip", ip, "--port", "18999", cwd=demo_project, timeout=60)
    assert done.returncode == 2
    shown = ip or "(all interfaces)"
    assert done.stderr.strip() == (
        f"error: --ip {shown}: refusing to serve the report apps beyond this machine without a token. "
        "Fix: add --token (a random one is generated and printed) or bind 127.0.0.1."
    )
    assert done.stdout == ""


def test_port_in_use_is_refused(demo_project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = workbench("serve", "--port", str(port), cwd=demo_project, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: --port {port} on 127.0.0.1 is already in use. "
                                   "Fix: pass another --port or stop the other server.")


def test_bad_config_is_refused_before_serving(tmp_path):
    (tmp_path / "workbench.yaml").write_text("project: x\ndata: {reference: missing.csv, target: y}\nservee: 1\n")
    done = workbench("serve", "--port", "18998", cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert "servee" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize(("ip", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
                                               ("0.0.0.0", False), ("10.0.0.1", False), ("", False), ("my-host", False)])
def test_is_loopback(ip, loopback):
    assert serve.is_loopback(ip) is loopback


def test_voila_is_configured_locked_down():
    config = serve.voila_config(serve.ServeOptions(port=9999, token="t0k", cull_idle_s=600))
    voila = config["VoilaConfiguration"]
    assert voila["show_tracebacks"] is False
    assert voila["allow_template_override"] == voila["allow_theme_override"] == "NO"
    assert voila["file_allowlist"] == []
    assert voila["preheat_kernel"] is True and voila["default_pool_size"] == serve.DEFAULT_POOL == 5
    # every app, the landing page included, is pre-heated (no denylist); refills wait for a burst of visits
    assert config["VoilaKernelManager"] == {"fill_delay": 8.0}
    assert config["Voila"]["root_dir"] == str(serve.apps_dir()) and config["Voila"]["token"] == "t0k"
    assert config["Voila"]["port_retries"] == 0
    assert config["MappingKernelManager"] == {"cull_idle_timeout": 600, "cull_interval": 60, "cull_connected": True}
    assert serve.voila_config(serve.ServeOptions(pool_size=0))["VoilaConfiguration"]["preheat_kernel"] is False


def test_apps_folder_holds_only_notebooks():
    files = sorted(p.name for p in serve.apps_dir().iterdir() if not p.name.startswith("."))
    assert files == ["card.ipynb", "drift.ipynb", "explain.ipynb", "fairness.ipynb", "impact.ipynb", "index.ipynb"]


def test_url_carries_the_token():
    assert serve.url(serve.ServeOptions()) == "http://127.0.0.1:8866/"
    assert serve.url(serve.ServeOptions(ip="0.0.0.0", port=9000, token="abc")) == "http://127.0.0.1:9000/?token=abc"


def test_distribution_table_matches_the_reference_profile(demo_files):
    from workbench.analyses import drift

    reference = pd.read_parquet(demo_files / "reference.parquet")
    batch = pd.read_parquet(sorted((demo_files / "batches").glob("*.parquet"))[-1])
    profile = drift.build_profile(reference, numeric=["tenure_months", "monthly_charges"], categorical=["contract"])
    table = distribution_table(profile, batch.drop(columns=["monthly_charges"]))
    shares = table.groupby("column")[["reference_share", "batch_share"]].sum()
    assert np.allclose(shares["reference_share"], 1.0)
    tenure = table[table["column"] == "tenure_months"]
    assert tenure["reference_count"].sum() == reference["tenure_months"].notna().sum()
    assert tenure["batch_count"].sum() == batch["tenure_months"].notna().sum()
    assert np.allclose(shares.loc["tenure_months", "batch_share"], 1.0)
    # a column missing from the batch: zero batch counts, still the reference side
    assert table[table["column"] == "monthly_charges"]["batch_count"].sum() == 0
    contract = table[table["column"] == "contract"].set_index("bin")
    assert set(contract.index) >= set(reference["contract"].dropna().astype(str).unique())
    assert contract["batch_count"].sum() == batch["contract"].notna().sum()


def test_allowed_hosts_are_loopback_names_the_bound_address_and_the_extra_ones():
    from workbench.apps._security import allowed_hosts

    assert allowed_hosts("127.0.0.1") == {"localhost", "127.0.0.1", "::1"}
    assert allowed_hosts("0.0.0.0", ("Reports.Example.org", "[fe80::1]")) == {"localhost", "127.0.0.1", "::1", "reports.example.org", "fe80::1"}
    assert allowed_hosts("10.0.0.5") == {"localhost", "127.0.0.1", "::1", "10.0.0.5"}


@pytest.mark.parametrize("name", ["http://x.org", "x.org/path", "a b", "x.org:8866", ""])
def test_bad_allow_host_is_refused(demo_project, name):
    done = workbench("serve", "--allow-host", name, "--port", "18997", cwd=demo_project, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: --allow-host {name!r}: not a host name or address. "
                                   "Fix: pass a name like reports.example.org (no scheme, port or path).")


def test_kernels_get_the_query_socket_path_and_the_bound_address(tmp_path):
    from tests.conftest import write_config
    from workbench.config import load_config

    write_config(tmp_path)
    config = load_config(tmp_path / "workbench.yaml")
    env = serve.kernel_env(config, serve.ServeOptions(ip="::1"), "s3cr3t")
    assert env["VOILA_WS_BASE_URL"] == "/wbq/s3cr3t/" and env["VOILA_APP_IP"] == "[::1]"
    assert "VOILA_APP_IP" not in serve.kernel_env(config, serve.ServeOptions(ip="0.0.0.0"), "s3cr3t")


@pytest.mark.parametrize(("path", "bad"), [("/voila/render/drift.ipynb", False), ("/voila/labextensions/@jupyter-widgets/x.js", False),
                                           ("/", False), ("/voila/api/contents/", False), ("/voila/templates/..%2f..%2fetc", True),
                                           ("/a/%00", True), ("/a/%zz", True), ("/a/%ff", True), ("/a/..", True), ("/a/./b", True),
                                           ("/a//b", True), ("/a\\b", True), ("/a/%5cb", True), ("/" + "a" * 2000, True)])
def test_malformed_paths(path, bad):
    from workbench.apps._security import malformed

    assert malformed(path) is bad
