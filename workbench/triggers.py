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
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from workbench.exceptions import WorkbenchError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config
    from workbench.runner import RunResult

TRIGGERS = ("manual", "scheduled", "event")


@dataclass(frozen=True)
class Outcome:
    """What a trigger did: ``status`` is ``not due``, ``failed`` or ``awaiting approval`` (or ``registered``)."""

    status: str
    message: str
    run: RunResult | None = None
    approval: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        """0 unless the retrain run failed."""
        return 1 if self.status == "failed" else 0


def champion_age_days(config: Config, now: datetime | None = None) -> float | None:
    """Days since the current champion got its alias (from the audit log, else the version's creation time)."""
    from workbench import governance, registry

    mv = registry.alias_version(config, "champion")
    if mv is None:
        return None
    moves = [r for r in governance.alias_history(config, "champion") if r["version"] == str(mv.version)]
    since = datetime.fromisoformat(moves[-1]["ts"]) if moves else datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC)
    return ((now or datetime.now(UTC)) - since).total_seconds() / 86400


def scheduled_due(config: Config, now: datetime | None = None) -> str | None:
    """The reason a scheduled retrain is due, or None."""
    limit = config.retrain.max_age_days
    if limit is None:
        raise WorkbenchError(f"{config.source}: key 'retrain.max_age_days' is not set, so no retrain is ever scheduled. "
                             "Fix: set it (e.g. 90), or use --trigger manual.")
    age = champion_age_days(config, now)
    if age is None:
        raise WorkbenchError(f"model {config.project!r} has no champion yet. Fix: run `workbench run` first.")
    return f"the champion is {age:.1f} days old (retrain.max_age_days: {limit})" if age > limit else None


def window_batches(config: Config) -> list[dict[str, Any]]:
    """The latest ``retrain.window`` distinct batches monitored so far (score phase succeeded), in name order."""
    from workbench import results

    seen: dict[str, dict[str, Any]] = {}
    for info in results.list_runs(config, kind="monitor"):
        result = info.phase_dir("score") / results.RESULT_FILE
        if info.phase_status("score") == "succeeded" and result.is_file():
            from workbench._io import read_json

            batch = read_json(result)["batch"]
            seen[batch["path"]] = batch
    ordered = sorted(seen.values(), key=lambda b: b["name"])
    return ordered[-config.retrain.window:] if config.retrain.window else []


def build_window(config: Config, folder: Path) -> dict[str, Any]:
    """Write the training window to ``folder/training.parquet``; return what went into it."""
    import pandas as pd

    from workbench import sources
    from workbench._io import atomic_path

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
    with atomic_path(folder / "training.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    return {"path": str(folder / "training.parquet"), "rows": len(frame), "sources": used}


def derived_config(config: Config, folder: Path, training: Path) -> Config:
    """The project config with ``data.reference`` pointing at the window (all paths absolute); written and validated."""
    import yaml

    from workbench._io import write_text
    from workbench.config import load_config

    raw = config.model_dump(mode="json", exclude={"source"})
    raw["data"]["reference"], raw["demo"] = str(training), False
    header = f"# Derived by `workbench retrain` from {config.source}: data.reference is the training window.\n"
    path = write_text(folder / "workbench.yaml", header + yaml.safe_dump(raw, sort_keys=False))
    return load_config(path)


def retrain(config: Config, *, trigger: str = "manual", reason: str = "", request_id: str | None = None, jobs: int | None = None,
            out: TextIO = sys.stderr) -> Outcome:
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

    Returns
    -------
    Outcome
        ``awaiting approval`` with the approval filed, ``not due``, ``registered`` or ``failed``.
    """
    from workbench import audit, governance, manifest, runner
    from workbench import retrain as requests

    if trigger not in TRIGGERS:
        raise WorkbenchError(f"unknown trigger {trigger!r}. Valid triggers: {', '.join(TRIGGERS)}.")
    governance.require(config, "train", f"{config.project} (retrain)")
    run_id = manifest.new_run_id("retrain")
    chosen = _requests(config, trigger, reason, request_id, run_id)
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
        derived = derived_config(config, folder, Path(window["path"]))
        audit.record(config.store, "retrain", config.project, trigger=trigger, requests=ids, run_id=run_id, window=window, reason=note)
        result = runner.run(derived, jobs=jobs, run_id=run_id, params={"note": note}, out=out)
    except WorkbenchError as exc:  # refused before training: the requests stay answerable
        for rid in ids:
            requests.update(config, rid, status="pending" if trigger == "event" else "failed", error=str(exc))
        raise
    if not result.ok:
        failed = next((f"{n}: {e['error']}" for n, e in result.manifest["phases"].items() if e["status"] == "failed"), "failed")
        for rid in ids:
            requests.update(config, rid, status="failed", error=failed)
        return Outcome("failed", f"retrain run {run_id} failed ({failed}); requests {', '.join(ids)} marked failed", result)
    return _file(config, result, trigger, chosen, window)


def _requests(config: Config, trigger: str, reason: str, request_id: str | None, run_id: str) -> list[dict[str, Any]]:
    from workbench import retrain as requests

    if request_id:
        return [requests.get(config, request_id)]
    if trigger == "event":
        pending = [r for r in requests.pending(config) if r["trigger"] == "drift"]
        if not pending:
            raise WorkbenchError("no pending drift retrain request: monitoring has not crossed a threshold. "
                                 "Fix: use --trigger manual to retrain anyway.")
        return pending
    if trigger == "scheduled":
        due = scheduled_due(config)
        return [requests.request(config, trigger="scheduled", run_id=run_id, reasons=[due])] if due else []
    return [requests.request(config, trigger="manual", run_id=run_id, reasons=[reason.strip() or "manual retrain"])]


def _file(config: Config, result: RunResult, trigger: str, chosen: list[dict[str, Any]], window: dict[str, Any]) -> Outcome:
    """Tag the new version with its trigger and file the pending approval with the evidence."""
    from workbench import governance, store
    from workbench import retrain as requests
    from workbench._io import read_json

    reg = read_json(result.run_dir / "register" / "result.json")
    version, ids = str(reg["version"]), [r["id"] for r in chosen]
    client = store.client_for(config)
    client.set_model_version_tag(config.project, version, "workbench.trigger", trigger)
    client.set_model_version_tag(config.project, version, "workbench.retrain_request", ids[0])
    if "challenger" not in reg["aliases"]:  # no champion existed: it became champion at registration
        for rid in ids:
            requests.update(config, rid, status="registered", version=version)
        return Outcome("registered", f"v{version} ({reg['semver']}) became {', '.join(reg['aliases'])} (there was no champion)", result)
    proof = evidence(result.run_dir, chosen, window)
    proof["unseen"] = unseen_comparison(config, result.run_dir, version, window)
    approval = governance.file_approval(config, version=version, semver=reg["semver"], run_id=result.run_id, trigger=trigger,
                                        request_id=ids[0], evidence=proof)
    for rid in ids:
        requests.update(config, rid, status="awaiting approval", version=version)
    return Outcome("awaiting approval", f"challenger v{version} ({reg['semver']}) awaits approval: "
                                        f"`workbench approve {version}` or `workbench reject {version} --reason ...`", result, approval)


def evidence(run_dir: Path, chosen: list[dict[str, Any]], window: dict[str, Any]) -> dict[str, Any]:
    """Metrics (candidate, champion, baseline and the paired comparisons), fairness on the holdout, the drift that triggered it."""
    from workbench._io import read_json

    evaluation = read_json(run_dir / "evaluate" / "result.json")
    primary = evaluation["primary_metric"]
    responsible = run_dir / "responsible" / "audit.json"
    fair = read_json(responsible) if responsible.is_file() else {}
    return {
        "metrics": {"primary": primary, **{m: v[primary] for m, v in evaluation["metrics"].items()}},
        "comparisons": evaluation["comparisons"], "decision": evaluation["decision"],
        "fairness": {"failed_attributes": fair.get("failed_attributes", []), "top_features": fair.get("top_features", []),
                     "details": str(run_dir / "responsible")} if fair else {"status": "not available"},
        "drift": [{"request": r["id"], "trigger": r["trigger"], "reasons": r["reasons"], "run_id": r["run_id"],
                   "batch": r["evidence"].get("batch")} for r in chosen],
        "window": window, "canary": [],
    }


def unseen_comparison(config: Config, run_dir: Path, version: str, window: dict[str, Any]) -> dict[str, Any]:
    """Challenger against champion on holdout rows the champion never trained on (and on the batch rows among them).

    The retrain's holdout is a fresh split of the window, so part of it was in the champion's
    training set, which flatters the champion; this comparison leaves those rows out. Needs ``data.id``.
    """
    import pandas as pd

    from workbench import evaluation, registry, sources, training
    from workbench.data import Schema

    id_col, task = config.data.id, config.model.task
    champion = registry.alias_version(config, "champion")
    if not id_col or champion is None:
        return {"status": "not computed: needs data.id and a champion"}
    tags = champion.tags
    seen_file = config.reports / tags.get(registry.TAG + "run_id", "?") / "train" / training.HOLDOUT_FILE
    if not seen_file.is_file():
        return {"status": f"not computed: the champion's holdout {seen_file} is gone"}
    champion_data = sources.read(config, tags[registry.TAG + "data_path"], purpose="retrain evidence").frame[id_col].astype(str)
    trained_on = set(champion_data) - set(pd.read_parquet(seen_file, columns=[id_col])[id_col].astype(str))
    holdout = pd.read_parquet(run_dir / "train" / training.HOLDOUT_FILE)
    unseen = holdout[~holdout[id_col].astype(str).isin(trained_on)]
    batch_ids = set()
    for src in window["sources"][1 if config.retrain.reference else 0:]:
        batch_ids |= set(sources.read(config, src["path"], purpose="retrain evidence").frame[id_col].astype(str))
    out: dict[str, Any] = {"status": "compared", "primary_metric": evaluation.PRIMARY[task]}
    models = {role: registry.load(config, ref) for role, ref in (("challenger", version), ("champion", str(champion.version)))}
    for name, rows in (("unseen_by_champion", unseen), ("window_batches", unseen[unseen[id_col].astype(str).isin(batch_ids)])):
        if len(rows) < 30:
            out[name] = {"rows": len(rows), "status": "too few rows"}
            continue
        y = training.target(rows, Schema.from_dict(models["challenger"].schema), task).to_numpy()
        scores = {role: training.predict(m.model, rows, Schema.from_dict(m.schema), task) for role, m in models.items()}
        diff = evaluation.paired_difference(y, scores["challenger"], scores["champion"], task, seed=config.model.seed)
        primary = evaluation.PRIMARY[task]
        fn = evaluation.metric_functions(task)[primary]
        out[name] = {"rows": len(rows), "challenger": float(fn(y, scores["challenger"])), "champion": float(fn(y, scores["champion"])),
                     "challenger_vs_champion": diff, "verdict": _verdict(diff, primary)}
    return out


def _verdict(diff: dict[str, float], primary: str) -> str:
    from workbench import evaluation

    sign = 1 if evaluation.HIGHER_IS_BETTER[primary] else -1
    low, high = sorted((sign * diff["low"], sign * diff["high"]))
    return "challenger better" if low > 0 else "challenger worse" if high < 0 else "no significant difference"
