"""Logging a model through MLflow: the hash-checked skops round trip, without MLflow's serving-input warning."""

from __future__ import annotations

import logging

import mlflow
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from workbench.registry import models


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_logged_model_loads_by_its_hash_and_mlflow_does_not_warn_about_the_check_it_cannot_run(tmp_path) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=60), "b": rng.integers(0, 5, 60).astype(float)})
    pipe = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(x, (x["a"] > 0).astype(int))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    logger, seen = logging.getLogger("mlflow.models.model"), _Records()
    logger.addHandler(seen)
    try:
        experiment = mlflow.create_experiment("models", artifact_location=(tmp_path / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            logged = models.log_model(pipe, name="candidate", input_example=x.head(3))
        logger.warning("another MLflow warning")  # the filter is gone afterwards, and only ever dropped the one message
        loaded = models.load_model(logged.uri, logged.sha256, tracking_uri=uri)
    finally:
        logger.removeHandler(seen)
        mlflow.set_tracking_uri("")
    assert not any(m.startswith(models.SERVING_CHECK) for m in seen.messages), seen.messages
    assert seen.messages[-1] == "another MLflow warning"
    np.testing.assert_array_equal(loaded.predict_proba(x), pipe.predict_proba(x))


def test_a_model_sent_as_bytes_loads_only_with_its_recorded_hash() -> None:
    import hashlib

    import pytest
    import skops.io

    from workbench import registry
    from workbench.exceptions import ModelIntegrityError, RegistryError

    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    data = skops.io.dumps(Pipeline([("model", LogisticRegression())]).fit(x, [0, 0, 1, 1]))
    tags = {registry.TAG + "model_sha256": hashlib.sha256(data).hexdigest(), registry.TAG + "semver": "1.0.0", registry.TAG + "schema": "{}"}
    loaded = registry.from_file(data, "3", tags)
    assert (loaded.version, loaded.semver) == ("3", "1.0.0") and loaded.model.predict(x).tolist() == [0, 0, 1, 1]
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(ModelIntegrityError, match=r"model v3 \(1.0.0\): the model's bytes has sha256 .* was recorded at registration"):
        registry.from_file(tampered, "3", tags)
    with pytest.raises(RegistryError, match="version 3 came without a recorded sha256; refusing to load it"):
        registry.from_file(data, "3", {})
