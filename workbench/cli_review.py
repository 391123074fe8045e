"""``workbench review weekly|monthly|quarterly [--as-of DATE] [--config FILE]``: run a review pack.

The pack's notebook (``notebooks/reviews/<cadence>.ipynb``) is executed with papermill into a run
folder of kind ``review`` (manifest, executed notebook, HTML with code hidden), the same way the
runner executes phases, so reviews are found like any other run. Only argparse is imported at
module level; the work happens in the handler.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def register(sub: Any) -> dict[str, Any]:
    """Add the ``review`` sub-command; return its handler."""
    from workbench.cli import config_arg

    parser = sub.add_parser("review", help="run the weekly ops pulse, monthly business review or quarterly governance review")
    parser.add_argument("cadence", choices=("weekly", "monthly", "quarterly"), help="which review pack")
    parser.add_argument("--as-of", default="", metavar="DATE", help="last day of the window, YYYY-MM-DD (default: today, UTC)")
    config_arg(parser)
    return {"review": _cmd_review}


def _cmd_review(args: argparse.Namespace) -> int:
    from workbench import review
    from workbench.cli import load

    as_of = args.as_of or time.strftime("%Y-%m-%d", time.gmtime())
    review.window(args.cadence, as_of)  # a bad date is refused before anything is written
    config = load(args)
    data = run(config, args.cadence, as_of)
    print(_summary(config, data))
    return 0 if data["status"] == "succeeded" else 1


def run(config: Any, cadence: str, as_of: str) -> dict[str, Any]:
    """Execute the review notebook into a new run folder; return the final manifest."""
    from workbench import manifest, review, runner

    since, until = review.window(cadence, as_of)
    run_id = manifest.new_run_id("review")
    run_dir = config.reports / run_id
    (run_dir / "notebooks").mkdir(parents=True)
    values = {"config": str(config.source), "run_id": run_id, "as_of": as_of}
    notebook = f"notebooks/{cadence}.ipynb"
    data = manifest.new(run_id, kind="review", config=config, phases={cadence: notebook},
                        extra={"review": {"cadence": cadence, "as_of": as_of, "since": since.isoformat(), "until": until.isoformat()},
                               "parameters": {cadence: values}})
    entry = data["phases"][cadence]
    entry["status"], entry["started"] = "running", manifest.now()
    manifest.write(run_dir, data)
    t0 = time.perf_counter()
    error = runner.execute_notebook(review.NOTEBOOKS / f"{cadence}.ipynb", run_dir / notebook, values,
                                    kernel=config.runner.kernel, timeout=config.runner.timeout_s)
    runner.export_html(run_dir / notebook, run_dir / "html" / f"{cadence}.html")
    entry.update({"status": "failed" if error else "succeeded", "ended": manifest.now(), "duration_s": round(time.perf_counter() - t0, 3),
                  "error": error, "html": f"html/{cadence}.html"})
    data.update({"status": entry["status"], "ended": entry["ended"], "duration_s": entry["duration_s"]})
    manifest.write(run_dir, data)
    return data


def _summary(config: Any, data: dict[str, Any]) -> str:
    from workbench._io import read_json

    run_dir = config.reports / data["run_id"]
    w = data["review"]
    lines = [f"review {data['run_id']}: {data['status']} in {data['duration_s']:.1f}s ({w['cadence']}, {w['since'][:10]} .. {w['as_of']})",
             f"  report:   {run_dir / 'html' / (w['cadence'] + '.html')}"]
    result = run_dir / "review" / "review.json"
    if result.is_file():
        counts = read_json(result)["counts"]
        lines.append("  counts:   " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    error = data["phases"][w["cadence"]]["error"]
    if error:
        print(f"error: {error}", file=sys.stderr)
    return "\n".join(lines)
