"""What every command shares: the ``--config`` option, loading it, and the pre-flight checks.

A command loads its config through :func:`load`: the file's shape (:mod:`workbench.config`),
then the checks that read the data files, know the estimators and parse the KPI formulas, so a
bad config, file, column, estimator, parameter or formula exits 2 before anything runs or is
written.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from workbench._io import apply_safe_env
from workbench.analyses import kpis
from workbench.config import load_config
from workbench.data import preflight
from workbench.registry import estimators

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def config_arg(parser: argparse.ArgumentParser) -> None:
    """Add the shared ``--config`` option."""
    parser.add_argument("--config", default="workbench.yaml", help="project config (default: ./workbench.yaml)")


def load(args: argparse.Namespace, *, check: bool = True) -> Config:
    """The validated config named by ``--config``, with the safe MLflow environment applied.

    With ``check`` (the default) the pre-flight checks run too (:func:`check_config`).
    """
    apply_safe_env()
    config = load_config(args.config)
    if check:
        check_config(config)
    return config


def check_config(config: Config) -> None:
    """Pre-flight: data files and columns, estimator names and parameters, KPI formulas (ConfigError, exit 2)."""
    preflight.check(config)
    estimators.check_config(config)
    kpis.check(config.kpis, config.model.task, source=config.source)


def number_in(kind: type[int] | type[float], low: float, high: float, message: str) -> Callable[[str], int | float]:
    """An argparse ``type``: ``kind`` parsed from the text and within [low, high], else ``message`` with what was given."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"{message}, got {text!r}")
        return value

    return parse
