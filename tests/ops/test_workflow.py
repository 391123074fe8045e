"""The GitHub Actions workflow (.github/workflows/lifecycle.yml) is valid and every command it runs exists.

Checked without a network: the YAML against SchemaStore's schema for workflows (vendored in
tests/ops/schemas/), every ``make`` target against the Makefile (GNU make's own data base),
every ``workbench`` command line against the parser ``workbench.cli.main`` builds, every other
program on PATH, actions pinned to a release commit, and the steps the issue asks for: install,
``make test``, the lifecycle on the demo, the gate, the image from the ``deploy-files``
Dockerfile (pushed only on main) and the reports as an artifact. The negative cases edit a copy
of the workflow and show that the same check names the broken step.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.ops.commands import Command, command_error, commands

WORKFLOW = REPO / ".github" / "workflows" / "lifecycle.yml"
SCHEMA = Path(__file__).parent / "schemas" / "github-workflow.json"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")  # owner/repo[/path]@<full commit sha>
RELEASE_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")


def load(text: str) -> dict[str, Any]:
    """The workflow as a dict; PyYAML (YAML 1.1) reads the key ``on`` as True, so it is put back under ``on``."""
    data = yaml.safe_load(text)
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(job id, step) for every step, in order."""
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


def run_commands(workflow: dict[str, Any]) -> list[tuple[str, str, Command]]:
    """(job id, step name, command) for every simple command of every ``run:`` script."""
    return [(job_id, step.get("name", "?"), c) for job_id, step in steps(workflow) if "run" in step for c in commands(step["run"])]


def action(step: dict[str, Any]) -> str:
    """``owner/repo`` of a ``uses:`` step, without the ref."""
    return step.get("uses", "").split("@")[0]


def problems(text: str) -> list[str]:
    """Everything wrong with a workflow text; empty when it is valid, runnable and does what the issue asks."""
    from jsonschema import Draft7Validator

    workflow = load(text)
    found = [f"schema: {'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
             for e in Draft7Validator(json.loads(SCHEMA.read_text())).iter_errors(workflow)]
    triggers = workflow.get("on") or {}
    found += [f"not triggered on {t}" for t in ("push", "pull_request", "workflow_dispatch") if t not in triggers]
    for job_id, job in workflow["jobs"].items():
        found += [f"job {job_id}: no {key}" for key in ("runs-on", "timeout-minutes", "steps") if key not in job]
    for job_id, step in steps(workflow):
        if not step.get("name"):
            found.append(f"job {job_id}: a step without a name: {step}")
        if ("uses" in step) == ("run" in step):
            found.append(f"job {job_id}, step {step.get('name')!r}: needs exactly one of uses/run")
        if "uses" in step and not PINNED.match(step["uses"]):
            found.append(f"job {job_id}, step {step.get('name')!r}: {step['uses']} is not pinned to a full commit sha")
    for line in text.splitlines():
        if re.match(r"\s*(- )?uses:", line) and not RELEASE_COMMENT.search(line):
            found.append(f"no '# vX.Y.Z' comment naming the pinned release: {line.strip()}")
    found += [f"job {job_id}, step {name!r}: {error}" for job_id, name, c in run_commands(workflow)
              if (error := command_error(c, REPO)) is not None]
    return found + _required(workflow)


def _required(workflow: dict[str, Any]) -> list[str]:
    """The steps the issue asks for, in an order that makes sense."""
    found = []
    ran = [(job_id, c.program, c.args) for job_id, _, c in run_commands(workflow)]
    makes = {(job_id, target) for job_id, program, args in ran if program == "make" for target in args if "=" not in target}
    verbs = [(job_id, args[0]) for job_id, program, args in ran if program == "workbench" and args]
    for job_id, job in workflow["jobs"].items():
        if any("make" == p for j, p, _ in ran if j == job_id):
            setup = [s for s in job["steps"] if action(s) == "actions/setup-python"]
            if not setup or str(setup[0].get("with", {}).get("python-version")) != "3.11" or setup[0]["with"].get("cache") != "pip":
                found.append(f"job {job_id}: runs make without actions/setup-python (python-version 3.11, cache: pip)")
    for target in ("install", "test"):
        if not any(t == target for _, t in makes):
            found.append(f"no step runs `make {target}`")
    if not any(t == "run" for _, t in makes) and not {"run", "monitor"} <= {v for _, v in verbs}:
        found.append("no step runs the lifecycle on the demo (`make run`, or `workbench run` and `workbench monitor`)")
    order = [v for _, v in verbs]
    if "gate" not in order:
        found.append("no step runs `workbench gate`")
    if "deploy-files" not in order:
        found.append("no step runs `workbench deploy-files` (the service's Dockerfile)")
    elif "gate" in order and order.index("gate") > order.index("deploy-files"):
        found.append("the image is made before the gate: a worse candidate would still get an image")
    builds = [(job_id, s) for job_id, s in steps(workflow) if action(s) == "docker/build-push-action"]
    outs = {c.args[c.args.index("--out") + 1] for _, _, c in run_commands(workflow) if c.args[:1] == ["deploy-files"] and "--out" in c.args}
    if not builds:
        found.append("no docker/build-push-action step builds the service image")
    for job_id, build in builds:
        spec = build.get("with", {})
        folder = str(spec.get("file", "")).rsplit("/Dockerfile", 1)[0]
        if folder not in outs or spec.get("build-contexts") != f"deploy={folder}":
            found.append(f"job {job_id}: the image is not built from the deploy-files folder ({sorted(outs)}) with the named context `deploy`")
        push = str(spec.get("push", "false")).lower()
        condition = workflow["jobs"][job_id].get("if", "")
        if push != "false" and not ("refs/heads/main" in condition and "push" in condition):
            found.append(f"job {job_id}: pushes the image outside a push to main (if: {condition!r})")
        if push != "false" and "secrets" not in json.dumps(workflow["jobs"][job_id].get("env", {})):
            found.append(f"job {job_id}: pushes without a registry secret")
    uploads = [str(s.get("with", {}).get("path", "")) for _, s in steps(workflow) if action(s) == "actions/upload-artifact"]
    if not any("reports/" in path.split() for path in uploads):
        found.append(f"no actions/upload-artifact step uploads reports/ (paths: {uploads})")
    return found


def test_workflow_is_valid_and_every_command_exists() -> None:
    assert problems(WORKFLOW.read_text()) == []


def test_the_key_on_is_read_as_true_by_pyyaml() -> None:
    # why load() moves it: YAML 1.1 reads a bare `on` as a boolean
    assert True in yaml.safe_load(WORKFLOW.read_text())
    assert set(load(WORKFLOW.read_text())["on"]) == {"push", "pull_request", "workflow_dispatch"}


def test_workflow_runs_commands_of_every_kind_it_checks() -> None:
    """A guard on the checker: it saw make targets, workbench verbs and other programs in the real file."""
    ran = run_commands(load(WORKFLOW.read_text()))
    programs = {c.program for _, _, c in ran}
    assert {"make", "workbench", "docker", "curl"} <= programs
    assert {c.args[0] for _, _, c in ran if c.program == "workbench"} >= {"gate", "deploy-files", "runs", "audit"}


BROKEN = {
    "unknown verb": ("workbench gate --config", "workbench gait --config", "invalid choice: 'gait'"),
    "unknown option": ("workbench runs --config", "workbench runs --confg", "unrecognized arguments: --confg"),
    "unknown option value": ("--against baseline", "--against nobody", "invalid choice: 'nobody'"),
    "unknown make target": ("run: make test PYTEST_ARGS", "run: make tests PYTEST_ARGS", "no make target tests"),
    "unknown program": ("run: docker logs workbench-api", "run: dockr logs workbench-api", "program 'dockr'"),
    "moving tag": ("actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "actions/checkout@v7", "not pinned"),
    "reports not uploaded": ("name: reports\n          path: reports/", "name: reports\n          path: logs/", "uploads reports/"),
    "gate missing": ("      - name: Gate the candidate\n        run: workbench gate --config \"$WORKBENCH_CONFIG\" --against baseline --max-fairness-gap 0.15\n", "",
                     "no step runs `workbench gate`"),
    "push on pull requests": ("if: github.event_name == 'push' && github.ref == 'refs/heads/main'", "if: always()", "outside a push to main"),
    "step with run and uses": ("        run: make chromium prometheus redis\n", "        run: make chromium prometheus redis\n        uses: x/y@v1\n",
                               "exactly one of uses/run"),
    "not a workflow": ("runs-on: ubuntu-24.04\n    timeout-minutes: 150", "runs_on: ubuntu-24.04\n    timeout-minutes: 150", "schema:"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_copy_of_the_workflow_is_caught(case: str) -> None:
    old, new, expected = BROKEN[case]
    text = WORKFLOW.read_text()
    assert old in text, f"the negative case {case!r} no longer matches the workflow; update it"
    found = problems(text.replace(old, new, 1))
    assert any(expected in p for p in found), found
