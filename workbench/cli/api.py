"""``workbench api`` (the online scoring service) and ``workbench predictions export`` (its log as a batch)."""

from __future__ import annotations

import argparse
import os
import shutil
import socket
from datetime import date
from pathlib import Path
from typing import Any

from workbench import registry
from workbench.apps.server import is_loopback, new_token
from workbench.cli._common import config_arg, load
from workbench.exceptions import ConfigError, ParameterError, RegistryError
from workbench.registry import store
from workbench.serving import CONFIG_ENV, LOOPBACK_ENV, TOKEN_ENV, features, predlog, resilience


def register(sub: Any) -> dict[str, Any]:
    """Add ``api`` and ``predictions``; return ``{name: handler}``."""
    api = sub.add_parser("api", help="serve the champion over HTTP: POST /predict, /health, /ready, /metrics, /docs")
    config_arg(api)
    api.add_argument("--ip", default="127.0.0.1", help="address to bind (default: 127.0.0.1; any other address needs a token)")
    api.add_argument("--port", type=int, help="TCP port (default: serving.port, 8000)")
    api.add_argument("--token", nargs="?", const="", default=None, metavar="TOKEN",
                     help=f"require this bearer token (without a value: a random one, printed); also read from ${TOKEN_ENV}")
    api.add_argument("--workers", type=int, default=1, help="worker processes (they share breaker state and metrics)")
    api.add_argument("--reset-breakers", action="store_true", help="close the circuit breakers before serving (after a repair)")

    pred = sub.add_parser("predictions", help="the service's prediction log")
    verbs = pred.add_subparsers(dest="predictions_verb", required=True, metavar="VERB")
    export = verbs.add_parser("export", help="write logged predictions as a batch file `workbench monitor --batch` reads")
    config_arg(export)
    export.add_argument("--out", help="Parquet file to write (default: <store>/predictions/<project>/exports/<first>_<last>.parquet)")
    export.add_argument("--since", type=_day, help="first UTC day, YYYY-MM-DD (default: the first logged)")
    export.add_argument("--until", type=_day, help="last UTC day, YYYY-MM-DD (default: the last logged)")
    export.add_argument("--labels", help="CSV/Parquet with prediction_id (or the id column) and the target: joined as labels")
    return {"api": _cmd_api, "predictions": _cmd_predictions}


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r}. Fix: write YYYY-MM-DD") from None


def _cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    config = load(args, check=False)
    port = args.port or config.serving.port
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV, "")
    if args.token == "":
        token = new_token()
        print(f"token: {token}")
    if not is_loopback(args.ip) and not token:
        raise ConfigError(f"--ip {args.ip} exposes the service beyond this machine without a token. "
                          f"Fix: pass --token (or set ${TOKEN_ENV}), or bind 127.0.0.1.")
    if not 1 <= port <= 65535 or args.workers < 1:
        raise ParameterError(f"--port must be 1-65535 and --workers 1 or more, got {port} and {args.workers}.")
    _check_port(args.ip, port)
    store.init_store(config)
    if registry.alias_version(config, "champion") is None and registry.alias_version(config, "baseline") is None:
        raise RegistryError(f"model {config.project!r} has no champion or baseline to serve. Fix: run `workbench run` first.")
    if args.reset_breakers:
        for name in ("champion", "challenger", *(features.BREAKERS if config.features is not None else ())):
            resilience.SharedStorage(resilience.breaker_dir(config) / f"{name}.state", name).reset()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # scoring threads use one OpenMP thread (see serving/app.py); workers add cores
    os.environ[CONFIG_ENV] = str(config.source)
    os.environ[TOKEN_ENV] = token
    os.environ[LOOPBACK_ENV] = "1" if is_loopback(args.ip) else "0"
    os.environ["WORKBENCH_API_BIND"] = args.ip
    if args.workers > 1:  # prometheus-client's multiprocess mode: one folder of value files, cleared at start
        folder = config.store / "serving" / f"prometheus-{port}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    print(f"Serving {config.project} at http://{args.ip}:{port}/ (docs: /docs, metrics: /metrics; Ctrl-C to stop)", flush=True)
    uvicorn.run("workbench.serving.app:from_env", factory=True, host=args.ip, port=port, workers=args.workers, log_level="warning",
                access_log=False, timeout_graceful_shutdown=10)
    return 0


def _check_port(ip: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as sock:
        try:
            sock.bind((ip, port))
        except OSError as exc:
            raise ConfigError(f"cannot bind {ip}:{port}: {exc.strerror}. Fix: pass another --port, or stop what uses it.") from None


def _cmd_predictions(args: argparse.Namespace) -> int:
    config = load(args, check=False)
    out = Path(args.out).resolve() if args.out else None
    labels = Path(args.labels).resolve() if args.labels else None
    done = predlog.export(config, out, since=args.since, until=args.until, labels=labels)
    print(f"wrote {done.path}: {done.rows} predictions from {len(done.days)} day(s), {done.labelled} labelled"
          + (f"; skipped {done.torn_lines} torn line(s)" if done.torn_lines else ""))
    print(f"monitor it with: workbench monitor --batch {done.path}")
    return 0
