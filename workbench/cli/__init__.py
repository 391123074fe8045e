"""The ``workbench`` command line: one module per command group, each with ``register(sub) -> {name: handler}``.

- :mod:`~workbench.cli.run` — ``run``, ``monitor``, ``runs``, ``demo``;
- :mod:`~workbench.cli.review` — ``review``;
- :mod:`~workbench.cli.serve` — ``serve``;
- :mod:`~workbench.cli.governance` — ``audit``, ``approvals``, ``approve``, ``reject``, ``promote``, ``rollback``,
  ``retrain``, ``aliases``, ``whoami``.

A command parses, calls one part, and maps errors to exit codes: 0 success, 1 a phase failed,
2 bad config, data, parameters or arguments (nothing run), 3 the role does not allow it.
Heavy libraries are imported inside the parts' functions, so ``workbench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from workbench.cli import governance, review, run, serve
from workbench.exceptions import WorkbenchError

GROUPS = (run, review, serve, governance)


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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
