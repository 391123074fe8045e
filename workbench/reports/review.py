"""Review packs: the weekly ops pulse, the monthly business review and the quarterly governance review.

A review covers the window ending on ``as_of`` (inclusive, UTC): the last 7 days, the last
calendar month or the last three months. It reads only what was recorded — run manifests and
results through :mod:`workbench.reports.catalog`, the audit log, retrain requests, model registry
aliases and model cards — and never recomputes anything. ``workbench review CADENCE`` runs the
notebook ``notebooks/reviews/<cadence>.ipynb`` into a run folder of kind ``review`` (manifest,
executed notebook, HTML with code hidden, ``review/review.json`` with the counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import registry
from workbench._io import apply_safe_env, atomic_path, write_json
from workbench.config import load_config
from workbench.exceptions import ParameterError
from workbench.features import store as feature_store
from workbench.governance import audit, requests
from workbench.reports import catalog, model_card
from workbench.reports import kpi_trend as kpi_trends
from workbench.reports.card_sources import GOVERNANCE_ACTIONS
from workbench.reports.review_estimates import estimates as estimates  # a section of the weekly pack, kept in its own module
from workbench.reports.review_section import Section

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.reports.catalog import RunInfo

CADENCES = ("weekly", "monthly", "quarterly")
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks" / "reviews"


def window(cadence: str, as_of: str | date | None = None) -> tuple[datetime, datetime]:
    """``(since, until)`` in UTC: ``until`` is the end of the ``as_of`` day (default: today)."""
    if cadence not in CADENCES:
        raise ParameterError(f"review cadence {cadence!r} is not valid; use one of {', '.join(CADENCES)}.")
    day = parse_date(as_of) if as_of else datetime.now(UTC).date()
    until = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    months = {"monthly": 1, "quarterly": 3}.get(cadence)
    if months is None:
        return until - timedelta(days=7), until
    import pandas as pd  # calendar months: DateOffset clamps 31 March - 1 month to 28/29 February

    return (pd.Timestamp(until) - pd.DateOffset(months=months)).to_pydatetime(), until


def parse_date(text: str | date) -> date:
    """A ``YYYY-MM-DD`` date; ParameterError naming ``--as-of`` otherwise."""
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ParameterError(f"--as-of {text!r} is not a date. Fix: use YYYY-MM-DD, e.g. --as-of 2026-11-30.") from None


@dataclass
class Review:
    """One review pack: its window and the runs recorded in it."""

    cadence: str
    config: Config
    since: datetime
    until: datetime
    runs: list[RunInfo]
    run_id: str = ""
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def dir(self) -> Path | None:
        """The review's results folder (only when run into a run folder)."""
        return self.config.reports / self.run_id / "review" if self.run_id else None

    @property
    def monitor_runs(self) -> list[RunInfo]:
        """Monitor runs in the window, oldest first."""
        return [r for r in self.runs if r.manifest.get("kind") == "monitor"]

    def _repr_html_(self) -> str:
        period = f"{self.since:%Y-%m-%d} to {(self.until - timedelta(days=1)):%Y-%m-%d} (UTC)"
        if not self.runs:
            return (f"<h3>{self.cadence.capitalize()} review of {self.config.project}: {period}</h3>"
                    f"<p><b>No runs were recorded in this window.</b> Nothing was trained, scored or monitored between "
                    f"{self.since:%Y-%m-%d} and {(self.until - timedelta(days=1)):%Y-%m-%d}.</p>")
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(_count(r.manifest.get("kind", "?") for r in self.runs).items()))
        failed = sum(r.status == "failed" for r in self.runs)
        return (f"<h3>{self.cadence.capitalize()} review of {self.config.project}: {period}</h3>"
                f"<p>{len(self.runs)} run(s) recorded ({kinds}); {failed} failed.</p>")


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def open_review(cadence: str, *, config: str | Path, as_of: str = "", run_id: str = "") -> Review:
    """Load the config and the runs of the window (review runs themselves are left out)."""
    apply_safe_env()
    cfg = load_config(config)
    since, until = window(cadence, as_of or None)
    runs = [r for r in catalog.list_runs(cfg, since=since, until=until) if r.manifest.get("kind") != "review"]
    return Review(cadence, cfg, since, until, runs, run_id)


def _batch(info: RunInfo) -> str | None:
    score = info.read("score")
    return score["batch"]["name"] if score else None


def runs_table(review: Review) -> Section:
    """Every run in the window: kind, status, time, failed phases, the batch and the model that scored it."""
    import pandas as pd

    rows = []
    for info in review.runs:
        m, score = info.manifest, info.read("score")
        rows.append({"run_id": info.run_id, "kind": m.get("kind"), "status": info.status, "started": m.get("started"),
                     "duration_s": m.get("duration_s"), "failed_phases": ", ".join(n for n, e in m["phases"].items() if e["status"] == "failed"),
                     "batch": score["batch"]["name"] if score else "", "model_version": str(score["model"]["version"]) if score else "",
                     "fallback": bool(score["fallback"]["used"]) if score else False})
    review.counts["runs"] = len(rows)
    review.counts["failed_runs"] = sum(r["status"] == "failed" for r in rows)
    return Section("Runs and their status", pd.DataFrame(rows), "No runs were recorded in this window.")


def failed_phases(review: Review) -> Section:
    """Incidents: every phase that failed in the window, with its error."""
    import pandas as pd

    rows = [{"run_id": i.run_id, "phase": n, "error": e.get("error") or "", "html": e.get("html") or ""}
            for i in review.runs for n, e in i.manifest["phases"].items() if e["status"] == "failed"]
    review.counts["failed_phases"] = len(rows)
    return Section("Incidents: failed phases", pd.DataFrame(rows), "No phase failed in this window.")


def drift_alerts(review: Review) -> Section:
    """Monitored batches whose drift verdict raised an alert, with the reasons and the retrain request filed."""
    import pandas as pd

    rows = []
    for info in review.monitor_runs:
        v = info.read("drift", catalog.VERDICT_FILE)
        if v and v["alert"]:
            rows.append({"run_id": info.run_id, "batch": v["batch"]["name"], "model_version": str(v["model"]["version"]),
                         "data_drift": v["data_drift"], "concept_drift": v["concept_drift"], "feature_drift": v["feature_drift"],
                         "reasons": "; ".join(v["reasons"]), "retrain_request": (v.get("retrain_request") or {}).get("id", "")})
    review.counts["drift_alerts"] = len(rows)
    return Section("Drift alerts", pd.DataFrame(rows), "No drift alert in this window.")


def fallbacks(review: Review) -> Section:
    """Batches scored by the baseline because the champion failed."""
    import pandas as pd

    rows = []
    for info in review.monitor_runs:
        score = info.read("score")
        if score and score["fallback"]["used"]:
            rows.append({"run_id": info.run_id, "batch": score["batch"]["name"], "scored_by": f"v{score['model']['version']} (baseline)",
                         "reason": score["fallback"]["reason"]})
    review.counts["fallbacks"] = len(rows)
    return Section("Fallbacks to the baseline model", pd.DataFrame(rows), "No fallback to the baseline in this window.")


def feature_staleness(review: Review) -> Section:
    """Feature views whose newest event is older than their TTL at the end of the window (the staleness alert)."""
    import pandas as pd

    cfg = review.config
    if cfg.features is None or not cfg.features.staleness_check:
        review.counts["stale_feature_views"] = 0
        return Section("Stale feature views", pd.DataFrame(), "No feature store is configured (no 'features' section)." if cfg.features is None
                       else "The staleness check is off (features.staleness_check: false).")
    at = min(datetime.now(UTC), review.until)
    status = feature_store.status(cfg, at=at)
    rows = []
    for view, info in status["views"].items():
        if "error" in info:
            rows.append({"view": view, "version": info["version"], "newest_event": None, "age_days": None, "ttl_days": None,
                         "problem": info["error"]})
        elif info["stale"]:
            rows.append({"view": view, "version": info["version"], "newest_event": info["newest_event"], "age_days": round(info["staleness_s"] / 86400, 1),
                         "ttl_days": round(info["ttl_s"] / 86400, 1), "problem": "older than its ttl: refresh the source, then "
                         "run 'workbench features materialize'"})
    review.counts["stale_feature_views"] = len(rows)
    note = f"Checked at {at:%Y-%m-%d %H:%M} UTC; online store materialized until {status['materialized_until'] or 'never'}."
    return Section("Stale feature views", pd.DataFrame(rows), f"Every feature view is fresher than its ttl ({note})", note=note)


def retrain_requests(review: Review) -> Section:
    """Retrain requests filed in the window, and every request still pending."""
    import pandas as pd

    every = requests.every(review.config)
    pending = {r["id"] for r in requests.pending(review.config)}
    inside = [r for r in every if review.since <= datetime.fromisoformat(r["created"]) < review.until or r["id"] in pending]
    rows = [{"id": r["id"], "status": r["status"], "created": r["created"], "trigger": r["trigger"], "reasons": "; ".join(r["reasons"]),
             "filed_in_window": review.since <= datetime.fromisoformat(r["created"]) < review.until} for r in inside]
    review.counts["retrain_requests"] = sum(r["filed_in_window"] for r in rows)
    review.counts["pending_requests"] = len(pending)
    return Section("Retrain requests", pd.DataFrame(rows), "No retrain request filed in this window and none pending.",
                   "Nothing is retrained without a person: pending requests await approval.")


def kpi_table(review: Review) -> Section:
    """The KPI table of the latest labelled batch monitored in the window (baseline, target, current, gap)."""
    import pandas as pd

    for info in reversed(review.monitor_runs):
        path = info.phase_dir("impact") / catalog.KPIS_FILE
        if path.is_file() and len(table := pd.read_parquet(path)):
            cols = ["label", "unit", "direction", "baseline", "target", "current", "ci_low", "ci_high", "gap", "on_target", "model_version"]
            review.counts["kpi_batch"] = str(table["batch"].iloc[0])
            return Section(f"KPIs on batch {table['batch'].iloc[0]} (run {info.run_id})", table.set_index("kpi")[cols], "",
                           "gap > 0: still to go to the target; intervals: 95 % bootstrap.")
    review.counts["kpi_batch"] = None
    return Section("KPIs", pd.DataFrame(), no_kpi_reason(review))


def no_kpi_reason(review: Review) -> str:
    """Why no KPI was measured in the window: from the config and the impact results of the window's monitor runs."""
    cfg, runs = review.config, review.monitor_runs
    if not cfg.kpis:
        return f"No KPIs are configured (add a 'kpis' section to {cfg.source.name})."
    skipped = next((r["skipped_kpis"] for r in reversed([i.read("impact", catalog.IMPACT_FILE) for i in runs]) if r and r.get("skipped_kpis")), [])
    other = [{"kpi": k.name, "reason": f"defined for {k.task} models"} for k in cfg.kpis if k.task and k.task != cfg.model.task]
    if len(skipped) >= len(cfg.kpis) or len(other) == len(cfg.kpis):
        names = "; ".join(f"{s['kpi']} ({s['reason']})" for s in (skipped if len(skipped) >= len(cfg.kpis) else other))
        return f"KPIs are configured, but none applies to this {cfg.model.task} model: {names}."
    if not runs:
        return "No batch was monitored in this window, so no KPI was measured."
    failed = [i for i in runs if i.phase_status("impact") == "failed"]
    unlabelled = [_batch(i) or i.run_id for i in runs if "label" in str((i.read("impact", catalog.IMPACT_FILE) or {}).get("reason") or "")]
    missing = [i for i in runs if i.phase_status("impact") not in ("failed", "succeeded")]
    why = []
    if unlabelled:
        names = sorted({str(b).rsplit(".", 1)[0] for b in unlabelled})
        why.append(f"batch {names[0]} has no labels (outcomes) yet" if len(names) == 1 else f"batches {', '.join(names)} have no labels (outcomes) yet")
    if failed:
        errors = "; ".join(f"run {i.run_id}: {str(i.manifest['phases']['impact'].get('error') or 'no error recorded').splitlines()[0][:200]}" for i in failed)
        why.append(f"the impact phase failed in {len(failed)} of {len(runs)} monitor runs ({errors})")
    if missing:
        why.append(f"the impact phase did not run in {len(missing)} of {len(runs)} monitor runs")
    return "No KPI was measured: " + ("; ".join(why) or "the impact results of this window hold no KPI values") + "."


def kpi_trend(review: Review) -> Any:
    """The KPI trend over the batches monitored in the window (latest run of each), as a server-rendered image."""
    import io

    from IPython.display import Image

    trend = kpi_trends.build(review.config, runs=review.monitor_runs)
    review.counts["kpi_batches"] = int(trend["batch"].nunique()) if len(trend) else 0
    if trend.empty:
        return Section("KPI trend", trend, "No KPI trend. " + no_kpi_reason(review))
    buffer = io.BytesIO()
    kpi_trends.plot(trend).savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    if review.dir is not None:

        with atomic_path(review.dir / catalog.KPI_TREND_PLOT) as tmp:
            tmp.write_bytes(buffer.getvalue())
    return Image(data=buffer.getvalue(), format="png")


def versions_in_production(review: Review) -> Section:
    """Model versions that scored batches in the window, and the aliases held now."""
    import pandas as pd

    rows: dict[str, dict[str, Any]] = {}
    for info in review.monitor_runs:
        score = info.read("score")
        if score:
            m = score["model"]
            row = rows.setdefault(str(m["version"]), {"version": str(m["version"]), "semver": m["semver"], "roles": set(), "batches": [],
                                                       "first_run": info.run_id})
            row["roles"].add(m["role"])
            row["batches"].append(score["batch"]["name"])
            row["last_run"] = info.run_id
    aliases = {}
    for alias in ("champion", "challenger", "baseline"):
        mv = registry.alias_version(review.config, alias)
        if mv is not None:
            aliases.setdefault(str(mv.version), []).append(alias)
    table = pd.DataFrame([{**r, "roles": ", ".join(sorted(r["roles"])), "batches": len(r["batches"]),
                           "batch_names": ", ".join(sorted(set(r["batches"]))), "aliases_now": ", ".join(aliases.get(v, []))}
                          for v, r in sorted(rows.items(), key=lambda kv: int(kv[0]))])
    review.counts["versions"] = sorted(rows, key=int)
    return Section("Model versions in production", table, "No model version scored a batch in this window.")


def governance_events(review: Review) -> Section:
    """Registrations, approvals, rejections, promotions and rollbacks recorded in the audit log in the window."""
    import pandas as pd

    rows = [{"ts": e["ts"], "actor": e["actor"], "action": e["action"], "subject": e["subject"],
             "semver": e.get("details", {}).get("semver", ""), "reason": e.get("details", {}).get("reason", "")}
            for e in audit.read(review.config.store)
            if e["action"] in GOVERNANCE_ACTIONS and review.since <= datetime.fromisoformat(e["ts"]) < review.until]
    review.counts["governance_events"] = len(rows)
    return Section("Approvals and promotions", pd.DataFrame(rows), "No registration, approval, promotion or rollback in this window.")


def audit_verification(review: Review) -> Section:
    """The audit log's hash-chain check, as of now."""
    import pandas as pd

    result = audit.verify(review.config.store)
    review.counts["audit_ok"] = result.ok
    frame = pd.DataFrame([{"log": str(audit.log_path(review.config.store)), "records": result.records,
                           "chain": "intact" if result.ok else "BROKEN", "problem": result.problem or ""}])
    return Section("Audit-log verification", frame, "")


def fairness_over_window(review: Review) -> Section:
    """The fairness verdict of every batch monitored in the window."""
    import pandas as pd

    rows = []
    for info in review.monitor_runs:
        f = info.read("fairness", catalog.FAIRNESS_FILE)
        if f:
            rows.append({"run_id": info.run_id, "batch": _batch(info), "status": f["status"], "failed_attributes": ", ".join(f.get("failed_attributes", [])),
                         "bias_drift": ", ".join(f.get("bias_drift", [])), "reason": f.get("reason", "")})
    review.counts["fairness_failures"] = sum(bool(r["failed_attributes"]) for r in rows)
    return Section("Fairness over the period", pd.DataFrame(rows), "No batch's fairness was audited in this window.")


def model_cards(review: Review) -> Section:
    """Model cards of the versions in use in the window (those that scored, and the champion)."""
    import pandas as pd

    used = {str(v) for v in review.counts.get("versions") or []}
    champion = registry.alias_version(review.config, "champion")
    used |= {str(champion.version)} if champion is not None else set()
    rows = []
    for version in sorted(used, key=int):
        try:
            card = model_card.read(review.config, version)
        except model_card.ModelCardError as exc:
            tags = registry.client_tags(review.config, version)
            if tags.get(registry.TAG + "kind") == "baseline":  # a fallback that served batches: say so, it has no card
                rows.append({"version": version, "semver": tags.get(registry.TAG + "semver", ""),
                             "card": f"none: static baseline (fallback) beside champion v{tags.get(registry.TAG + 'champion_version', '?')}; "
                                     "cards cover candidate versions"})
                continue
            rows.append({"version": version, "semver": "", "card": f"missing: {exc}"})
            continue
        rows.append({"version": version, "semver": card["model"]["semver"], "aliases": ", ".join(card["model"]["aliases"]),
                     "generated": card["generated"], "drift": card["drift"]["status"], "fairness failed": ", ".join(card["fairness"]["failed_attributes"]),
                     "limitations": len(card["limitations"]), "card": str(model_card.html_path(review.config, version))})
    review.counts["cards"] = len(rows)
    return Section("Model cards of the versions in use", pd.DataFrame(rows), "No model version in use.")


def open_risks(review: Review) -> Section:
    """Open risks from the records: pending retrain requests, alerts and fairness failures on the latest batch, KPIs off target, a broken audit log."""
    import pandas as pd

    risks = [{"risk": "retrain request pending", "detail": f"{r['id']}: {'; '.join(r['reasons'])}"} for r in requests.pending(review.config)]
    if review.monitor_runs:
        last = review.monitor_runs[-1]
        v, f = last.read("drift", catalog.VERDICT_FILE), last.read("fairness", catalog.FAIRNESS_FILE)
        if v and v["alert"]:
            risks.append({"risk": f"drift alert on the latest batch ({v['batch']['name']})", "detail": "; ".join(v["reasons"])})
        if f and f.get("failed_attributes"):
            risks.append({"risk": f"fairness check failing on the latest batch ({_batch(last)})", "detail": ", ".join(f["failed_attributes"])})
        impact = last.read("impact", catalog.IMPACT_FILE)
        for k in (impact or {}).get("kpis", []):
            if not k["on_target"]:
                risks.append({"risk": f"KPI off target: {k['label'] or k['kpi']}", "detail": f"current {k['current']:.4g}, target {k['target']:.4g}, gap {k['gap']:.4g}"})
    if not audit.verify(review.config.store).ok:
        risks.append({"risk": "audit log chain broken", "detail": "run `workbench audit verify`"})
    review.counts["open_risks"] = len(risks)
    return Section("Open risks", pd.DataFrame(risks), "No open risk found in the records.")


def finish(review: Review) -> dict[str, Any]:
    """Write ``review/review.json`` (window and counts) into the run folder, when there is one; return it."""
    out = {"schema_version": 1, "cadence": review.cadence, "project": review.config.project, "since": review.since.isoformat(),
           "until": review.until.isoformat(), "run_ids": [r.run_id for r in review.runs], "counts": review.counts}
    if review.dir is not None:
        write_json(review.dir / catalog.REVIEW_FILE, out)
    return out
