"""The report server against an attacker on this machine or a web page in the visitor's browser
(issue 15), probed over real HTTP and websockets against real served processes:

- the pre-heated kernels' query socket: refused to anyone but the kernels, one delivery, no token;
- a ``Host`` header outside the allowlist (DNS rebinding): 403 on every route;
- kernel shutdown (and every state-changing request) from another origin or without XSRF: 403;
- malformed paths on every route: never a 500, never a file's content;
- the workbench's own sign-in page; security headers; no request leaves 127.0.0.1 in a browser.
"""

from __future__ import annotations

import base64
import html
import http.client
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests.apps.conftest import REPO, serving
from tests.conftest import free_port

pytestmark = pytest.mark.slow
TOKEN = "sec-test-token-5f1c"
EXTRA_HOST = "reports.example.org"
PROJECT_MARK = "[build-system]"  # in pyproject.toml: must never be served
RUNNER = """
import sys
from pathlib import Path
from workbench.apps import server as serve
from workbench.config import load_config
port, root, config, token, pool = sys.argv[1:6]
options = serve.ServeOptions(port=int(port), token=token, pool_size=int(pool), root=Path(root), allow_hosts=("reports.example.org",))
sys.exit(serve.serve(load_config(config), options))
"""
# What a pre-heated kernel was told: the query string it received over the query socket, whether
# it is pre-heated, and whether the token is anywhere in its reach (the query or its environment).
ECHO = f"""
import os
from voila.utils import get_query_string
query = get_query_string() or ""
seen = any("{TOKEN}" in value for value in [query, *os.environ.values()])
print("QUERY=" + query + "|PREHEAT=" + os.environ.get("VOILA_PREHEAT", "") + "|TOKEN_SEEN=" + str(seen))
"""


def _notebook(path: Path, source: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, path)


def _serve(monitored_demo, tmp_path_factory, *, token: str, pool: int, apps: bool):
    root = tmp_path_factory.mktemp("sec-apps")
    if apps:  # the real apps (the drift app's run picker), beside the echo notebook
        for notebook in (REPO / "notebooks" / "apps").glob("*.ipynb"):
            shutil.copy(notebook, root / notebook.name)
    else:
        _notebook(root / "index.ipynb", "1 + 1")
    _notebook(root / "echo.ipynb", ECHO)
    port = free_port()
    args = [sys.executable, "-c", RUNNER, str(port), str(root), str(monitored_demo[0] / "workbench.yaml"), token, str(pool), "--port", str(port)]
    return serving(args, cwd=root, token=token)


@pytest.fixture(scope="module")
def server(monitored_demo, tmp_path_factory):
    """Token mode with one pre-heated kernel per app (the real apps, plus the echo notebook)."""
    with _serve(monitored_demo, tmp_path_factory, token=TOKEN, pool=1, apps=True) as srv:
        deadline = time.monotonic() + 120
        while "Kernel pool of echo.ipynb is filled" not in srv.log.read_text(errors="replace"):
            assert time.monotonic() < deadline, srv.log.read_text(errors="replace")[-3000:]
            time.sleep(0.5)
        yield srv


@pytest.fixture(scope="module")
def open_server(monitored_demo, tmp_path_factory):
    """The default: no token (loopback only); only the host and origin checks protect it."""
    with _serve(monitored_demo, tmp_path_factory, token="", pool=0, apps=False) as srv:
        yield srv


def _request(srv, method: str, path: str, headers: dict | None = None, body: str | None = None) -> tuple[int, dict, str]:
    """One raw request (no token added, no redirect followed): (status, headers, body)."""
    port = int(srv.url.rstrip("/").rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.putrequest(method, path, skip_host="Host" in (headers or {}), skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        data = body.encode() if body is not None else None
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        headers: dict[str, str] = {}
        for name, value in response.getheaders():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return response.status, headers, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _websocket(srv, path: str, headers: dict | None = None) -> tuple[int, str]:
    """A websocket handshake: (status, body); 101 means the socket was opened."""
    key = base64.b64encode(os.urandom(16)).decode()
    status, _, body = _request(srv, "GET", path, {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
                                                  "Sec-WebSocket-Version": "13", **(headers or {})})
    return status, body


def _kernel_of(srv, app: str = "index.ipynb", query: str = "") -> str:
    """Render ``app`` and return the id of the kernel serving the page."""
    status, _, body = _request(srv, "GET", f"/voila/render/{app}?{query}" + (f"&token={srv.token}" if srv.token else ""))
    assert status == 200, body[-500:]
    return re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)


def _alive(srv, kernel: str) -> bool:
    status, _, body = _request(srv, "GET", f"/api/kernels/{kernel}" + (f"?token={srv.token}" if srv.token else ""))
    assert status in (200, 404), (status, body)
    return status == 200


def _secret_path(srv) -> str:
    """The query socket's base path, read where only the server's own user can: a kernel's environment."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == srv.proc.pid:
                environ = (stat.parent / "environ").read_bytes().decode("utf-8", "replace").split("\0")
                env = dict(line.split("=", 1) for line in environ if "=" in line)
                if "VOILA_WS_BASE_URL" in env:
                    return env["VOILA_WS_BASE_URL"]
        except (OSError, IndexError, ValueError):
            continue
    pytest.fail("no kernel of the server has VOILA_WS_BASE_URL")


# 1. the query socket --------------------------------------------------------------------------

def test_preheated_kernel_gets_the_query_once_and_without_the_token(server):
    status, _, body = _request(server, "GET", f"/voila/render/echo.ipynb?run=abc&x=1&token={TOKEN}")
    assert status == 200
    echoed = re.search(r"QUERY=([^|]*)\|PREHEAT=(\w*)\|TOKEN_SEEN=(\w+)", body)
    assert echoed, body[-2000:]
    assert (html.unescape(echoed.group(1)), *echoed.groups()[1:]) == ("run=abc&x=1", "True", "False")  # delivered, to a pre-heated kernel, no token anywhere
    assert TOKEN not in body
    # nothing kept: the kernel's own path, asked again, has nothing to hand out (the socket waits, then is dropped)
    kernel = re.search(r'"kernelId": "([0-9a-f-]{36})"', body).group(1)
    secret = _secret_path(server)
    port = int(server.url.rstrip("/").rsplit(":", 1)[1])
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{port}{secret}voila/query/{kernel}", open_timeout=10) as ws, pytest.raises(TimeoutError):
        ws.recv(timeout=1)


@pytest.mark.parametrize("case", ["public", "public+token", "wrong secret", "secret+browser origin"])
def test_query_socket_is_refused(server, case):
    kernel = _kernel_of(server, "echo.ipynb", "run=visitor-secret-query")
    secret = _secret_path(server)
    path, headers = {
        "public": (f"/voila/query/{kernel}", {}),
        "public+token": (f"/voila/query/{kernel}?token={TOKEN}", {}),
        "wrong secret": (f"{secret[:-5]}xxxx/voila/query/{kernel}", {}),
        "secret+browser origin": (f"{secret}voila/query/{kernel}", {"Origin": server.url.rstrip("/")}),
    }[case]
    status, body = _websocket(server, path, headers)
    assert status == 403, (status, body)
    assert "visitor-secret-query" not in body and TOKEN not in body and "QUERY_STRING" not in body


# 2. host allowlist (DNS rebinding) ------------------------------------------------------------

HOST_PROBES = [("GET", "/"), ("GET", f"/voila/render/index.ipynb?token={TOKEN}"), ("GET", "/voila/templates/lab/static/voila.js"),
               ("GET", "/login"), ("GET", "/logout"), ("GET", f"/workbench/evidently/x?token={TOKEN}"), ("GET", "/no/such/route"),
               ("POST", "/voila/api/shutdown/00000000-0000-0000-0000-000000000000"), ("GET", f"/voila/api/contents/?token={TOKEN}")]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.nip.io", "localhost.evil.example", "[::2]"])
def test_unknown_host_is_refused_everywhere(server, open_server, host):
    for srv in (server, open_server):
        for method, path in HOST_PROBES:
            status, headers, body = _request(srv, method, path, {"Host": host})
            assert status == 403 and headers["Content-Type"].startswith("text/plain"), (host, path, status)
            assert body.startswith("Forbidden: the report server does not answer to this address") and len(body) < 200
        for path in ["/api/kernels/00000000-0000-0000-0000-000000000000/channels", "/voila/query/00000000-0000-0000-0000-000000000000"]:
            assert _websocket(srv, path, {"Host": host})[0] == 403


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", EXTRA_HOST, "LOCALHOST"])
def test_known_hosts_are_served(server, host):
    port = server.url.rstrip("/").rsplit(":", 1)[1]
    status, _, body = _request(server, "GET", f"/voila/render/index.ipynb?token={TOKEN}", {"Host": f"{host}:{port}"})
    assert status == 200 and "application/vnd.jupyter.widget-view+json" in body


# 3. state-changing requests: origin and XSRF --------------------------------------------------

@pytest.mark.parametrize("srv_name", ["server", "open_server"])
def test_kernel_shutdown_needs_same_origin_or_xsrf(request, srv_name):
    srv = request.getfixturevalue(srv_name)
    kernel = _kernel_of(srv)
    own = srv.url.rstrip("/")
    token = f"?token={srv.token}" if srv.token else ""
    attempts = {
        "foreign origin": (token, {"Origin": "http://evil.example"}),
        "foreign origin, same host name, other port": (token, {"Origin": "http://127.0.0.1:1"}),
        "null origin": (token, {"Origin": "null"}),
        "no origin, no xsrf": (token, {}),
    }
    if srv.token:
        attempts["same origin without the token"] = ("", {"Origin": own})
    for name, (query, headers) in attempts.items():
        status, _, body = _request(srv, "POST", f"/voila/api/shutdown/{kernel}{query}", headers, body="")
        assert status == 403, (name, status, body)
        assert _alive(srv, kernel), name
    for method in ("DELETE",):  # jupyter's kernel route: the same rules
        assert _request(srv, method, f"/api/kernels/{kernel}{token}", {"Origin": "http://evil.example"})[0] == 403
        assert _alive(srv, kernel)
    # the page's own beacon (same origin, with the visitor's credentials) still shuts the kernel down
    status, _, _ = _request(srv, "POST", f"/voila/api/shutdown/{kernel}{token}", {"Origin": own}, body="")
    assert status == 204 and not _alive(srv, kernel)


def test_cross_origin_kernel_websocket_is_refused(open_server):
    kernel = _kernel_of(open_server)
    status, body = _websocket(open_server, f"/api/kernels/{kernel}/channels", {"Origin": "http://evil.example"})
    assert status == 403 and "Forbidden" in body
    assert _websocket(open_server, f"/api/kernels/{kernel}/channels", {"Origin": open_server.url.rstrip("/")})[0] == 101


# 4. malformed paths ---------------------------------------------------------------------------

PREFIXES = ["voila/render", "voila/static", "voila/templates", "voila/templates/lab/static", "voila/files", "voila/tree",
            "voila/api/contents", "voila/api/shutdown", "voila/api/themes", "voila/labextensions", "voila/query", "api/kernels",
            "workbench/evidently", "static", "login", "logout"]
MALFORMED = ["..%2f..%2f..%2fetc%2fpasswd", "..%2f..%2f..%2f..%2fpyproject.toml", "%2e%2e/%2e%2e/%2e%2e/etc/passwd", "../../../../etc/passwd",
             "x%00.ipynb", "%00", "a" * 3000, "..%5c..%5cpyproject.toml", "..\\..\\pyproject.toml", "//etc/passwd", "x//y",
             "%zz", "%", "%ff%fe", "%c0%ae%c0%ae/etc/passwd", "lab", "lab/static", "x/static/", "./index.ipynb"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_malformed_paths_are_4xx_and_leak_nothing(server, prefix):
    for probe in MALFORMED:
        for query in (f"?token={TOKEN}", ""):
            status, _, body = _request(server, "GET", f"/{prefix}/{probe}{query}")
            assert 400 <= status < 500 or status == 302, (prefix, probe, status)
            assert "root:x:0:0" not in body and PROJECT_MARK not in body and "Traceback" not in body, (prefix, probe)


def test_logout_is_a_page_not_an_error(server):
    status, headers, body = _request(server, "GET", "/logout")
    assert status == 200 and "You are signed out." in body and "Jupyter" not in body
    assert "Set-Cookie" in headers  # the login cookie is cleared


# 5. the sign-in page --------------------------------------------------------------------------

def test_login_page_is_the_workbenchs(server, monitored_demo):
    from workbench.config import load_config

    status, headers, body = _request(server, "GET", "/login?next=%2Fvoila%2Frender%2Fdrift.ipynb")
    assert status == 200
    assert re.search(r"<h1>([^<]+)</h1>", body).group(1) == load_config(monitored_demo[0] / "workbench.yaml").project
    assert "Ask the person who runs the report server for the access token." in body
    assert body.count('type="password"') == 1 and "new_password" not in body
    assert "jupyter" not in body.lower() and "http" not in body.lower().replace("http-equiv", "")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', body).group(1)
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    form = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded", "Origin": server.url.rstrip("/")}
    status, _, body = _request(server, "POST", "/login?next=%2Fvoila%2Frender%2Fdrift.ipynb", form, f"_xsrf={xsrf}&password=wrong")
    assert status == 401 and "That access token is not right." in body
    status, headers, _ = _request(server, "POST", "/login?next=%2Fvoila%2Frender%2Fdrift.ipynb", form, f"_xsrf={xsrf}&password={TOKEN}")
    assert status == 302 and headers["Location"] == "/voila/render/drift.ipynb"
    login_cookie = next(c for c in headers["Set-Cookie"].split(", ") if c.startswith("username-")).split(";", 1)[0]
    status, _, body = _request(server, "GET", "/voila/render/index.ipynb", {"Cookie": login_cookie})
    assert status == 200 and "application/vnd.jupyter.widget-view+json" in body


def test_static_files_need_the_token(server):
    status, _, body = _request(server, "GET", "/voila/templates/lab/static/voila.js")
    assert status in (302, 403) and "function" not in body
    assert _request(server, "GET", f"/voila/templates/lab/static/voila.js?token={TOKEN}")[0] == 200


# 6. headers and offline pages -----------------------------------------------------------------

def test_security_headers_and_no_cdn(server):
    status, headers, body = _request(server, "GET", f"/voila/render/index.ipynb?token={TOKEN}")
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "SAMEORIGIN" and headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert "cdn.jsdelivr" not in body and "fontawesome" not in body
    assert not re.search(r'(?:src|href)="(?:https?:)?//', body)


def test_browser_stays_on_this_machine_and_the_pool_keeps_the_query(server, monitored_demo):
    """Landing page and the drift app with ``?run=`` (served by a pre-heated kernel): widgets render,
    the asked run is selected, no console error, and no request goes to another host."""
    from playwright.sync_api import sync_playwright

    from workbench.config import load_config
    from workbench.reports import catalog

    runs = [r for r in catalog.list_runs(load_config(monitored_demo[0] / "workbench.yaml"), kind="monitor") if r.phase_status("drift") == "succeeded"]
    oldest = runs[0].run_id  # not the default (newest) view
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            tab = browser.new_context().new_page()
            tab.set_default_timeout(120_000)
            hosts, errors = set(), []
            tab.on("request", lambda req: hosts.add(req.url.split("/")[2]) if req.url.startswith("http") else None)
            tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.goto(f"{server.url}?token={TOKEN}")
            tab.wait_for_selector(".jupyter-widgets .wb-app, .jupyter-widgets .wb-msg")
            tab.goto(f"{server.url}voila/render/drift.ipynb?run={oldest}")
            picker = tab.locator(".widget-dropdown", has=tab.locator("label", has_text="Run / batch")).locator("select")
            picker.wait_for()
            # the picker names the asked run by its batch and when it was checked (``Choice.label``)
            asked = next(r for r in runs if r.run_id == oldest)
            assert picker.input_value().endswith(f"checked {asked.manifest['started'][:16].replace('T', ' ')} UTC")
            assert tab.locator(".jupyter-widgets").count() > 0
            time.sleep(0.5)  # late console errors (widget manager)
        finally:
            browser.close()
    port = server.url.rstrip("/").rsplit(":", 1)[1]
    assert hosts == {f"127.0.0.1:{port}"}
    assert errors == []
