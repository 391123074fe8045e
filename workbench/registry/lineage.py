"""Lineage facts recorded with every run and model version: code, packages, environment."""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib import metadata
from pathlib import Path

# The stack whose versions are recorded in manifests and on model versions.
STACK = (
    "workbench", "scikit-learn", "pandas", "numpy", "scipy", "mlflow", "skops", "papermill",
    "nbclient", "evidently", "shap", "fairlearn", "pyarrow", "pydantic",
)


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Installed versions of the stack (``"missing"`` when not installed)."""
    versions = {"python": platform.python_version()}
    for name in STACK:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def git_commit(folder: str | Path) -> str:
    """The commit checked out in ``folder`` (``-dirty`` when it has changes), or ``"unknown"``."""
    try:
        head = _git(folder, "rev-parse", "HEAD")
        dirty = _git(folder, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def _git(folder: str | Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, check=True, timeout=10
    )
    return out.stdout.strip()


def pip_requirements() -> list[str]:
    """Pinned requirements logged with a model, so MLflow does not infer them (~5 s)."""
    versions = package_versions()
    return [f"{name}=={versions[name]}" for name in ("scikit-learn", "skops", "pandas", "numpy", "scipy")]
