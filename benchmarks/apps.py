"""Report apps in a real browser: `workbench serve` (the drift app on real report data) vs a bare Voila notebook.

The bare notebook is what a user would otherwise write: an ipywidgets dropdown redrawing one
matplotlib plot into an Output widget, served by plain `voila` (default settings, then with
`--preheat_kernel`). Measured with Playwright driving Debian's chromium:

- cold start: server process start -> first app visibly rendered (widgets and first image);
- later visitor: a fresh browser context opens the app once the server is warm (median);
- picker update: dropdown change -> the new image decoded in the page (median, measured in the page);
- page weight: bytes transferred over HTTP for one visit (gzip as sent; resource timing), and decoded.

    .venv/bin/python benchmarks/apps.py --project DIR [--visits 5]

DIR is a project folder already trained and monitored (`workbench run` then `workbench monitor`);
without --project one is built in a temporary folder first (~6 min).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
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
# In-page timer: change a <select> to its next option, resolve when `watch` shows a new, decoded image.
PICK_JS = """async ([select, watch]) => {
  const current = () => { const img = watch.tagName === 'IMG' ? watch : watch.querySelector('img'); return img ? img.src : null; };
  const before = current();
  const t0 = performance.now();
  select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
  select.dispatchEvent(new Event('change', {bubbles: true}));
  await new Promise(resolve => { const poll = () => { const s = current(); if (s && s !== before) resolve(); else requestAnimationFrame(poll); }; poll(); });
  const img = watch.tagName === 'IMG' ? watch : watch.querySelector('img');
  if (!img.complete) await new Promise(resolve => img.addEventListener('load', resolve, {once: true}));
  await img.decode();
  return performance.now() - t0;
}"""
WEIGHT_JS = """() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .reduce((a, e) => [a[0] + e.encodedBodySize, a[1] + e.decodedBodySize], [0, 0])"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Target:
    """One server to measure: how to start it, which page to open, which picker to change."""

    def __init__(self, name: str, args: list[str], cwd: Path, path: str, ready: str, select: str, watch: str, before_pick: str | None = None):
        self.name, self.args, self.cwd, self.path, self.ready = name, args, cwd, path, ready
        self.select, self.watch, self.before_pick = select, watch, before_pick


def measure(browser, target: Target, port: int, visits: int) -> dict[str, float]:
    log = open(Path(tempfile.gettempdir()) / f"bench-apps-{target.name.replace(' ', '_')}.log", "w")  # noqa: SIM115
    start = time.perf_counter()
    proc = subprocess.Popen(target.args, cwd=target.cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/{target.path}"
    try:
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        visit(browser, url, target)  # the first visitor, right after the start
        cold = time.perf_counter() - start
        loads, picks, weights = [], [], []
        for _ in range(visits):
            time.sleep(8)  # let the server refill its pool of pre-heated kernels, as between two real visitors
            seconds, pick_ms, weight = visit(browser, url, target, pick=True)
            loads.append(seconds)
            picks.extend(pick_ms)
            weights.append(weight)
        return {"cold": cold, "later": statistics.median(loads), "pick_ms": statistics.median(picks),
                "sent_mb": weights[-1][0] / 1e6, "decoded_mb": weights[-1][1] / 1e6}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        log.close()


def visit(browser, url: str, target: Target, pick: bool = False) -> tuple[float, list[float], tuple[int, int]]:
    """Open the app in a fresh context; seconds to the first rendered image, picker timings, bytes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(180_000)
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(target.ready)
    page.wait_for_function("sel => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }", arg=target.ready)
    seconds = time.perf_counter() - t0
    timings = []
    if pick:
        if target.before_pick:
            page.locator(target.before_pick).click()
            page.wait_for_selector(target.watch)
        page.wait_for_timeout(300)
        select = page.locator(target.select).first.element_handle()
        watch = page.locator(target.watch).first.element_handle()
        for _ in range(5):
            timings.append(page.evaluate(PICK_JS, [select, watch]))
    page.wait_for_load_state("networkidle")
    weight = page.evaluate(WEIGHT_JS)
    context.close()
    return seconds, timings, weight


def build_project() -> Path:
    import shutil

    project = Path(tempfile.mkdtemp(prefix="bench-apps-"))
    shutil.copy(Path(__file__).resolve().parent.parent / "workbench.yaml", project / "workbench.yaml")
    for command in (["run"], ["monitor"]):
        subprocess.run([str(BIN / "workbench"), *command], cwd=project, check=True, capture_output=True)
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="a trained and monitored project folder (default: build one, ~6 min)")
    parser.add_argument("--visits", type=int, default=5)
    args = parser.parse_args()
    import nbformat
    from playwright.sync_api import sync_playwright

    project = (args.project or build_project()).resolve()
    bare_dir = Path(tempfile.mkdtemp(prefix="bench-bare-"))
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(BARE)],
                                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
                   bare_dir / "bare.ipynb")
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for preheat in (False, True):
            port = free_port()
            voila = [str(BIN / "voila"), str(bare_dir), "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}"]
            if preheat:
                voila.append("--preheat_kernel=True")
            target = Target(f"bare voila{' --preheat_kernel' if preheat else ''}", voila, bare_dir, "voila/render/bare.ipynb",
                            ".jupyter-widgets img", ".widget-dropdown select", ".jupyter-widgets.widget-output")
            rows.append((target.name, measure(browser, target, port, args.visits)))
        port = free_port()
        ours = Target("workbench serve: drift app", [str(BIN / "workbench"), "serve", "--port", str(port)], project, "voila/render/drift.ipynb",
                      ".widget-image", ".widget-dropdown:has(label:text('Feature')) select", ".widget-image:visible",
                      before_pick=".lm-TabBar-tab:has-text('Distributions')")
        rows.append((ours.name, measure(browser, ours, port, args.visits)))
        browser.close()
    base = rows[0][1]
    print(f"\n{'server':<34}{'cold start s':>13}{'later visit s':>14}{'x bare':>8}{'picker ms':>11}{'x bare':>8}{'sent MB':>9}{'decoded MB':>11}")
    for name, r in rows:
        print(f"{name:<34}{r['cold']:>13.2f}{r['later']:>14.2f}{r['later'] / base['later']:>8.2f}{r['pick_ms']:>11.0f}"
              f"{r['pick_ms'] / base['pick_ms']:>8.2f}{r['sent_mb']:>9.2f}{r['decoded_mb']:>11.2f}")
    r = rows[-1][1]
    print(f"\ntargets: later visitor < 2 s -> {'met' if r['later'] < 2 else 'MISSED'} ({r['later']:.2f} s); "
          f"picker update < 0.3 s -> {'met' if r['pick_ms'] < 300 else 'MISSED'} ({r['pick_ms']:.0f} ms); "
          f"page < 2 MB -> {'met' if r['sent_mb'] < 2 else 'MISSED'} ({r['sent_mb']:.2f} MB sent)")


if __name__ == "__main__":
    main()
