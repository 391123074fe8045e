"""The report server's request checks: host names, paths, origins, tokens, headers.

Two layers, so that no route is left out:

- a gate in front of the routing (:func:`refusal`, run by the application for every request,
  websockets and unknown paths included): a ``Host`` outside the allowlist gets 403 (DNS
  rebinding), a malformed path gets 404 before any handler parses it, and a cross-origin
  websocket or state-changing request gets 403;
- every handler is made a token-checked Jupyter handler (:func:`guard_routes`): Voila's static
  file handlers, which check nothing, gain the same login check as the pages; a state-changing
  request without an ``Origin`` header needs the XSRF token, even when token-authenticated
  (jupyter_server skips the check then, and entirely when no token is set).

jupyter_server's own host check (``allow_remote_access`` / ``local_hostnames``) is not used:
it only runs in Jupyter handlers (not Voila's static files or the query socket), and it lets
every loopback IP through but cannot allow one non-loopback address (``--ip 10.0.0.5``).
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import re
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes, urlencode, urlparse

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MAX_PATH = 1024  # bytes of the raw path; the longest real one is ~150
# Cheap headers for every response. ``Referrer-Policy: same-origin`` rather than ``no-referrer``:
# under ``no-referrer`` a browser sends ``Origin: null`` with a same-origin POST (the kernel
# shutdown beacon), which would then be refused; ``same-origin`` still sends nothing (so no
# token in a URL) to other sites.
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'",
}
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c|00)", re.IGNORECASE)


def allowed_hosts(ip: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The host names the server answers to: loopback names, the bound address, and ``extra``."""
    names = {*LOOPBACK_NAMES, *(host_name(name) for name in extra)}
    if ip not in ("", "0.0.0.0", "::"):
        names.add(host_name(ip))
    return frozenset(names)


def host_name(host: str) -> str:
    """``host`` (a ``Host`` header or a name) without port and IPv6 brackets, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host


def same_origin(origin: str, host: str) -> bool:
    """Whether an ``Origin`` header names this server (as reached through ``host``)."""
    parsed = urlparse(origin.strip().lower())
    return parsed.scheme in ("http", "https") and parsed.netloc == host.strip().lower()


def malformed(path: str) -> bool:
    """Whether a raw request path is one no route serves: bad or non-UTF-8 escapes, encoded
    separators, NUL or control characters, backslashes, ``.``/``..`` or empty segments, overlong."""
    if len(path) > MAX_PATH or _BAD_ESCAPE.search(path) or _ENCODED_SEPARATOR.search(path):
        return True
    try:
        text = unquote_to_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        return True
    if "\\" in text or "//" in text or any(ord(c) < 32 or ord(c) == 127 for c in text):
        return True
    return any(segment in (".", "..") for segment in text.split("/"))


def refusal(method: str, host: str, path: str, headers: Any, allowed: frozenset[str]) -> tuple[int, str] | None:
    """The (status, plain message) a request is refused with before routing, or None."""
    if host_name(host) not in allowed:
        return 403, "Forbidden: the report server does not answer to this address. Ask the person who runs it for the right one."
    if malformed(path):
        return 404, "Not found."
    websocket = headers.get("Upgrade", "").lower() == "websocket"
    origin = headers.get("Origin")
    if (websocket or method not in SAFE_METHODS) and origin is not None and not same_origin(origin, host):
        return 403, "Forbidden: a request from another site."
    return None


def strip_token(query: str) -> str:
    """A query string without its ``token`` parameter (order and other values kept)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, v) for k, v in pairs if k != "token"])


def is_local_peer(peer: str, bound_ip: str) -> bool:
    """Whether a connection comes from this machine (loopback, or the address the server is bound to)."""
    try:
        return ipaddress.ip_address(peer).is_loopback or peer == bound_ip
    except ValueError:
        return False


@functools.cache
def handlers() -> SimpleNamespace:
    """The tornado pieces (built on first use: tornado and jupyter_server import slowly)."""
    from jupyter_server.base.handlers import JupyterHandler
    from tornado import web
    from voila.request_info_handler import RequestInfoSocketHandler
    from voila.static_file_handler import TemplateStaticFileHandler
    from voila.tornado.handler import TornadoVoilaHandler

    class Plain(web.RequestHandler):
        """A short plain-text answer with the security headers (refusals and unknown paths)."""

        def initialize(self, status: int = 404, message: str = "Not found.") -> None:
            self.status, self.message = status, message

        def set_default_headers(self) -> None:
            for name, value in HEADERS.items():
                self.set_header(name, value)

        def prepare(self) -> None:
            self.set_status(self.status)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(self.message + "\n")

    class GuardedApplication(web.Application):
        """Tornado's application with :func:`refusal` in front of the routing."""

        def find_handler(self, request: Any, **kwargs: Any) -> Any:
            refused = refusal(request.method or "", request.host, request.path, request.headers, self.settings["workbench_hosts"])
            if refused:
                return self.get_handler_delegate(request, Plain, {"status": refused[0], "message": refused[1]})
            return super().find_handler(request, **kwargs)

    class Guard:
        """Mixed into every handler: strict XSRF, plain error pages."""

        def check_xsrf_cookie(self) -> None:
            origin = self.request.headers.get("Origin")
            if origin is not None:  # a browser's request: same-origin only (the gate refused others)
                if not same_origin(origin, self.request.host):
                    raise web.HTTPError(403, "cross-origin request")
                return None
            return web.RequestHandler.check_xsrf_cookie(self)

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            # Jupyter's error pages need settings Voila lacks (a 500 while rendering a 404).
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"{status_code}: {self._reason}\n")

    class TemplateFiles(TemplateStaticFileHandler):
        """Voila's template assets, with ``<template>/static/<file>`` checked instead of asserted."""

        def parse_url_path(self, path: str) -> str:
            parts = path.split("/", 2)
            if len(parts) != 3 or parts[1] != "static" or not re.fullmatch(r"[\w-]+", parts[0]) or not parts[2]:
                raise web.HTTPError(404)
            return super().parse_url_path(path)

    class QuerySocket(RequestInfoSocketHandler):
        """The visitor's request info for a pre-heated kernel, once, to a local non-browser client.

        Voila's socket answers anyone, keeps every visit's query string forever and hands it out
        again on every connection. This one is reached only under a secret path given to the
        kernels in their environment, refuses browsers (any ``Origin``) and remote peers, and
        forgets the request info once delivered; the token never is in it.
        """

        def initialize(self, secret: str, bound_ip: str) -> None:
            self.secret, self.bound_ip = secret, bound_ip

        def prepare(self) -> None:
            secret = self.path_args[0] if self.path_args else ""
            browser = any(name in self.request.headers for name in ("Origin", "Sec-WebSocket-Origin", "Sec-Fetch-Site"))
            local = is_local_peer(self.request.remote_ip or "", self.bound_ip)
            if browser or not local or not hmac.compare_digest(secret.encode(), self.secret.encode()):
                raise web.HTTPError(403)

        def get(self, secret: str, kernel_id: str) -> Any:  # the secret is checked in prepare
            return super().get(kernel_id)

        def check_origin(self, origin: str) -> bool:
            return False  # (browsers are refused in prepare already; tornado accepts a same-origin one before asking)

        def open(self, kernel_id: str) -> None:
            payload = RequestInfoSocketHandler._cache.pop(kernel_id, None)
            if payload is None:
                RequestInfoSocketHandler._waiters[kernel_id] = self  # Voila's send_updates writes to it
            else:
                self.write_message(payload)

        def write_message(self, message: Any, binary: bool = False) -> Any:
            if isinstance(message, dict) and "QUERY_STRING" in message:
                message = {**message, "QUERY_STRING": strip_token(message["QUERY_STRING"])}
            sent = super().write_message(message, binary)
            self.close()
            return sent

        def on_close(self) -> None:
            for kernel_id, waiter in list(RequestInfoSocketHandler._waiters.items()):
                if waiter is self:
                    del RequestInfoSocketHandler._waiters[kernel_id]

    class Render:
        """Voila's page handler: the token is taken out of the request once checked, so that it is
        in neither the kernel's environment nor the request info sent to a pre-heated kernel; the
        request info of kernels gone (culled, shut down) is forgotten."""

        async def prepare(self) -> None:
            await super().prepare()
            if not self._finished and "token" in self.request.query_arguments:
                self.request.query = strip_token(self.request.query)
                self.request.uri = self.request.path + (f"?{self.request.query}" if self.request.query else "")
                self.request.query_arguments.pop("token")
                self.request.arguments.pop("token", None)

        def on_finish(self) -> None:
            super().on_finish()
            for kernel_id in list(RequestInfoSocketHandler._cache):
                if kernel_id not in self.kernel_manager:
                    RequestInfoSocketHandler._cache.pop(kernel_id, None)

    def guard(cls: type) -> type:
        """``cls`` with the guard, and Jupyter's login check when it has none (static files)."""
        if cls is TemplateStaticFileHandler:
            cls = TemplateFiles
        if cls is TornadoVoilaHandler:
            bases = (Guard, Render, cls)
        else:
            bases = (Guard, cls) if issubclass(cls, JupyterHandler) else (Guard, JupyterHandler, cls)
        return type(cls.__name__, bases, {"__doc__": cls.__doc__})

    return SimpleNamespace(plain=Plain, application=GuardedApplication, guard=guard, query_socket=QuerySocket,
                           voila_query_socket=RequestInfoSocketHandler)


def guard_routes(routes: list) -> list:
    """Voila's route table with every handler guarded and its query socket refused (see :class:`QuerySocket`)."""
    tornado = handlers()
    out = []
    for route in routes:
        pattern, cls, *rest = route
        if cls is tornado.voila_query_socket:
            out.append((pattern, tornado.plain, {"status": 403, "message": "Forbidden."}))
        else:
            out.append((pattern, tornado.guard(cls), *rest))
    return out
