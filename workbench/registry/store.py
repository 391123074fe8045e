"""The MLflow store: the system of record for runs, metrics, artifacts and model versions.

The embedded default is ``sqlite:///<store>/mlflow.db`` with artifacts under
``<store>/artifacts``. :func:`init_store` creates and migrates it once, serially, under a
file lock: MLflow's sqlite migrations corrupt a fresh DB when several processes create it
at the same time, so the runner calls this before any phase runs in parallel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench._io import apply_safe_env

if TYPE_CHECKING:  # pragma: no cover
    from mlflow.tracking import MlflowClient

    from workbench.config import Config

def artifacts_uri(config: Config) -> str:
    """Where the experiment stores artifacts (a local folder for the embedded store)."""
    return (config.store / "artifacts").as_uri()


def init_store(config: Config) -> str:
    """Create (or migrate) the store and the project's experiment, once, under a lock.

    Returns the experiment id.
    """
    from filelock import FileLock

    apply_safe_env()
    config.store.mkdir(parents=True, exist_ok=True)
    with FileLock(str(config.store / ".init.lock")):
        import mlflow

        mlflow.set_tracking_uri(config.mlflow_uri)
        mlflow.set_registry_uri(config.mlflow_uri)
        client = client_for(config)
        experiment = client.get_experiment_by_name(config.project)
        if experiment is not None:
            return experiment.experiment_id
        return client.create_experiment(config.project, artifact_location=artifacts_uri(config))


def client_for(config: Config) -> MlflowClient:
    """An MLflow client on the configured tracking and registry URI."""
    from mlflow.tracking import MlflowClient

    apply_safe_env()
    return MlflowClient(tracking_uri=config.mlflow_uri, registry_uri=config.mlflow_uri)


def use_store(config: Config) -> str:
    """Point the ``mlflow`` fluent API at the project's store; return the experiment id."""
    import mlflow

    experiment_id = init_store(config)
    mlflow.set_tracking_uri(config.mlflow_uri)
    mlflow.set_registry_uri(config.mlflow_uri)
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
