"""``workbench federated monitor --batch NAME``: drift and fairness of one batch per site, merged without pooling its rows.

The processes are the training run's (one Flower server, one process per site, admission by
secret, TLS when configured), started with ``workbench.federated._monitor``: the server sends
the champion's reference profile as arrays in the Flower message, each site answers the
``monitor`` task with :func:`workbench.federated.monitoring.site_payload` on its file named
``NAME`` under ``sites.<site>.batches``, the server merges and decides. The run folder
(kind ``federated-monitor``) holds ``federated/`` with the drift and fairness tables
(:func:`workbench.federated.monitoring.save`) and ``result.json`` (written last).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench import registry
from workbench._io import write_json
from workbench.config import Config
from workbench.exceptions import ConfigError, ParameterError
from workbench.federated import _processes, _profile_store, _runs
from workbench.federated._runs import PHASE
from workbench.federated.train import check, local_sites, remote_sites, site_secrets
from workbench.registry.store import init_store
from workbench.reports import catalog

KIND = "federated-monitor"
MODULE = "workbench.federated._monitor"


def monitor(config: Config, *, batch: str, mode: str | None = None, run_id: str | None = None,
            on_event: Callable[[dict[str, Any], _processes.Fleet], None] | None = None) -> dict[str, Any]:
    """Monitor batch ``batch`` across the sites; return what ``result.json`` records.

    Parameters
    ----------
    config : Config
        The project; every site needs ``batches``.
    batch : str
        The batch's file name (or stem) in each site's batches.
    mode : {"exact", "sketch"}, optional
        Exact ships each numeric column's sorted values (between trusting sites); sketch only bin
        counts. Default: sketch when ``federated.dp_epsilon`` is set or the champion was trained
        across sites (its profile is the sketch the sites computed at training), else exact.
    """
    check(config, need_data=False)
    if Path(batch).name != batch or batch in ("", ".", ".."):
        raise ParameterError(f"--batch {batch!r}: give the batch's file name (or stem) as it is in every site's batches folder, not a path: "
                             "each site reads only its own sites.<name>.batches. Fix: e.g. --batch 2026-08.parquet")
    missing = [name for name, site in local_sites(config).items() if not site.batches]  # a remote site's batches are on its machine
    if missing:
        raise ConfigError(f"{config.source}: key 'sites.{missing[0]}.batches' is not set. Fix: point it at the site's folder or glob of batches.")
    init_store(config)
    mode = _mode(config, mode)
    return _runs.recorded(config, KIND, run_id, lambda run_dir, rid: _run(config, run_dir, rid, batch=batch, mode=mode, on_event=on_event),
                          sites=sorted(config.sites), batch=batch)


def _mode(config: Config, mode: str | None) -> str:
    """The monitoring mode; a champion trained across sites is refused exact mode here, before any process starts."""
    champ = registry.alias_version(config, "champion")
    if champ is not None and registry.federated_sites(dict(champ.tags)) is not None:
        _profile_store.check_mode(config, champ, mode or "sketch")  # ParameterError for exact; DataError when the profile is missing
        return "sketch"
    return mode or ("sketch" if config.federated.dp_epsilon is not None else "exact")


def _run(config: Config, run_dir: Path, run_id: str, *, batch: str, mode: str,
         on_event: Callable[[dict[str, Any], _processes.Fleet], None] | None) -> dict[str, Any]:
    fed, tls = config.federated, config.federated.tls
    secrets = site_secrets(config)
    min_sites = fed.min_sites or len(config.sites)
    with tempfile.TemporaryDirectory(prefix="workbench-federated-") as tmp:
        work = Path(tmp)
        server = {"role": "server", "config": str(config.source), "address": fed.address, "rounds": 1, "round_timeout_s": fed.round_timeout_s,
                  "min_sites": min_sites, "secrets": secrets, "outcome": str(work), "batch": batch, "mode": mode,
                  "folder": str(run_dir / PHASE), "tls": {k: str(getattr(tls, k)) for k in ("ca", "cert", "key")} if tls else None}
        sites = {name: {"role": "site", "config": str(config.source), "site": name, "secret": secrets[name], "address": fed.address,
                        "ca": str(tls.ca) if tls else None, "timeout": fed.round_timeout_s} for name in local_sites(config)}
        fleet = _processes.run(server, sites, logs=run_dir / PHASE / "logs", min_sites=min_sites, deadline_s=fed.round_timeout_s * 4 + 60,
                               server_module=MODULE, site_module=MODULE, on_event=on_event, remote=remote_sites(config))
        outcome, _ = _runs.outcome(work, fleet)
    ready = outcome.get("ready_at")
    result = {"schema_version": 1, "phase": PHASE, "run_id": run_id, "batch": batch, "mode": mode, **outcome["result"],
              "dropped": outcome["dropped"], "refused": outcome["refused"],
              "timing": {"startup_s": round(ready - fleet.started, 3) if ready else None, "federated_s": round(outcome["ended_at"] - fleet.started, 3),
                         "processes_s": round(fleet.ended - fleet.started, 3)}}
    write_json(run_dir / PHASE / catalog.RESULT_FILE, result)
    return result


def summary(result: dict[str, Any]) -> str:
    """A few lines for people: the verdict, the sites and their rows, noise, fairness."""
    drift = result.get("drift", {})
    lines = [f"run {result['run_id']}: batch {result['batch']} across {len(result.get('sites', []))} sites ({result['mode']} mode)",
             "  drift: " + (f"{'DRIFT' if drift['drift'] else 'no drift'}: {drift.get('drifted_columns', '?')} of {drift.get('columns', '?')} columns drifted"
                           if "drift" in drift else "not computed")]
    lines += [f"  site {s['site']}: {s['rows']} rows of {s['batch']} (sha256 {str(s['sha256'])[:12]})"
              + (f"; fairness {s['fairness']}" if str(s.get("fairness", "")).startswith("not counted") else "") for s in result.get("sites", [])]
    lines += [f"  dropped: {d['site']} ({d['step']}): {d['reason']}" for d in result.get("dropped", [])]
    lines += [f"  refused: {r['site']!r}: {r['reason']}" for r in result.get("refused", [])]
    if result.get("dp_epsilon"):
        lines.append(f"  DP: epsilon {result['dp_epsilon']} per site, noise scale {result['noise_scale']:.3g} per count")
    fair = result.get("fairness", {})
    lines.append(f"  fairness: {fair.get('status', '?')}" + (f", failed: {', '.join(fair['failed_attributes'])}" if fair.get("failed_attributes") else ""))
    return "\n".join(lines)
