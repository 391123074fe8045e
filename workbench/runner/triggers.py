"""Retrain triggers: scheduled, event-based and manual, each ending in a pending approval.

- **scheduled**: the champion has held its alias longer than ``retrain.max_age_days``;
- **event**: monitoring crossed a drift threshold and filed a retrain request (``trigger: drift``);
- **manual**: a person asks for one (``workbench retrain --reason ...``).

A trigger trains a challenger on the configured data window (the reference, unless
``retrain.reference: false``, plus the labelled rows of the latest ``retrain.window``
monitored batches), by running the train DAG through :mod:`workbench.runner` on a derived
config kept with the window in ``<store>/retrain/<run_id>/``. Evaluation compares it with
the champion and the baseline; registration makes it ``challenger`` (never champion while
one exists); then a pending approval is filed with the evidence. Nothing is promoted here.

With a ``gate`` (``workbench retrain --gate``) the new challenger is judged first: it passes and
the approval carries the gate's result, or it fails and no approval is filed (the version stays
registered; the gate's audit event records why). :func:`plan` says what a trigger would do
(``--dry-run``) without running, writing or recording anything. The gate itself is passed in by
the caller: it scores models with :mod:`workbench.analyses`, which the runner does not import.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from workbench import registry
from workbench._io import atomic_path, write_json, write_text
from workbench.config import load_config
from workbench.data import sources
from workbench.exceptions import ConfigError, ParameterError, WorkbenchError
from workbench.governance import alias_history, approvals, audit, requests, roles
from workbench.registry import store
from workbench.reports import catalog, manifest
from workbench.runner import execute
from workbench.runner.execute import RunResult

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

TRIGGERS = ("manual", "scheduled", "event")
WINDOW_FILE = "window.json"  # in <store>/retrain/<run_id>/, read by the evaluate phase (unseen-row comparison)


@dataclass(frozen=True)
class Outcome:
    """What a trigger did: ``status`` is ``not due``, ``failed``, ``gate failed`` or ``awaiting approval`` (or ``registered``)."""

    status: str
    message: str
    run: RunResult | None = None
    approval: dict[str, Any] | None = None
    gate: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def exit_code(self) -> int:
        """0 unless the retrain run failed or its challenger failed the gate."""
        return 1 if self.status in ("failed", "gate failed") else 0


# A gate: (version, facts for its audit event) -> a verdict with ``passed``, ``line`` and ``to_dict()``
# (workbench.governance.gate.check with the thresholds bound, as the CLI passes it).
Gate = Callable[[str, dict[str, Any]], Any]


def champion_age_days(config: Config, now: datetime | None = None) -> float | None:
    """Days since the current champion got its alias (from the audit log, else the version's creation time)."""
    mv = registry.alias_version(config, "champion")
    if mv is None:
        return None
    moves = [r for r in alias_history.alias_history(config, "champion") if r["version"] == str(mv.version)]
    since = datetime.fromisoformat(moves[-1]["ts"]) if moves else datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC)
    return ((now or datetime.now(UTC)) - since).total_seconds() / 86400


def scheduled_due(config: Config, now: datetime | None = None) -> str | None:
    """The reason a scheduled retrain is due, or None."""
    limit = config.retrain.max_age_days
    if limit is None:
        raise ConfigError(f"{config.source}: key 'retrain.max_age_days' is not set, so no retrain is ever scheduled. "
                             "Fix: set it (e.g. 90), or use --trigger manual.")
    age = champion_age_days(config, now)
    if age is None:
        raise WorkbenchError(f"model {config.project!r} has no champion yet. Fix: run `workbench run` first.")
    return f"the champion is {age:.1f} days old (retrain.max_age_days: {limit})" if age > limit else None


def window_batches(config: Config) -> list[dict[str, Any]]:
    """The latest ``retrain.window`` distinct batches monitored so far (score phase succeeded), in name order."""
    batches = [b.batch for b in catalog.latest_per_batch(config, "score")]
    return batches[-config.retrain.window:] if config.retrain.window else []


def build_window(config: Config, folder: Path) -> dict[str, Any]:
    """Write the training window to ``folder/training.parquet``; return what went into it."""
    import pandas as pd

    parts, used = [], []
    reference = sources.read_reference(config)
    if config.retrain.reference:
        parts.append(reference.frame)
        used.append({"path": str(reference.path), "sha256": reference.sha256, "rows": reference.rows})
    for batch in window_batches(config):
        table = sources.read(config, batch["path"], purpose="retrain window")
        if table.sha256 != batch["sha256"]:
            raise WorkbenchError(f"{table.path}: the batch changed after it was monitored. Fix: restore it or monitor it again.")
        missing = [c for c in reference.columns if c not in table.frame.columns]
        if missing:
            raise WorkbenchError(f"{table.path}: lacks column(s) {', '.join(missing)} of the reference; it cannot join the training window. "
                                 "Fix: set retrain.window to skip it, or repair the batch.")
        labelled = table.frame[table.frame[config.data.target].notna()][reference.columns]
        if len(labelled):
            parts.append(labelled)
            used.append({"path": str(table.path), "sha256": table.sha256, "rows": len(labelled)})
    if not parts:
        raise WorkbenchError(f"{config.source}: the training window is empty (retrain.reference is false and no monitored batch has labels). "
                             "Fix: monitor labelled batches first or set retrain.reference: true.")
    frame = pd.concat(parts, ignore_index=True)
    # Features the store supplied are left out: training joins them again at each row's time and records the views.
    from_store = {f for fields in (reference.features or {}).get("fetched", {}).values() for f in fields}
    frame = frame[[c for c in frame.columns if c not in from_store]]
    with atomic_path(folder / "training.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    return {"path": str(folder / "training.parquet"), "rows": len(frame), "sources": used}


def derived_config(config: Config, folder: Path, training: Path) -> Config:
    """The project config with ``data.reference`` pointing at the window (all paths absolute); written and validated."""
    import yaml

    raw = config.model_dump(mode="json", exclude={"source"})
    raw["data"]["reference"], raw["demo"] = str(training), False
    header = f"# Derived by `workbench retrain` from {config.source}: data.reference is the training window.\n"
    path = write_text(folder / "workbench.yaml", header + yaml.safe_dump(raw, sort_keys=False))
    return load_config(path)


def retrain(config: Config, *, trigger: str = "manual", reason: str = "", request_id: str | None = None, jobs: int | None = None,
            out: TextIO = sys.stderr, gate: Gate | None = None) -> Outcome:
    """Run one trigger (see the module docstring); needs the ``train`` permission.

    Parameters
    ----------
    config : Config
        The project config; ``retrain`` sets the window and the schedule.
    trigger : {"manual", "scheduled", "event"}
        Which trigger: ``event`` answers the pending drift requests, ``scheduled`` does nothing
        unless the champion is older than ``retrain.max_age_days``.
    reason : str
        Why (manual trigger).
    request_id : str, optional
        Retrain for this request instead of the trigger's own choice.
    jobs : int, optional
        Phases run in parallel.
    out : TextIO
        Where the runner's progress lines go.
    gate : callable, optional
        Judges the new challenger before an approval is filed (see :data:`Gate`); None files it unjudged.

    Returns
    -------
    Outcome
        ``awaiting approval`` with the approval filed, ``not due``, ``registered``, ``gate failed`` or ``failed``.
    """
    if trigger not in TRIGGERS:
        raise ParameterError(f"unknown trigger {trigger!r}. Valid triggers: {', '.join(TRIGGERS)}.")
    roles.require(config, "train", f"{config.project} (retrain)")
    run_id = manifest.new_run_id("retrain")
    chosen = _requests(config, trigger, reason, request_id, run_id)
    if not chosen and trigger == "event":  # a scheduler runs the event loop hourly: no drift is the normal answer, not an error
        return Outcome("not due", "no retrain due: no pending drift retrain request (monitoring has not crossed a threshold); "
                                  "use --trigger manual to retrain anyway")
    if not chosen:
        return Outcome("not due", f"no retrain due: the champion is {champion_age_days(config) or 0:.1f} days old "
                                  f"(retrain.max_age_days: {config.retrain.max_age_days})")
    ids = [r["id"] for r in chosen]
    for rid in ids:
        requests.update(config, rid, status="retraining", retrain_run_id=run_id)
    note = f"{trigger} retrain ({ids[0]}): " + "; ".join(r for req in chosen for r in req["reasons"])[:300]
    try:
        folder = config.store / "retrain" / run_id
        window = build_window(config, folder)
        write_json(folder / WINDOW_FILE, window)
        derived = derived_config(config, folder, Path(window["path"]))
        audit.record(config.store, "retrain", config.project, trigger=trigger, requests=ids, run_id=run_id, window=window, reason=note)
        result = execute.run(derived, jobs=jobs, run_id=run_id, params={"note": note, "retrain_window": str(folder / WINDOW_FILE)}, out=out)
    except WorkbenchError as exc:  # refused before training: the requests stay answerable
        for rid in ids:
            requests.update(config, rid, status="pending" if trigger == "event" else "failed", error=str(exc))
        raise
    if not result.ok:
        failed = next((f"{n}: {e['error']}" for n, e in result.manifest["phases"].items() if e["status"] == "failed"), "failed")
        for rid in ids:
            requests.update(config, rid, status="failed", error=failed)
        return Outcome("failed", f"retrain run {run_id} failed ({failed}); requests {', '.join(ids)} marked failed", result)
    return _file(config, result, trigger, chosen, window, gate)


def _requests(config: Config, trigger: str, reason: str, request_id: str | None, run_id: str) -> list[dict[str, Any]]:
    if request_id:
        return [requests.get(config, request_id)]
    if trigger == "event":
        return [r for r in requests.pending(config) if r["trigger"] == "drift"]
    if trigger == "scheduled":
        due = scheduled_due(config)
        return [requests.request(config, trigger="scheduled", run_id=run_id, reasons=[due])] if due else []
    return [requests.request(config, trigger="manual", run_id=run_id, reasons=[reason.strip() or "manual retrain"])]


def _file(config: Config, result: RunResult, trigger: str, chosen: list[dict[str, Any]], window: dict[str, Any], gate: Gate | None) -> Outcome:
    """Tag the new version with its trigger, judge it (with a gate) and file the pending approval with the evidence."""
    reg = catalog.RunInfo(result.run_id, result.run_dir, result.manifest).read("register")
    version, ids = str(reg["version"]), [r["id"] for r in chosen]
    client = store.client_for(config)
    client.set_model_version_tag(config.project, version, "workbench.trigger", trigger)
    client.set_model_version_tag(config.project, version, "workbench.retrain_request", ids[0])
    final = catalog.RunInfo(result.run_id, result.run_dir, result.manifest).read("model_card") or {}
    if "champion" in final.get("aliases", []):  # no champion existed: it became champion once carded
        for rid in ids:
            requests.update(config, rid, status="registered", version=version)
        return Outcome("registered", f"v{version} ({reg['semver']}) became {', '.join(final['aliases'])} (there was no champion)", result)
    proof = evidence(result.run_dir, chosen, window)
    unseen = catalog.get_run(config, result.run_id).read("evaluate", catalog.UNSEEN_FILE) or {"status": "not computed"}
    proof["unseen"] = {k: v for k, v in unseen.items() if k != "schema_version"}  # computed by the evaluate phase
    if gate is not None:
        try:
            verdict = gate(version, {"trigger": trigger, "run_id": result.run_id, "requests": ids})
        except WorkbenchError as exc:  # no verdict (e.g. the champion cannot score the new holdout): nothing is filed
            for rid in ids:
                requests.update(config, rid, status="failed", version=version, error=f"gate: {exc}")
            raise
        if not verdict.passed:
            for rid in ids:
                requests.update(config, rid, status="gate failed", version=version, error=verdict.line)
            return Outcome("gate failed", f"{verdict.line}. v{version} ({reg['semver']}) stays registered as challenger; no approval was filed. "
                                          f"Fix: `workbench reject {version} --reason ...` to retire it, or retrain once the data or model changed.",
                           result, gate=verdict.to_dict())
        proof["gate"] = verdict.to_dict()
    approval = approvals.file_approval(config, version=version, semver=reg["semver"], run_id=result.run_id, trigger=trigger,
                                        request_id=ids[0], evidence=proof)
    for rid in ids:
        requests.update(config, rid, status="awaiting approval", version=version)
    passed = f"{proof['gate']['line']}; " if gate is not None else ""
    return Outcome("awaiting approval", f"{passed}challenger v{version} ({reg['semver']}) awaits approval: "
                                        f"`workbench approve {version}` or `workbench reject {version} --reason ...`", result, approval,
                   gate=proof.get("gate"))


def evidence(run_dir: Path, chosen: list[dict[str, Any]], window: dict[str, Any]) -> dict[str, Any]:
    """Metrics (candidate, champion, baseline and the paired comparisons), fairness on the holdout, the drift that triggered it."""
    run = catalog.RunInfo(run_dir.name, run_dir, {})
    evaluation = run.read("evaluate")
    primary = evaluation["primary_metric"]
    fair = run.read("responsible", catalog.AUDIT_FILE) or {}
    return {
        "metrics": {"primary": primary, **{m: v[primary] for m, v in evaluation["metrics"].items()}},
        "comparisons": evaluation["comparisons"], "decision": evaluation["decision"],
        "fairness": {"failed_attributes": fair.get("failed_attributes", []), "top_features": fair.get("top_features", []),
                     "details": str(run_dir / "responsible")} if fair else {"status": "not available"},
        "drift": [{"request": r["id"], "trigger": r["trigger"], "reasons": r["reasons"], "run_id": r["run_id"],
                   "batch": r["evidence"].get("batch")} for r in chosen],
        "window": window, "canary": [],
    }


@dataclass(frozen=True)
class Plan:
    """What :func:`retrain` would do now (``workbench retrain --dry-run``); building it runs, writes and records nothing."""

    trigger: str
    due: bool
    why: list[str]
    window: list[str]
    champion: str
    may_train: str

    def lines(self) -> list[str]:
        """The plan for people, one step a line."""
        head = f"retrain dry run ({self.trigger}): " + ("due" if self.due else "not due, nothing would run")
        out = [head, *(f"  {w}" for w in self.why), f"  champion: {self.champion}", f"  who: {self.may_train}"]
        if self.due:
            out += ["  data window (training data of the challenger):", *(f"    {w}" for w in self.window),
                    "  then: the train DAG on the window registers a challenger (never champion while one exists)"]
        return out


def plan(config: Config, *, trigger: str = "manual", reason: str = "", request_id: str | None = None) -> Plan:
    """What :func:`retrain` would do with these arguments; reads the store, the run folders and file metadata only.

    Nothing is audited (not even the data reads: file sizes come from Parquet metadata), no request
    is filed and no role refusal is recorded: the plan says whether the actor may train.
    """
    if trigger not in TRIGGERS:
        raise ParameterError(f"unknown trigger {trigger!r}. Valid triggers: {', '.join(TRIGGERS)}.")
    # an embedded store that does not exist yet holds no champion (and asking MLflow would create it)
    fresh = config.tracking_uri is None and not (config.store / "mlflow.db").is_file()
    mv = None if fresh else registry.alias_version(config, "champion")
    age = champion_age_days(config) if mv is not None else None
    champion = f"v{mv.version} ({mv.tags.get(registry.TAG + 'semver', '?')}), {age:.1f} days old" if mv is not None else "none yet"
    role = roles.role_of(config)
    may = "may" if role in roles.allowed_roles("train") else "may NOT (needs data_scientist or above)"
    who = f"{audit.actor()} (role {role or 'none'}) {may} retrain"
    if request_id:
        req = requests.get(config, request_id)
        due, why = True, [f"request {req['id']} ({req['trigger']}, {req['status']}): {'; '.join(req['reasons'])}"]
    elif trigger == "event":
        pending = [r for r in requests.pending(config) if r["trigger"] == "drift"]
        due = bool(pending)
        why = [f"pending drift request {r['id']} (batch {r['evidence'].get('batch', '?')}): {'; '.join(r['reasons'])[:300]}" for r in pending] or \
              ["no pending drift retrain request: monitoring has not crossed a threshold"]
    elif trigger == "scheduled":
        if config.retrain.max_age_days is None:
            raise ConfigError(f"{config.source}: key 'retrain.max_age_days' is not set, so no retrain is ever scheduled. "
                              "Fix: set it (e.g. 90), or use --trigger manual.")
        if mv is None:
            raise WorkbenchError(f"model {config.project!r} has no champion yet. Fix: run `workbench run` first.")
        due = age > config.retrain.max_age_days
        why = [f"the champion is {age:.1f} days old; retrain.max_age_days is {config.retrain.max_age_days}"]
    else:
        due, why = True, [f"manual: {reason.strip() or 'manual retrain'}"]
    return Plan(trigger, due, why, _window_plan(config), champion, who)


def _window_plan(config: Config) -> list[str]:
    """The window :func:`build_window` would assemble, from file metadata and the score phases' records (nothing read or audited)."""
    out = []
    if config.retrain.reference:
        out.append(f"reference {config.data.reference} ({_rows(config.data.reference)})")
    for run in catalog.latest_per_batch(config, "score")[-config.retrain.window:] if config.retrain.window else []:
        out.append(f"batch {run.batch['path']}: {run.score.get('labelled_rows', '?')} labelled of {run.batch['rows']} rows when monitored "
                   f"(run {run.run_id})")
    return out or ["empty: retrain.reference is false and no batch was monitored (a real run refuses this)"]


def _rows(path: Path) -> str:
    if path.suffix == ".parquet" and path.is_file():
        import pyarrow.parquet as pq

        return f"{pq.read_metadata(path).num_rows} rows"
    return "rows counted when read" if path.exists() else "missing"
