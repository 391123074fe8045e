"""``workbench feedback import|queue|status``: the feedback store and its review queue (see :mod:`workbench.governance.feedback`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import atomic_path
from workbench.cli._common import config_arg, load
from workbench.governance import feedback, review_queue

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config


def register(sub: Any) -> dict[str, Any]:
    """Add ``feedback``; return ``{name: handler}``."""
    parser = sub.add_parser("feedback", help="feedback on predictions: import labels and ratings, draw the review queue, show counts")
    verbs = parser.add_subparsers(dest="verb", metavar="{import,queue,status}", required=True)
    imp = verbs.add_parser("import", help="store the labels and ratings of a CSV, Parquet or JSON-lines file: every row or none "
                                          "(exit 2 naming each bad row)")
    config_arg(imp)
    imp.add_argument("file", help="columns prediction_id, label and/or rating (1-5); optional given_by, given_at, mode")
    queue = verbs.add_parser("queue", help="draw the predictions most worth a label (uncertain ones) plus a random control share, "
                                           "and write the CSV a reviewer fills in")
    config_arg(queue)
    queue.add_argument("--budget", type=int, required=True, help="predictions to draw")
    queue.add_argument("--batch", help="draw from this batch only (see `workbench feedback status`)")
    queue.add_argument("--control-share", type=float, help="share drawn at random, 0.1-1 (default: feedback.control_share)")
    queue.add_argument("--seed", type=int, help="seed of the random draw (default: random; recorded in the audit trail)")
    queue.add_argument("--out", help="CSV to write for the reviewer: the drawn predictions and an empty label column")
    status = verbs.add_parser("status", help="per batch: predictions indexed, labelled, rated, queued and still open")
    config_arg(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    return {"feedback": _cmd_feedback}


def _cmd_feedback(args: argparse.Namespace) -> int:
    config = load(args, check=False)
    if args.verb == "import":
        out = feedback.import_file(config, Path(args.file))
        print(f"stored {out['stored']} feedback row(s) from {out['file']}: {out['labels']} label(s), {out['ratings']} rating(s) "
              f"(sha256 {out['sha256'][:12]})")
        return 0
    if args.verb == "queue":
        return _queue(config, args)
    table = feedback.status(config)
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2))
    elif table.empty:
        print("no predictions indexed yet: score a batch (`workbench run` / `workbench monitor`) or serve some (`workbench api`)")
    else:
        print(table.to_string(index=False))
    return 0


def _queue(config: Config, args: argparse.Namespace) -> int:
    import pandas as pd

    drawn = review_queue.propose(config, budget=args.budget, batch=args.batch, control_share=args.control_share, seed=args.seed)
    if drawn.empty:
        print(f"nothing to review: every indexed prediction{f' of batch {args.batch}' if args.batch else ''} is already queued")
        return 0
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 200):
        print(drawn.to_string(index=False))
    counts = drawn["reason"].value_counts()
    todo = drawn[~drawn["labelled"]]
    print(f"round {drawn.attrs['round_id']}: {counts.get('uncertain', 0)} uncertain + {counts.get('random', 0)} random of a pool of "
          f"{drawn.attrs['pool']}; {len(todo)} to label" + (f", {len(drawn) - len(todo)} already labelled" if len(todo) < len(drawn) else ""))
    if args.out:
        out = Path(args.out).expanduser().resolve()
        with atomic_path(out) as tmp:
            todo.drop(columns="labelled").assign(label="").to_csv(tmp, index=False)
        print(f"wrote {out}: fill in the label column, then run: workbench feedback import {out}")
    return 0
