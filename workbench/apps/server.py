"""Serve the stakeholder report apps (``notebooks/apps/``) with Voila, locked down.

What the server enforces, and why:

- only the apps folder is served, and ``/voila/files`` serves nothing (an empty allowlist):
  results stay in the run folders and reach the browser only through the apps' own widgets
  or the token-checked ``/workbench/evidently/<run_id>`` route;
- it binds 127.0.0.1 by default and refuses any other address without a token;
- it answers only to the host names it knows (``localhost``, ``127.0.0.1``, ``::1``, the bound
  address and each ``--allow-host``): any other ``Host`` header gets 403 on every route, which
  stops DNS rebinding (a web page whose own name is pointed at this machine);
- every route, static files and websockets included, needs the token when one is set; a
  cross-origin websocket or state-changing request is refused, and a state-changing request
  without an ``Origin`` header needs the XSRF token (so a page on another site can neither
  read the apps nor shut kernels down, with or without a token); malformed paths get 404;
- pre-heated kernels read the visitor's query string over a websocket under a secret path
  only they know (``VOILA_WS_BASE_URL``), from this machine, once, without the token;
- the sign-in page is the workbench's own (one token field, no password setup), and the
  pages load nothing from other hosts (the lab template's CDN icon font is removed);
- tracebacks are hidden and the template/theme cannot be overridden from the query string;
- idle kernels are culled; a few kernels per app, the landing page included, are pre-heated
  (imports done, the newest run's view built) so a visitor does not wait for them;
- responses are gzip-compressed and only the widget extensions are loaded into the page
  (the plotly lab extension alone weighs 4.5 MB), so a page stays well under 2 MB.

The apps find the project through the ``WORKBENCH_CONFIG`` environment variable this module
sets (an absolute path); every kernel inherits it.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.apps._voila import QUERY_ROUTE, app_class
from workbench.config import is_loopback
from workbench.exceptions import ConfigError, WorkbenchError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

CONFIG_ENV = "WORKBENCH_CONFIG"
DEFAULT_PORT = 8866
DEFAULT_IP = "127.0.0.1"
LANDING = "index.ipynb"
# Only what the apps need in the browser: the widget managers. Everything else installed in
# the environment (plotly, pygments) would be shipped to every visitor for nothing.
EXTENSIONS = ["@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8"]
# Pre-heated kernels per app: a visit takes one and Voila heats a replacement in the background
# (imports and the newest run's view: 3-8 s on two busy cores), so five visits in a row all find one
# ready. Each kernel holds ~240 MB (measured: 30 kernels, 7.4 GB); `--pool-size 1` for small machines.
DEFAULT_POOL = 5
# Replacements start this long after a visit took a kernel, not at once: heating competes for the
# CPU with the pages being served, and a burst of visits should be served first (measured in
# benchmarks/apps.py: with Voila's 1 s, the 2nd and 3rd visits of a burst slowed past 2 s).
FILL_DELAY_S = 8.0
CULL_IDLE_S = 900  # an idle kernel (no execution for 15 min) is shut down
CULL_INTERVAL_S = 60  # how often idle kernels are looked for (at most; shorter for short timeouts)


def apps_dir() -> Path:
    """The folder holding the app notebooks (``notebooks/apps/`` of this checkout)."""
    return Path(__file__).resolve().parents[2] / "notebooks" / "apps"


@dataclass(frozen=True)
class ServeOptions:
    """How to serve: address, token and kernel pool (validated by :func:`check_bind`)."""

    port: int = DEFAULT_PORT
    ip: str = DEFAULT_IP
    token: str = ""
    pool_size: int = DEFAULT_POOL
    cull_idle_s: int = CULL_IDLE_S
    root: Path = field(default_factory=apps_dir)
    allow_hosts: tuple[str, ...] = ()  # host names answered besides the loopback names and the bound address


def check_bind(options: ServeOptions) -> None:
    """Refuse a non-loopback bind without a token, a bad port, or a port already taken.

    Raises
    ------
    ConfigError
        With a one-line message naming the option and the fix.
    """
    if not is_loopback(options.ip) and not options.token:
        raise ConfigError(
            f"--ip {options.ip or '(all interfaces)'}: refusing to serve the report apps beyond this machine without a token. "
            f"Fix: add --token (a random one is generated and printed) or bind {DEFAULT_IP}."
        )
    for name in options.allow_hosts:
        if not re.fullmatch(r"[A-Za-z0-9.\-]+|\[?[0-9A-Fa-f:.]+\]?", name):
            raise ConfigError(f"--allow-host {name!r}: not a host name or address. Fix: pass a name like reports.example.org (no scheme, port or path).")
    if not 1 <= options.port <= 65535:
        raise ConfigError(f"--port {options.port}: not a TCP port. Fix: pass a number from 1 to 65535 (default {DEFAULT_PORT}).")
    if not (options.root / LANDING).is_file():
        raise WorkbenchError(f"{options.root}: the report apps are missing ({LANDING} not found). Fix: reinstall the workbench from its checkout.")
    # Voila silently moves to another port when this one is taken, and the URL we print would
    # then be wrong; checking first gives a clear error instead.
    family = socket.AF_INET6 if ":" in options.ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((options.ip, options.port))
        except OSError as exc:
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
            raise ConfigError(f"--port {options.port} on {options.ip} {reason}. Fix: pass another --port or stop the other server.") from None


def new_token() -> str:
    """A random URL-safe token."""
    return secrets.token_urlsafe(24)


def url(options: ServeOptions) -> str:
    """The address to open (with the token, when one is set)."""
    host = "127.0.0.1" if options.ip in ("", "0.0.0.0") else options.ip
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{options.port}/" + (f"?token={options.token}" if options.token else "")


def voila_config(options: ServeOptions) -> dict[str, Any]:
    """The traitlets config of the Voila server (plain dicts, so tests and benchmarks can read it)."""
    return {
        "Voila": {
            "ip": options.ip,
            "port": options.port,
            "port_retries": 0,
            "open_browser": False,
            "token": options.token,
            "root_dir": str(options.root),
        },
        "VoilaConfiguration": {
            "show_tracebacks": False,
            "allow_template_override": "NO",
            "allow_theme_override": "NO",
            "file_allowlist": [],  # nothing under /voila/files: results never leave through it
            "preheat_kernel": options.pool_size > 0,
            "default_pool_size": max(options.pool_size, 0),
            "extension_allowlist": EXTENSIONS,
            "strip_sources": True,
        },
        "VoilaKernelManager": {"fill_delay": FILL_DELAY_S},
        "MappingKernelManager": {
            "cull_idle_timeout": options.cull_idle_s,
            "cull_interval": max(1, min(CULL_INTERVAL_S, options.cull_idle_s // 2)),
            # An abandoned browser tab must not pin a kernel forever.
            "cull_connected": True,
        },
    }


def kernel_env(config: Config, options: ServeOptions, query_secret: str = "") -> dict[str, str]:
    """Environment variables every app kernel inherits from the server process."""
    env = {CONFIG_ENV: str(Path(config.source).resolve()), "MPLBACKEND": "Agg", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}
    if options.ip not in ("", "0.0.0.0", "::"):
        # Pre-heated kernels fetch the visitor's query string from the server over a websocket,
        # by default on 127.0.0.1: that fails when the server listens on another address only.
        env["VOILA_APP_IP"] = f"[{options.ip}]" if ":" in options.ip else options.ip
    if query_secret:
        # ... under this path (Voila's utils.wait_for_request builds the URL from it): only the
        # kernels, children of this process, know it.
        env["VOILA_WS_BASE_URL"] = f"/{QUERY_ROUTE}/{query_secret}/"
    return env


def make_app(config: Config, options: ServeOptions):  # noqa: ANN201
    """An initialised (not yet started) Voila application serving the apps."""
    from traitlets.config import Config as TraitletsConfig

    check_bind(options)
    secret = secrets.token_urlsafe(32)
    os.environ.update(kernel_env(config, options, secret))
    app = app_class()(config=TraitletsConfig(voila_config(options)))
    app.workbench_config = config
    app.allow_hosts = options.allow_hosts
    app.query_secret = secret
    app.initialize([str(options.root)])
    return app


def serve(config: Config, options: ServeOptions) -> int:
    """Serve the apps until interrupted; returns the exit code."""
    app = make_app(config, options)
    print(f"Report apps for {config.project} at {url(options)}  (Ctrl-C to stop)", flush=True)
    app.start()
    return 0
