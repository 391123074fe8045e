"""The ``workbench`` command line: one module per command group, each with ``register(sub) -> {name: handler}``.

- :mod:`~workbench.cli.run` — ``run``, ``monitor``, ``runs``, ``demo``;
- :mod:`~workbench.cli.review` — ``review``;
- :mod:`~workbench.cli.serve` — ``serve``;
- :mod:`~workbench.cli.api` — ``api``, ``predictions export``;
- :mod:`~workbench.cli.deploy` — ``deploy-files``;
- :mod:`~workbench.cli.features` — ``features apply|materialize|status``;
- :mod:`~workbench.cli.feedback` — ``feedback import|queue|status``;
- :mod:`~workbench.cli.privacy` — ``privacy budget``;
- :mod:`~workbench.cli.federated` — ``federated train|monitor`` (data sites, Flower);
- :mod:`~workbench.cli.governance` — ``audit``, ``approvals``, ``approve``, ``reject``, ``promote``, ``rollback``,
  ``retrain`` (``--gate``, ``--dry-run``), ``aliases``, ``whoami``;
- :mod:`~workbench.cli.gate` — ``gate`` (the model CI gate: 0 pass, 1 fail with one line saying why, 2 bad arguments).

A command parses, calls one part, and maps errors to exit codes: 0 success, 1 a phase failed
(or a file could not be written: disk full, read-only folder; one ``error:`` line), 2 bad config,
data, parameters or arguments (nothing run), 3 the role does not allow it, 130/143 a run stopped
by SIGINT/SIGTERM.
Heavy libraries are imported inside the parts' functions, so ``workbench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable, Sequence
from typing import Any

from workbench.cli import api, deploy, features, federated, feedback, gate, governance, privacy, review, run, serve
from workbench.exceptions import WorkbenchError

GROUPS = (run, review, serve, api, deploy, features, feedback, privacy, governance, gate, federated)


def _parser() -> tuple[argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], int]]]:
    parser = argparse.ArgumentParser(prog="workbench", description="Notebook-centric ML lifecycle workbench.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: dict[str, Any] = {}
    for group in GROUPS:
        commands.update(group.register(sub))
    return parser, commands


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("workbench")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser, commands = _parser()
    args = parser.parse_args(argv)
    try:
        return commands[args.command](args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # disk full, read-only or forbidden folder: one line, not a traceback
        print(f"error: {os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


_FIXES = {
    errno.ENOSPC: "free space on that disk, or point `reports`/`store` in the config at another disk, and run again",
    errno.EDQUOT: "free space within your quota, or point `reports`/`store` in the config elsewhere, and run again",
    errno.EROFS: "point `reports`/`store` in the config at a writable folder, or remount it read-write",
    errno.EACCES: "make that folder writable for this user, or point `reports`/`store` in the config elsewhere",
    errno.EPERM: "make that folder writable for this user, or point `reports`/`store` in the config elsewhere",
}


def os_error(exc: OSError) -> str:
    """One line for an operating-system error: what, where, and how to fix it."""
    what = exc.strerror or str(exc) or type(exc).__name__
    where = f": {exc.filename}" if exc.filename else ""
    fix = _FIXES.get(exc.errno or 0, "check that path and run again")
    return f"{what}{where}. Fix: {fix}."
