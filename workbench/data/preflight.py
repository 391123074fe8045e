"""Pre-flight checks of the data a config points at, run before anything executes (exit 2).

The config module validates only the file's shape (pydantic and yaml); these checks read the
data: the reference file exists (or is demo data still to generate) and every column the
config names is in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.config import did_you_mean
from workbench.data.dataset import read_columns
from workbench.exceptions import ConfigError, DataError
from workbench.features import definitions, sources

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def check(config: Config) -> None:
    """Check the reference file exists (or is demo data to generate) and the declared columns are in it (or in a feature view).

    With a ``features:`` section, also refuse a view definition changed without its version bump
    (:func:`workbench.features.definitions.check`) and a view source that is missing or malformed.
    """
    if config.features is not None:
        _check_features(config)
    reference = config.data.reference
    if not reference.exists():
        if config.demo:
            return  # generated on first run; its columns are known to match
        raise ConfigError(
            f"{config.source}: key 'data.reference': file {reference} does not exist. "
            "Fix: point data.reference at a CSV or Parquet file."
        )
    try:
        columns = read_columns(reference)
    except DataError as exc:
        raise ConfigError(f"{config.source}: {exc}") from None
    if config.features is not None:  # view fields come from the feature store
        columns += [f for v in config.features.views.values() for f in v.fields if f not in columns]
    missing = _missing_columns(config, columns)
    if missing:
        raise ConfigError(f"{config.source}: {missing[0]}" if len(missing) == 1 else
                          f"{config.source}: {len(missing)} problems: " + " ".join(f"({n}) {m}" for n, m in enumerate(missing, start=1)))


def _missing_columns(config: Config, columns: list[str]) -> list[str]:
    d = config.data
    declared: list[tuple[str, str]] = [("data.target", d.target)]
    declared += [(key, col) for key, col in (("data.id", d.id), ("data.timestamp", d.timestamp)) if col]
    for key in ("numeric", "categorical", "sensitive", "features"):
        declared += [(f"data.{key}", col) for col in (getattr(d, key) or [])]
    return [f"key '{key}': column {col!r} not found in {d.reference.name}.{did_you_mean(col, columns)} Columns are: {', '.join(columns)}."
            for key, col in declared if col not in columns]


def _check_features(config: Config) -> None:
    definitions.check(config)
    assert config.features is not None
    if config.demo and not all(v.source.exists() for v in config.features.views.values()):
        return  # generated on first run
    try:
        sources.check_all(config)
    except DataError as exc:
        raise ConfigError(f"{config.source}: {exc}") from None
