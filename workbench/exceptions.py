"""One exception hierarchy for the workbench, rooted at :class:`WorkbenchError`.

Every message names what was wrong (file, key or column) and how to fix it, so the
CLI can print it on one line and exit with the code the class carries.
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


class ParameterError(WorkbenchError):
    """A notebook parameter has a bad name, type or value."""

    exit_code = 2


class PhaseError(WorkbenchError):
    """A phase cannot start: an input it needs has not been produced."""


class ModelIntegrityError(WorkbenchError):
    """A model artifact does not match the sha256 recorded at registration."""


class RegistryError(WorkbenchError):
    """A model version, alias or tag the workbench expects is missing."""
