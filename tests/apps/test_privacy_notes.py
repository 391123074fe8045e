"""The drift and fairness apps say "noise added (ε = …)" beside a private release, and nothing beside an exact one (fast)."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.apps.drift import noise_message
from workbench.reports import catalog


def test_noise_is_named_only_for_a_private_release(tmp_path: Path) -> None:
    assert noise_message(tmp_path, "The batch counts") == ""
    (tmp_path / catalog.PRIVACY_FILE).write_text(json.dumps({"release": "fairness", "private": True, "epsilon": 1.0}))
    assert noise_message(tmp_path, "The group counts and rates") == (
        '<div class="wb-msg wb-info">The group counts and rates: noise added (ε = 1). Laplace noise of a private release '
        "(privacy.releases.fairness), so that the report reveals no individual; the reference side is exact.</div>")
