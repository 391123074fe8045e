"""Report apps in a real browser: `workbench serve` (every app on real report data) vs a bare Voila notebook.

The bare notebook is what a user would otherwise write: an ipywidgets dropdown redrawing one
matplotlib plot into an Output widget, served by plain `voila` (default settings, then with
`--preheat_kernel`). Measured with Playwright driving Debian's chromium, per app (issue 15 targets):

- first visit: the first visit to the app once the server is warm (every kernel pool filled and
  the server's processes idle), in a fresh browser context: navigation start -> the app's answer
  (`.wb-lead`; else `.jupyter-widgets .wb-app, .wb-msg`; the bare notebook's plot decoded) visible,
  timed in the page; `full` is the time to the last DOM change or image load of the first render;
- later visits: further visits in fresh contexts, each once the server is idle again (pool refilled);
- five in a row: five fresh contexts one after another, no pause (drains a pool of pre-heated kernels;
  run for every `--pool-sizes`);
- picker update: a dropdown (chosen by its label, see PICKERS) changed to its next option -> the
  kernel has answered (status idle) and the page's DOM and images are quiet; the time of the last
  DOM change or image load, timed in the page;
- page weight: bytes of one visit up to its full render: HTTP as sent (resource timing
  `transferSize`, headers included, fresh context so nothing cached) + websocket message payloads
  received (widget state, images);
- third-party requests: every request (HTTP or websocket) to a host other than 127.0.0.1/localhost.

    .venv/bin/python benchmarks/apps.py --project DIR [--apps drift,card] [--pool-sizes 5,1] [--later 2]

DIR is a project folder already trained and monitored (`workbench run` then `workbench monitor`);
the server only reads it. Without --project one is built in a temporary folder first (~6 min).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
APPS = ["index", "drift", "fairness", "explain", "impact", "card"]
# Dropdowns whose change is timed, by label (regex, case-insensitive); a picker with one option is skipped.
PICKERS = {"drift": ["^Run", "^Feature"], "fairness": ["^Metric"], "explain": [r"\brow\b|\bid\b", "^Segment"], "impact": ["KPI|^Trend"],
           "card": ["^Version"], "bare": ["^Function"]}
LEAD, FALLBACK = ".wb-lead", ".jupyter-widgets .wb-app, .wb-msg"
LOCAL = {"127.0.0.1", "localhost", "::1"}
TIMEOUT_MS = 120_000
ANSWER_TIMEOUT_MS = 60_000  # a visit showing nothing by then is recorded as `inf` and the run goes on
BARE = '''import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
%matplotlib inline
out = w.Output()
pick = w.Dropdown(options=["sin", "cos", "sinc"], description="Function")
def draw(change=None):
    with out:
        out.clear_output(wait=True)
        x = np.linspace(0, 10, 400)
        fig, ax = plt.subplots(figsize=(8, 3.2))
        ax.plot(x, getattr(np, pick.value)(x))
        plt.show()
pick.observe(draw, "value")
draw()
w.VBox([pick, out])'''
# Installed before any page script: DOM changes, image loads and websocket messages, timed in the page.
# Changes inside `__wbIgnore` (the dropdown being changed) are not counted.
INIT_JS = """(() => {
  const wb = window.__wb = {last: 0, idle: 0, wsBytes: 0};
  const note = () => { wb.last = performance.now(); };
  new MutationObserver(records => {
    if (records.some(r => !(window.__wbIgnore && window.__wbIgnore.contains(r.target)))) note();
  }).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  document.addEventListener('load', e => { if (e.target.tagName === 'IMG') note(); }, true);
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', e => {
      const d = e.data;
      const text = typeof d === 'string' ? d : (d instanceof ArrayBuffer ? decoder.decode(d) : '');
      wb.wsBytes += typeof d === 'string' ? new Blob([d]).size : (d.byteLength || d.size || 0);
      if (text.includes('"execution_state"') && /"execution_state":\\s*"idle"/.test(text)) wb.idle = performance.now();
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();"""
# The answer: the first visible element of `lead`, or of `fallback` once it has shown alone for 1 s.
ANSWER_JS = """([lead, fallback]) => {
  const shown = sel => [...document.querySelectorAll(sel)].find(e => e.getClientRects().length > 0
      && (e.tagName !== 'IMG' || (e.complete && e.naturalWidth > 0)));
  if (shown(lead)) return {selector: lead, ms: performance.now()};
  if (fallback && shown(fallback)) {
    window.__wbFallback = window.__wbFallback || performance.now();
    if (performance.now() - window.__wbFallback > 1000) return {selector: fallback, ms: window.__wbFallback};
  }
  return false;
}"""
QUIET_JS = """([since, quiet]) => { const wb = window.__wb; const now = performance.now();
  return wb.idle > since && now - Math.max(wb.last, wb.idle) > quiet && [...document.images].every(i => i.complete) ? wb.last : false; }"""
SERVER_JS = "() => { const n = performance.getEntriesByType('navigation')[0]; return n && n.responseEnd > 0 ? n.responseEnd : false; }"
STATIC_JS = """() => performance.getEntriesByType('resource').filter(e => ['script', 'link', 'css'].includes(e.initiatorType))
  .reduce((a, e) => Math.max(a, e.responseEnd), 0)"""
WEIGHT_JS = """() => [performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .reduce((a, e) => a + e.transferSize, 0), window.__wb.wsBytes]"""
# Change a <select> to its next option; returns the start time (ms, page clock).
CHANGE_JS = """select => { window.__wbIgnore = select.closest('.widget-dropdown') || select;
  const t0 = performance.now(); select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
  select.dispatchEvent(new Event('change', {bubbles: true})); return t0; }"""
DROPDOWNS_JS = """() => [...document.querySelectorAll('.widget-dropdown')].map(d => ({
  label: ((d.querySelector('label') || {}).innerText || '').trim(), options: d.querySelector('select').options.length,
  visible: d.getClientRects().length > 0}))"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Server:
    """A server to measure: its command, the notebooks it pre-heats, and the process once started."""

    name: str
    args: list[str]
    cwd: Path
    port: int
    pools: list[str] = field(default_factory=list)  # notebooks whose pool must be filled before it is warm
    proc: subprocess.Popen | None = None
    log: Path | None = None
    warm_s: float = 0.0

    def start(self) -> None:
        self.log = Path(tempfile.gettempdir()) / f"bench-apps-{re.sub(r'[^a-z0-9]+', '-', self.name)}.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(self.args, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        t0 = time.perf_counter()
        while not _listening(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log}")
            time.sleep(0.1)
        self.wait_idle(initial=True)
        self.warm_s = time.perf_counter() - t0

    def descendants(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, []))
        return found

    def sample(self) -> tuple[float, bool]:
        """CPU seconds used so far by the server and its kernels, and whether one of them is running (state R)."""
        total, running = 0, False
        for pid in self.descendants():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
            running = running or fields[0] == "R"
        return total / os.sysconf("SC_CLK_TCK"), running

    def wait_idle(self, initial: bool = False, window: float = 2.0, limit: float = 240.0) -> float:
        """Wait until every pool is filled (log) and the server's processes are idle for `window` s.

        Idle: together they used < 10 % of a core and were seen running in at most one sample of eight
        (a kernel heating on a busy machine gets little CPU but is always runnable).
        """
        t0 = time.perf_counter()
        samples: list[tuple[float, float, bool]] = []
        n = int(window / 0.25) + 1
        while time.perf_counter() - t0 < limit:
            text = self.log.read_text(errors="replace") if initial and self.pools else ""
            filled = not initial or all(f"Kernel pool of {nb} is filled" in text for nb in self.pools)
            samples = [*samples, (time.perf_counter(), *self.sample())][-n:]
            if (filled and len(samples) == n and samples[-1][1] - samples[0][1] < 0.1 * (samples[-1][0] - samples[0][0])
                    and sum(s[2] for s in samples) <= 1):
                break
            time.sleep(0.25)
        return time.perf_counter() - t0

    def stop(self) -> None:
        pids = self.descendants()
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        for pid in pids[1:]:  # kernels it started and did not shut down (they run in their own sessions)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@dataclass
class Visit:
    answer_s: float
    selector: str
    server_s: float = 0.0  # navigation start -> the server has sent the whole page (Voila waits for the kernel's render)
    static_s: float = 0.0  # navigation start -> the last script/stylesheet loaded (by the time of the answer)
    full_s: float = 0.0
    http_b: int = 0
    ws_b: int = 0
    third: int = 0  # requests to other hosts during this visit
    picks: dict[str, list[float]] = field(default_factory=dict)


try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # pragma: no cover - reported when main() imports playwright
    PlaywrightTimeout = TimeoutError


class Browser:
    """Fresh-context visits; every request to another host is recorded in `third_party`."""

    def __init__(self, playwright) -> None:
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        self.third_party: list[str] = []

    def _watch(self, page) -> None:
        def check(url: str) -> None:
            parts = urlparse(url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL:
                self.third_party.append(url)

        page.on("request", lambda request: check(request.url))
        page.on("websocket", lambda ws: check(ws.url))

    def visit(self, url: str, lead: str, fallback: str | None, full: bool = False, pickers: list[str] | None = None, picks: int = 3) -> Visit:
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(INIT_JS)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        self._watch(page)
        before = len(self.third_party)
        try:
            page.goto(url, wait_until="commit")
            try:
                found = page.wait_for_function(ANSWER_JS, arg=[lead, fallback], polling="raf", timeout=ANSWER_TIMEOUT_MS).json_value()
            except PlaywrightTimeout:
                return Visit(float("inf"), f"nothing shown within {ANSWER_TIMEOUT_MS / 1000:.0f} s")
            result = Visit(found["ms"] / 1000, found["selector"])
            result.server_s = page.wait_for_function(SERVER_JS, polling=50).json_value() / 1000
            result.static_s = page.evaluate(STATIC_JS) / 1000
            if full:
                last = page.wait_for_function(QUIET_JS, arg=[-1, 700], polling=100).json_value()
                result.full_s = max(last / 1000, result.answer_s)
                result.http_b, result.ws_b = page.evaluate(WEIGHT_JS)
                result.third = len(self.third_party) - before
            for pattern in pickers or []:
                label, select = self._dropdown(page, pattern)
                if select is not None:
                    result.picks[label] = [self._pick(page, select) for _ in range(picks)]
            return result
        finally:
            page.close(run_before_unload=True)  # Voila's unload handler asks the server to shut the kernel down
            time.sleep(0.2)
            context.close()

    @staticmethod
    def _dropdown(page, pattern: str):  # noqa: ANN205
        """The first dropdown whose label matches, with more than one option; tabs are opened in turn to find it."""
        def find():  # noqa: ANN202
            for i, d in enumerate(page.evaluate(DROPDOWNS_JS)):
                if d["visible"] and d["options"] > 1 and re.search(pattern, d["label"], re.I):
                    return d["label"], page.locator(".widget-dropdown select").nth(i).element_handle()
            return None

        found = find()
        tabs = page.locator(".lm-TabBar-tab")
        for i in range(tabs.count() if found is None else 0):
            if "lm-mod-current" in (tabs.nth(i).get_attribute("class") or ""):
                continue  # already shown: clicking it asks nothing of the kernel
            t0 = page.evaluate("performance.now()")
            tabs.nth(i).click()
            try:
                page.wait_for_function(QUIET_JS, arg=[t0, 500], polling=100, timeout=30_000)
            except PlaywrightTimeout:
                pass
            if (found := find()) is not None:
                break
        return found or (pattern, None)

    @staticmethod
    def _pick(page, select) -> float:
        t0 = page.evaluate(CHANGE_JS, select)
        try:
            last = page.wait_for_function(QUIET_JS, arg=[t0, 700], polling=50, timeout=30_000).json_value()
        except PlaywrightTimeout:
            return float("inf")
        return max(last - t0, 0.0)


def measure_app(browser: Browser, server: Server, url: str, app: str, lead: str, fallback: str | None, later: int, burst: int,
                picks: int, full: bool) -> dict:
    """First visit (with weight and pickers), later visits and visits in a row, for one app on one server.

    `waits`: seconds until the server was idle again before each later visit and before the visits in a row
    (a replacement kernel heating); `refill`: seconds until idle after the visits in a row.
    """
    row: dict = {"waits": [], "later": []}
    if full:
        server.wait_idle()
        row["first"] = browser.visit(url, lead, fallback, full=True, pickers=PICKERS.get(app, []), picks=picks)
        for _ in range(later):
            row["waits"].append(server.wait_idle())
            row["later"].append(browser.visit(url, lead, fallback))
    row["waits"].append(server.wait_idle())
    row["burst"] = [browser.visit(url, lead, fallback) for _ in range(burst)]
    row["refill"] = server.wait_idle()
    if full:  # the first of the visits in a row also found an idle server: a later visit like the others
        row["later"].append(row["burst"][0])
    return row


def build_project() -> Path:
    import shutil

    project = Path(tempfile.mkdtemp(prefix="bench-apps-"))
    shutil.copy(Path(__file__).resolve().parent.parent / "workbench.yaml", project / "workbench.yaml")
    for command in (["run"], ["monitor"]):
        subprocess.run([str(BIN / "workbench"), *command], cwd=project, check=True, capture_output=True)
    return project


def _fmt(values: list) -> str:
    return " ".join(f"{getattr(v, 'answer_s', v):.2f}".replace("inf", "none") for v in values)


def _picker_ms(visit: Visit) -> str:
    return "; ".join(f"{label} {statistics.median(ms):.0f}" for label, ms in visit.picks.items()) or "-"


def _worst_pick(visit: Visit) -> float | None:
    return max((statistics.median(ms) for ms in visit.picks.values()), default=None)


def _mb(visit: Visit) -> float:
    return (visit.http_b + visit.ws_b) / 1e6


HEAD = f"{'server':<30}{'first s (server)':>17}{'full s':>8}  {'later s':<12}{'five in a row s':<27}{'picker ms (median)':<30}{'MB http+ws':>11}"


def _row(name: str, r: dict) -> str:
    first = r.get("first")
    if first is None:
        return f"{name:<30}{'-':>17}{'-':>8}  {'-':<12}{_fmt(r['burst']):<27}{'-':<30}{'-':>11}"
    return (f"{name:<30}{f'{first.answer_s:.2f} ({first.server_s:.2f})':>17}{first.full_s:>8.2f}  {_fmt(r['later']):<12}"
            f"{_fmt(r['burst']):<27}{_picker_ms(first):<30}{f'{first.http_b / 1e6:.2f}+{first.ws_b / 1e6:.2f}':>11}")


def _div(a: float, b: float) -> float:
    return a / b if b and b != float("inf") else float("nan")


def _ratio_row(name: str, r: dict, ref: dict) -> str:
    first, base = r["first"], ref["first"]
    pick, pick_b = _worst_pick(first), _worst_pick(base)
    later = _div(statistics.median(v.answer_s for v in r["later"]), statistics.median(v.answer_s for v in ref["later"]))
    burst = _div(max(v.answer_s for v in r["burst"]), max(v.answer_s for v in ref["burst"]))
    return (f"{name:<30}{_div(first.answer_s, base.answer_s):>17.2f}{_div(first.full_s, base.full_s):>8.2f}  {f'{later:.2f} (med)':<12}"
            f"{f'{burst:.2f} (max)':<27}{(f'{pick / pick_b:.2f} (worst)' if pick and pick_b else '-'):<30}{_div(_mb(first), _mb(base)):>11.2f}")


def targets(r: dict) -> str:
    """PASS/FAIL per issue-15 target, with the measured number."""
    first = r["first"]
    verdict = lambda ok: "PASS" if ok else "FAIL"  # noqa: E731
    later = max(v.answer_s for v in r["later"])
    burst = max(v.answer_s for v in r["burst"])
    pick = _worst_pick(first)
    return "; ".join([f"first < 2 s {verdict(first.answer_s < 2)} ({first.answer_s:.2f})",
                      f"later < 2 s {verdict(later < 2)} (max {later:.2f})",
                      f"five in a row each < 2 s {verdict(burst < 2)} (max {burst:.2f})",
                      f"picker < 0.3 s {verdict(pick < 300)} ({pick:.0f} ms)" if pick is not None else "picker: none with >1 option",
                      f"page < 2 MB {verdict(_mb(first) < 2)} ({_mb(first):.2f})",
                      f"zero third-party requests {verdict(first.third == 0)} ({first.third})"])


def report(results: dict, apps: list[str], servers: list[str]) -> str:
    """One table per app (rows: servers, then the ratio to bare pre-heated Voila), its targets and what the time went to."""
    main, ref_name = servers[0], "bare voila --preheat_kernel"
    bare = {s: results[s]["bare"] for s in servers if "bare" in results[s]}
    ref = bare.get(ref_name)
    lines = []
    if bare:
        lines += ["bare notebook (reference; its answer: the plot, decoded)", HEAD, *(_row(s, r) for s, r in bare.items()), ""]
    for app in apps:
        ours = {s: results[s][app] for s in servers if app in results[s]}
        r = ours[main]
        lines += [f"{app} (answer element: {r['first'].selector})", HEAD, *(_row(s, v) for s, v in ours.items())]
        if ref:
            lines.append(_ratio_row(f"x {ref_name}", r, ref))
        lines.append(f"targets ({main}): {targets(r)}")
        for s, v in ours.items():
            lines.append(f"  {s}: page sent / scripts loaded, s: " + (f"first {v['first'].server_s:.2f} / {v['first'].static_s:.2f}; " if "first" in v else "")
                         + f"five in a row {' '.join(f'{b.server_s:.2f}/{b.static_s:.2f}' for b in v['burst'])}; "
                         f"idle again after a visit {_fmt(v['waits'][:-1]) or '-'} s, after the five {v['refill']:.1f} s")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a trained and monitored project folder (default: build one, ~6 min)")
    parser.add_argument("--apps", default=",".join(APPS), help=f"apps to measure (default: {','.join(APPS)})")
    parser.add_argument("--pool-sizes", default="5,1", help="`workbench serve --pool-size` values; the first gets every measure, "
                        "the others the visits in a row only, on --compare-apps (default: 5,1)")
    parser.add_argument("--compare-apps", default="drift", help="apps measured on the other pool sizes (default: drift)")
    parser.add_argument("--later", type=int, default=1, help="later visits per app, each once the server is idle again (default: 1; "
                        "the first of the visits in a row is counted too)")
    parser.add_argument("--burst", type=int, default=5, help="visits in a row, no pause (default: 5)")
    parser.add_argument("--picks", type=int, default=3, help="changes per picker (default: 3)")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare Voila reference")
    args = parser.parse_args()
    import nbformat
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    apps = [a for a in args.apps.split(",") if a]
    compare = [a for a in args.compare_apps.split(",") if a in apps]
    pools = [int(p) for p in args.pool_sizes.split(",")]
    project = (args.project or build_project()).resolve()
    bare_dir = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(BARE)],
                                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
                   bare_dir / "bare.ipynb")
    plan: list[tuple[Server, list[str], bool]] = []  # server, apps, every measure (else visits in a row only)
    for n, size in enumerate(pools):
        port = free_port()
        server = Server(f"workbench serve --pool-size {size}", [str(BIN / "workbench"), "serve", "--port", str(port), "--pool-size", str(size)],
                        project, port, [f"{a}.ipynb" for a in APPS] if size > 0 else [])
        plan.append((server, apps if n == 0 else compare, n == 0))
    for preheat in ([] if args.no_bare else [False, True]):
        port = free_port()
        command = [str(BIN / "voila"), str(bare_dir), "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}"]
        server = Server(f"bare voila{' --preheat_kernel' if preheat else ''}", command + ["--preheat_kernel=True"] * preheat,
                        bare_dir, port, ["bare.ipynb"] * preheat)
        plan.append((server, ["bare"], True))
    results: dict[str, dict] = {}
    third: dict[str, list[str]] = {}
    with sync_playwright() as p:
        browser = Browser(p)
        for server, names, full in plan:
            if not names:
                continue
            server.start()
            print(f"{server.name}: warm (pools filled, processes idle) {server.warm_s:.1f} s after its start", flush=True)
            results[server.name] = {}
            browser.third_party = []
            try:
                for app in names:
                    url = f"http://127.0.0.1:{server.port}/voila/render/{app}.ipynb"
                    lead, fallback = (".jupyter-widgets img", None) if app == "bare" else (LEAD, FALLBACK)
                    r = results[server.name][app] = measure_app(browser, server, url, app, lead, fallback, args.later, args.burst, args.picks, full)
                    first = r.get("first")
                    print(f"  {app}: " + (f"first {first.answer_s:.2f} s ({first.selector}; server {first.server_s:.2f}), full {first.full_s:.2f} s, "
                                          f"later {_fmt(r['later'])}, pickers {_picker_ms(first)}; " if first else "")
                          + f"five in a row {_fmt(r['burst'])}", flush=True)
            finally:
                server.stop()
            third[server.name] = browser.third_party
        browser.browser.close()
    print(f"\n{report(results, apps, list(results))}")
    for name, urls in third.items():
        print(f"third-party requests, {name}: {len(urls)}" + "".join(f"\n  {u}" for u in sorted(set(urls))))
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
