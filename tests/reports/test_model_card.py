"""Model cards: the demo champion's card has every section with real values, matches its schema and is attached in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from workbench.reports import model_card

SECTIONS = ["intended-use", "training-data", "features", "metrics", "fairness", "explanations", "drift", "kpis", "limitations", "changelog",
            "approvals", "lineage"]


@pytest.fixture(scope="module")
def champion(monitored_demo):
    from workbench import registry
    from workbench.config import load_config

    project, _ = monitored_demo
    config = load_config(project / "workbench.yaml")
    mv = registry.alias_version(config, "champion")
    return project, config, mv


def _manifests(project: Path) -> list[tuple[Path, dict]]:
    return [(m.parent, json.loads(m.read_text())) for m in sorted((project / "reports").glob("*/manifest.json"))]


@pytest.mark.slow
def test_card_is_generated_at_registration(champion) -> None:
    project, _, mv = champion
    run_id = mv.tags["workbench.run_id"]
    manifest = json.loads((project / "reports" / run_id / "manifest.json").read_text())
    assert manifest["phases"]["model_card"]["status"] == "succeeded"
    result = json.loads((project / "reports" / run_id / "model_card" / "result.json").read_text())
    assert result["version"] == str(mv.version) and Path(result["card"]).is_file()


@pytest.mark.slow
def test_champion_card_has_every_section_with_real_values(champion) -> None:
    project, config, mv = champion
    card = model_card.read(config)
    jsonschema.Draft7Validator(json.loads(model_card.SCHEMA_FILE.read_text())).validate(card)
    tags = mv.tags
    run_dir = project / "reports" / tags["workbench.run_id"]
    assert (card["model"]["version"], card["model"]["semver"], card["model"]["aliases"]) == (str(mv.version), tags["workbench.semver"], ["champion"])
    assert card["intended_use"]["purpose"] and card["intended_use"]["users"] and card["intended_use"]["out_of_scope"]
    data = card["training_data"]
    assert data["sha256"] == tags["workbench.data_sha256"] and data["rows"] == 8000
    assert (data["period"]["start"], data["period"]["end"]) == ("2025-07-01", "2025-12-31")
    assert [f["name"] for f in card["features"]] == json.loads(tags["workbench.schema"])["features"]
    evaluation = json.loads((run_dir / "evaluate" / "result.json").read_text())
    primary = card["metrics"]["values"][0]
    assert primary["metric"] == "roc_auc" and primary == {"metric": "roc_auc", **evaluation["metrics"]["candidate"]["roc_auc"]}
    assert primary["low"] < primary["value"] < primary["high"]
    disparity = pd.read_parquet(run_dir / "responsible" / "disparity.parquet")
    assert card["fairness"]["status"] == "assessed"
    assert [c["attribute"] for c in card["fairness"]["checks"]] == disparity["attribute"].tolist()
    assert card["fairness"]["failed_attributes"] == disparity.loc[disparity["passed"].eq(False), "attribute"].tolist()
    importance = pd.read_parquet(run_dir / "responsible" / "importance.parquet").head(5)
    assert [f["feature"] for f in card["explanations"]["top_features"]] == importance["feature"].tolist()
    assert card["explanations"]["method"] == "tree"
    # Drift status and KPIs: the latest batch the champion scored, as recorded in the manifests.
    scored = [(json.loads((f / "score" / "result.json").read_text()), f) for f, m in _manifests(project)
              if m.get("kind") == "monitor" and (f / "drift" / "verdict.json").is_file()]
    mine = {s["batch"]["name"]: f for s, f in scored if str(s["model"]["version"]) == str(mv.version)}
    last = mine[max(mine)]
    verdict = json.loads((last / "drift" / "verdict.json").read_text())
    assert card["drift"]["batch"] == max(mine) and card["drift"]["batches_monitored"] == len(mine)
    assert card["drift"]["status"] == ("alert" if verdict["alert"] else "no drift") and card["drift"]["reasons"] == verdict["reasons"]
    assert "2026-05.parquet" in card["drift"]["alert_batches"]
    assert sorted(r["kpi"] for r in card["kpis"]["rows"]) == ["churn_reduction", "cost_per_saved_customer"]
    assert any("Fairness check failed on the holdout" in x["text"] for x in card["limitations"])
    assert any(x["text"].startswith("Drift alerts on") for x in card["limitations"])
    assert card["changelog"][0]["semver"] == tags["workbench.semver"] and card["changelog"][0]["text"] == tags["workbench.changelog"]
    assert [a["action"] for a in card["approvals"]][:1] == ["register"] and card["approvals"][0]["semver"] == tags["workbench.semver"]
    assert card["lineage"]["model_sha256"] == tags["workbench.model_sha256"]


@pytest.mark.slow
def test_mlflow_shows_the_card_attached_to_the_version(champion) -> None:
    from workbench.registry.store import client_for

    _, config, mv = champion
    client = client_for(config)
    names = sorted(Path(a.path).name for a in client.list_artifacts(mv.run_id, model_card.ARTIFACT_PATH))
    assert names == ["model_card.html", "model_card.json"]
    fresh = client.get_model_version(config.project, mv.version)
    assert fresh.tags[model_card.TAG] == f"runs:/{mv.run_id}/model_card/model_card.html"
    assert "Model card (" in fresh.description and fresh.tags["workbench.changelog"] in fresh.description
    local = client.download_artifacts(mv.run_id, "model_card/model_card.json")
    assert json.loads(Path(local).read_text())["model"]["version"] == str(mv.version)


@pytest.mark.slow
def test_html_card_shows_every_section(champion) -> None:
    _, config, mv = champion
    html = model_card.html_path(config).read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in html, section
    assert f"v{mv.version}" in html and mv.tags["workbench.data_sha256"] in html
    assert model_card.versions(config) == [str(mv.version)]


@pytest.mark.slow
def test_a_card_that_breaks_the_schema_is_refused_naming_the_field(champion) -> None:
    _, config, _ = champion
    card = model_card.read(config)
    card["model"]["version"] = 1
    with pytest.raises(model_card.ModelCardError) as err:
        model_card.validate(card)
    assert str(err.value) == "model card field 'model.version': data.model.version must be string. Fix the card builder (workbench/reports/card_sources.py)."


@pytest.mark.slow
def test_missing_card_says_how_to_produce_it(champion) -> None:
    _, config, _ = champion
    with pytest.raises(model_card.ModelCardError) as err:
        model_card.read(config, "999")
    path = config.store / "cards" / config.project / "v999" / "model_card.json"
    assert str(err.value) == f"model card of churn-demo v999 not produced yet - run `workbench run` (expected {path})."


def test_schema_documents_every_section() -> None:
    schema = model_card.schema()
    jsonschema.Draft7Validator.check_schema(schema)
    assert set(schema["required"]) == set(schema["properties"])
    undocumented = [k for k, v in schema["properties"].items() if "description" not in v and v.get("type") == "array"]
    assert undocumented == [] and schema["description"]


def test_card_validation_names_the_bad_field() -> None:
    with pytest.raises(model_card.ModelCardError, match=r"^model card field '\(top level\)': data must contain \['approvals', 'calibration', 'changelog'"):
        model_card.validate({"schema_version": 1})



@pytest.mark.slow
def test_the_card_is_refreshed_last_and_describes_every_monitored_batch(champion) -> None:
    project, config, mv = champion
    monitored = [(f, m) for f, m in _manifests(project) if m.get("kind") == "monitor" and m["status"] == "succeeded"]
    last = monitored[-1][1]["phases"]  # other tests may add failing monitor runs to the shared project: they refresh nothing
    assert last["card"]["status"] == "succeeded"
    assert all(last["card"]["started"] >= last[p]["ended"] for p in ("drift", "fairness", "explain", "impact"))
    card = model_card.read(config)
    batches = {json.loads((f / "score" / "result.json").read_text())["batch"]["name"] for f, _ in monitored}
    assert len(batches) >= 8 and card["drift"]["batches_monitored"] == len(batches) and card["drift"]["batch"] == max(batches)
    assert card["generated"] >= last["explain"]["ended"]
