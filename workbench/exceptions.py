"""One exception hierarchy for the workbench, rooted at :class:`WorkbenchError`.

Every error class the workbench raises on purpose is defined here (parts re-export the ones
they raise), so a caller catches one root and the CLI maps each class to its exit code:
1 for a failed phase or a refused model, 2 for bad config, data, parameters or arguments
(nothing was run), 3 for an action the actor's role does not allow. Every message names what
was wrong (file, key, column or argument) and how to fix it, on one line.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Root of every error the workbench raises on purpose."""

    exit_code = 1


class ConfigError(WorkbenchError):
    """The config file (or a value it points at) is invalid; nothing was run."""

    exit_code = 2


class DataError(WorkbenchError):
    """A dataset is unreadable or fails its schema checks."""

    exit_code = 2


class ParameterError(WorkbenchError, ValueError, TypeError):
    """A bad argument: a notebook parameter, a command-line option or a function argument.

    Also a ``ValueError`` and a ``TypeError`` (as scikit-learn's ``InvalidParameterError``), so
    callers that catch the builtins keep working.
    """

    exit_code = 2


class DemoFormatError(DataError, ValueError):
    """A demo file format other than parquet or csv was asked for."""


class PhaseError(WorkbenchError):
    """A phase cannot start: an input it needs has not been produced."""


class ModelIntegrityError(WorkbenchError):
    """A model artifact does not match the sha256 recorded at registration."""


class ServingError(WorkbenchError):
    """Neither the champion nor the baseline could score: nothing was served."""


class RegistryError(WorkbenchError):
    """A model version, alias or tag the workbench expects is missing."""


class ExplainError(WorkbenchError):
    """A model or input the explainer cannot handle."""


class ModelCardError(WorkbenchError):
    """A model card is missing or does not match its schema."""


class RunRefused(WorkbenchError):
    """A run id from an app's URL or widget that is malformed or names no usable run."""


class PermissionDenied(WorkbenchError):
    """The actor's role does not allow the action; the attempt was audited."""

    exit_code = 3


class AuditError(WorkbenchError):
    """The audit log cannot take a record: a torn tail, a head file that disagrees with the log, or an oversized record.

    Nothing was recorded, so the action that wanted the record does not happen either.
    """


class FeatureSchemaError(ConfigError):
    """A feature view definition changed without the version bump it needs, or a model needs an incompatible major version."""


class FeatureStoreError(WorkbenchError):
    """The feature store (online or offline) could not answer: unreachable, not materialized, or a failed read."""


class ExecutorError(WorkbenchError):
    """The configured executor cannot run the work: Dask not installed, or its scheduler unreachable (``executor:``)."""


class FederatedError(WorkbenchError):
    """A federated run could not finish: too few sites (``federated.min_sites``), a refused or dead site, a failed process.

    Nothing was registered and no result was written; the message names the sites and the key to change.
    """


class FeedbackError(DataError):
    """Feedback with problems — unknown prediction ids, duplicates, labels of the wrong type — each in ``problems``; nothing was stored."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class BudgetExceeded(WorkbenchError):
    """A private release would spend more than the dataset's privacy budget; it was refused and nothing was released."""
