"""``workbench federated train|monitor|site``: training and monitoring across the configured data sites (see :mod:`workbench.federated`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from workbench import federated
from workbench.cli._common import config_arg, load, number_in
from workbench.federated import site, watch

ROUNDS = number_in(int, 1, 1000, "must be a whole number from 1 to 1000")
WAIT_S = number_in(float, 1e-9, 86400, "must be a number of seconds above 0 and at most 86400")


def register(sub: Any) -> dict[str, Any]:
    """Add ``federated``; return ``{name: handler}``."""
    parser = sub.add_parser("federated", help="train or monitor across the data sites in sites: (Flower; rows never leave a site)")
    verbs = parser.add_subparsers(dest="verb", metavar="{train,monitor,site}", required=True)
    train = verbs.add_parser("train", help="one Flower server and one process per site; the aggregated model is registered as a new version")
    config_arg(train)
    train.add_argument("--rounds", type=ROUNDS, help="rounds of federated averaging (default: federated.rounds; bagging runs one)")
    train.add_argument("--compare-pooled", action="store_true",
                       help="simulation only: also train on the sites' pooled rows and record the gap (reads every site's file)")
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    monitor = verbs.add_parser("monitor", help="drift and fairness statistics of one batch per site, merged without pooling the rows")
    config_arg(monitor)
    monitor.add_argument("--batch", required=True, help="batch file name inside each site's batches folder (sites.<name>.batches)")
    monitor.add_argument("--mode", choices=("exact", "sketch"), default=None,
                         help="exact (sorted values travel) or sketch (bin counts only); default: sketch with federated.dp_epsilon "
                              "or a champion trained across sites (sketch only), else exact")
    monitor.add_argument("--json", action="store_true", help="print the result as JSON")
    joining = verbs.add_parser("site", help="on a site's own machine: join a run as the site --site (sites.<name>.remote: true)")
    config_arg(joining)
    joining.add_argument("--site", required=True, help="this machine's site: a key of sites: (its secret comes from sites.<name>.token_env)")
    joining.add_argument("--monitor", action="store_true", help="answer a monitoring run (workbench federated monitor) instead of a training run")
    joining.add_argument("--server", type=_address, help="host:port of the Flower server as this machine reaches it (default: federated.address)")
    joining.add_argument("--data", help="the site's training file (default: sites.<name>.data)")
    joining.add_argument("--wait", type=WAIT_S, help="seconds to wait for the server to listen (default: federated.round_timeout_s)")
    joining.add_argument("--json", action="store_true", help="print the result as JSON")
    return {"federated": _cmd_federated}


def _address(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"must be host:port (port 1-65535), got {text!r}")
    return text


def _cmd_federated(args: argparse.Namespace) -> int:
    config = load(args, check=False)  # the reference file of data: is not needed: the sites hold the data
    if args.verb == "train":
        result = federated.train(config, rounds=args.rounds, compare_pooled=args.compare_pooled,
                                 on_event=None if args.json else _progress_for(federated.remote_sites(config), monitor=False))
        print(json.dumps(result, indent=2) if args.json else _summary(result))
        return 0
    if args.verb == "site":
        joined = site.join(config, args.site, monitor=args.monitor, server=args.server, data=Path(args.data) if args.data else None,
                           wait_s=args.wait, on_event=None if args.json else _site_progress)
        print(json.dumps(joined, indent=2) if args.json else
              f"run {joined['run_id']}: site {joined['site']} served the {joined['role']} run of {joined['server']} "
              f"({joined['tasks']} tasks, {joined['timing']['wall_s']:.1f} s)")
        return 0
    out = watch.monitor(config, batch=args.batch, mode=args.mode,
                        on_event=None if args.json else _progress_for(federated.remote_sites(config), monitor=True))
    print(json.dumps(out, indent=2) if args.json else watch.summary(out))
    return 0


def _progress_for(remote: list[str], *, monitor: bool) -> Any:
    """The progress printer of a run; with remote sites it first says how they join."""
    def progress(event: dict[str, Any], fleet: Any) -> None:
        if event["event"] == "server_starting" and remote:
            print(f"waiting up to federated.round_timeout_s for remote site(s) {', '.join(remote)}: on each site's machine run "
                  f"`workbench federated site --site NAME{' --monitor' if monitor else ''}`", flush=True)
        if not monitor:
            _progress(event, fleet)

    return progress


def _progress(event: dict[str, Any], _fleet: Any) -> None:
    kind = event["event"]
    if kind == "ready":
        print(f"sites admitted: {', '.join(event['sites'])}", flush=True)
    elif kind == "evaluated":
        shown = ", ".join(f"{k} {v:.4f}" for k, v in event["metrics"].items())
        print(f"round {event['round']}: {shown}", flush=True)
    elif kind in ("dropped", "refused"):
        print(f"site {event.get('site')!r} {kind}: {event.get('reason')}", flush=True)


def _site_progress(event: dict[str, Any], _fleet: Any) -> None:
    kind = event["event"]
    if kind == "site_ready":
        print(f"site {event['site']}: waiting for the server", flush=True)
    elif kind == "task" and event["n"] == 1:
        print(f"site {event['site']}: admitted; first task: {event['task']}", flush=True)


def _summary(result: dict[str, Any]) -> str:
    reg, ev, timing = result["registered"], result["evaluation"], result["timing"]
    lines = [f"run {result['run_id']}: federated {result['strategy']} over {len(result['sites'])} sites, {result['rounds']} round(s)"]
    lines += [f"  site {s}: {v['rows']} training rows, {v['holdout_rows']} holdout rows, data sha256 {v['sha256'][:12]}" for s, v in result["sites"].items()]
    lines.append("  holdout (federated evaluation, " + f"{ev['rows']} rows): " + ", ".join(f"{k} {v:.4f}" for k, v in ev["metrics"].items()))
    for d in result["dropped"]:
        lines.append(f"  dropped: {d['site']} in round {d['round']} ({d['step']}): {d['reason']}")
    for r in result["refused"]:
        lines.append(f"  refused: {r['site']!r}: {r['reason']}")
    if "comparison" in result:
        gap = result["comparison"]["gap"]
        lines.append("  gap to pooled training (federated - pooled): " + ", ".join(f"{k} {v:+.4f}" for k, v in gap.items()))
    lines.append(f"  registered {reg['semver']} as version {reg['version']} (alias {', '.join(reg['aliases'])})")
    lines.append(f"  wall {timing['wall_s']:.1f} s, of which process start-up {timing['startup_s']:.1f} s")
    return "\n".join(lines)
