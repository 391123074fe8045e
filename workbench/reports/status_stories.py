"""The batch stories of the status page: data drift, concept drift, bias shifts, fallbacks and estimate alerts, with the months they began.

:class:`Batch` reads what one monitor run stored about its batch (any part may be missing: a failed
phase, an older schema); :func:`stories` turns the batches, in batch order, into timeline events
and the headline's clauses. A story begins at the first batch of a run of consecutive checked
batches in which it holds and ends at the first checked batch in which it no longer does; a batch
whose result is missing neither continues nor ends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.exceptions import WorkbenchError
from workbench.reports import catalog
from workbench.reports import status_text as t
from workbench.reports.estimate_summary import Summary, _float, summarise

if TYPE_CHECKING:  # pragma: no cover
    from workbench.reports.catalog import BatchRun

READ_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, WorkbenchError)
DATASET = "the data as a whole"


@dataclass(frozen=True)
class Event:
    """One line of the timeline: when (a batch name, or a YYYY-MM-DD date), what, the model version, and where the evidence is."""

    date: str
    kind: str
    sentence: str
    version: str = ""
    app: str = ""
    run_id: str = ""


def _json(info: BatchRun, phase: str, name: str) -> dict[str, Any] | None:
    try:
        found = info.read(phase, name)
    except READ_ERRORS:
        return None
    return found if isinstance(found, dict) else None


@dataclass
class Batch:
    """What the latest monitor run of one batch stored: who scored it, and its drift, concept and fairness results."""

    info: BatchRun
    label: str
    version: str
    semver: str
    role: str
    fallback: bool
    fallback_reason: str
    started: datetime | None
    drifted: list[str] | None = None      # columns that drifted (None: not checked)
    dataset_drift: bool | None = None
    concept: bool | None = None
    performance: dict[str, Any] | None = None
    bias: list[dict[str, Any]] | None = field(default=None)  # single-column groups whose rate moved (None: not assessed)
    estimate: Summary | None = None  # performance estimated without labels (None: runs before issue 16, or unreadable)

    @classmethod
    def read(cls, info: BatchRun) -> Batch:
        """Read a batch's results; a part that cannot be read stays None."""
        score = info.score if isinstance(info.score, dict) else {}
        model, fallback = score.get("model") or {}, score.get("fallback") or {}
        try:
            started = datetime.fromisoformat(info.manifest["started"])
        except READ_ERRORS:
            started = None
        batch = cls(info, t.batch_label((score.get("batch") or {}).get("name", info.run_id)), str(model.get("version") or ""),
                    str(model.get("semver") or ""), str(model.get("role") or ""), bool(fallback.get("used")), str(fallback.get("reason") or ""),
                    started)
        batch._drift()
        batch.bias = _bias(info)
        batch.estimate = summarise(_json(info, "drift", catalog.ESTIMATE_FILE))
        return batch

    def _drift(self) -> None:
        verdict = _json(self.info, "drift", catalog.VERDICT_FILE) or {}
        if isinstance(verdict.get("drifted_columns"), list):
            self.drifted = [str(c) for c in verdict["drifted_columns"]]
        else:
            data = _json(self.info, "drift", catalog.DATA_DRIFT_FILE) or {}
            if isinstance(data.get("columns"), list):
                self.drifted = [str(c.get("column")) for c in data["columns"] if isinstance(c, dict) and c.get("drifted")]
            else:
                self.drifted = _columns_table(self.info)
            if isinstance(data.get("dataset"), dict) and "drift" in data["dataset"]:
                self.dataset_drift = bool(data["dataset"]["drift"])
        if "data_drift" in verdict:
            self.dataset_drift = bool(verdict["data_drift"])
        concept = _json(self.info, "drift", catalog.CONCEPT_FILE) or {}
        perf = concept.get("performance")
        if isinstance(perf, dict) and perf.get("status", "ok") == "ok" and _float(perf.get("reference")) is not None \
                and _float(perf.get("batch")) is not None:
            self.performance = perf
        if "concept_drift" in verdict:
            self.concept = bool(verdict["concept_drift"])
        elif isinstance(concept.get("verdict"), dict) and "concept_drift" in concept["verdict"]:
            self.concept = bool(concept["verdict"]["concept_drift"])

    @property
    def data_drift(self) -> bool | None:
        """Any column (or the data as a whole) drifted; None when not checked."""
        if self.drifted is None and self.dataset_drift is None:
            return None
        return bool(self.drifted) or bool(self.dataset_drift)

    @property
    def bias_flag(self) -> bool | None:
        """A group's rate moved; None when fairness was not assessed."""
        return None if self.bias is None else bool(self.bias)

    @property
    def degraded(self) -> bool:
        """The performance metric got worse beyond its interval."""
        return bool(self.performance and self.performance.get("degraded"))

    def metric_change(self) -> tuple[str, str, str, str]:
        """``(metric, verb, reference, batch)`` of the performance result, e.g. ``("AUC", "fell", "0.92", "0.77")``."""
        p = self.performance or {}
        before, after = float(p["reference"]), float(p["batch"])
        return t.metric_name(str(p.get("metric", ""))), t.moved(before, after), t.num(before), t.num(after)

    def cause(self) -> str:
        """Why this batch raised an alert, in a few words (for a retrain request)."""
        if self.degraded:
            metric, verb, before, after = self.metric_change()
            return f"the model's {metric} {verb} from {before} to {after}"
        if self.concept:
            return "the model's scores shifted"
        if self.drifted:
            return f"{t.names(self.drifted)} drifted"
        return ""

    def kpis(self) -> list[dict[str, Any]]:
        """The KPIs the impact phase measured on this batch (``impact.json``, else ``kpis.parquet``)."""
        keys = ("kpi", "current", "target", "gap")
        impact = _json(self.info, "impact", catalog.IMPACT_FILE)
        if impact is not None and isinstance(impact.get("kpis"), list):
            return [k for k in impact["kpis"] if isinstance(k, dict) and all(_float(k.get(x)) is not None for x in keys[1:]) and k.get("kpi")]
        path = self.info.phase_dir("impact") / catalog.KPIS_FILE
        if not path.is_file():
            return []
        try:
            import pandas as pd

            rows = pd.read_parquet(path).to_dict("records")
        except READ_ERRORS:
            return []
        return [k for k in rows if all(_float(k.get(x)) is not None for x in keys[1:]) and k.get("kpi")]


def _columns_table(info: BatchRun) -> list[str] | None:
    path = info.phase_dir("drift") / catalog.COLUMNS_FILE
    if not path.is_file():
        return None
    try:
        import pandas as pd

        table = pd.read_parquet(path, columns=["column", "drifted"])
    except READ_ERRORS:
        return None
    return [str(c) for c in table.loc[table["drifted"].astype(bool), "column"]]


def _bias(info: BatchRun) -> list[dict[str, Any]] | None:
    """Single-column groups whose rate moved (``bias_drift.parquet``), largest move first; None when fairness was not assessed."""
    summary = _json(info, "fairness", catalog.FAIRNESS_FILE)
    path = info.phase_dir("fairness") / catalog.BIAS_DRIFT_FILE
    listed: list[str] = []
    if summary is not None:
        if summary.get("status", "assessed") != "assessed":
            return None
        listed = [x for x in map(str, summary.get("bias_drift") or []) if " & " not in x.partition("=")[0]]
        if not listed:
            return []
    if path.is_file():
        try:
            import pandas as pd

            table = pd.read_parquet(path)
            moved = table[table["moved"].astype(bool) & ~table["attribute"].astype(str).str.contains(" & ", regex=False)]
            rows = [{"attribute": str(r["attribute"]), "group": str(r["group"]), "metric": str(r.get("metric", "tpr")),
                     "reference": _float(r.get("reference_rate")), "batch": _float(r.get("batch_rate")),
                     "typical": (_float(r.get("batch_rate")) or 0) - (_float(r.get("batch")) or 0) if r.get("relative") and _float(r.get("batch")) is not None else None,
                     "gap": _float(r.get("gap")) or 0.0} for r in moved.to_dict("records")]
            return sorted(rows, key=lambda d: -abs(d["gap"]))
        except READ_ERRORS:
            pass
    if summary is None:
        return None
    return [{"attribute": a, "group": g, "metric": "tpr", "reference": None, "batch": None, "typical": None, "gap": 0.0}
            for a, _, g in (x.partition("=") for x in listed)]


@dataclass
class _Run:
    item: str
    start: int
    last: int
    end: int | None = None  # the first checked batch where it no longer held (None: it still holds)


def _spans(states: list[list[str] | None]) -> list[_Run]:
    """Runs of consecutive checked batches in which each item holds (``None``: the batch was not checked)."""
    open_: dict[str, _Run] = {}
    done: list[_Run] = []
    for i, items in enumerate(states):
        if items is None:
            continue
        for item in list(open_):
            if item not in items:
                run = open_.pop(item)
                run.end = i
                done.append(run)
        for item in items:
            if item in open_:
                open_[item].last = i
            else:
                open_[item] = _Run(item, i, i)
    return sorted(done + list(open_.values()), key=lambda r: (r.start, r.end is not None))


def _has(items: list[str]) -> str:
    return "has" if len(items) == 1 else "have"


@dataclass
class Told:
    """The timeline events (with ``None``: they are batch events) and the headline's clauses."""

    events: list[tuple[Event, None]] = field(default_factory=list)
    clauses: list[str] = field(default_factory=list)
    ongoing_harm: bool = False


def stories(scope: list[Batch]) -> Told:
    """Events and headline clauses of the batches, in batch order."""
    told, clauses = Told(), []
    for story in (_data_drift, _concept, _bias_shift, _fallbacks, _estimate_alerts):
        story(scope, told, clauses)
    told.clauses = [c for _, c in sorted(clauses, key=lambda x: x[0])]
    return told


def _add(told: Told, b: Batch, kind: str, sentence: str, app: str = "drift") -> None:
    told.events.append((Event(b.label, kind, sentence, b.version, app, b.info.run_id), None))


def _data_drift(scope: list[Batch], told: Told, clauses: list[tuple[int, str]]) -> None:
    states = [None if b.data_drift is None else [*(b.drifted or []), *([DATASET] if b.dataset_drift else [])] for b in scope]
    runs = _spans(states)
    latest = max((i for i, s in enumerate(states) if s is not None), default=-1)
    for start in dict.fromkeys(r.start for r in runs):
        order = states[start] or []
        group = sorted((r for r in runs if r.start == start), key=lambda r: order.index(r.item) if r.item in order else len(order))
        items, going = [r.item for r in group], [r.item for r in group if r.end is None]
        b = scope[start]
        if start == latest:
            sentence = f"In {b.label}, {t.names(items)} drifted away from the training data."
        elif len(going) == len(items):
            sentence = f"Since {b.label}, {t.names(items)} {_has(items)} drifted away from the training data in every batch."
        elif not going:
            sentence = f"In {b.label}, {t.names(items)} began to drift away from the training data."
        else:
            sentence = f"In {b.label}, {t.names(items)} began to drift away from the training data; {t.names(going)} {_has(going)} drifted in every batch since."
        _add(told, b, "drift_began", sentence)
    for end in sorted({r.end for r in runs if r.end is not None}):
        group = [r for r in runs if r.end == end]
        since = t.names(list(dict.fromkeys(scope[r.start].label for r in group)), more="batches")
        _add(told, scope[end], "drift_ended", f"In {scope[end].label}, {t.names([r.item for r in group])} no longer drifted "
                                              f"(drifting since {since}).")
    going = [r for r in runs if r.end is None]
    if going:
        first = min(r.start for r in going)
        clauses.append((first, f"since {scope[first].label} production data has drifted" if first < latest
                        else f"in {scope[first].label} production data drifted"))
    elif runs:
        run = max(runs, key=lambda r: r.start)
        clauses.append((run.start, f"in {scope[run.start].label} production data drifted"))


def _concept(scope: list[Batch], told: Told, clauses: list[tuple[int, str]]) -> None:
    runs = _spans([None if b.concept is None else (["concept"] if b.concept else []) for b in scope])
    for run in runs:
        b, last = scope[run.start], scope[run.last]
        if b.degraded:
            metric, verb, before, after = b.metric_change()
            sentence = f"In {b.label}, the model's {metric} {verb} from {before} to {after}: it predicts the outcome less well than at training (concept drift)."
            if b.estimate is not None and b.estimate.side == "worse":
                value, low, high = t.nums(b.estimate.compared, b.estimate.compared_low, b.estimate.compared_high)
                sentence += (f" Estimated from the inputs alone it stayed at {value} (band {low}–{high}): what changed is how the outcome "
                             "follows from the inputs.")
            if run.end is None and run.last > run.start and last.performance:
                sentence += f" It has not recovered since ({metric} {last.metric_change()[3]} in {last.label})."
        else:
            held = f"its {b.metric_change()[0]} held at {b.metric_change()[3]}" if b.performance else "no known outcomes yet to check its accuracy"
            if not b.performance and b.estimate is not None:
                held = f"no known outcomes yet; its {t.metric_name(b.estimate.metric)} is estimated at {t.num(b.estimate.value)} without them"
            sentence = f"In {b.label}, the model's scores shifted away from those at training (concept drift suspected; {held})."
        _add(told, b, "concept_drift", sentence)
        if run.end is not None:
            e = scope[run.end]
            back = (f"In {e.label}, the model's {e.metric_change()[0]} was back to {e.metric_change()[3]} (against {e.metric_change()[2]} at training)."
                    if e.performance else f"In {e.label}, the model's scores were back in line with those at training.")
            _add(told, e, "concept_ended", back)
    if runs:
        run = runs[-1]
        b = scope[run.start]
        if b.degraded:
            metric, verb, before, after = b.metric_change()
            clause = f"in {b.label} its {metric} {verb} from {before} to {after}"
        else:
            clause = f"in {b.label} its scores shifted"
        clauses.append((run.start, clause + (f", recovering in {scope[run.end].label}" if run.end is not None else "")))
        told.ongoing_harm |= run.end is None


def _bias_shift(scope: list[Batch], told: Told, clauses: list[tuple[int, str]]) -> None:
    data = {(i, f"{d['attribute']}={d['group']}"): d for i, b in enumerate(scope) for d in b.bias or []}
    runs = _spans([None if b.bias is None else [f"{d['attribute']}={d['group']}" for d in b.bias] for b in scope])
    for run in runs:
        d, b = data[(run.start, run.item)], scope[run.start]
        rate, who = t.rate_name(d["metric"]), f"{d['attribute']} {d['group']}"
        if d["reference"] is not None and d["batch"] is not None:
            size = t.ratio_phrase(d["reference"], d["batch"])
            sentence = f"In {b.label}, {rate} for {who} {t.moved(d['reference'], d['batch'])} from {t.num(d['reference'])} to {t.num(d['batch'])}"
            sentence += f" ({size})" if size else ""
            sentence += f", against {t.num(d['typical'])} for the typical {d['attribute']} group." if d["typical"] is not None else "."
            later = data[(run.last, run.item)]
            if run.end is None and run.last > run.start and later["batch"] is not None:
                sentence += f" It has not recovered since ({rate} {t.num(later['batch'])} in {scope[run.last].label})."
        else:
            sentence = f"In {b.label}, {rate} for {who} shifted away from the other {d['attribute']} groups."
        _add(told, b, "bias_shift", sentence, "fairness")
        if run.end is not None:
            _add(told, scope[run.end], "bias_ended", f"In {scope[run.end].label}, {rate} for {who} was back in line with the other "
                                                     f"{d['attribute']} groups.", "fairness")
    if runs:
        newest = max(r.start for r in runs)
        run = next(r for r in runs if r.start == newest)  # the largest move of the newest shift (rows are sorted by size)
        d = data[(run.start, run.item)]
        clause = f"in {scope[run.start].label} {t.rate_name(d['metric'])} for {d['attribute']} {d['group']} {_change(d)}"
        clauses.append((run.start, clause + (f", recovering in {scope[run.end].label}" if run.end is not None else "")))
        told.ongoing_harm |= run.end is None


def _change(d: dict[str, Any]) -> str:
    """``more than halved (0.69 to 0.28)``, ``halved (…)``, ``doubled (…)`` or ``fell from 0.69 to 0.55``."""
    if d["reference"] is None or d["batch"] is None:
        return "shifted"
    before, after = d["reference"], d["batch"]
    values = f"{t.num(before)} to {t.num(after)}"
    phrase = t.ratio_phrase(before, after)
    words = {"less than half": "more than halved", "about half": "halved", "more than double": "more than doubled", "about double": "doubled"}
    return f"{words[phrase]} ({values})" if phrase in words else f"{t.moved(before, after)} from {values}"


def _fallbacks(scope: list[Batch], told: Told, clauses: list[tuple[int, str]]) -> None:
    used = [(i, b) for i, b in enumerate(scope) if b.fallback]
    for _, b in used:
        model = f"v{b.version} ({b.semver})" if b.semver else f"v{b.version}"
        _add(told, b, "fallback", f"In {b.label}, the baseline model {model} scored the batch instead of the champion: {t.fallback_cause(b.fallback_reason)}.")
    if used:
        clauses.append((used[0][0], f"the baseline scored in its place in {t.months([b.label for _, b in used])}"))


def _estimate_alerts(scope: list[Batch], told: Told, clauses: list[tuple[int, str]]) -> None:
    """Batches whose performance, estimated without labels, was worse than its alert threshold; a headline clause while no labels confirm it."""
    runs = _spans([None if b.estimate is None else (["alert"] if b.estimate.alert else []) for b in scope])
    for run in runs:
        b, s = scope[run.start], scope[run.start].estimate
        name = t.metric_name(s.metric)
        value, low, high, limit = t.nums(s.value, s.low, s.high, s.alert_threshold)
        sentence = f"In {b.label}, without labels, the model's {name} was estimated at {value} (band {low}–{high}), worse than its alert threshold of {limit}"
        if s.realised is not None:
            sentence += f"; realised {t.num(s.realised)} once {'labels' if s.source == 'labels' else 'reviewed feedback'} arrived."
        else:
            sentence += ": it likely predicts less well than at training; labels will tell."
        if run.last > run.start:
            last = scope[run.last]
            sentence += f" It stayed past the threshold through {last.label} ({name} estimated at {t.num(last.estimate.value)})."
        if run.end is not None:
            sentence += f" It was back within the threshold in {scope[run.end].label}."
        _add(told, b, "estimate_alert", sentence)
    going = [r for r in runs if r.end is None and scope[r.last].estimate.realised is None]
    if going:
        b, s = scope[going[-1].start], scope[going[-1].start].estimate
        change = (f"{t.moved(s.reference, s.value)} from {t.nums(s.reference, s.value)[0]} to {t.nums(s.reference, s.value)[1]}"
                  if s.reference is not None else f"was worse than its alert threshold ({t.num(s.value)})")
        clauses.append((going[-1].start, f"in {b.label} its {t.metric_name(s.metric)}, estimated without labels, {change}"))
