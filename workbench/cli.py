"""The ``workbench`` command line: ``run``, ``monitor``, ``runs`` and ``demo``; feature areas add theirs
(``audit``, ``approve``, ``rollback``… in :mod:`workbench.cli_governance`).

Heavy libraries are imported inside the commands, so ``workbench --help`` stays fast.
Exit codes: 0 success, 1 a phase failed, 2 bad config, data or parameters (nothing run).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench.exceptions import WorkbenchError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Notebook-centric ML lifecycle workbench.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the lifecycle phases (validate, train, baseline, evaluate, register)")
    _config_arg(run)
    run.add_argument("--phases", help="comma-separated subset of phases (their inputs come from earlier runs)")
    run.add_argument("--jobs", type=int, help="phases run in parallel (default: number of cores)")
    run.add_argument("--run-id", help="name of the run folder (default: <UTC time>-train-<hex>)")
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="notebook parameter for every phase that declares it (JSON value, else string)")

    monitor = sub.add_parser("monitor", help="score and check drift on one batch (--batch) or on every configured batch in order")
    _config_arg(monitor)
    monitor.add_argument("--batch", help="one batch file (CSV or Parquet); default: every file in data.batches, in name order")
    monitor.add_argument("--jobs", type=int, help="phases run in parallel (default: number of cores)")
    monitor.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                         help="notebook parameter (e.g. mode=sketch) for every phase that declares it")

    runs = sub.add_parser("runs", help="list recorded runs, oldest first")
    _config_arg(runs)

    demo = sub.add_parser("demo", help="generate the demo data (if missing) for the config")
    _config_arg(demo)

    for module in _extensions():
        _COMMANDS.update(module.register(sub))
    return parser


# Feature areas add their own sub-commands: each module has ``register(sub) -> {name: handler}``,
# imports only argparse at module level, and does its heavy work inside the handlers.
EXTENSIONS: tuple[str, ...] = (
    "workbench.cli_review",
    "workbench.cli_serve",
    "workbench.cli_governance",
)


def _extensions() -> list:  # noqa: ANN202
    from importlib import import_module

    return [import_module(name) for name in EXTENSIONS]


def config_arg(parser: argparse.ArgumentParser) -> None:
    """Add the shared ``--config`` option (for extension modules)."""
    _config_arg(parser)


def load(args: argparse.Namespace):  # noqa: ANN201
    """The validated config named by ``--config``, with the safe MLflow environment applied."""
    return _load(args)


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="workbench.yaml", help="project config (default: ./workbench.yaml)")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("workbench")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _load(args: argparse.Namespace):  # noqa: ANN202
    from workbench.config import load_config
    from workbench.store import apply_safe_env

    apply_safe_env()
    return load_config(args.config)


def _cmd_run(args: argparse.Namespace) -> int:
    from workbench import params, runner

    config = _load(args)
    values = dict(params.parse_assignment(text) for text in args.param)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()] if args.phases else None
    if phases is None or "register" in phases:  # refuse a viewer before any kernel starts (audited)
        from workbench import governance

        governance.require(config, "train", config.project)
    result = runner.run(config, phases=phases, jobs=args.jobs, run_id=args.run_id, params=values)
    print(runner.summary(result, config))
    return result.exit_code


def _cmd_monitor(args: argparse.Namespace) -> int:
    from pathlib import Path

    from workbench import params, runner, sources

    config = _load(args)
    values = dict(params.parse_assignment(text) for text in args.param)
    batches = [Path(args.batch).resolve()] if args.batch else sources.list_batches(config)
    if args.batch and not batches[0].is_file():
        raise WorkbenchError(f"batch file {args.batch} does not exist. Fix: pass an existing CSV or Parquet file.")
    if not batches:
        raise WorkbenchError(f"no batch files found under data.batches ({config.data.batches}).")
    code = 0
    for path in batches:
        result = runner.run(config, jobs=args.jobs, params={**values, "batch": str(path)}, kind="monitor")
        print(runner.summary(result, config))
        code = max(code, result.exit_code)
    return code


def _cmd_runs(args: argparse.Namespace) -> int:
    from workbench import results

    config = _load(args)
    for info in results.list_runs(config):
        phases = " ".join(f"{n}:{e['status']}" for n, e in info.manifest.get("phases", {}).items())
        print(f"{info.run_id}  {info.status:<9} {phases}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from workbench import sources

    config = _load(args)
    made = sources.ensure_demo_data(config)
    print(f"demo data {'generated' if made else 'already present'} at {config.data.reference.parent}")
    return 0


_COMMANDS = {"run": _cmd_run, "monitor": _cmd_monitor, "runs": _cmd_runs, "demo": _cmd_demo}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
