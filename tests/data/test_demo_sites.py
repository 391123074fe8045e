"""``workbench demo --sites N``: the demo split over data sites, and the config that trains and monitors across them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import copy_demo_config, workbench
from workbench.config import load_config
from workbench.data import demo
from workbench.exceptions import ParameterError

MONTHS = demo.batch_months()


@pytest.fixture(scope="module")
def iid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The shipped demo config (feature store and all) split over four IID sites by the real command."""
    project = tmp_path_factory.mktemp("demo-sites")
    copy_demo_config(project, features=True)
    out = workbench("demo", "--sites", "4", cwd=project, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return project, out.stdout


def _ids(paths: list[Path]) -> list[str]:
    return sorted(pd.concat([pd.read_parquet(p, columns=["customer_id"]) for p in paths])["customer_id"])


def test_the_command_writes_a_config_with_the_sites_and_prints_the_next_commands(iid: tuple[Path, str]) -> None:
    project, stdout = iid
    config = load_config(project / "workbench.sites.yaml")
    assert list(config.sites) == ["a", "b", "c", "d"]
    assert (config.demo, config.features, config.federated.rounds, config.federated.address) == (False, None, 5, "127.0.0.1:9092")
    assert config.data.reference == project / "data" / "demo" / "reference.parquet"
    for site, s in config.sites.items():
        assert s.data == project / "data" / "demo" / "sites" / site / "train.parquet"
        assert sorted(p.name for p in Path(s.batches).iterdir()) == [f"{m}.parquet" for m in MONTHS]
    first = pd.read_parquet(config.sites["a"].data)
    assert list(first.columns) == list(demo.COLUMNS)  # every feature column joined, as the flat demo has them
    assert stdout.splitlines()[-4:] == [
        "wrote workbench.sites.yaml. Next:",
        "  workbench federated train --config workbench.sites.yaml",
        "  workbench approve VERSION --config workbench.sites.yaml   # VERSION: the one train registered; monitoring watches the champion",
        "  workbench federated monitor --config workbench.sites.yaml --batch 2026-08.parquet --mode sketch",
    ]


def test_every_row_of_the_reference_and_of_each_batch_is_at_exactly_one_site(iid: tuple[Path, str]) -> None:
    project, _ = iid
    config = load_config(project / "workbench.sites.yaml")
    flat = project / "data" / "demo"
    trains = [s.data for s in config.sites.values()]
    assert _ids(trains) == _ids([flat / "reference.parquet"])  # sorted lists: a lost or repeated id changes them
    assert [len(pd.read_parquet(p)) for p in trains] == [2000] * 4  # IID: dealt in turn
    for month in MONTHS:
        assert _ids([Path(s.batches) / f"{month}.parquet" for s in config.sites.values()]) == _ids([flat / "batches" / f"{month}.parquet"]), month


def test_the_skewed_split_gives_site_a_most_churners(tmp_path: Path) -> None:
    copy_demo_config(tmp_path, features=True)
    out = workbench("demo", "--sites", "3", "--split", "skewed", cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    config = load_config(tmp_path / "workbench.sites.yaml")
    shares = [pd.read_parquet(s.data)["churned"].mean() for s in config.sites.values()]
    assert shares == pytest.approx([0.55, 0.21, 0.14], abs=0.03)  # as skewed_shares(3) states
    assert _ids([s.data for s in config.sites.values()]) == _ids([tmp_path / "data" / "demo" / "reference.parquet"])
    batch = [pd.read_parquet(Path(s.batches) / "2026-01.parquet")["churned"].mean() for s in config.sites.values()]
    assert batch == pytest.approx([0.55, 0.21, 0.14], abs=0.03)  # 2026-01 has the reference's churn rate: skewed alike


def test_an_existing_sites_config_is_refused_without_force_and_replaced_with_it(tmp_path: Path) -> None:
    copy_demo_config(tmp_path, features=True)
    target = tmp_path / "workbench.sites.yaml"
    target.write_text("# mine\n")
    out = workbench("demo", "--sites", "2", cwd=tmp_path, timeout=120)
    assert out.returncode == 2
    assert out.stderr == (f"error: {target} already exists. Fix: pass --force to overwrite it (and the site files under "
                          "data/demo/sites), or use it as it is.\n")
    assert target.read_text() == "# mine\n" and not (tmp_path / "data").exists()  # refused before anything is written
    out = workbench("demo", "--sites", "2", "--force", cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    assert list(yaml.safe_load(target.read_text())["sites"]) == ["a", "b"]


def test_a_config_that_is_not_the_demo_and_options_without_sites_are_refused(tmp_path: Path) -> None:
    path = copy_demo_config(tmp_path, demo=False)
    out = workbench("demo", "--sites", "3", cwd=tmp_path, timeout=120)
    assert (out.returncode, out.stderr) == (2, f"error: {path}: 'workbench demo --sites' splits the generated demo, and this config is "
                                                "not the demo (demo: false). Fix: pass the demo's config (demo: true), e.g. the shipped "
                                                "workbench.yaml.\n")
    out = workbench("demo", "--split", "skewed", cwd=tmp_path, timeout=120)
    assert (out.returncode, out.stderr) == (2, "error: --split and --force go with --sites. Fix: add --sites N (e.g. --sites 3), or leave them out.\n")
    out = workbench("demo", "--sites", "1", cwd=tmp_path, timeout=120)
    assert out.returncode == 2 and "argument --sites: must be a whole number from 2 to 26, got '1'" in out.stderr
    assert not (tmp_path / "workbench.sites.yaml").exists()


def test_split_rows_is_seeded_and_checks_its_parameters() -> None:
    target = np.random.default_rng(0).integers(0, 2, 500)
    first, again = demo.split_rows(target, 5, "skewed"), demo.split_rows(target, 5, "skewed")
    assert all(np.array_equal(first[s], again[s]) for s in "abcde")
    other = demo.split_rows(target, 5, "skewed", seed=18)
    assert not all(np.array_equal(first[s], other[s]) for s in "abcde")
    assert np.array_equal(np.sort(np.concatenate(list(first.values()))), np.arange(500))
    assert [sum(x) for x in demo.skewed_shares(5)] == pytest.approx([1.0, 1.0])
    with pytest.raises(ParameterError, match=r"^The 'split' parameter must be one of \['iid', 'skewed'\]. Got 'random' instead.$"):
        demo.split_rows(target, 3, "random")
    with pytest.raises(ParameterError, match=r"^The 'sites' parameter must be a whole number from 2 to 26. Got 27 instead.$"):
        demo.split_rows(target, 27)
