"""Container and Kubernetes files for one registered model version (``workbench deploy-files``).

:func:`render` is pure (names, labels and file texts from plain values, no store);
:func:`write` resolves a version in the registry, refuses a baseline, and writes the files
atomically into ``<config folder>/deploy/<project>-<semver>/`` (or ``out``):

- ``Dockerfile`` (+ ``Dockerfile.dockerignore``) — ``python:3.11-slim``, the workbench installed from
  its source tree, a non-root user, ``workbench api`` on the port, a ``HEALTHCHECK`` on ``/health``;
- ``workbench.yaml`` — the project's config for the container (``/app/workbench.yaml``), with
  ``store`` made absolute: MLflow records artifact locations as absolute paths, so the store must
  be mounted where it was created;
- ``deployment.yaml``, ``service.yaml``, ``hpa.yaml`` — a Deployment (probes, resources, the API token
  from a Secret, the store on a PersistentVolumeClaim, Prometheus scrape annotations), a ClusterIP
  Service and an autoscaling/v2 HorizontalPodAutoscaler (cpu and requests per second);
- ``knative-service.yaml`` — the same container as a Knative Service that scales to zero.

Kubernetes names derive from the project name (:func:`k8s_name`): lower case, every run of other
characters as one ``-``, starting with a letter, at most :data:`NAME_MAX` characters so the
suffixed names (``-api-token``, ``-store``, Knative's revision names) stay within 63. Label values
go through :func:`label_value` (``+`` of a semver becomes ``-``); the original project name and
semver are kept in annotations and image labels.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench._io import write_text
from workbench.exceptions import ParameterError, RegistryError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

TEMPLATES = Path(__file__).resolve().parent / "templates"
# output file -> template
FILES = {
    "Dockerfile": "Dockerfile.j2",
    "Dockerfile.dockerignore": "Dockerfile.dockerignore.j2",
    "deployment.yaml": "deployment.yaml.j2",
    "service.yaml": "service.yaml.j2",
    "hpa.yaml": "hpa.yaml.j2",
    "knative-service.yaml": "knative-service.yaml.j2",
}
CONFIG_FILE = "workbench.yaml"
APP_CONFIG = "/app/workbench.yaml"
NAME_MAX = 40  # leaves room for "-api-token" and Knative's "<name>-00001-private" within the 63 of DNS-1123
LABEL_MAX = 63
TAG_MAX = 128
DEFAULT_PORT = 8000
DEFAULT_REPLICAS = 2
MAX_REPLICAS = 10
UID = 10001  # the image's non-root user and group
RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
AUTOSCALING = {
    "cpu_utilization": 70,  # HPA: average cpu, percent of the request
    "requests_per_second": "50",  # HPA: average workbench_requests_per_second per pod
    "scale_down_window_s": 300,  # HPA: highest recommendation of the last 5 minutes, so a lull does not drop pods
    "knative_target": "20",  # Knative: concurrent requests per pod
    "knative_max_scale": "10",
}
_IMAGE = re.compile(r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def k8s_name(project: str) -> str:
    """A DNS-1123 (and DNS-1035) name from a project name: ``Churn_Model.v2`` -> ``churn-model-v2``.

    Lower case; every run of characters other than ``a-z0-9`` becomes one ``-``; ``wb-`` in front
    when it would not start with a letter (Service names must); longer than :data:`NAME_MAX`: cut,
    with 6 hex digits of the project name's sha256 so two long names stay apart.
    """
    name = re.sub(r"[^a-z0-9]+", "-", project.lower()).strip("-")
    if not name:
        raise ParameterError(f"project name {project!r} has no letter or digit to build a Kubernetes name from. "
                             "Fix: set `project` in the config to a name with letters or digits.")
    if not name[0].isalpha():
        name = "wb-" + name
    if len(name) > NAME_MAX:
        digest = hashlib.sha256(project.encode()).hexdigest()[:6]
        name = name[:NAME_MAX - 7].rstrip("-") + "-" + digest
    return name


def label_value(text: str) -> str:
    """A valid Kubernetes label value: ``[A-Za-z0-9_.-]``, at most 63 characters, alphanumeric at both ends (``+`` -> ``-``)."""
    value = re.sub(r"[^A-Za-z0-9_.-]", "-", str(text))[:LABEL_MAX]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def image_tag(semver: str) -> str:
    """The image tag for a semver: ``+`` (build metadata) is not allowed in a tag, so ``1.0.0+baseline`` -> ``1.0.0-baseline``."""
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", str(semver).replace("+", "-"))[:TAG_MAX]
    if not tag or not re.match(r"[A-Za-z0-9_]", tag):
        raise ParameterError(f"semantic version {semver!r} cannot make an image tag. Fix: pass a version registered with a semver.")
    return tag


def image_repo(project: str, image: str | None = None) -> str:
    """The image repository: ``image`` (checked: no tag or digest, lower-case path), else ``workbench/<k8s name>``."""
    if image is None:
        return f"workbench/{k8s_name(project)}"
    image = image.strip()
    if "@" in image or ":" in image.rsplit("/", 1)[-1]:
        raise ParameterError(f"--image {image!r} holds a tag or digest. Fix: pass the repository only (e.g. registry.example.com/team/churn); "
                             "the tag is the version's semver.")
    if not _IMAGE.match(image) or len(image) > 255:
        raise ParameterError(f"--image {image!r} is not a valid image repository. Fix: use lower-case letters, digits, '.', '_', '-' "
                             "and '/' (e.g. registry.example.com/team/churn).")
    return image


def _check(port: int, replicas: int) -> None:
    if not 1 <= int(port) <= 65535:
        raise ParameterError(f"--port {port} is not a TCP port. Fix: pass a port between 1 and 65535 (default {DEFAULT_PORT}).")
    if int(replicas) < 1:
        raise ParameterError(f"--replicas {replicas} must be 1 or more. Fix: pass the minimum number of pods (default {DEFAULT_REPLICAS}).")


def render(project: str, version: str, semver: str, *, image: str | None = None, port: int = DEFAULT_PORT, replicas: int = DEFAULT_REPLICAS,
           store: str = "/app/.workbench", estimator: str = "", config_yaml: str | None = None) -> dict[str, str]:
    """The deployment files of one model version: ``{file name: text}`` (pure: no store, nothing written).

    ``image`` is the repository (default ``workbench/<name>``), tagged with :func:`image_tag`;
    ``replicas`` the autoscaler's minimum (the maximum is :data:`MAX_REPLICAS`, or ``replicas``
    when higher); ``store`` the absolute path the store volume is mounted at; ``config_yaml``,
    when given, is written as ``workbench.yaml`` for the image.
    """
    import jinja2

    _check(port, replicas)
    if not str(store).startswith("/"):
        raise ParameterError(f"store {store!r} must be an absolute path (it is the mount path of the store volume).")
    name = k8s_name(project)
    tag = image_tag(semver)
    repo = image_repo(project, image)
    values: dict[str, Any] = {
        "project": project, "version": str(version), "semver": semver, "estimator": estimator or "",
        "name": name, "secret": f"{name}-api-token", "pvc": f"{name}-store",
        "labels": {"app": name, "model": label_value(project), "version": label_value(str(version)), "semver": label_value(semver)},
        "repo": repo, "tag": tag, "image": f"{repo}:{tag}", "port": int(port), "replicas": int(replicas),
        "max_replicas": max(MAX_REPLICAS, int(replicas)), "store": str(store), "config": APP_CONFIG, "uid": UID,
        "resources": RESOURCES, "autoscaling": AUTOSCALING, "with_config": config_yaml is not None,
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)  # YAML and a Dockerfile: values are quoted by |q
    env.filters["q"] = _quote
    files = {out: env.get_template(template).render(**values) for out, template in FILES.items()}
    if config_yaml is not None:
        files[CONFIG_FILE] = config_yaml
    return files


def _quote(value: Any) -> str:
    """A double-quoted string, valid in YAML and in a Dockerfile's LABEL/ENV (JSON string syntax)."""
    return json.dumps(str(value))


def default_out(config: Config, semver: str) -> Path:
    """``<config folder>/deploy/<project>-<semver>``."""
    return config.source.parent / "deploy" / f"{config.project}-{semver}"


def container_config(config: Config) -> str:
    """The project's config file for the image: as written, with ``store`` set to the absolute store path.

    MLflow records artifact locations as absolute paths when the store is created, so the
    container must see the store at that same path (the volume is mounted there).
    """
    import yaml

    raw = yaml.safe_load(Path(config.source).read_text(encoding="utf-8"))
    raw["store"] = str(config.store)
    header = (f"# {config.project}: the config inside the image ({APP_CONFIG}), generated by `workbench deploy-files`\n"
              f"# from {config.source}. `store` is absolute: mount the store volume at {config.store}.\n")
    return header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def deployable(config: Config, ref: str) -> Any:
    """The candidate model version ``ref`` names (number, semver or alias); ParameterError (exit 2) otherwise."""
    if config.tracking_uri is None and not (config.store / "mlflow.db").is_file():
        raise ParameterError(f"model {config.project!r} has no version {ref!r}: there is no store at {config.store} yet. "
                             "Fix: run `workbench run` first.")
    try:
        mv = registry.resolve(config, ref)
    except RegistryError as exc:
        raise ParameterError(str(exc)) from None
    tags = dict(mv.tags)
    kind, semver = tags.get(registry.TAG + "kind"), tags.get(registry.TAG + "semver")
    if kind != "candidate" or not semver:
        champion = registry.alias_version(config, "champion")
        hint = f"the champion is v{champion.version} ({champion.tags.get(registry.TAG + 'semver')})" if champion is not None else "see `workbench aliases`"
        raise ParameterError(f"{config.project} v{mv.version} ({semver or 'no semver'}) is a {kind or 'foreign'} version; only candidate "
                             f"models are deployed. Fix: pass the version of a trained candidate ({hint}).")
    return mv


def write(config: Config, ref: str, out: str | Path | None = None, image: str | None = None, *, replicas: int = DEFAULT_REPLICAS,
          port: int = DEFAULT_PORT) -> list[Path]:
    """Resolve ``ref``, refuse a baseline, render and write the files (each atomically); return the written paths.

    Everything is rendered before the first file is written, so a refused version or option
    writes nothing; an existing folder is overwritten file by file.
    """
    _check(port, replicas)
    image_repo(config.project, image)
    mv = deployable(config, ref)
    tags = dict(mv.tags)
    semver = tags[registry.TAG + "semver"]
    files = render(config.project, str(mv.version), semver, image=image, port=port, replicas=replicas, store=str(config.store),
                   estimator=tags.get(registry.TAG + "estimator", ""), config_yaml=container_config(config))
    folder = Path(out).expanduser().resolve() if out is not None else default_out(config, semver)
    return [write_text(folder / file, text) for file, text in files.items()]
