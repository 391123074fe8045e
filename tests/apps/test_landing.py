"""The landing page (the status page): built in-process from stored results, and in a real browser on the monitored demo."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from tests.reports.test_status import _champion, _config, _monitor, estimate_json
from workbench import apps
from workbench.config import load_config
from workbench.governance import requests
from workbench.reports import catalog, status

APPS = ["drift.ipynb", "fairness.ipynb", "explain.ipynb", "impact.ipynb", "card.ipynb"]


class _Page(HTMLParser):
    """The landing HTML's events (data-kind, data-date, text, links), cost and pending items, every href and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict] = []
        self.items: dict[str, list[str]] = {"wb-cost": [], "wb-pending-item": []}
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self._in: dict | str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "li" and a.get("class") == "wb-event":
            self._in = {"kind": a["data-kind"], "date": a["data-date"], "text": "", "links": []}
            self.events.append(self._in)
        elif tag == "li" and a.get("class") in self.items:
            self._in = a["class"]
            self.items[self._in].append("")
        if tag == "a" and a.get("href") is not None:
            self.hrefs.append(a["href"])
            if isinstance(self._in, dict):
                self._in["links"].append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self._in = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if isinstance(self._in, dict):
            self._in["text"] += data
        elif isinstance(self._in, str):
            self.items[self._in][-1] += data


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_landing_lays_out_the_status_with_evidence_links(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _champion(cfg)
    runs = [_monitor(cfg, 1, "2026-01", drifted=[]), _monitor(cfg, 2, "2026-02", drifted=["<b>x</b>"], perf=("roc_auc", 0.9, 0.7, True))]
    prepared = apps.prepare("index", str(tmp_path / "workbench.yaml"))
    html = prepared.view.value
    page = _parse(html)
    assert [(e["kind"], e["date"]) for e in page.events] == [("registered", datetime.now(UTC).date().isoformat()),
                                                            ("promoted", datetime.now(UTC).date().isoformat()),
                                                            ("drift_began", "2026-02"), ("concept_drift", "2026-02")]
    assert page.events[2]["text"].startswith("2026-02 In 2026-02, <b>x</b> drifted away from the training data.")
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html  # escaped
    assert [e["links"] for e in page.events] == [["card.ipynb?version=1"], ["card.ipynb?version=1"], [f"drift.ipynb?run={runs[1]}"],
                                                 [f"drift.ipynb?run={runs[1]}"]]
    assert [h for h in page.hrefs if h.endswith(".ipynb")] == APPS
    assert all(not h.startswith(("/", "http")) for h in page.hrefs)  # relative (and the download is a data URL)
    visible = "".join(page.text)
    assert "?run=" not in visible and "?version=" not in visible
    assert '<p class="wb-answer">Model v1 (1.0.0) is the champion; in 2026-02 production data drifted and in 2026-02 its AUC fell from 0.9 to 0.7;' in html
    assert 'class="wb-download-link" download="status.html" href="data:text/html' in html
    assert re.search(r'<img alt="Model v1[^"]*" style="max-width:100%" src="data:image/png;base64,', html)
    assert '<p class="wb-costs-note">No business KPI is configured for this project, so no cost can be given.</p>' in html
    assert prepared.visit() is prepared.view  # nothing changed: the prepared view
    requests.request(cfg, trigger="manual", run_id="r1", reasons=["by hand"])  # no new run, but the status changed
    fresh = prepared.visit()
    assert fresh is not prepared.view
    assert _parse(fresh.value).items["wb-pending-item"] == [
        f"1 retrain request waits for the model to be retrained (filed since {datetime.now(UTC).date().isoformat()}); who must act: "
        "data_scientist, approver, admin."]


def test_landing_shows_performance_without_labels(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    _champion(cfg)
    _monitor(cfg, 1, "2026-04", drifted=[])  # monitored before estimates were recorded
    before = apps.prepare("index", str(tmp_path / "workbench.yaml")).view.value
    assert ('<h3>Performance without labels</h3><p class="wb-estimates-note">No monitored batch has a performance estimate yet: batches '
            "monitored before estimates were recorded have none.</p>") in before
    _monitor(cfg, 2, "2026-05", drifted=[], perf=("roc_auc", 0.921, 0.771, True), estimate=estimate_json(realised=0.771))
    _monitor(cfg, 3, "2026-06", drifted=[], estimate=estimate_json(0.85))
    _monitor(cfg, 4, "2026-07", drifted=[], estimate=estimate_json(0.9))
    html = apps.prepare("index", str(tmp_path / "workbench.yaml")).view.value
    assert ("<thead><tr><th>batch</th><th>estimated AUC</th><th>band</th><th>realised</th></tr></thead><tbody>"
            '<tr class="wb-bad" data-batch="2026-05"><td>2026-05</td><td>0.91</td><td>0.89–0.93</td><td>0.77, worse than the band</td></tr>'
            '<tr class="wb-bad" data-batch="2026-06"><td>2026-06</td><td>0.85</td><td>0.83–0.87</td><td>no labels yet</td></tr>'
            '<tr data-batch="2026-07"><td>2026-07</td><td>0.9</td><td>0.88–0.92</td><td>no labels yet</td></tr></tbody>') in html
    assert [e["kind"] for e in _parse(html).events if e["kind"] == "estimate_alert"] == ["estimate_alert"]
    assert html.index("<h3>What happened</h3>") < html.index("<h3>Performance without labels</h3>") < html.index("<h3>What it costs</h3>")


def test_landing_with_nothing_recorded(tmp_path: Path) -> None:
    _config(tmp_path)
    html = apps.prepare("index", str(tmp_path / "workbench.yaml")).view.value
    assert "Nothing has been recorded yet: run “workbench run” to train and register a model" in html
    assert '<p class="wb-timeline-note">Nothing has been recorded yet.</p>' in html and "<img" not in html
    assert "Performance without labels" not in html  # no batch: nothing to estimate
    assert [h for h in _parse(html).hrefs if h.endswith(".ipynb")] == APPS


@pytest.mark.slow
def test_landing_on_the_monitored_demo(monitored_demo) -> None:
    project, _ = monitored_demo
    started = time.perf_counter()
    prepared = apps.prepare("index", str(project / "workbench.yaml"))
    assert time.perf_counter() - started < 20
    started = time.perf_counter()
    view = prepared.visit()
    assert time.perf_counter() - started < 2 and view is prepared.view
    page = _parse(view.value)
    kinds = [(e["kind"], e["date"]) for e in page.events]
    assert ("drift_began", "2026-03") in kinds and ("concept_drift", "2026-05") in kinds and ("bias_shift", "2026-07") in kinds
    bias = next(e for e in page.events if e["kind"] == "bias_shift")
    assert len(bias["links"]) == 1 and bias["links"][0].startswith("fairness.ipynb?run=")
    assert len(page.items["wb-cost"]) == 2 and all(" a month " in c for c in page.items["wb-cost"])
    assert [i for i in page.items["wb-pending-item"] if "who must act: data_scientist, approver, admin." in i]


@pytest.mark.slow
def test_the_demo_stories_from_the_stored_results(monitored_demo) -> None:
    """The three planted stories from the stored files. Here, not in tests/reports: the demo must hold only its 8 monthly
    batches, and tests/phases/test_monitor.py, later in pytest's file order, monitors extra batches into it."""
    project, _ = monitored_demo
    cfg = load_config(project / "workbench.yaml")
    batches = {b.name.removesuffix(".parquet"): b for b in catalog.latest_per_batch(cfg)}
    st = status.status(cfg)
    drift_began = [e for e in st.events if e.kind == "drift_began"]
    assert drift_began[0].date == "2026-03" and "monthly_charges" in drift_began[0].sentence
    assert "every batch" in drift_began[0].sentence
    assert all("monthly_charges" not in e.sentence for e in drift_began[1:])
    concept = [e for e in st.events if e.kind == "concept_drift"]
    perf = batches["2026-05"].read("drift", catalog.CONCEPT_FILE)["performance"]
    assert [e.date for e in concept] == ["2026-05"] and round(perf["reference"], 2) == 0.92 and round(perf["batch"], 2) == 0.77
    assert concept[0].sentence.startswith(f"In 2026-05, the model's AUC fell from {perf['reference']:.2f} to {perf['batch']:.2f}")
    bias = [e for e in st.events if e.kind == "bias_shift"]
    table = pd.read_parquet(batches["2026-07"].phase_dir("fairness") / catalog.BIAS_DRIFT_FILE)
    row = table[(table["attribute"] == "age_band") & (table["group"] == "60+")].iloc[0]
    assert row["batch_rate"] <= 0.55 * row["reference_rate"]  # the planted story: recall for 60+ (at least) halves
    assert [e.date for e in bias] == ["2026-07"]
    assert bias[0].sentence.startswith(f"In 2026-07, recall for age_band 60+ fell from {row['reference_rate']:.2f} to {row['batch_rate']:.2f}")
    assert st.headline.startswith("Model v1 (1.0.0) is the champion; since 2026-03 production data has drifted, "
                                  f"in 2026-05 its AUC fell from {perf['reference']:.2f} to {perf['batch']:.2f}, and in 2026-07 recall for age_band 60+ ")
    assert [c.kpi for c in st.costs] == ["churn_reduction", "cost_per_saved_customer"]
    assert all(c.batch == "2026-08" and c.per_period is not None and " a month " in c.sentence for c in st.costs)
    pending = requests.pending(cfg)
    assert [p.kind for p in st.pending] == ["retrain_request"] and st.pending[0].ids == [r["id"] for r in pending]
    assert st.pending[0].sentence.endswith("who must act: data_scientist, approver, admin.")
