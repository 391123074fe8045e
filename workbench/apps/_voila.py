"""The Voila application the workbench serves: Voila plus four small things it lacks.

- ``/`` opens the landing page instead of a file listing (the query string, and so a token,
  is kept);
- ``/workbench/evidently/<run_id>`` serves a run's evidently drift report after the same
  token check as the apps, with the run id validated against the stored runs, and sandboxed
  by a Content-Security-Policy so its scripts cannot reach the apps' origin or kernels;
- responses are gzip-compressed (Voila's pages are mostly JavaScript).

- the kernel shutdown Voila's page requests on unload is accepted from the same origin
  (Voila refuses it for want of an XSRF header the browser cannot send).

Voila has no hook for extra routes, so the two handlers are added by overriding
``init_handlers``; everything else is Voila's own code, configured by :mod:`workbench.apps.server`.
"""

from __future__ import annotations

import functools
from typing import Any

from workbench.exceptions import WorkbenchError
from workbench.reports import catalog

EVIDENTLY_ROUTE = "workbench/evidently"


@functools.cache
def app_class() -> type:
    """The Voila application class (built on first use: Voila, tornado and jupyter_server import in seconds)."""
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_path_join
    from tornado import web
    from voila.app import Voila
    from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler

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

    class ShutdownHandler(VoilaShutdownKernelHandler):
        """Voila's kernel shutdown on page unload, made to work.

        The page asks for it with ``navigator.sendBeacon``, which cannot carry the ``_xsrf`` header,
        so Voila answers 403 and the kernel lingers until culled. A same-origin request (the
        ``Origin`` header a browser always sends with a POST beacon) is accepted instead; any other
        request still needs the XSRF token.
        """

        def check_xsrf_cookie(self) -> None:
            from urllib.parse import urlparse

            origin = self.request.headers.get("Origin")
            if origin and urlparse(origin).netloc == self.request.host:
                return None
            return super().check_xsrf_cookie()

    class WorkbenchVoila(Voila):
        """Voila serving the report apps, with a landing redirect, the evidently route and gzip."""

        workbench_config: Any = None

        def init_settings(self) -> dict:
            settings = super().init_settings()
            settings["compress_response"] = True
            return settings

        def init_handlers(self) -> list:
            own = [
                (self.server_url.rstrip("/") + "/?", LandingRedirect),
                (url_path_join(self.server_url, EVIDENTLY_ROUTE, r"([^/]+)"), EvidentlyHandler, {"config": self.workbench_config}),
                (url_path_join(self.server_url, r"/voila/api/shutdown/(.*)"), ShutdownHandler),
            ]
            return own + super().init_handlers()

    return WorkbenchVoila
