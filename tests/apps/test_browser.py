"""Every app in a real browser (Debian's chromium driven by Playwright) against a real server:
widgets render, a picker changes what is shown, each app leads with the answer its stored results give,
the status page tells the demo's three planted stories, pages fit 1280 and 800 px windows, the download is
self-contained, no JavaScript errors and no request leaves the machine; screenshots for people."""

from __future__ import annotations

import html
import re
import shutil
from urllib.parse import urlparse

import pytest

from tests.apps.conftest import APPS_TOKEN, OUTPUT

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TOKEN = APPS_TOKEN
SHOTS = OUTPUT / "screenshots"
READY = ".jupyter-widgets .wb-app, .wb-msg"
TIMEOUT_MS = 120_000




@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (make test does this in CI)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(apps_server):
    """The package's served monitored demo (shared with tests/apps/test_http.py)."""
    return apps_server


def _allowed(url: str | None) -> bool:
    """Nothing may fail: the pages load nothing from other hosts (no CDN font), so no failure is expected."""
    return False


def _third_party(url: str) -> bool:
    """A request over the network to another host (``data:`` and ``blob:`` URLs stay in the page)."""
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname not in ("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def signed_in(browser, server) -> dict:
    """The cookies a first visit with the token sets, taken once for the module: each test's tab starts signed in
    rather than rendering the landing page (a kernel) before the app it is about (test_landing_page_links_every_app
    still signs in with the token itself)."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(f"{server.url}?token={TOKEN}")
    tab.wait_for_selector(READY)
    state = context.storage_state()
    context.close()
    assert state["cookies"], "the token set no cookie"
    return state


@pytest.fixture
def page(browser, server, signed_in):
    """A fresh tab signed in (the cookies the token set, :func:`signed_in`); collects JS errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, storage_state=signed_in)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    tab.on("console", lambda msg: errors.append(f"console: {msg.text} ({msg.location.get('url')})")
           if msg.type == "error" and not _allowed(msg.location.get("url")) else None)
    # the kernel-shutdown beacon a page sends when left is aborted by the navigation itself: not an error
    tab.on("requestfailed", lambda req: errors.append(f"request failed: {req.url} {req.failure}")
           if not _allowed(req.url) and "/voila/api/shutdown/" not in req.url else None)
    tab.on("response", lambda res: errors.append(f"HTTP {res.status}: {res.url}") if res.status >= 400 and not _allowed(res.url) else None)
    tab.on("request", lambda req: errors.append(f"third-party request: {req.url}") if _third_party(req.url) else None)
    tab.errors = errors
    yield tab
    context.close()


def _open(page, server, app: str) -> None:
    page.goto(f"{server.url}voila/render/{app}.ipynb")
    page.wait_for_selector(READY)


def _select(page, label: str):
    return page.locator(".widget-dropdown", has=page.locator("label", has_text=label)).locator("select")


def _visible_image(page, within: str = ".widget-tab-contents"):
    """The first shown image in the visible tab (``within``); the answer chart above the tabs is ``.wb-app``."""
    image = page.locator(f"{within} .widget-image:visible").first
    image.wait_for()
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=image.element_handle())
    return image


def _change(page, select, watched, *, differs=lambda text, current: True) -> tuple[str, str]:
    """Pick another option of ``select`` (whose text ``differs`` from the current one's); return the watched element's src or text before and after."""
    before = watched.get_attribute("src") or watched.inner_text()
    options = select.locator("option").evaluate_all("els => els.map(e => [e.value, e.textContent])")
    current = select.input_value()
    current_text = dict(options)[current]
    assert len(options) > 1, f"only one option: {options}"
    select.select_option(next(value for value, text in options if value != current and differs(text, current_text)))
    handle = watched.element_handle()
    page.wait_for_function("([el, before]) => (el.getAttribute('src') || el.innerText) !== before", arg=[handle, before])
    return before, watched.get_attribute("src") or watched.inner_text()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert (SHOTS / f"{name}.png").stat().st_size > 10_000


def test_landing_page_links_every_app(page, server):
    page.context.clear_cookies()  # a first visit: the token in the address signs in
    page.goto(f"{server.url}?token={TOKEN}")
    page.wait_for_selector(READY)
    links = page.locator("a[href$='.ipynb']").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert links == ["drift.ipynb", "fairness.ipynb", "explain.ipynb", "impact.ipynb", "card.ipynb"]
    _shot(page, "index")
    page.locator("a", has_text="Drift").first.click()
    page.wait_for_url("**/voila/render/drift.ipynb")  # same tab; the cookie set by the token carries the visit on
    page.wait_for_selector(".jupyter-widgets .widget-dropdown")
    assert page.errors == []


def test_drift_app(page, server):
    _open(page, server, "drift")
    _visible_image(page, ".wb-app")  # the answer chart (the per-column drift heatmap)
    _visible_image(page)  # the history over time
    _shot(page, "drift")
    page.locator(".lm-TabBar-tab", has_text="Distributions").click()
    image = _visible_image(page)
    before, after = _change(page, _select(page, "Feature"), image)
    assert before != after
    summary = page.locator(".wb-kpis").first
    batch = summary.inner_text()
    # another batch (other test modules may monitor the same batch twice)
    before, after = _change(page, _select(page, "Run / batch"), summary, differs=lambda text, current: text.split(" · ")[0] != current.split(" · ")[0])
    assert after != batch
    _shot(page, "drift-distributions")
    assert page.errors == []


def test_fairness_app(page, server):
    _open(page, server, "fairness")
    image = _visible_image(page)
    _shot(page, "fairness")
    before, after = _change(page, _select(page, "Metric"), image)
    assert before != after
    page.locator(".lm-TabBar-tab", has_text="Bias drift").click()
    image = _visible_image(page)
    before, after = _change(page, _select(page, "Attribute"), image)
    assert before != after
    _shot(page, "fairness-bias-drift")
    assert page.errors == []


def test_explain_app(page, server):
    _open(page, server, "explain")
    _visible_image(page)
    _shot(page, "explain")
    page.locator(".lm-TabBar-tab", has_text="Local").click()
    image = _visible_image(page)
    before, after = _change(page, _select(page, "Explained row"), image)
    assert before != after
    page.locator(".lm-TabBar-tab", has_text="By segment").click()
    image = _visible_image(page)
    before, after = _change(page, _select(page, "Segment"), image)
    assert before != after
    assert page.errors == []


def test_impact_app(page, server):
    """The monitored demo has labelled batches, so the KPI picker is there: picking another KPI shows its trend below the answer's chart."""
    _open(page, server, "impact")
    _shot(page, "impact")
    assert page.locator(".widget-dropdown").count() > 0, page.locator(".wb-msg").first.inner_text()
    images = page.locator(".wb-app .widget-image:visible")
    images.first.wait_for()
    before = images.evaluate_all("els => els.map(e => e.getAttribute('src'))")
    select = _select(page, "Trend of")
    current = select.input_value()
    select.select_option(next(v for v in select.locator("option").evaluate_all("els => els.map(e => e.value)") if v != current))
    page.wait_for_function("before => [...document.querySelectorAll('.wb-app .widget-image')].some(e => e.offsetWidth && e.complete "
                           "&& e.naturalWidth > 0 && !before.includes(e.getAttribute('src')))", arg=before)
    assert page.errors == []


def test_card_app(page, server):
    """The demo registers one version: the picker offers exactly it and its card is shown in the page (no frame), at full height."""
    _open(page, server, "card")
    _shot(page, "card")
    picker = _select(page, "Version")
    assert picker.locator("option").count() == 1
    version = picker.input_value().lstrip("v")
    assert f" v{version} " in page.locator(".wb-card-title").inner_text()
    assert page.locator("iframe").count() == 0
    card = page.locator(".wb-card").bounding_box()
    assert card["height"] > 900  # the whole card, not a 900 px window onto it
    assert page.errors == []


# Horizontal overflow of the page, of every table (it must fit its box: a scroll box needing a scroll counts as
# cut off), of images, and clipped widget labels. Returns one line per problem.
OVERFLOW_JS = """() => {
  const out = [], vw = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > vw + 1) out.push(`page ${document.documentElement.scrollWidth} px wide in a ${vw} px window`);
  document.querySelectorAll('.wb-table').forEach((t) => {
    const r = t.getBoundingClientRect();
    if (!r.width) return;  // in a hidden tab
    const head = (t.querySelector('tr') || t).innerText.replace(/\\s+/g, ' ').slice(0, 60);
    const box = t.closest('.wb-scroll');
    if (box && box.scrollWidth > box.clientWidth + 1) out.push(`table "${head}" needs ${box.scrollWidth} px, has ${box.clientWidth}`);
    if (r.right > vw + 1) out.push(`table "${head}" ends at ${Math.round(r.right)} px`);
  });
  document.querySelectorAll('.widget-label').forEach((l) => {
    if (l.offsetWidth && l.scrollWidth > l.clientWidth + 1) out.push(`label "${l.innerText}" clipped`);
  });
  document.querySelectorAll('.jupyter-widgets img').forEach((im) => {
    const r = im.getBoundingClientRect();
    if (r.width && r.right > vw + 1) out.push(`image ends at ${Math.round(r.right)} px`);
  });
  return out;
}"""
APP_NAMES = ["index", "drift", "fairness", "explain", "impact", "card"]


@pytest.mark.parametrize("width", [1280, 800])
def test_every_app_fits_the_window(browser, server, width):
    """Every app and every tab at 1280 and 800 px: no table, image or label cut off; full-page screenshots kept."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(f"{server.url}?token={TOKEN}")
    problems = []
    for app in APP_NAMES:
        _open(tab, server, app)
        tabs = tab.locator(".lm-TabBar-tab")
        for i in range(max(tabs.count(), 1)):
            if tabs.count():
                tabs.nth(i).click()
                # the shown tab's page is built on selection (LazyTabs): wait until it holds content
                tab.locator(".widget-tab-contents > .lm-Widget:not(.lm-mod-hidden) :is(.wb-msg, .wb-table, img)").first.wait_for()
            tab.wait_for_timeout(300)  # images decode, layout settles
            problems += [f"{app} tab {i}: {p}" for p in tab.evaluate(OVERFLOW_JS)]
            _shot(tab, f"{app}-{width}-{i}")
    context.close()
    assert problems == []


def _answer_in_process(project, app: str) -> str:
    """The lead sentence the app builds in-process for its default view (the newest run) from the stored results."""
    from workbench.apps import prepare

    view = prepare(app, str(project / "workbench.yaml")).view
    stack, values = [view], []
    while stack:
        widget = stack.pop(0)
        values.append(str(getattr(widget, "value", "")) if type(widget).__name__ == "HTML" else "")
        stack.extend(getattr(widget, "children", ()))
    found = next(m for v in values if (m := re.search(r'<p class="wb-answer">(.*?)</p>', v, re.S)))
    return html.unescape(found.group(1))


@pytest.mark.parametrize("app", APP_NAMES)
def test_each_app_leads_with_its_stored_answer(page, server, monitored_demo, app):
    """The first thing on every page is one sentence: the same the app's view model builds from the stored results."""
    _open(page, server, app)
    shown = page.locator(".wb-lead .wb-answer").first.inner_text()
    assert shown == _answer_in_process(monitored_demo[0], app)
    assert "?run=" not in shown and "/" + "tmp" not in shown and str(monitored_demo[0]) not in page.locator("body").inner_text()
    assert page.errors == []


def test_drift_lead_agrees_with_its_tiles_and_the_stored_counts(page, server, monitored_demo):
    from workbench.config import load_config
    from workbench.reports import catalog

    newest = catalog.latest_run(load_config(monitored_demo[0] / "workbench.yaml"), with_phase="drift")
    dataset = newest.read("drift", catalog.DATA_DRIFT_FILE)["dataset"]
    count = f"{dataset['drifted_columns']} of {dataset['columns']}"
    _open(page, server, "drift")
    assert count in page.locator(".wb-lead .wb-answer").inner_text()
    assert count in page.locator(".wb-kpis").first.inner_text()
    evidently = newest.read("drift", catalog.EVIDENTLY_SUMMARY_FILE)
    assert evidently is not None and f"same {evidently['drifted_columns']} drifted" in page.locator(".wb-evidently").inner_text()


def test_drift_performance_tab_sets_the_estimate_beside_the_realised_value(page, server, monitored_demo):
    """The Performance tab of the newest batch: the sentence the stored estimate gives, its chart over time and the per-metric table."""
    from workbench.apps import _estimate_view
    from workbench.config import load_config
    from workbench.reports import catalog

    newest = catalog.latest_run(load_config(monitored_demo[0] / "workbench.yaml"), with_phase="drift")
    stored = newest.read("drift", catalog.ESTIMATE_FILE)
    assert stored is not None, "the demo's monitor runs store drift/estimate.json"
    _open(page, server, "drift")
    page.locator(".lm-TabBar-tab", has_text="Performance").click()
    answer = page.locator(".widget-tab-contents .wb-estimate-answer")
    answer.wait_for()
    assert answer.inner_text() == _estimate_view.answer(newest.read("score")["batch"]["name"], stored)[0]
    _visible_image(page)  # estimated vs realised over every monitored batch
    assert "Every metric, estimated and realised" in page.locator(".widget-tab-contents").inner_text()
    _shot(page, "drift-performance")
    assert page.errors == []


def test_status_page_tells_the_three_planted_stories(page, server):
    """Drift since 2026-03 (monthly_charges), AUC falling in 2026-05, recall for 60+ halving in 2026-07: sentences with their months and evidence links."""
    _open(page, server, "index")
    headline = page.locator(".wb-answer").inner_text()
    events = page.locator("li.wb-event").evaluate_all(
        "els => els.map(e => [e.dataset.kind, e.dataset.date, e.innerText, e.querySelector('a') && e.querySelector('a').getAttribute('href')])")
    _shot(page, "status")
    assert re.search(r"since 2026-03 production data has drifted, in 2026-05 its AUC fell from 0\.9\d to 0\.7\d, and in 2026-07 recall for "
                     r"age_band 60\+ (more than )?halved", headline), headline
    drift = next(e for e in events if e[0] == "drift_began")
    assert drift[1] == "2026-03" and "Since 2026-03, monthly_charges" in drift[2] and "in every batch" in drift[2]
    concept = [e for e in events if e[0] == "concept_drift"]
    assert [e[1] for e in concept] == ["2026-05"] and re.search(r"In 2026-05, the model's AUC fell from 0\.9\d to 0\.7\d", concept[0][2])
    bias = [e for e in events if e[0] == "bias_shift"]
    assert [e[1] for e in bias] == ["2026-07"]
    assert re.search(r"In 2026-07, recall for age_band 60\+ fell from 0\.\d\d to 0\.\d\d \((about|less than) half\)", bias[0][2])
    assert drift[3].startswith("drift.ipynb?run=") and bias[0][3].startswith("fairness.ipynb?run=")
    assert all("?run=" not in e[2] for e in events)
    page.locator("li.wb-event", has_text="In 2026-05").locator("a").first.click()  # the evidence: the drift app on that batch
    page.wait_for_selector(".wb-lead .wb-answer")
    assert page.locator(".wb-lead .wb-answer").inner_text().startswith("In 2026-05")
    assert page.errors == []


def test_download_is_self_contained_and_print_hides_the_controls(page, server):
    _open(page, server, "drift")
    answer = page.locator(".wb-lead .wb-answer").inner_text()
    with page.expect_download() as download:
        page.locator(".wb-download-link").click()
    saved = download.value
    assert saved.suggested_filename.startswith("drift-") and saved.suggested_filename.endswith(".html")
    text = saved.path().read_text(encoding="utf-8")
    assert html.escape(answer) in text and "data:image/png;base64," in text
    assert "<script" not in text and not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert page.locator(".wb-controls").is_visible() and page.locator(".lm-TabBar").first.is_visible()
    page.emulate_media(media="print")
    assert not page.locator(".wb-controls").is_visible() and not page.locator(".wb-download").is_visible()
    assert not page.locator(".lm-TabBar").first.is_visible() and page.locator(".wb-lead").is_visible()
    assert page.errors == []
