"""``workbench privacy budget``: what private releases spent of each dataset's budget (see :mod:`workbench.governance.privacy_ledger`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.cli._common import config_arg, load
from workbench.governance import privacy_ledger


def register(sub: Any) -> dict[str, Any]:
    """Add ``privacy``; return ``{name: handler}``."""
    parser = sub.add_parser("privacy", help="differential privacy: the budget each dataset's private releases spent")
    verbs = parser.add_subparsers(dest="verb", metavar="{budget}", required=True)
    budget = verbs.add_parser("budget", help="per dataset (by content hash): private releases, epsilon spent of its budget, what remains")
    config_arg(budget)
    budget.add_argument("--json", action="store_true", help="print JSON")
    return {"privacy": _cmd_privacy}


def _cmd_privacy(args: argparse.Namespace) -> int:
    config = load(args, check=False)
    rows = privacy_ledger.ledger(config.store)
    for row in rows:  # the budget the next release is checked against: the config's, when privacy is on
        if config.privacy is not None:
            budget = config.privacy.budget_for(row["dataset"])
            row["budget_epsilon"], row["budget_delta"] = budget.epsilon, budget.delta
        row["remaining_epsilon"] = max(0.0, row["budget_epsilon"] - row["epsilon_spent"])
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        off = "" if config.privacy is not None else " (privacy is off: no privacy: section in the config)"
        print(f"no private releases recorded in {config.store}: no privacy budget spent{off}")
    else:
        print(_table(rows))
    return 0


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("dataset", "sha256", "releases", "refused", "epsilon spent / budget", "remaining", "last release")
    body = [(r["dataset"], r["sha256"][:12], str(r["releases"]), str(r["refused"]), f"{r['epsilon_spent']:.6g} / {r['budget_epsilon']:.6g}",
             f"{r['remaining_epsilon']:.6g}", r["last"] or "-") for r in rows]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in (head, *body))
