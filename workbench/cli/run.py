"""The lifecycle commands: ``run`` (the train DAG), ``monitor`` (the monitor DAG per batch), ``runs`` and ``demo``."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import runner, scale
from workbench.cli._common import check_config, config_arg, load
from workbench.config import DaskConfig, check_executor
from workbench.data import demo, sources
from workbench.exceptions import DataError, ParameterError
from workbench.governance import roles
from workbench.reports import catalog
from workbench.runner import interrupt, params

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def register(sub: Any) -> dict[str, Any]:
    """Add ``run``, ``monitor``, ``runs`` and ``demo``; return ``{name: handler}``."""
    run = sub.add_parser("run", help="run the lifecycle phases (validate, train, baseline, evaluate, register)")
    config_arg(run)
    run.add_argument("--phases", help="comma-separated subset of phases (their inputs come from earlier runs)")
    run.add_argument("--jobs", type=_jobs, help="phases run in parallel, 1 or more (default: number of cores)")
    run.add_argument("--run-id", help="name of the run folder (default: <UTC time>-train-<hex>)")
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="notebook parameter for every phase that declares it (JSON value, else string)")

    monitor = sub.add_parser("monitor", help="score and check drift on one batch (--batch) or on every configured batch in order")
    config_arg(monitor)
    monitor.add_argument("--batch", help="one batch: a CSV or Parquet file, or a folder of parts; default: every batch in data.batches, in name order")
    monitor.add_argument("--jobs", type=_jobs, help="phases run in parallel, 1 or more (default: number of cores)")
    monitor.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                         help="notebook parameter (e.g. mode=sketch) for every phase that declares it")
    monitor.add_argument("--all-projects", metavar="DIR", help="monitor every project under DIR (folders holding a workbench.yaml, "
                         "two levels deep), one task per project on --executor")
    monitor.add_argument("--executor", type=_executor, help="with --all-projects: where the projects' monitors run: local (default, "
                         "one after the other), dask-local, or a Dask scheduler tcp://host:8786 (workers must see the project folders)")

    runs = sub.add_parser("runs", help="list recorded runs, oldest first; then run folders that cannot be read")
    config_arg(runs)

    demo_cmd = sub.add_parser("demo", help="generate the demo data (if missing) for the config; with --sites, split it over data sites")
    config_arg(demo_cmd)
    demo_cmd.add_argument("--sites", type=_sites, metavar="N",
                      help=f"split the demo over N data sites (2 to {demo.MAX_SITES}) and write {demo.SITES_CONFIG} beside the config "
                           "for `workbench federated train|monitor`")
    demo_cmd.add_argument("--split", choices=demo.SPLITS, default=None, help="with --sites: iid (default; a seeded shuffle dealt in turn) "
                      "or skewed (by the target: site a holds most churners)")
    demo_cmd.add_argument("--force", action="store_true", help=f"with --sites: overwrite an existing {demo.SITES_CONFIG}")
    return {"run": _cmd_run, "monitor": _cmd_monitor, "runs": _cmd_runs, "demo": _cmd_demo}


def _jobs(text: str) -> int:
    """``--jobs``: a whole number of at least 1 (argparse exits 2 with this message otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, got {text!r}. Fix: pass --jobs 1 or more, "
                                         "or leave it out (default: the number of cores)")
    return value


def _sites(text: str) -> int:
    """``--sites``: a whole number from 2 to ``demo.MAX_SITES`` (argparse exits 2 with this message otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 2 <= value <= demo.MAX_SITES:
        raise argparse.ArgumentTypeError(f"must be a whole number from 2 to {demo.MAX_SITES}, got {text!r}. Fix: pass --sites 3, for example")
    return value


def _cmd_run(args: argparse.Namespace) -> int:
    config = load(args)
    values = dict(params.parse_assignment(text) for text in args.param)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()] if args.phases else None
    if phases is None or "register" in phases:  # refuse a viewer before any kernel starts (audited)
        roles.require(config, "train", config.project)
    result = runner.run(config, phases=phases, jobs=args.jobs, run_id=args.run_id, params=values)
    print(runner.summary(result, config))
    return result.exit_code


def _executor(text: str) -> str:
    """``--executor``: what the config's ``executor:`` key takes (argparse exits 2 with the choices otherwise)."""
    try:
        return check_executor(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, got {text!r}") from None


def _cmd_monitor(args: argparse.Namespace) -> int:
    if args.all_projects:
        return _monitor_projects(args)
    if args.executor:
        raise ParameterError("--executor goes with --all-projects. Fix: set the project's executor in its config "
                             "('executor:' key), or add --all-projects DIR.")
    config = load(args, check=False)
    runner.refuse_federated_champion(config)  # first: a federated project may have no central data for the checks to read
    check_config(config)
    values = dict(params.parse_assignment(text) for text in args.param)
    if args.batch and not Path(args.batch).exists():
        raise DataError(f"batch file {args.batch} does not exist. Fix: pass an existing CSV or Parquet file, or a folder of parts (--batch).")
    if "batch" in values:
        raise ParameterError("parameter 'batch' is set by --batch. Fix: pass the file with --batch FILE.")
    batches = [Path(args.batch).resolve()] if args.batch else sources.list_batches(config)
    if not batches:
        raise DataError(f"{config.source}: no batch files found under data.batches ({config.data.batches}). "
                        "Fix: add CSV or Parquet batches there, or pass --batch FILE.")
    code = 0
    with scale.cluster(config.executor, config.dask):  # dask-local: one cluster for every batch and phase of this command
        for path in batches:
            result = runner.run(config, jobs=args.jobs, params={**values, "batch": str(path)}, kind="monitor")
            print(runner.summary(result, config))
            code = max(code, result.exit_code)
            if result.manifest["status"] == "interrupted":  # a signal stops the whole command, not one batch
                break
    return code


def _monitor_projects(args: argparse.Namespace) -> int:
    """``monitor --all-projects DIR``: every project's monitor, fanned out over ``--executor``; exit code the worst of them."""
    if args.batch:
        raise ParameterError("--batch names one project's batch; --all-projects monitors each project's data.batches. Fix: drop one of them.")
    configs = scale.find_projects(args.all_projects)
    forwarded = tuple(a for v in args.param for a in ("-p", v)) + (("--jobs", str(args.jobs)) if args.jobs else ())
    spec = args.executor or "local"
    with scale.open_executor(spec, DaskConfig()) as executor:
        outcomes = scale.monitor_projects(executor, configs, forwarded)
    for out in outcomes:
        print(f"{'ok' if out.exit_code == 0 else f'exit {out.exit_code}':<7} {out.seconds:>7.1f}s  {out.config}")
        if out.exit_code:
            print("  " + "\n  ".join(out.output.strip().splitlines()[-6:]))
    failed = sum(o.exit_code != 0 for o in outcomes)
    print(f"{len(outcomes)} projects monitored on {spec}: {len(outcomes) - failed} succeeded, {failed} failed")
    return max((o.exit_code for o in outcomes), default=0)


def _cmd_runs(args: argparse.Namespace) -> int:
    config = load(args, check=False)
    interrupt.reap(config)  # runs whose runner process died are interrupted, not running
    for info in catalog.list_runs(config):
        phases = " ".join(f"{n}:{e['status']}" for n, e in info.manifest.get("phases", {}).items())
        print(f"{info.run_id}  {info.status:<11} {phases}{_why(info.manifest)}")
    for broken in catalog.broken_runs(config):
        print(f"{broken.run_id}  {'broken':<11} {broken.reason}")
    return 0


def _why(manifest: dict[str, Any]) -> str:
    """Why a run is interrupted, or where a running one runs."""
    runner = manifest.get("runner") or {}
    why = f"by {manifest['signal']}" if manifest.get("signal") else manifest.get("interrupted")
    if manifest.get("status") == "interrupted" and why:
        return f"  ({why})"
    if manifest.get("status") == "running" and runner:
        return f"  (runner pid {runner.get('pid')} on {runner.get('host')})"
    return ""


def _cmd_demo(args: argparse.Namespace) -> int:
    config = load(args, check=False)
    if args.sites is not None:
        return _demo_sites(config, args)
    if args.split or args.force:
        raise ParameterError("--split and --force go with --sites. Fix: add --sites N (e.g. --sites 3), or leave them out.")
    made = sources.ensure_demo_data(config)
    print(f"demo data {'generated' if made else 'already present'} at {config.data.reference.parent}")
    return 0


def _demo_sites(config: Config, args: argparse.Namespace) -> int:
    split = args.split or "iid"
    path, files = demo.write_sites_config(config, args.sites, split, force=args.force)
    shown = shlex.quote(os.path.relpath(path))
    print(f"demo split over {len(files)} sites ({split}), batches {', '.join(demo.batch_months())}:")
    for site, f in files.items():
        print(f"  site {site}: {f.rows} training rows in {os.path.relpath(f.data)}, batches in {os.path.relpath(f.batches)}")
    print(f"wrote {shown}. Next:")
    print(f"  workbench federated train --config {shown}")
    # federated train registers a challenger; monitoring watches the champion, so a person approves it first
    print(f"  workbench approve VERSION --config {shown}   # VERSION: the one train registered; monitoring watches the champion")
    print(f"  workbench federated monitor --config {shown} --batch {demo.batch_months()[-1]}.parquet --mode sketch")
    return 0
