"""Config: the contract keys, path resolution and one-line errors (exit 2, nothing written)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, workbench, write_config
from workbench.cli._common import check_config
from workbench.config import load_config
from workbench.exceptions import ConfigError


def test_demo_config_loads_with_absolute_paths() -> None:
    config = load_config(REPO / "workbench.yaml")
    assert config.project == "churn-demo"
    assert config.data.reference == REPO / "data" / "demo" / "entities" / "reference.parquet"
    assert config.store == REPO / ".workbench"
    assert config.mlflow_uri == f"sqlite:///{REPO / '.workbench' / 'mlflow.db'}"
    assert config.thresholds.data_drift == 0.05 and config.thresholds.concept_drift == 0.1


def test_relative_paths_resolve_against_the_config_folder(demo_project: Path, tmp_path_factory, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    config = load_config(demo_project / "workbench.yaml")
    assert config.data.reference == demo_project / "data" / "demo" / "reference.parquet"
    assert config.reports == demo_project / "reports"


def test_relative_config_is_found_in_parent_folders(demo_project: Path, monkeypatch) -> None:
    (demo_project / "notebooks").mkdir()
    monkeypatch.chdir(demo_project / "notebooks")
    assert load_config("workbench.yaml").source == demo_project / "workbench.yaml"


def _edit(project: Path, **changes) -> Path:
    path = project / "workbench.yaml"
    raw = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        node = raw
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_typo_key_names_file_key_and_suggestion(demo_project: Path) -> None:
    path = _edit(demo_project, data__tagret="churned")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: unknown key 'data.tagret' — did you mean 'target'? Valid keys here: reference, batches, "
        "target, id, timestamp, numeric, categorical, sensitive, features."
    )


def test_every_config_problem_is_reported_at_once(demo_project: Path) -> None:
    raw = yaml.safe_load((demo_project / "workbench.yaml").read_text())
    raw["data"]["targt"] = raw["data"].pop("target")
    raw["thresholds"] = {"data_drift": "high"}
    path = demo_project / "workbench.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: 3 problems: (1) missing required key 'data.target'. Fix: add it (see README, 'Config keys'). "
        "(2) unknown key 'data.targt' — did you mean 'target'? Valid keys here: reference, batches, target, id, timestamp, numeric, "
        "categorical, sensitive, features. (3) key 'thresholds.data_drift': input should be a valid number, unable to parse string "
        "as a number (got 'high'). Fix the value in the config."
    )


def test_wrong_type(demo_project: Path) -> None:
    path = _edit(demo_project, thresholds__data_drift="high")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == (
        f"{path}: key 'thresholds.data_drift': input should be a valid number, unable to parse string as a number "
        "(got 'high'). Fix the value in the config."
    )


def test_missing_data_file(demo_project: Path) -> None:
    path = _edit(demo_project, data__reference="data/nope.csv")
    with pytest.raises(ConfigError) as err:
        check_config(load_config(path))
    assert str(err.value) == (
        f"{path}: key 'data.reference': file {demo_project / 'data' / 'nope.csv'} does not exist. "
        "Fix: point data.reference at a CSV or Parquet file."
    )


def test_missing_target_column(demo_project: Path) -> None:
    path = _edit(demo_project, data__target="churn")
    with pytest.raises(ConfigError) as err:
        check_config(load_config(path))
    message = str(err.value)
    assert message.startswith(f"{path}: key 'data.target': column 'churn' not found in reference.parquet. Did you mean 'churned'?")
    assert "Columns are: customer_id, snapshot_date," in message


def test_unknown_estimator_lists_valid_names(demo_project: Path) -> None:
    path = _edit(demo_project, model__estimator="xgboost")
    with pytest.raises(ConfigError, match=re.escape("unknown estimator 'xgboost' for task 'binary'. Valid names: hist_gradient_boosting, ")):
        check_config(load_config(path))


def test_missing_required_key(tmp_path: Path) -> None:
    path = tmp_path / "workbench.yaml"
    path.write_text("project: x\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}: missing required key 'data'. Fix: add it (see README, 'Config keys')."


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "workbench.yaml"
    path.write_text("project: [unclosed\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_config(path)


@pytest.mark.parametrize(
    "change",
    [{"data__tagret": "churned"}, {"data__reference": "data/missing.parquet"}, {"data__target": "nope"}],
    ids=["typo-key", "missing-file", "missing-target"],
)
def test_cli_refuses_bad_config_with_exit_2_and_writes_nothing(demo_project: Path, change: dict) -> None:
    _edit(demo_project, **change)
    before = sorted(p.name for p in demo_project.iterdir())
    proc = workbench("run", "--config", "workbench.yaml", cwd=demo_project)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "workbench.yaml" in lines[0]
    assert sorted(p.name for p in demo_project.iterdir()) == before  # no store, no reports


def test_bad_model_params_refused_before_running(demo_project: Path) -> None:
    _edit(demo_project, model__params={"max_itr": 10})
    proc = workbench("run", cwd=demo_project)
    assert proc.returncode == 2
    assert "key 'model.params': Invalid parameter 'max_itr'" in proc.stderr
    assert not (demo_project / "reports").exists()


def test_config_hash_is_stable_and_sensitive(demo_project: Path) -> None:
    first = load_config(demo_project / "workbench.yaml").sha256()
    assert first == load_config(demo_project / "workbench.yaml").sha256()
    _edit(demo_project, model__params={"max_iter": 50})
    assert load_config(demo_project / "workbench.yaml").sha256() != first


def test_write_config_helper_round_trips(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"project": "other"})
    assert yaml.safe_load(path.read_text())["project"] == "other"
