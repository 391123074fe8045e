"""The process environment the workbench relies on, set in every process it starts (kernels inherit it)."""

from __future__ import annotations

import os

SAFE_ENV = {
    "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",  # models are skops files; never unpickle
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def apply_safe_env() -> None:
    """Force the environment settings the workbench relies on (no pickle loading)."""
    os.environ.update(SAFE_ENV)
