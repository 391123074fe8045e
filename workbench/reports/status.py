"""The status page: what happened to the current champion and since when, what it costs, and who must act.

Every sentence is generated here from what was stored, never written into a notebook:

- the champion and its semantic version: the alias moves in the audit log (else the latest batch it scored);
- batch stories, over the latest monitor run of each batch scored for the champion (``catalog.latest_per_batch``):
  data drift per column from ``drift/verdict.json`` (else ``data_drift.json``, else ``columns.parquet``),
  concept drift and the performance metric from ``drift/concept.json``, bias shifts from ``fairness/fairness.json``
  and ``fairness/bias_drift.parquet`` (single sensitive columns; intersections stay in the fairness app), and
  fallbacks from ``score/result.json``, and performance estimated without labels from ``drift/estimate.json``
  (an alert when the estimate was worse than its threshold; realised beside it once labels arrived). A story begins at the first batch of a run of consecutive batches in
  which it holds and ends at the first checked batch in which it no longer does;
- governance: retrain requests (``governance.requests``), approvals (``governance.approvals``) and the audit
  log's register, approve, reject, promote and rollback records;
- performance without labels: estimated, band and realised of the latest few batches with an estimate;
- costs: the KPIs of ``impact/impact.json`` of the latest batch that has them, with the per-period amount when
  the KPI's ``volume`` is configured.

Missing or partial results (a failed phase, an older schema) leave a story out; they never raise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.governance import approvals, audit, requests, roles
from workbench.reports import catalog
from workbench.reports import status_records as records
from workbench.reports import status_text as t
from workbench.reports.status_stories import READ_ERRORS, Batch, Event, stories

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.reports.catalog import RunInfo

__all__ = ["KINDS", "BatchState", "Cost", "Estimate", "Event", "Pending", "Status", "signature", "status"]

KINDS = ("registered", "promoted", "drift_began", "drift_ended", "concept_drift", "concept_ended", "estimate_alert", "bias_shift", "bias_ended",
         "fallback", "retrain_requested", "approved", "rejected", "rolled_back")
ESTIMATE_ROWS = 6  # batches in "Performance without labels": enough to see a trend, few enough to stay compact


@dataclass(frozen=True)
class Cost:
    """What a KPI's distance to its target costs, in the KPI's unit (and per period when a volume is configured)."""

    kpi: str
    sentence: str
    unit: str
    current: float
    target: float
    gap: float
    on_target: bool
    batch: str
    run_id: str
    per_period: float | None = None
    period: str = ""


@dataclass(frozen=True)
class Pending:
    """Something waiting for a person: open retrain requests, or a challenger's approval; with the roles that may act."""

    kind: str
    sentence: str
    roles: list[str]
    people: dict[str, list[str]]
    ids: list[str]
    since: str


@dataclass(frozen=True)
class Estimate:
    """One batch's performance estimated without labels, with realised beside it once labels (or reviewed feedback) arrived."""

    batch: str
    run_id: str
    metric: str
    estimated: float
    low: float
    high: float
    realised: float | None
    source: str | None  # "labels" or "feedback"
    alert: bool
    side: str | None  # realised "within" the band, "worse" or "better" than it; None before labels

    @property
    def cells(self) -> tuple[str, str, str]:
        """``(estimated, band, realised)`` as the status page writes them."""
        if self.realised is None:
            value, low, high = t.nums(self.estimated, self.low, self.high)
            return value, f"{low}–{high}", "no labels yet"
        value, low, high, realised = t.nums(self.estimated, self.low, self.high, self.realised)
        words = {"within": "within the band", "worse": "worse than the band", "better": "better than the band"}.get(str(self.side), "")
        source = "" if self.source == "labels" else f" ({self.source})"
        return value, f"{low}–{high}", f"{realised}{source}" + (f", {words}" if words else "")


@dataclass(frozen=True)
class BatchState:
    """One monitored batch on the status chart (None: not checked)."""

    batch: str
    run_id: str
    version: str
    fallback: bool
    data_drift: bool | None
    concept_drift: bool | None
    bias_shift: bool | None


@dataclass
class Status:
    """The status page's content: the headline, the timeline, the costs and what is pending."""

    headline: str
    kind: str
    champion: dict[str, str] | None
    batches: list[BatchState] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    costs: list[Cost] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    estimates: list[Estimate] = field(default_factory=list)
    costs_note: str = ""
    pending_note: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The status as JSON-able data."""
        return asdict(self)


def status(config: Config, *, runs: list[RunInfo] | None = None) -> Status:
    """The status of ``config``'s project from its stored results (``runs``: the catalog's runs, if already listed)."""
    runs = catalog.list_runs(config) if runs is None else runs
    notes: list[str] = []
    events_log = records.audit_events(config, notes)
    history = records.champion_history(events_log)
    batches = _batches(config, runs)
    champion = records.champion(history, events_log, batches)
    scope, earlier = _scope(batches, champion, history)
    told = stories(scope)
    events = told.events + records.governance_events(events_log) + records.request_events(config, batches)
    events = _ordered(events, scope)
    costs, costs_note = _costs(config, scope)
    pending, pending_note = _pending(config, batches)
    headline, kind = _headline(champion, scope, earlier, told, pending, bool(runs))
    states = [BatchState(b.label, b.info.run_id, b.version, b.fallback, b.data_drift, b.concept, b.bias_flag) for b in scope]
    estimates = [Estimate(b.label, b.info.run_id, t.metric_name(b.estimate.metric), b.estimate.value, b.estimate.low, b.estimate.high,
                          b.estimate.realised, b.estimate.source, b.estimate.alert, b.estimate.side) for b in scope if b.estimate is not None]
    return Status(headline, kind, champion, states, [e for e, _ in events], costs, pending, estimates[-ESTIMATE_ROWS:], costs_note, pending_note, notes)


def signature(config: Config) -> tuple:
    """Sizes and change times of what the status reads besides run folders: the audit log, retrain requests, approvals."""
    paths = [audit.log_path(config.store)]
    for folder, pattern in ((config.store / "requests", "retrain-*.json"), (config.store / "approvals" / config.project, "v*.json")):
        paths += sorted(folder.glob(pattern)) if folder.is_dir() else []
    out = []
    for path in paths:
        try:
            stat = path.stat()
            out.append((path.name, stat.st_size, stat.st_mtime_ns))
        except OSError:
            out.append((path.name, None, None))
    return tuple(out)


# Reading -------------------------------------------------------------------------------------


def _batches(config: Config, runs: list[RunInfo]) -> list[Batch]:
    """The latest monitor run of each batch, read into :class:`Batch` (unreadable parts left empty)."""
    monitors = [r for r in runs if r.manifest.get("kind") == "monitor"]
    try:
        latest = catalog.latest_per_batch(config, runs=monitors)
    except READ_ERRORS:
        latest = []
        for info in monitors:  # a score result of an older shape: keep the readable ones
            try:
                latest += catalog.latest_per_batch(config, runs=[info])
            except READ_ERRORS:
                continue
        latest = sorted({b.name: b for b in latest}.values(), key=lambda b: b.name)
    return [Batch.read(b) for b in latest]


def _scope(batches: list[Batch], champion: dict[str, str] | None, history: list[tuple[datetime, str | None]]) -> tuple[list[Batch], bool]:
    """Batches scored for the current champion (by it, or by the baseline in its place); all batches when it scored none yet."""
    if champion is None:
        return batches, False

    def held(b: Batch) -> str | None:
        if not history or b.started is None:
            return b.version if b.role == "champion" else (champion["version"] if b.fallback else None)
        holder = None
        for when, version in history:
            if when <= b.started:
                holder = version
        return holder

    mine = [b for b in batches if held(b) == champion["version"]]
    return (mine, False) if mine or not batches else (batches, True)


def _ordered(events: list[tuple[Event, datetime | None]], scope: list[Batch]) -> list[tuple[Event, datetime | None]]:
    """Batch events in batch order; records of a time after the batches whose runs started before it."""
    starts = [b.started for b in scope]
    index = {b.info.run_id: i for i, b in enumerate(scope)}

    def key(item: tuple[Event, datetime | None]) -> tuple:
        event, when = item
        if when is None:  # a batch event
            return (index.get(event.run_id, 0), KINDS.index(event.kind) if event.kind in KINDS else len(KINDS), "")
        before = sum(1 for s in starts if s is not None and s <= when)
        return (before - 0.5, 0, when.isoformat())

    return sorted(events, key=key)


def _people(config: Config, allowed: list[str]) -> dict[str, list[str]]:
    """The configured people per role (``everyone else`` for ``"*"``); empty without a roles section."""
    if not config.roles:
        return {}
    return {role: sorted(u for u, r in config.roles.items() if r == role and u != "*") + (["everyone else"] if config.roles.get("*") == role else [])
            for role in allowed}


def _pending(config: Config, batches: list[Batch]) -> tuple[list[Pending], str]:
    """Open retrain requests (one item: a retrain answers them together) and each approval awaiting a decision."""
    out = []
    by_run = {b.info.run_id: b.label for b in batches}
    try:
        open_ = requests.pending(config)
    except READ_ERRORS:
        open_ = []
    if open_:
        allowed = roles.allowed_roles("train")
        people = _people(config, allowed)
        after = [by_run.get(str(r.get("run_id")), t.batch_label((r.get("evidence") or {}).get("batch", ""))) for r in open_]
        after = [a for a in dict.fromkeys(after) if a]
        since = min(str(r.get("created", ""))[:10] for r in open_)
        filed = (f"filed from {after[0]} to {after[-1]}" if len(after) > 2 else f"filed after {t.names(after, more='batches')}") if after \
            else f"filed since {since}"
        verb = "waits" if len(open_) == 1 else "wait"
        out.append(Pending("retrain_request", f"{t.plural(len(open_), 'retrain request')} {verb} for the model to be retrained ({filed}); "
                           f"who must act: {t.roles_phrase(allowed, people)}.", allowed, people, [str(r.get("id")) for r in open_], since))
    try:
        waiting = approvals.pending_approvals(config)
    except READ_ERRORS:
        waiting = []
    allowed = roles.allowed_roles("approve")
    people = _people(config, allowed)
    for a in waiting:
        cause = {"drift": "retrained after a drift alert", "scheduled": "retrained on schedule", "manual": "retrained by hand"}.get(str(a.get("trigger")), "retrained")
        semver = f" ({a['semver']})" if a.get("semver") else ""
        since = str(a.get("created", ""))[:10]
        out.append(Pending("approval", f"v{a.get('version')}{semver}, {cause}, awaits approval since {since}; who must act: "
                           f"{t.roles_phrase(allowed, people)}.", allowed, people, [str(a.get("id"))], since))
    return out, "" if out else "Nothing waits for a decision: no retrain request is open and no new version awaits approval."


# Costs ---------------------------------------------------------------------------------------


def _costs(config: Config, scope: list[Batch]) -> tuple[list[Cost], str]:
    """The KPI gaps of the latest batch (of the champion's) whose impact phase measured KPIs."""
    if not config.kpis:
        return [], "No business KPI is configured for this project, so no cost can be given."
    configured = {k.name: k for k in config.kpis}
    for b in reversed(scope):
        kpis = b.kpis()
        if not kpis:
            continue
        out = []
        for k in kpis:
            try:
                cfg = configured.get(str(k.get("kpi")))
                unit = (cfg.unit if cfg is not None and cfg.unit else str(k.get("unit") or ""))
                label = cfg.display if cfg is not None else str(k.get("label") or k.get("kpi"))
                volume = getattr(cfg, "volume", None) if cfg is not None else None
                period = getattr(cfg, "period", "month") if cfg is not None else "month"
                sentence, amount = t.cost_sentence(k, label=label, unit=unit, batch=b.label, volume=volume,
                                                   volume_unit=getattr(cfg, "volume_unit", "") if cfg is not None else "", period=period)
                out.append(Cost(str(k["kpi"]), sentence, unit, float(k["current"]), float(k["target"]), float(k["gap"]), float(k["gap"]) <= 0,
                                b.label, b.info.run_id, amount, period if amount is not None else ""))
            except READ_ERRORS:
                continue
        if out:
            return out, ""
    return [], "No KPI has been measured yet: that needs a monitored batch whose outcomes are known."


# Headline ------------------------------------------------------------------------------------


def _headline(champion: dict[str, str] | None, scope: list[Batch], earlier: bool, told: Any, pending: list[Pending], any_runs: bool) -> tuple[str, str]:
    """One sentence: the champion, the stories with their months, and who must act."""
    if champion is None and not scope:
        if not any_runs:
            return ("Nothing has been recorded yet: run “workbench run” to train and register a model, then “workbench monitor” to score "
                    "and check batches."), "info"
        return "No model is champion yet: run “workbench run” to train and register one.", "info"
    who = f"Model {records.model_name(champion['version'], {champion['version']: champion['semver']})} is the champion" if champion else "No model is champion now"
    if not scope:
        return f"{who}; no batch has been monitored yet: run “workbench monitor” to score and check one.", "info"
    clauses = told.clauses
    if earlier:
        who += " and has not scored a batch yet"
        clauses = [f"under earlier versions, {clauses[0]}", *clauses[1:]] if clauses else clauses
    if clauses:
        body = clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + (", and " if len(clauses) > 2 else " and ") + clauses[-1]
    else:
        labels = [b.label for b in scope]
        which = (f"the {t.plural(len(scope), 'batch', 'batches')} monitored under earlier versions" if earlier
                 else f"its {t.plural(len(scope), 'monitored batch', 'monitored batches')}")
        checked = [words for words, seen in (("no drift", any(b.data_drift is not None for b in scope)),
                                             ("no loss of accuracy", any(b.concept is not None for b in scope)),
                                             ("no bias shift", any(b.bias_flag is not None for b in scope))) if seen]
        found = f"showed {t.names(checked)}" if checked else "were scored, with no drift or fairness results stored"
        body = f"{which} ({t.months(labels) if len(labels) > 1 else labels[0]}) {found}"
    waits = []
    for kind, what, action in (("retrain_request", "retrain request", "train"), ("approval", "approval", "approve")):
        n = sum(len(p.ids) for p in pending if p.kind == kind)
        if n:
            waits.append(f"{t.plural(n, what)} {'awaits' if n == 1 else 'await'} {t.article(roles.allowed_roles(action)[0])}")
    tail = " and ".join(waits) if waits else "nothing waits for a decision"
    kind = "error" if told.ongoing_harm else ("warn" if clauses or waits else "ok")
    return f"{who}; {body}; {tail}.", kind
