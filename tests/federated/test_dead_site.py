"""A site whose process is SIGKILLed mid-round: the run goes on above federated.min_sites, and fails cleanly below it."""

from __future__ import annotations

import json
import re

import pytest

from tests.federated.conftest import federated_project, kill_at_round
from workbench import federated, registry
from workbench.config import load_config
from workbench.exceptions import FederatedError
from workbench.reports import catalog


@pytest.mark.slow
def test_a_site_killed_mid_round_is_dropped_and_the_others_finish_the_run(tmp_path, site_files) -> None:  # noqa: ANN001
    config = load_config(federated_project(tmp_path, site_files["iid"], min_sites=2, rounds=4))
    seen: dict = {}
    result = federated.train(config, on_event=kill_at_round("b", 2, seen))

    assert seen["killed"] == 2
    (dropped,) = result["dropped"]
    # killed when round 2 started: it never answers round 2's fit (or, if its answer was already on the wire, round 2's evaluation)
    assert (dropped["site"], dropped["round"]) == ("b", 2) and dropped["step"] in ("fit", "evaluate")
    assert [h["sites"] for h in result["history"]][2:] == [["a", "c"], ["a", "c"]]
    assert result["evaluation"]["per_site"].keys() == {"a", "c"}
    assert all(proc.poll() is not None for proc in seen["fleet"].all())  # nothing left running
    tags = registry.resolve(config, result["registered"]["version"]).tags
    assert json.loads(tags[registry.TAG + "federated"])["dropped"] == ["b"]
    assert "dropped: b" in tags[registry.TAG + "changelog"]


@pytest.mark.slow
def test_below_min_sites_the_run_fails_naming_the_site_and_the_key_and_registers_nothing(tmp_path, site_files) -> None:  # noqa: ANN001
    config = load_config(federated_project(tmp_path, site_files["iid"], rounds=4))  # min_sites: every site
    seen: dict = {}
    with pytest.raises(FederatedError) as caught:
        federated.train(config, run_id="dead-site", on_event=kill_at_round("b", 2, seen))

    message = str(caught.value)
    assert re.match(r"round 2 \((fit|evaluate)\): 2 of 3 sites answered, but federated\.min_sites is 3\. Missing: b \(no answer: its process died, "
                    r"disconnected or exceeded federated\.round_timeout_s, round 2 (fit|evaluate)\)\. Nothing was registered\. Fix: restart the "
                    r"missing site\(s\) and run again, or lower federated\.min_sites to go on without them\.$", message), message
    assert registry.candidate_versions(config) == []
    run = catalog.get_run(config, "dead-site")
    assert run.status == "failed" and run.manifest["phases"]["federated"]["error"] == f"FederatedError: {message}"
    assert not (run.phase_dir("federated") / catalog.RESULT_FILE).exists()
    assert all(proc.poll() is not None for proc in seen["fleet"].all())
