"""``workbench review weekly|monthly|quarterly [--as-of DATE] [--config FILE]``: run a review pack.

The pack's notebook (``notebooks/reviews/<cadence>.ipynb``) is executed with papermill into a run
folder of kind ``review`` (manifest, executed notebook, HTML with code hidden), the same way the
runner executes phases (:mod:`workbench.runner.review`), so reviews are found like any other run.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from workbench.cli._common import config_arg, load
from workbench.reports import catalog, review
from workbench.runner import review as review_runs


def register(sub: Any) -> dict[str, Any]:
    """Add the ``review`` sub-command; return its handler."""
    parser = sub.add_parser("review", help="run the weekly ops pulse, monthly business review or quarterly governance review")
    parser.add_argument("cadence", choices=("weekly", "monthly", "quarterly"), help="which review pack")
    parser.add_argument("--as-of", default="", metavar="DATE", help="last day of the window, YYYY-MM-DD (default: today, UTC)")
    config_arg(parser)
    return {"review": _cmd_review}


def _cmd_review(args: argparse.Namespace) -> int:
    as_of = args.as_of or time.strftime("%Y-%m-%d", time.gmtime())
    review.window(args.cadence, as_of)  # a bad date is refused before anything is written
    config = load(args)
    data = review_runs.run(config, args.cadence, as_of)
    print(_summary(config, data))
    return 0 if data["status"] == "succeeded" else 1


def _summary(config: Any, data: dict[str, Any]) -> str:
    run_dir = config.reports / data["run_id"]
    w = data["review"]
    lines = [f"review {data['run_id']}: {data['status']} in {data['duration_s']:.1f}s ({w['cadence']}, {w['since'][:10]} .. {w['as_of']})",
             f"  report:   {run_dir / 'html' / (w['cadence'] + '.html')}"]
    result = catalog.get_run(config, data["run_id"]).read("review", catalog.REVIEW_FILE)
    if result is not None:
        counts = result["counts"]
        lines.append("  counts:   " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    error = data["phases"][w["cadence"]]["error"]
    if error:
        print(f"error: {error}", file=sys.stderr)
    return "\n".join(lines)
