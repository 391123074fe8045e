"""The served apps over real HTTP (as Voila's own ``tests/app/`` do): token, run-id validation,
hidden tracebacks, no template/theme override, no file serving, the evidently route, culling."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import nbformat
import pytest

from tests.apps.conftest import APPS_TOKEN, REPO, serve_args, serving
from tests.conftest import free_port
from workbench.config import load_config
from workbench.reports import catalog

pytestmark = pytest.mark.slow
TOKEN = APPS_TOKEN
APPS = ["index", "drift", "fairness", "explain", "impact", "card"]
WIDGET = "application/vnd.jupyter.widget-view+json"
ERROR = "There was an error when executing cell"


@pytest.fixture(scope="module")
def server(apps_server):
    """The package's served monitored demo (shared with tests/apps/test_browser.py)."""
    return apps_server


@pytest.fixture(scope="module")
def runs(monitored_demo):
    return catalog.list_runs(load_config(monitored_demo[0] / "workbench.yaml"), kind="monitor")


def _message(body: str) -> str:
    """The text of the app's message box in the rendered page (JSON-escaped HTML in the notebook output)."""
    found = re.search(r"wb-msg wb-(\w+)\\\\?\"\\u003e(.*?)\\u003c/div", body) or re.search(r'wb-msg wb-(\w+)\\?">(.*?)</div', body)
    assert found, body[-2000:]
    return found.group(1) + ": " + found.group(2).replace("\\u0026#x27;", "'").replace("&#x27;", "'")


@pytest.mark.parametrize("app", APPS)
def test_app_renders_with_the_token(server, app):
    status, _, body = server.get(f"voila/render/{app}.ipynb")
    assert status == 200
    assert ERROR not in body
    # widgets for apps with data; a plain "not produced yet" message where the report does not exist yet
    assert WIDGET in body or "not produced yet" in body


@pytest.mark.parametrize("path", ["voila/render/drift.ipynb", "voila/tree", "", "workbench/evidently/x", "voila/api/contents/"])
def test_refused_without_the_token(server, path):
    status, headers, body = server.get(path, token=False)
    assert status in (302, 403)
    if status == 302:
        assert headers["Location"].startswith("/login")
    assert WIDGET not in body and "wb-app" not in body


def test_wrong_token_is_refused(server):
    status, headers, _ = server.get(f"voila/render/drift.ipynb?token=not-{TOKEN}", token=False)
    assert status == 302 and headers["Location"].startswith("/login")


def test_root_opens_the_landing_page(server):
    status, headers, _ = server.get("")
    assert status == 302 and headers["Location"] == f"/voila/render/index.ipynb?token={TOKEN}"


def test_token_in_header_is_accepted(server):
    status, _, body = server.get("voila/render/index.ipynb", token=False, headers={"Authorization": f"token {TOKEN}"})
    assert status == 200 and WIDGET in body and ERROR not in body


@pytest.mark.parametrize("run_id", ["../../../etc/passwd", "..", "a/../../b", "%2e%2e%2f%2e%2e", "/etc", "x" * 150])
def test_traversal_in_a_run_id_is_refused(server, run_id):
    from urllib.parse import quote

    status, _, body = server.get(f"voila/render/drift.ipynb?run={quote(run_id, safe='%')}")
    assert status == 200 and ERROR not in body
    assert _message(body).startswith("error: refused: run id"), _message(body)
    assert WIDGET not in body and "root:" not in body


def test_unknown_run_is_refused(server, runs):
    fake = runs[-1].run_id[:-4] + "zzzz"
    status, _, body = server.get(f"voila/render/fairness.ipynb?run={fake}")
    assert status == 200
    assert _message(body) == f"error: refused: run '{fake}' has no fairness catalog. Fix: pick a run from the list (`workbench runs` lists them)."


def test_unknown_card_version_is_refused(server):
    status, _, body = server.get("voila/render/card.ipynb?version=..%2F..%2Fv1")
    assert status == 200 and ERROR not in body and WIDGET not in body
    message = _message(body)
    assert message.startswith("error: refused: model version '../../v1' has no card.") or "not produced yet" in message


def test_a_listed_run_is_shown(server, runs):
    oldest = next(r for r in runs if r.phase_status("drift") == "succeeded")  # not the default (newest) view
    status, _, body = server.get(f"voila/render/drift.ipynb?run={oldest.run_id}")
    assert status == 200 and WIDGET in body and ERROR not in body


def test_template_and_theme_cannot_be_overridden(server):
    status, _, body = server.get("voila/render/index.ipynb?template=reveal&theme=dark")
    assert status == 200
    assert '"jupyterLabTheme": "light"' in body and '"jupyterLabTheme": "dark"' not in body
    assert "voila/templates/lab/static" in body and "voila/templates/reveal" not in body


def test_nothing_is_served_under_voila_files(server):
    for path in ["voila/files/index.ipynb", "voila/files/drift.ipynb", "voila/files/../../workbench.yaml"]:
        assert server.get(path)[0] in (403, 404)


def test_evidently_report_route(server, runs):
    with_report = next(r for r in reversed(runs) if (r.phase_dir("drift") / "evidently.html").is_file())
    status, headers, body = server.get(f"workbench/evidently/{with_report.run_id}")
    assert status == 200 and len(body) > 10_000
    assert headers["Content-Security-Policy"] == "sandbox allow-scripts"
    assert server.get(f"workbench/evidently/{with_report.run_id}", token=False)[0] in (302, 403)
    for bad in ["..%2F..%2Fworkbench.yaml", "..", "not-a-run"]:
        assert server.get(f"workbench/evidently/{bad}")[0] == 404


BROKEN = 'raise RuntimeError("SECRET-DETAIL-42 /private/path")'
RUNNER = """
import sys
from pathlib import Path
from workbench.apps import server as serve
from workbench.config import load_config
options = serve.ServeOptions(port=int(sys.argv[1]), pool_size=0, cull_idle_s=4, root=Path(sys.argv[2]))
sys.exit(serve.serve(load_config(sys.argv[3]), options))
"""


@pytest.fixture(scope="module")
def locked(monitored_demo, tmp_path_factory):
    """The same server code on a folder with a broken notebook, an image file, and a 4 s idle-kernel cull."""
    root = tmp_path_factory.mktemp("apps-root")
    for name, source in {"index.ipynb": "1 + 1", "broken.ipynb": BROKEN}.items():
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)],
                                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
        nbformat.write(nb, root / name)
    (root / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    port = free_port()
    args = [sys.executable, "-c", RUNNER, str(port), str(root), str(monitored_demo[0] / "workbench.yaml"), "--port", str(port)]
    with serving(args, cwd=root) as srv:
        yield srv


def test_tracebacks_are_hidden(locked):
    status, _, body = locked.get("voila/render/broken.ipynb")
    assert status == 200
    assert ERROR in body
    assert "SECRET-DETAIL-42" not in body and "/private/path" not in body and "RuntimeError" not in body


def test_allowlisted_file_types_are_not_served(locked):
    # Voila's default allowlist would serve any .png beside the notebooks without a token
    assert locked.get("voila/files/chart.png")[0] == 403


def test_idle_kernels_are_culled(locked):
    assert locked.get("voila/render/index.ipynb")[0] == 200  # starts a kernel nobody connects to
    deadline = time.monotonic() + 60
    while "Culling 'idle' kernel" not in locked.log.read_text():
        assert time.monotonic() < deadline, locked.log.read_text()[-3000:]
        time.sleep(1)


def test_server_refuses_to_start_on_all_interfaces_without_token(monitored_demo):
    done = subprocess.run(serve_args(free_port(), "--ip", "0.0.0.0"), cwd=monitored_demo[0], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "without a token" in done.stderr


def test_generated_token_is_printed_and_required(monitored_demo):
    port = free_port()
    with serving(serve_args(port, "--token", "--pool-size", "0"), cwd=monitored_demo[0]) as srv:
        deadline = time.monotonic() + 30
        while "?token=" not in srv.log.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.2)
        line = next(x for x in srv.log.read_text().splitlines() if "?token=" in x)
        assert line.endswith("(Ctrl-C to stop)") and f"http://127.0.0.1:{port}/?token=" in line
        srv.token = re.search(r"\?token=([\w-]+)", line).group(1)
        assert len(srv.token) >= 24
        assert srv.get("voila/render/index.ipynb", token=False)[0] == 302
        assert srv.get("voila/render/index.ipynb")[0] == 200


def test_apps_folder_is_the_only_root(server):
    status, _, body = server.get("voila/api/contents/")
    assert status == 200
    names = sorted(item["name"] for item in json.loads(body)["content"])
    assert names == sorted(p.name for p in (REPO / "notebooks" / "apps").glob("*.ipynb"))
