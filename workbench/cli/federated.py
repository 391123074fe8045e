"""``workbench federated train|monitor``: training and monitoring across the configured data sites (see :mod:`workbench.federated`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench import federated
from workbench.cli._common import config_arg, load
from workbench.federated import watch


def register(sub: Any) -> dict[str, Any]:
    """Add ``federated``; return ``{name: handler}``."""
    parser = sub.add_parser("federated", help="train or monitor across the data sites in sites: (Flower; rows never leave a site)")
    verbs = parser.add_subparsers(dest="verb", metavar="{train,monitor}", required=True)
    train = verbs.add_parser("train", help="one Flower server and one process per site; the aggregated model is registered as a new version")
    config_arg(train)
    train.add_argument("--rounds", type=_rounds, help="rounds of federated averaging (default: federated.rounds; bagging runs one)")
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
    return {"federated": _cmd_federated}


def _rounds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000, got {text!r}")
    return value


def _cmd_federated(args: argparse.Namespace) -> int:
    config = load(args, check=False)  # the reference file of data: is not needed: the sites hold the data
    if args.verb == "train":
        result = federated.train(config, rounds=args.rounds, compare_pooled=args.compare_pooled,
                                 on_event=None if args.json else _progress)
        print(json.dumps(result, indent=2) if args.json else _summary(result))
        return 0
    out = watch.monitor(config, batch=args.batch, mode=args.mode)
    print(json.dumps(out, indent=2) if args.json else watch.summary(out))
    return 0


def _progress(event: dict[str, Any], _fleet: Any) -> None:
    kind = event["event"]
    if kind == "ready":
        print(f"sites admitted: {', '.join(event['sites'])}", flush=True)
    elif kind == "evaluated":
        shown = ", ".join(f"{k} {v:.4f}" for k, v in event["metrics"].items())
        print(f"round {event['round']}: {shown}", flush=True)
    elif kind in ("dropped", "refused"):
        print(f"site {event.get('site')!r} {kind}: {event.get('reason')}", flush=True)


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
