"""A federated registration that fails after its version exists leaves nothing half-registered, and the next run registers cleanly."""

from __future__ import annotations

import pytest

from tests.federated.conftest import federated_project
from workbench import federated, registry
from workbench.config import load_config
from workbench.federated import _profile_store
from workbench.governance import audit, consistency, intents
from workbench.registry.versions import candidate_versions
from workbench.reports import catalog


@pytest.mark.slow
def test_a_failed_alias_move_withdraws_the_version_its_profile_and_its_result(tmp_path, site_files, monkeypatch) -> None:  # noqa: ANN001
    config = load_config(federated_project(tmp_path, site_files["iid"], rounds=1))
    moved = intents.Intent.move
    seen: dict = {}

    def failing_move(self, alias, version):  # noqa: ANN001, ANN202 - the fault: MLflow unreachable at the last step
        seen["profile_there"] = _profile_store.folder(config, str(version)).is_dir()  # installed before the move
        seen["result_there"] = (config.reports / "broken" / "federated" / catalog.RESULT_FILE).is_file()  # published before the move
        raise OSError("the registry went away")

    monkeypatch.setattr(intents.Intent, "move", failing_move)
    with pytest.raises(OSError, match="the registry went away"):
        federated.train(config, run_id="broken")
    assert seen == {"profile_there": True, "result_there": True}  # the fault hit after everything else was written

    assert candidate_versions(config) == [] and registry.alias_version(config, "challenger") is None
    assert not _profile_store.folder(config, "1").exists()
    run = catalog.get_run(config, "broken")
    assert run.status == "failed" and "the registry went away" in run.manifest["phases"]["federated"]["error"]
    assert not (run.path / "federated" / catalog.RESULT_FILE).exists()
    events = audit.read(config.store)
    assert [e["action"] for e in events if e["action"] in ("intent", "abort", "register")] == ["intent", "abort"]
    assert audit.verify(config.store).ok and consistency.divergences(config) == []

    monkeypatch.setattr(intents.Intent, "move", moved)
    result = federated.train(config)  # the next run registers as if nothing had happened
    version = result["registered"]["version"]
    assert str(registry.alias_version(config, "challenger").version) == version and result["registered"]["semver"] == "1.0.0"
    assert _profile_store.folder(config, version).is_dir()
