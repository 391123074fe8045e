"""Model files: skops through MLflow, with the trusted types listed in code (the estimator table).

Loading never reads the trusted-type list from the model's own files (a crafted model
could whitelist anything) and never unpickles: a model is loaded only after its
artifact's sha256 matches the one recorded when it was logged or registered.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench._io import sha256_file
from workbench.exceptions import ModelIntegrityError
from workbench.registry.estimators import TRUSTED_TYPES
from workbench.registry.lineage import pip_requirements

MODEL_FILE = "model.skops"
SERVING_CHECK = "Failed to validate serving input example"  # MLflow's warning when its own check cannot load the model


class _NoServingCheckWarning(logging.Filter):
    """Drop MLflow's serving-input warning: its check loads the model, which ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false``
    forbids by design, so it always fails; the workbench checks the model by its own hash-checked skops load instead.
    (Its switch, ``validate_serving_input=False``, also reaches the flavor's ``save_model``, which refuses it.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(SERVING_CHECK)


@contextmanager
def _quiet_serving_check() -> Iterator[None]:
    logger, quiet = logging.getLogger("mlflow.models.model"), _NoServingCheckWarning()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)

@dataclass(frozen=True)
class LoggedModel:
    """A model stored in MLflow: where it is and the sha256 of its skops file."""

    uri: str
    sha256: str
    estimator: str

    def to_dict(self) -> dict[str, str]:
        """JSON-safe form for phase catalog."""
        return {"uri": self.uri, "sha256": self.sha256, "estimator": self.estimator}


def untrusted_types(model: Any) -> list[str]:
    """Types in ``model`` that :data:`TRUSTED_TYPES` does not list (should be empty)."""
    import skops.io

    found = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    return sorted(set(found) - set(TRUSTED_TYPES))


def log_model(model: Any, *, name: str, input_example: Any) -> LoggedModel:
    """Log ``model`` to the active MLflow run with skops and return its hash-stamped reference."""
    import mlflow.sklearn

    extra = untrusted_types(model)
    if extra:
        raise ModelIntegrityError(
            f"model {name!r} contains types not in the estimator table (workbench/registry/estimators.py): {', '.join(extra)}. "
            "Fix: add them to that estimator's row after reviewing that they are safe to load."
        )
    with _quiet_serving_check():
        info = mlflow.sklearn.log_model(
            model,
            name=name,
            serialization_format="skops",
            skops_trusted_types=list(TRUSTED_TYPES),
            pip_requirements=pip_requirements(),
            input_example=input_example,
        )
    with _downloaded(info.model_uri) as folder:
        digest = sha256_file(folder / MODEL_FILE)
    return LoggedModel(uri=info.model_uri, sha256=digest, estimator=type(model[-1]).__name__)


def load_model(uri: str, expected_sha256: str, *, label: str | None = None, tracking_uri: str | None = None) -> Any:
    """Load a skops model from MLflow after checking its sha256.

    Raises
    ------
    ModelIntegrityError
        When the artifact's hash differs from ``expected_sha256`` (the file was changed
        after it was recorded) or the file is missing.
    """
    return load_bytes(model_file(uri, expected_sha256, label=label, tracking_uri=tracking_uri), expected_sha256, label=label or uri)


def model_file(uri: str, expected_sha256: str, *, label: str | None = None, tracking_uri: str | None = None) -> bytes:
    """The bytes of a model's skops file in MLflow, after checking their sha256 (ModelIntegrityError otherwise)."""
    with _downloaded(uri, tracking_uri) as folder:
        path = folder / MODEL_FILE
        label = label or uri
        if not path.exists():
            raise ModelIntegrityError(f"model {label}: artifact {MODEL_FILE} is missing from {uri}.")
        data = path.read_bytes()
    _check(data, expected_sha256, label, MODEL_FILE)
    return data


def load_bytes(data: bytes, expected_sha256: str, *, label: str) -> Any:
    """A model from its skops file's bytes (sent by a federated server, say), refused unless their sha256 is the recorded one.

    Only the types in :data:`TRUSTED_TYPES` load; the file's own trusted-type list is never read.
    """
    import skops.io

    _check(data, expected_sha256, label, "the model's bytes")
    return skops.io.loads(data, trusted=list(TRUSTED_TYPES))


def _check(data: bytes, expected_sha256: str, label: str, what: str) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelIntegrityError(
            f"model {label}: {what} has sha256 {actual[:12]}…, but {expected_sha256[:12]}… "
            "was recorded at registration; the file was changed after it was registered. Refusing to load. "
            "Fix: restore the artifact or register a new version."
        )


@contextmanager
def _downloaded(uri: str, tracking_uri: str | None = None) -> Iterator[Path]:
    """A model's artifacts copied to a fresh temp folder, removed afterwards (a long-running service loads many)."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory(prefix="workbench-model-") as dst:
        yield Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=dst, tracking_uri=tracking_uri))
