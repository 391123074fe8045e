"""``workbench serve``: the stakeholder report apps, served with Voila (see :mod:`workbench.apps.server`)."""

from __future__ import annotations

import argparse
import os

from workbench.apps import server as serve
from workbench.cli._common import config_arg, load


def register(sub: argparse._SubParsersAction) -> dict:
    """Add ``serve`` to the CLI; returns ``{name: handler}``."""
    parser = sub.add_parser("serve", help="serve the report apps (drift, fairness, explanations, impact, model card) with Voila")
    config_arg(parser)
    parser.add_argument("--port", type=int, default=8866, help="TCP port (default: 8866)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to bind (default: 127.0.0.1; any other address needs --token)")
    parser.add_argument("--token", nargs="?", const="", default=None, metavar="TOKEN",
                        help="require this token (without a value: a random one, printed in the URL); "
                             "also read from $WORKBENCH_SERVE_TOKEN")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests addressed to this host name (repeatable; by default only localhost, "
                             "127.0.0.1, ::1 and the --ip address: other names are refused, against DNS rebinding)")
    parser.add_argument("--pool-size", type=int, default=serve.DEFAULT_POOL,
                        help=f"pre-heated kernels per app (default {serve.DEFAULT_POOL}; 0: start a kernel per visit)")
    return {"serve": _cmd_serve}


def _cmd_serve(args: argparse.Namespace) -> int:
    config = load(args, check=False)
    token = args.token
    if token is None:
        # An environment variable keeps the token out of the process list.
        token = os.environ.get("WORKBENCH_SERVE_TOKEN", "")
    elif token == "":
        token = serve.new_token()
    options = serve.ServeOptions(port=args.port, ip=args.ip, token=token, pool_size=args.pool_size,
                                 allow_hosts=tuple(args.allow_host))
    return serve.serve(config, options)
