"""The Voila application the workbench serves: Voila plus what it lacks.

- ``/`` opens the landing page instead of a file listing (the query string, and so a token,
  is kept);
- ``/workbench/evidently/<run_id>`` serves a run's evidently drift report after the same
  token check as the apps, with the run id validated against the stored runs, and sandboxed
  by a Content-Security-Policy so its scripts cannot reach the apps' origin or kernels;
- responses are gzip-compressed (Voila's pages are mostly JavaScript);
- every request passes :mod:`workbench.apps._security` (host allowlist, malformed paths,
  cross-origin refusals, the token on every route, strict XSRF, security headers), and the
  sign-in pages are the workbench's own (:mod:`workbench.apps._login`);
- the query socket pre-heated kernels read the visitor's query string from is moved under a
  secret path only the kernels know (``VOILA_WS_BASE_URL``, set by :mod:`workbench.apps.server`);
- pages use the template in ``templates/`` (Voila's ``lab`` without the CDN icon font).

Voila has no hook for extra routes or another tornado application, so ``init_handlers``,
``init_settings``, ``setup_template_dirs`` and ``start`` are overridden; everything else is
Voila's own code, configured by :mod:`workbench.apps.server`.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

from workbench.apps._login import identity_provider
from workbench.apps._security import HEADERS, allowed_hosts, guard_routes, handlers
from workbench.exceptions import WorkbenchError
from workbench.reports import catalog

EVIDENTLY_ROUTE = "workbench/evidently"
QUERY_ROUTE = "wbq"  # + /<secret>/voila/query/<kernel_id>: where pre-heated kernels get the visitor's query
TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def app_class() -> type:
    """The Voila application class (built on first use: Voila, tornado and jupyter_server import in seconds)."""
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_path_join
    from tornado import web
    from voila.app import Voila

    class LandingRedirect(JupyterHandler):
        """``/`` -> the landing app, keeping the query string."""

        def get(self) -> None:
            query = f"?{self.request.query}" if self.request.query else ""
            self.redirect(url_path_join(self.base_url, "voila/render/index.ipynb") + query)

    class EvidentlyHandler(JupyterHandler):
        """A run's ``drift/evidently.html``, for authenticated visitors only."""

        def initialize(self, config: Any) -> None:
            self.workbench_config = config

        @web.authenticated
        def get(self, run_id: str) -> None:
            try:
                info = catalog.get_run(self.workbench_config, run_id)
            except WorkbenchError as exc:
                raise web.HTTPError(404, str(exc)) from None
            path = info.phase_dir("drift") / catalog.EVIDENTLY_FILE
            if not path.is_file():
                raise web.HTTPError(404, f"run {run_id} has no evidently report")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            # A unique origin for the report: its (evidently's) scripts run, but cannot read the
            # apps' cookies or talk to the kernels.
            self.set_header("Content-Security-Policy", "sandbox allow-scripts")
            self.set_header("X-Content-Type-Options", "nosniff")
            self.finish(path.read_bytes())

    class WorkbenchVoila(Voila):
        """Voila serving the report apps, guarded, with a landing redirect, the evidently route and gzip."""

        workbench_config: Any = None
        allow_hosts: tuple[str, ...] = ()
        query_secret: str = ""

        def setup_template_dirs(self) -> None:
            super().setup_template_dirs()
            self.template_paths.insert(0, str(TEMPLATES))  # its index.html.j2 extends lab's

        def init_settings(self) -> dict:
            self.identity_provider_class = identity_provider()
            settings = super().init_settings()
            settings["compress_response"] = True
            settings["headers"] = dict(HEADERS)  # Jupyter handlers add these to every response
            settings["default_handler_class"] = handlers().plain
            settings["workbench_hosts"] = allowed_hosts(self.ip, self.allow_hosts)
            settings["workbench_project"] = getattr(self.workbench_config, "project", "")
            return settings

        def init_handlers(self) -> list:
            own = [
                (self.server_url.rstrip("/") + "/?", LandingRedirect),
                (url_path_join(self.server_url, EVIDENTLY_ROUTE, r"([^/]+)"), EvidentlyHandler, {"config": self.workbench_config}),
            ]
            routes = guard_routes(own + super().init_handlers())
            if self.query_secret:
                query = url_path_join(self.server_url, QUERY_ROUTE, r"([^/]+)/voila/query/([\w-]+)")
                routes.insert(0, (query, handlers().query_socket, {"secret": self.query_secret, "bound_ip": self.ip}))
            return routes

        def start(self) -> None:
            # Voila.start with the guarded tornado application instead of tornado's own.
            self.connection_dir = tempfile.mkdtemp(prefix="voila_", dir=self.connection_dir_root)
            self.log.info("Storing connection files in %s.", self.connection_dir)
            settings = self.init_settings()
            self.app = handlers().application(**settings)
            self.app.settings.update(self.tornado_settings)
            self.app.add_handlers(".*$", self.init_handlers())
            self.listen()

    return WorkbenchVoila
