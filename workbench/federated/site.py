"""``workbench federated site --site NAME``: a data site joining a federated run from its own machine.

A site marked ``remote: true`` in ``sites:`` is not started by ``workbench federated train`` or
``monitor``: the server waits (``federated.round_timeout_s``) for it to connect. On the site's
machine, with the project's config and the site's own files, this command starts the same site
program the orchestrator starts for a local site (``workbench.federated._client`` for training,
``workbench.federated._monitor`` with ``--monitor``), hands it its job on standard input (the secret
from ``sites.<name>.token_env``, never on a command line), shows what it does and returns when the
server ends the run. The run folder ``<reports>/<run_id>/`` (kind ``federated-site``) keeps the
manifest and the process log, so the site's machine has its own record of what it answered. What
the site reads is recorded in its data-access log; a private monitoring release spends from its
own budget ledger.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import write_json
from workbench.config import loopback
from workbench.exceptions import ConfigError, FederatedError
from workbench.federated import _processes, _runs
from workbench.federated._runs import PHASE
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

KIND = "federated-site"
TRAIN, MONITOR = "workbench.federated._client", "workbench.federated._monitor"


def job(config: Config, name: str, *, monitor: bool, server: str | None = None, data: Path | None = None,
        wait_s: float | None = None) -> dict[str, Any]:
    """The job of site ``name`` (ConfigError naming the key and the fix when it cannot join)."""
    where = config.source
    if name not in config.sites:
        known = ", ".join(sorted(config.sites)) or "none"
        raise ConfigError(f"{where}: site {name!r} is not in key 'sites' (configured: {known}). "
                          "Fix: pass --site with a configured site's name, or add the site to sites: (the server must know it too).")
    site, fed = config.sites[name], config.federated
    if not site.token_env:
        raise ConfigError(f"{where}: key 'sites.{name}.token_env' is not set: a site on its own machine proves itself with a secret "
                          "the server holds too. Fix: set token_env (and remote: true) for this site in both machines' config, "
                          "and export the same secret on both.")
    secret = os.environ.get(site.token_env)
    if not secret:
        raise ConfigError(f"{where}: key 'sites.{name}.token_env': environment variable {site.token_env} is not set. "
                          f"Fix: export {site.token_env} with the site's secret (the one the server's machine has).")
    address = server or fed.address
    if fed.tls is None and not loopback(address):
        raise ConfigError(f"{where}: server {address!r} is not loopback and key 'federated.tls' is not set: the site would send its "
                          "updates unencrypted and could not tell the real server from another. Fix: set federated.tls.ca to the CA "
                          "that signed the server's certificate.")
    if fed.tls is not None and not Path(fed.tls.ca).is_file():
        raise ConfigError(f"{where}: key 'federated.tls.ca': file {fed.tls.ca} does not exist. Fix: copy the CA certificate (PEM) "
                          "that signed the server's certificate to this machine and point the key at it.")
    base: dict[str, Any] = {"config": str(config.source), "site": name, "secret": secret, "address": address,
                            "ca": str(fed.tls.ca) if fed.tls else None, "timeout": fed.round_timeout_s,
                            "wait": wait_s or fed.round_timeout_s, "expect_task": True}
    if monitor:
        if not site.batches:
            raise ConfigError(f"{where}: key 'sites.{name}.batches' is not set. Fix: point it at this site's folder or glob of batches.")
        return base | {"role": "site"}
    path = Path(data) if data is not None else Path(site.data)
    if not path.is_file():
        raise ConfigError(f"{where}: key 'sites.{name}.data': file {path} does not exist on this machine. "
                          "Fix: point it (or --data) at the site's CSV or Parquet file.")
    return base | {"data": str(path.resolve())}


def join(config: Config, name: str, *, monitor: bool = False, server: str | None = None, data: Path | None = None,
         wait_s: float | None = None, run_id: str | None = None,
         on_event: Callable[[dict[str, Any], _processes.Fleet], None] | None = None) -> dict[str, Any]:
    """Serve one federated run as site ``name``; return what the site's ``result.json`` records.

    Parameters
    ----------
    config : Config
        The project (the same config as the server's, with this machine's paths).
    name : str
        The site, a key of ``sites:``.
    monitor : bool
        Answer a monitoring run (``workbench federated monitor``) instead of a training run.
    server : str, optional
        ``host:port`` the server listens on as this machine reaches it (default ``federated.address``).
    data : Path, optional
        The site's training file (default ``sites.<name>.data``).
    wait_s : float, optional
        How long to wait for the server to listen (default ``federated.round_timeout_s``).

    Raises
    ------
    ConfigError
        The site cannot join (unknown name, no secret, no TLS beyond loopback, a missing file); nothing started.
    FederatedError
        The site program failed (its error line), or the server closed the session without a task (refused).
    """
    site_job = job(config, name, monitor=monitor, server=server, data=data, wait_s=wait_s)
    return _runs.recorded(config, KIND, run_id, lambda run_dir, rid: _serve(run_dir, rid, name, site_job, monitor, on_event),
                          site=name, server=site_job["address"], role="monitor" if monitor else "train")


def _serve(run_dir: Path, run_id: str, name: str, site_job: dict[str, Any], monitor: bool,
           on_event: Callable[[dict[str, Any], _processes.Fleet], None] | None) -> dict[str, Any]:
    folder = run_dir / PHASE
    folder.mkdir(parents=True, exist_ok=True)
    fleet = _processes.Fleet(folder / "logs", on_event=on_event)
    fleet.logs.mkdir(parents=True, exist_ok=True)
    proc = _processes.spawn(fleet, f"site-{name}", MONITOR if monitor else TRAIN, site_job)
    fleet.sites[name] = proc
    # The site program bounds its own waits (wait_s for the server, round_timeout_s per message), so no deadline here.
    try:
        code = proc.wait()
    finally:  # interrupted (Ctrl-C, a service stop): the site program goes with this command
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    for reader in fleet.readers:
        reader.join(timeout=5)  # its last events (site_done) are read once the output closed
    fleet.ended = time.time()
    done = fleet.first("site_done")
    if code != 0:
        error = fleet.site_error(name) or f"the site process ended with exit code {code} (see {fleet.logs / f'site-{name}.log'})"
        raise FederatedError(error)
    result = {"schema_version": 1, "phase": PHASE, "run_id": run_id, "site": name, "role": "monitor" if monitor else "train",
              "server": site_job["address"], "tls": site_job["ca"] is not None, "tasks": done["tasks"] if done else None,
              "timing": {"wall_s": round(fleet.ended - fleet.started, 3)}}
    write_json(folder / catalog.RESULT_FILE, result)
    return result
