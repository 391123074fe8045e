"""The model CI gate: ``workbench gate``, for any CI or scheduler (:mod:`workbench.governance.gate`).

Exit 0 when the candidate passes (one ``gate passed: ...`` line on stdout), 1 when it fails (one
``gate FAILED: ...`` line on stderr naming the metric, both values and the gap against what was
required), 2 for a bad argument or config (an unknown version, no champion yet), 3 when the
role may not view the project. ``--json`` prints the whole result on stdout instead of the pass line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from workbench.cli._common import config_arg, load
from workbench.governance import gate


def register(sub: Any) -> dict[str, Any]:
    """Add ``gate``; return ``{name: handler}``."""
    cmd = sub.add_parser("gate", help="judge a candidate version against the champion (or baseline) with the evaluate phase's rule; "
                                      "exit 0 pass, 1 fail with one line saying why, 2 bad arguments")
    config_arg(cmd)
    cmd.add_argument("--version", type=_version, help="version to gate: MLflow number, semantic version or alias "
                                                       "(default: the challenger, else the newest candidate)")
    cmd.add_argument("--against", choices=gate.AGAINST, default="champion", help="the reference model's alias (default: champion)")
    add_threshold_args(cmd)
    cmd.add_argument("--json", action="store_true", help="print the full result as JSON on stdout")
    return {"gate": _gate}


def add_threshold_args(parser: argparse.ArgumentParser) -> None:
    """``--min-delta`` and ``--max-fairness-gap`` (``workbench retrain --gate`` takes them too)."""
    parser.add_argument("--min-delta", type=_finite, metavar="X",
                        help="required improvement of the primary metric over the reference (default 0, the evaluate phase's; "
                             "negative: a non-inferiority margin)")
    parser.add_argument("--max-fairness-gap", type=_share, metavar="Y",
                        help="largest equalized-odds difference allowed on any sensitive attribute (default: thresholds.equalized_odds)")


def _gate(args: argparse.Namespace) -> int:
    config = load(args)
    result = gate.check(config, version=args.version, against=args.against, min_delta=args.min_delta, max_fairness_gap=args.max_fairness_gap)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    elif result.passed:
        print(result.line)
    if not result.passed:
        print(result.line, file=sys.stderr)
    return 0 if result.passed else 1


def _finite(text: str) -> float:
    """A finite number (argparse exits 2 with this message otherwise)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}. Fix: pass e.g. 0.01")
    return value


def _share(text: str) -> float:
    """A number from 0 to 1 (argparse exits 2 with this message otherwise)."""
    value = _finite(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text!r}. Fix: pass e.g. 0.1")
    return value


def _version(text: str) -> str:
    """One short line (a version number, semver or alias), checked before anything is read."""
    if len(text) > 64 or not text.isprintable():
        raise argparse.ArgumentTypeError(f"must be a version number, semantic version or alias (one line, at most 64 characters), got {text[:64]!r}")
    return text
