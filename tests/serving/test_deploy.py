"""``workbench deploy-files``: the rendered Dockerfile and manifests (pure, fast) and the command on a trained project (slow)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import workbench, write_config
from workbench import cli, registry
from workbench.config import load_config
from workbench.exceptions import ParameterError
from workbench.serving import deploy

STORE = "/srv/churn/.workbench"
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")  # DNS-1123 labels that start with a letter (Service names need it)
LABEL = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
DOCKER_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
KINDS = {"deployment.yaml": ("apps/v1", "Deployment"), "service.yaml": ("v1", "Service"),
         "hpa.yaml": ("autoscaling/v2", "HorizontalPodAutoscaler"), "knative-service.yaml": ("serving.knative.dev/v1", "Service")}


def _render(project: str = "churn-demo", semver: str = "1.2.0", **kw) -> dict[str, str]:
    kw = {"store": STORE, "estimator": "hist_gradient_boosting"} | kw
    return deploy.render(project, "4", semver, **kw)


def _doc(files: dict[str, str], name: str) -> dict:
    docs = [d for d in yaml.safe_load_all(files[name]) if d is not None]
    assert len(docs) == 1
    return docs[0]


def _container(doc: dict) -> dict:
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    return container


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()]


def _cmd(dockerfile: str) -> list[str]:
    (cmd,) = [args for ins, args in _instructions(dockerfile) if ins == "CMD"]
    return json.loads(cmd)


def test_every_manifest_parses_with_its_api_version_and_kind() -> None:
    files = _render()
    assert set(files) == {"Dockerfile", "Dockerfile.dockerignore", *KINDS}
    for name, (api_version, kind) in KINDS.items():
        doc = _doc(files, name)
        assert (doc["apiVersion"], doc["kind"]) == (api_version, kind), name
        assert doc["metadata"]["name"] == "churn-demo"
        assert doc["metadata"]["labels"] == {"app": "churn-demo", "model": "churn-demo", "version": "4", "semver": "1.2.0"}


def test_deployment_probes_resources_token_store_and_scrape_annotations() -> None:
    files = _render(port=8123)
    doc = _doc(files, "deployment.yaml")
    pod = doc["spec"]["template"]
    c = _container(doc)
    assert c["image"] == "workbench/churn-demo:1.2.0"
    assert c["ports"][0]["containerPort"] == 8123
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": 8123}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8123}
    assert c["startupProbe"]["httpGet"] == {"path": "/health", "port": 8123}
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 120  # model load can take a while
    assert c["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    env = {e["name"]: e for e in c["env"]}
    assert env["WORKBENCH_API_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "churn-demo-api-token", "key": "token"}}
    assert "value" not in env["WORKBENCH_API_TOKEN"]
    assert env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"]["value"] == "false"
    assert pod["metadata"]["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics", "prometheus.io/port": "8123"}
    assert doc["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True and pod["spec"]["securityContext"]["runAsUser"] != 0
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["allowPrivilegeEscalation"] is False
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert volumes["store"]["persistentVolumeClaim"]["claimName"] == "churn-demo-store" and mounts["store"] == STORE
    assert mounts["tmp"] == "/tmp" and "emptyDir" in volumes["tmp"]
    assert "replicas" not in doc["spec"]  # the autoscaler owns it


def test_service_is_cluster_ip_on_the_port_and_selects_the_pods() -> None:
    files = _render(port=9000)
    svc, dep = _doc(files, "service.yaml"), _doc(files, "deployment.yaml")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 9000, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize(("replicas", "low", "high"), [(2, 2, 10), (3, 3, 10), (12, 12, 12)])
def test_hpa_scales_on_cpu_and_requests_per_second(replicas: int, low: int, high: int) -> None:
    files = _render(replicas=replicas)
    spec = _doc(files, "hpa.yaml")["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "churn-demo"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (low, high)
    metrics = {m["type"]: m for m in spec["metrics"]}
    assert metrics["Resource"]["resource"] == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}
    assert metrics["Pods"]["pods"]["metric"]["name"] == "workbench_requests_per_second"
    assert metrics["Pods"]["pods"]["target"] == {"type": "AverageValue", "averageValue": "50"}
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
    # the prometheus-adapter rule that makes the custom metric is documented beside it
    assert "rate(<<.Series>>" in files["hpa.yaml"] and 'as: "workbench_requests_per_second"' in files["hpa.yaml"]
    assert "workbench_requests_total" in files["hpa.yaml"]


def test_knative_service_scales_to_zero_with_the_same_probes_env_and_resources() -> None:
    files = _render()
    kn, dep = _doc(files, "knative-service.yaml"), _doc(files, "deployment.yaml")
    notes = kn["spec"]["template"]["metadata"]["annotations"]
    assert notes["autoscaling.knative.dev/min-scale"] == "0"
    assert int(notes["autoscaling.knative.dev/max-scale"]) >= 1 and int(notes["autoscaling.knative.dev/target"]) >= 1
    c, d = _container(kn), _container(dep)
    assert c["image"] == d["image"] and c["env"] == d["env"] and c["resources"] == d["resources"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["path"] == d[probe]["httpGet"]["path"]
        assert "port" not in c[probe]["httpGet"]  # Knative probes the container port; older releases refuse a port here
    assert c["securityContext"]["runAsNonRoot"] is True


def test_dockerfile_builds_a_non_root_image_running_workbench_api() -> None:
    dockerfile = _render(semver="1.2.0", port=8000)["Dockerfile"]
    ins = _instructions(dockerfile)
    assert ins[0] == ("FROM", "python:3.11-slim")
    assert ("EXPOSE", "8000") in ins
    (user,) = [args for name, args in ins if name == "USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert [i for i, (name, _) in enumerate(ins) if name == "USER"][0] > [i for i, (name, _) in enumerate(ins) if name == "RUN"][-1]
    (health,) = [args for name, args in ins if name == "HEALTHCHECK"]
    assert "/health" in health and "urllib" in health and "curl" not in health
    assert any(name == "RUN" and "pip install --no-cache-dir ." in args for name, args in ins)
    assert any(name == "ENV" and "MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false" in args for name, args in ins)
    labels = " ".join(args for name, args in ins if name == "LABEL")
    assert 'org.opencontainers.image.version="1.2.0"' in labels and 'workbench.model="churn-demo"' in labels
    assert 'workbench.version="4"' in labels and 'workbench.semver="1.2.0"' in labels
    assert _cmd(dockerfile) == ["workbench", "api", "--config", "/app/workbench.yaml", "--ip", "0.0.0.0", "--port", "8000"]
    assert "store" in dockerfile and STORE in dockerfile and "tracking_uri" in dockerfile  # how the store gets in


def test_dockerfile_cmd_is_accepted_by_the_real_cli() -> None:
    parser, commands = cli._parser()
    if "api" not in commands:
        pytest.skip("`workbench api` is not registered yet (workbench/cli/api.py): nothing to check the CMD against")
    cmd = _cmd(_render(port=8000)["Dockerfile"])
    assert cmd[0] == "workbench"
    args = parser.parse_args(cmd[1:])
    assert args.command == "api"
    assert (args.config, args.ip, int(args.port)) == ("/app/workbench.yaml", "0.0.0.0", 8000)


def test_hostile_project_name_gives_dns_1123_names_and_valid_labels() -> None:
    files = _render("Churn_Model.v2", semver="1.0.0+baseline")
    for name in KINDS:
        doc = _doc(files, name)
        assert DNS1035.match(doc["metadata"]["name"]) and len(doc["metadata"]["name"]) <= 63, doc["metadata"]["name"]
        assert doc["metadata"]["name"] == "churn-model-v2"
        for value in doc["metadata"]["labels"].values():
            assert LABEL.match(value) and len(value) <= 63, value
    c = _container(_doc(files, "deployment.yaml"))
    pod = _doc(files, "deployment.yaml")["spec"]["template"]["spec"]
    refs = [c["env"][0]["valueFrom"]["secretKeyRef"]["name"], pod["volumes"][0]["persistentVolumeClaim"]["claimName"]]
    assert refs == ["churn-model-v2-api-token", "churn-model-v2-store"]
    assert c["image"] == "workbench/churn-model-v2:1.0.0-baseline"
    assert _doc(files, "deployment.yaml")["metadata"]["annotations"]["workbench/model"] == "Churn_Model.v2"  # the original, unchanged


def test_plus_baseline_semver_gives_a_valid_image_tag_and_label() -> None:
    assert deploy.image_tag("1.0.0+baseline") == "1.0.0-baseline"
    assert DOCKER_TAG.match(deploy.image_tag("2.10.3+baseline"))
    assert deploy.label_value("1.0.0+baseline") == "1.0.0-baseline"
    files = _render(semver="1.0.0+baseline")
    assert _container(_doc(files, "deployment.yaml"))["image"].endswith(":1.0.0-baseline")
    assert _doc(files, "deployment.yaml")["metadata"]["labels"]["semver"] == "1.0.0-baseline"


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z"))  # every project name the config accepts
def test_every_valid_project_name_makes_valid_names(project: str) -> None:
    name = deploy.k8s_name(project)
    assert DNS1035.match(name) and len(name) <= deploy.NAME_MAX
    assert len(f"{name}-api-token") <= 63 and len(f"{name}-00001-private") <= 63  # the Secret, Knative's revision Service
    assert LABEL.match(deploy.label_value(project))
    assert deploy.image_repo(project).startswith("workbench/")


def test_long_names_are_cut_with_a_hash_so_they_stay_apart() -> None:
    a, b = deploy.k8s_name("a" * 60 + "_one"), deploy.k8s_name("a" * 60 + "_two")
    assert a != b and len(a) <= deploy.NAME_MAX and len(b) <= deploy.NAME_MAX
    assert deploy.k8s_name("2024_churn") == "wb-2024-churn"  # a Service name must start with a letter


@pytest.mark.parametrize(("kw", "fragment"), [({"port": 0}, "--port"), ({"port": 70000}, "--port"), ({"replicas": 0}, "--replicas"),
                                              ({"image": "registry.example.com/team/churn:1.0"}, "tag"), ({"image": "Team/Churn"}, "not a valid"),
                                              ({"store": "relative/.workbench"}, "absolute")])
def test_bad_options_are_parameter_errors(kw: dict, fragment: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(fragment)):
        _render(**kw)


def test_image_repository_may_name_a_registry_with_a_port() -> None:
    files = _render(image="localhost:5000/team/churn")
    assert _container(_doc(files, "deployment.yaml"))["image"] == "localhost:5000/team/churn:1.2.0"


def _fake_version(monkeypatch: pytest.MonkeyPatch, kind: str = "candidate", semver: str = "1.2.0") -> None:
    mv = SimpleNamespace(version="4", tags={"workbench.kind": kind, "workbench.semver": semver, "workbench.estimator": "ridge"})
    monkeypatch.setattr(deploy.registry, "resolve", lambda config, ref: mv)
    monkeypatch.setattr(deploy.registry, "alias_version", lambda config, alias: None)


def _project(tmp_path: Path) -> Path:
    path = write_config(tmp_path)
    (tmp_path / ".workbench").mkdir()
    (tmp_path / ".workbench" / "mlflow.db").touch()  # deployable() looks for the store before it asks MLflow
    return path


def test_write_puts_every_file_atomically_in_the_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(_project(tmp_path))
    _fake_version(monkeypatch)
    folder = tmp_path / "deploy" / "churn-demo-1.2.0"
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("old")
    paths = deploy.write(config, "4", image="registry.example.com/churn")
    assert sorted(p.name for p in paths) == sorted([*deploy.FILES, deploy.CONFIG_FILE]) and all(p.parent == folder for p in paths)
    assert "FROM python:3.11-slim" in (folder / "Dockerfile").read_text()  # overwritten
    assert not list(folder.glob("*.partial")) and not list(folder.glob(".*.partial"))
    inside = yaml.safe_load((folder / "workbench.yaml").read_text())
    assert inside["store"] == str(config.store) and inside["project"] == "churn-demo"
    assert load_config(folder / "workbench.yaml").store == config.store  # the image's config finds the store where MLflow recorded it
    assert _container(_doc({"d": (folder / "deployment.yaml").read_text()}, "d"))["image"] == "registry.example.com/churn:1.2.0"


def test_a_refused_version_or_render_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(_project(tmp_path))
    _fake_version(monkeypatch, kind="baseline", semver="1.2.0+baseline")
    with pytest.raises(ParameterError, match="baseline version; only candidate"):
        deploy.write(config, "5", out=tmp_path / "out")
    _fake_version(monkeypatch)
    monkeypatch.setattr(deploy, "container_config", lambda config: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        deploy.write(config, "4", out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_no_store_yet_exits_2_and_creates_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    assert cli.main(["deploy-files", "1", "--config", str(config)]) == 2
    assert "workbench run" in capsys.readouterr().err
    assert not (tmp_path / ".workbench").exists()


@pytest.mark.parametrize("option", [["--port", "0"], ["--replicas", "0"], ["--port", "http"]])
def test_bad_option_values_exit_2(tmp_path: Path, option: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["deploy-files", "1", "--config", str(write_config(tmp_path)), *option])
    assert exc.value.code == 2


@pytest.mark.slow
def test_deploy_files_on_a_trained_project(monitored_demo: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    project, _ = monitored_demo  # read-only: the files go to tmp_path
    config = load_config(project / "workbench.yaml")
    semver = registry.resolve(config, "1").tags["workbench.semver"]
    baseline = registry.baseline_for(config, "1")
    assert baseline is not None

    out = tmp_path / "v1"
    done = workbench("deploy-files", "1", "--out", str(out), cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    written = [Path(line) for line in done.stdout.splitlines() if line.startswith("/")]
    assert sorted(p.name for p in written) == sorted([*deploy.FILES, deploy.CONFIG_FILE]) and all(p.is_file() for p in written)
    dockerfile = (out / "Dockerfile").read_text()
    assert f'workbench.semver="{semver}"' in dockerfile and 'workbench.version="1"' in dockerfile
    dep = yaml.safe_load((out / "deployment.yaml").read_text())
    assert dep["metadata"]["labels"]["semver"] == deploy.label_value(semver)
    assert _container(dep)["image"] == f"workbench/churn-demo:{deploy.image_tag(semver)}"
    assert yaml.safe_load((out / "workbench.yaml").read_text())["store"] == str(config.store)

    by_alias = workbench("deploy-files", "champion", "--out", str(tmp_path / "champion"), "--image", "registry.example.com/churn", cwd=project)
    assert by_alias.returncode == 0, by_alias.stdout + by_alias.stderr

    missing = workbench("deploy-files", "99", "--out", str(tmp_path / "none"), cwd=project)
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "99" in missing.stderr and f"1 ({semver})" in missing.stderr  # names the registered versions
    refused = workbench("deploy-files", baseline, "--out", str(tmp_path / "baseline"), cwd=project)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "baseline" in refused.stderr and "candidate" in refused.stderr
    assert not (tmp_path / "none").exists() and not (tmp_path / "baseline").exists()
