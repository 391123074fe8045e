"""Where a federated model's reference profile lives, and putting it there (no numpy: the command line imports this).

The sites compute the profile at training (:mod:`workbench.federated._profile`, run inside the
Flower server process, which writes it into the run's work folder). The orchestrator only moves
that folder into place, as one rename, and checks it is there before a monitor run starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.exceptions import DataError, ParameterError
from workbench.registry import federated_sites

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

FILE = "federated.json"  # beside profile.json: sensitive levels, sites, quantile levels
DEFAULT_BINS = 1000  # as the drift phase's sketch profiles
DP_BINS = 50  # with federated.dp_epsilon, as monitoring.champion's: every bin gets noise, so fewer, fuller bins


def folder(config: Config, version: str) -> Path:
    """Where the drift phase and monitoring.champion look for version ``version``'s sketch profile."""
    return config.store / "profiles" / config.project / f"v{version}" / "sketch"


def require_files(where: Path) -> None:
    """:class:`DataError` naming the fix when ``where`` lacks the profile files."""
    if not (where / FILE).is_file() or not (where / "profile.json").is_file():
        raise DataError(f"{where}: no federated reference profile there ({FILE} and profile.json). Fix: it is written by "
                        "`workbench federated train` at registration; train the federated model again.")


def install(config: Config, version: str, source: Path) -> Path:
    """Copy the profile folder ``source`` (written by the server process) into place for ``version``, renamed in whole; return it."""
    from filelock import FileLock

    require_files(source)
    target = folder(config, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / ".lock")):  # the lock the drift phase and monitoring.champion take
        tmp = Path(tempfile.mkdtemp(prefix=".sketch-", dir=target.parent))
        try:
            shutil.copytree(source, tmp, dirs_exist_ok=True)
            if target.exists():  # left by a withdrawn registration of the same number
                shutil.rmtree(target)
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def check_mode(config: Config, mv: Any, mode: str) -> Path:
    """The stored profile folder of a version trained across sites; sketch mode only (:class:`ParameterError` naming the fix otherwise)."""
    sites = ", ".join(federated_sites(dict(mv.tags)) or [])
    if mode != "sketch":
        raise ParameterError(f"model {config.project!r} v{mv.version} was trained across sites ({sites}): it has no reference file, only the "
                             f"sketch-mode profile its sites computed at training, so mode {mode!r} is not available. "
                             "Fix: monitor it in sketch mode (`workbench federated monitor --batch NAME --mode sketch`).")
    where = folder(config, str(mv.version))
    require_files(where)
    return where
