"""Feature view definitions: config validation, the version ledger, model compatibility and source checks (no Feast)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.conftest import workbench
from tests.features.conftest import edit_view
from workbench.config import load_config
from workbench.exceptions import ConfigError, DataError, FeatureSchemaError
from workbench.features import definitions, sources


def _features(path: Path, **features: object) -> Path:
    raw = yaml.safe_load(path.read_text())
    raw["features"] |= features
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"online": "memcached://x"}, "features.online"),
    ({"views": {}}, "at least one feature view"),
    ({"views": {"bad-name": {"source": "x.parquet", "version": "1.0", "fields": {"a": "int64"}}}}, "letters, digits and underscores"),
    ({"views": {"v": {"source": "x.parquet", "version": "1", "fields": {"a": "int64"}}}}, "version"),
    ({"views": {"v": {"source": "x.parquet", "version": "1.0", "fields": {"a": "decimal"}}}}, "fields"),
    ({"views": {"v": {"source": "x.parquet", "version": "1.0", "ttl": "soon", "fields": {"a": "int64"}}}}, "duration"),
    ({"views": {"v": {"source": "x.parquet", "version": "1.0", "fields": {"a": "int64"}},
                "w": {"source": "y.parquet", "version": "1.0", "fields": {"a": "int64"}}}}, "field 'a' is in views 'v' and 'w'"),
    ({"views": {"v": {"source": "x.parquet", "version": "1.0", "timestamp": "a", "fields": {"a": "int64"}}}}, "cannot also be a field"),
])
def test_bad_feature_config_is_refused_naming_the_key(feature_project: Path, change: dict, message: str) -> None:
    _features(feature_project, **change)
    with pytest.raises(ConfigError, match=message):
        load_config(feature_project)


def test_versions_and_durations_are_normalised(feature_project: Path) -> None:
    raw = yaml.safe_load(feature_project.read_text())
    raw["features"]["views"]["profile"] |= {"version": 2, "ttl": "12h"}
    raw["features"]["views"]["usage"] |= {"version": 1.5, "ttl": 3600}
    feature_project.write_text(yaml.safe_dump(raw))
    views = load_config(feature_project).features.views
    assert (views["profile"].version, views["profile"].ttl) == ("2.0", 43200)
    assert (views["usage"].version, views["usage"].ttl) == ("1.5", 3600)
    assert load_config(feature_project).features.views["profile"].source.is_absolute()


def test_the_hash_covers_the_schema_not_the_file_location(feature_project: Path) -> None:
    before = definitions.current(load_config(feature_project))
    edit_view(feature_project, "usage", source=str((feature_project.parent / "data" / "usage.parquet").resolve()), description="moved")
    assert definitions.current(load_config(feature_project)) == before
    edit_view(feature_project, "usage", fields={"calls": "float64"})
    after = definitions.current(load_config(feature_project))
    assert after["usage"]["hash"] != before["usage"]["hash"] and after["profile"] == before["profile"]


def test_a_changed_definition_needs_the_right_version_bump(feature_project: Path) -> None:
    config = load_config(feature_project)
    assert definitions.check(config) == {"profile": "new", "usage": "new"}
    definitions.record(config)
    assert definitions.check(load_config(feature_project)) == {"profile": "same", "usage": "same"}

    edit_view(feature_project, "usage", fields={"calls": "float64"})  # retyped, same version
    with pytest.raises(FeatureSchemaError, match=r"feature view 'usage' changed \(field 'calls' type int64 -> float64\) but its version is still 1.0") as err:
        definitions.check(load_config(feature_project))
    assert "features.views.usage.version" in str(err.value) and "2.0" in str(err.value) and err.value.exit_code == 2

    edit_view(feature_project, "usage", version="1.1")  # a minor bump cannot carry a breaking change
    with pytest.raises(FeatureSchemaError, match=r"1.0 -> 1.1 is a minor bump, but field 'calls' type int64 -> float64 breaks"):
        definitions.check(load_config(feature_project))

    edit_view(feature_project, "usage", fields={"calls": "int64", "minutes": "float64"})  # an added field: minor is right
    assert definitions.check(load_config(feature_project))["usage"] == "bumped"
    definitions.record(load_config(feature_project))

    edit_view(feature_project, "usage", version="1.0")  # versions only go up
    with pytest.raises(FeatureSchemaError, match="versions only go up"):
        definitions.check(load_config(feature_project))

    edit_view(feature_project, "usage", version="2.0", drop=["minutes", "calls"])  # a removal with a major bump
    assert definitions.check(load_config(feature_project))["usage"] == "bumped"


def test_models_score_against_compatible_minor_versions_only(feature_project: Path) -> None:
    trained_on = definitions.lineage(load_config(feature_project))
    assert set(trained_on) == {"profile", "usage"} and trained_on["usage"]["version"] == "1.0"
    edit_view(feature_project, "usage", version="1.1", fields={"minutes": "float64"})
    definitions.check_model(load_config(feature_project), trained_on, model="v3")  # minor: scores
    edit_view(feature_project, "usage", version="2.0")
    with pytest.raises(FeatureSchemaError, match=r"v3 was trained on feature view 'usage' 1.0; the store now serves 2.0"):
        definitions.check_model(load_config(feature_project), trained_on, model="v3")
    assert definitions.lineage(load_config(feature_project), ["plan"]) == {"profile": trained_on["profile"]}


def test_source_checks_name_the_file_column_and_key(feature_project: Path) -> None:
    data = feature_project.parent / "data"
    config = load_config(feature_project)
    infos = sources.check_all(config)
    assert infos["usage"].rows == 300 and infos["usage"].key_type == "string" and infos["usage"].newest is not None

    edit_view(feature_project, "usage", fields={"spend": "int64"})
    with pytest.raises(DataError, match=r"usage.parquet: feature view 'usage': 'spend' is double but declared int64 \(features.views.usage.fields\)"):
        sources.check_all(load_config(feature_project))
    edit_view(feature_project, "usage", fields={"spend": "float64", "nope": "string"})
    with pytest.raises(DataError, match=r"needs column\(s\) 'nope' \(features.views.usage.fields\)"):
        sources.check_all(load_config(feature_project))
    edit_view(feature_project, "usage", drop=["nope"])

    frame = pd.read_parquet(data / "usage.parquet")
    pd.concat([frame, frame.head(2)]).to_parquet(data / "usage.parquet", index=False)
    with pytest.raises(DataError, match=r"4 rows sharing an entity key and event time \(e.g. entity_id='E00000'\)"):
        sources.check_all(load_config(feature_project))
    frame.to_csv(data / "usage.csv", index=False)
    edit_view(feature_project, "usage", source="data/usage.csv")
    with pytest.raises(DataError, match="must be Parquet files"):
        sources.check_all(load_config(feature_project))
    edit_view(feature_project, "usage", source="data/missing.parquet")
    with pytest.raises(DataError, match=r"does not exist \(features.views.usage.source\)"):
        sources.check_all(load_config(feature_project))


def test_run_preflight_refuses_a_definition_changed_without_a_bump(feature_project: Path) -> None:
    """Exit 2 before anything runs, naming the view and the field (the ledger from an earlier apply)."""
    definitions.record(load_config(feature_project))
    edit_view(feature_project, "profile", drop=["tenure"])
    proc = workbench("run", cwd=feature_project.parent, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "feature view 'profile' changed (field 'tenure' removed) but its version is still 1.0" in proc.stderr
    assert not (feature_project.parent / "reports").exists() or not any((feature_project.parent / "reports").iterdir())


@pytest.mark.slow
def test_features_apply_refuses_with_exit_2_and_keeps_the_registry(feature_project: Path) -> None:
    cwd = feature_project.parent
    first = workbench("features", "apply", cwd=cwd, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "profile 1.0: new (300 rows" in first.stdout
    registry = cwd / ".workbench" / "features" / "registry.db"
    before = registry.read_bytes()
    edit_view(feature_project, "usage", fields={"spend": "string"})
    refused = workbench("features", "apply", cwd=cwd, timeout=300)
    assert refused.returncode == 2
    assert "feature view 'usage' changed (field 'spend' type float64 -> string) but its version is still 1.0" in refused.stderr
    assert registry.read_bytes() == before
    edit_view(feature_project, "usage", fields={"spend": "float64", "minutes": "float64"}, version="1.1")
    refused = workbench("features", "apply", cwd=cwd, timeout=300)  # the field is not in the file
    assert refused.returncode == 2 and "needs column(s) 'minutes'" in refused.stderr
