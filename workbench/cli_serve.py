"""``workbench serve``: the stakeholder report apps, served with Voila (see :mod:`workbench.serve`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> dict:
    """Add ``serve`` to the CLI; returns ``{name: handler}``."""
    from workbench import cli

    parser = sub.add_parser("serve", help="serve the report apps (drift, fairness, explanations, impact, model card) with Voila")
    cli.config_arg(parser)
    parser.add_argument("--port", type=int, default=8866, help="TCP port (default: 8866)")
    parser.add_argument("--ip", default="127.0.0.1", help="address to bind (default: 127.0.0.1; any other address needs --token)")
    parser.add_argument("--token", nargs="?", const="", default=None, metavar="TOKEN",
                        help="require this token (without a value: a random one, printed in the URL); "
                             "also read from $WORKBENCH_SERVE_TOKEN")
    parser.add_argument("--pool-size", type=int, default=1, help="pre-heated kernels per app (0: start a kernel per visit)")
    return {"serve": _cmd_serve}


def _cmd_serve(args: argparse.Namespace) -> int:
    import os

    from workbench import cli, serve

    config = cli.load(args)
    token = args.token
    if token is None:
        # An environment variable keeps the token out of the process list.
        token = os.environ.get("WORKBENCH_SERVE_TOKEN", "")
    elif token == "":
        token = serve.new_token()
    options = serve.ServeOptions(port=args.port, ip=args.ip, token=token, pool_size=args.pool_size)
    return serve.serve(config, options)
