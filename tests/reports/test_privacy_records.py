"""What the stored records say about privacy: a phase's release record and the card's section without runs (fast)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import demo_config
from workbench.config import Config
from workbench.reports import catalog, privacy


def _config(tmp_path: Path, **overrides: object) -> Config:
    return Config.model_validate({**demo_config(), **overrides, "source": tmp_path / "workbench.yaml"})


def test_a_private_release_is_named_with_its_epsilon(tmp_path: Path) -> None:
    assert privacy.release(tmp_path) is None and privacy.noise_note(None) is None
    (tmp_path / catalog.PRIVACY_FILE).write_text(json.dumps({"release": "drift", "private": True, "epsilon": 0.5}))
    record = privacy.release(tmp_path)
    assert record == {"release": "drift", "private": True, "epsilon": 0.5}
    assert privacy.noise_note(record) == "noise added (ε = 0.5)"
    (tmp_path / catalog.PRIVACY_FILE).write_text(json.dumps({"release": "drift", "private": False, "epsilon": 0.5}))
    assert privacy.release(tmp_path) is None  # a record of an exact release says nothing was noised


def test_the_card_section_is_null_without_privacy_and_lists_the_configured_releases_with_it(tmp_path: Path) -> None:
    assert privacy.card_section(_config(tmp_path), "", []) is None
    section = privacy.card_section(_config(tmp_path, privacy={"releases": {"fairness": 2.0}}), "", [])
    assert section["epsilon"] is None and section["columns"] == [] and section["utility"] == [] and section["loss"] is None
    assert section["releases"] == [{"release": "features", "private": False, "epsilon": None, "dataset": "the reference"},
                                   {"release": "drift", "private": False, "epsilon": None, "dataset": "each monitored batch"},
                                   {"release": "fairness", "private": True, "epsilon": 2.0, "dataset": "each monitored batch"}]
