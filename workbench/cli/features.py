"""``workbench features apply|materialize|status``: the feature store's definitions and online store (see :mod:`workbench.features`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.cli._common import config_arg, load
from workbench.data import sources
from workbench.features import store


def register(sub: Any) -> dict[str, Any]:
    """Add ``features``; return ``{name: handler}``."""
    parser = sub.add_parser("features", help="the feature store: apply the definitions, materialize the online store, show staleness")
    verbs = parser.add_subparsers(dest="verb", metavar="{apply,materialize,status}", required=True)
    apply = verbs.add_parser("apply", help="check the view sources and versions, then register the definitions (refused, exit 2, when a "
                                           "definition changed without its version bump)")
    config_arg(apply)
    mat = verbs.add_parser("materialize", help="load the online store with each view's latest values up to --until (applies first)")
    config_arg(mat)
    mat.add_argument("--until", metavar="TIME", help="ISO date or time, UTC unless a zone is given (default: now)")
    status = verbs.add_parser("status", help="per view: version, newest event, staleness against its ttl, and what was materialized")
    config_arg(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    return {"features": _cmd_features}


def _cmd_features(args: argparse.Namespace) -> int:
    config = load(args, check=False)
    store.require(config)
    if config.demo:
        sources.ensure_demo_data(config)
    if args.verb == "apply":
        out = store.apply(config)
        for view, state in out["views"].items():
            src = out["sources"][view]
            print(f"{view} {config.features.views[view].version}: {state} ({src['rows']:,} rows, newest event {src['newest']})")
        return 0
    if args.verb == "materialize":
        out = store.materialize(config, until=store.parse_until(args.until))
        print(f"materialized {', '.join(out['views'])} into the {out['online']} online store until {out['until']} in {out['seconds']:.1f} s")
        return 0
    out = store.status(config)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"online store: {out['online']}; materialized until: {out['materialized_until'] or 'never (run: workbench features materialize)'}")
    stale = 0
    for view, info in out["views"].items():
        if "error" in info:
            print(f"{view} {info['version']}: ERROR {info['error']}")
            stale += 1
            continue
        days = info["staleness_s"] / 86400 if info["staleness_s"] is not None else float("nan")
        flag = "STALE" if info["stale"] else "fresh"
        stale += info["stale"]
        print(f"{view} {info['version']}: newest event {info['newest_event']}, {days:.1f} days old, ttl {info['ttl_s'] / 86400:.0f} days: {flag}")
    return 0
