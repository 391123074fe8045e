"""``workbench federated train``: train across the configured sites through real Flower processes, then register.

One Flower server process and one process per site in ``sites:`` run on ``federated.address``
(loopback by default). Each site process reads only its own file; what travels is the summary
statistics of the encoder step (:mod:`~workbench.federated._encoding`), model parameters and
evaluation metrics (:mod:`~workbench.federated._model`). Sites are admitted only with the proof
of their secret (``sites.<name>.token_env``, else a per-run secret this process generates and hands
to the processes it starts), over TLS when ``federated.tls`` is set.

After the rounds the sites compute the model's reference profile in two passes, sketch mode, no
row sent (:mod:`~workbench.federated._profile`): the drift profile every monitor of the version
compares with, since a federated version has no single reference file. Only after the server
finished every round and the profile with at least ``federated.min_sites`` sites is the
aggregated model logged to MLflow and registered (:mod:`~workbench.federated._register`), the
profile stored with it before the version counts as registered; the
run folder ``<reports>/<run_id>/`` gets the manifest (kind ``federated``) and
``federated/result.json``: sites with their data sha256 and rows, every round's loss and holdout
metrics, dropped and refused sites, wall and start-up time, the version. A failure anywhere
registers nothing and writes no result (the manifest says ``failed`` with the error; the
processes' logs stay in ``federated/logs/``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._io import read_json, write_json
from workbench.exceptions import ConfigError
from workbench.federated import _compare, _encoding, _model, _processes, _profile_store, _protocol, _register, _runs
from workbench.federated._runs import PHASE
from workbench.governance import roles
from workbench.registry.store import init_store
from workbench.reports import catalog

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import Config

KIND = "federated"  # the manifest's kind


def check(config: Config, *, need_data: bool = True) -> None:
    """Refuse, before any process starts, a federated config that cannot run (ConfigError naming the key and the fix).

    ``need_data``: each site's training file must exist (training; monitoring reads the sites' batches instead).
    """
    fed, where = config.federated, config.source
    if not config.sites:
        raise ConfigError(f"{where}: key 'sites' is empty: federated training needs at least one site. "
                          "Fix: add sites: {name: {data: path/to/site.parquet}} (see README, 'Privacy: DP and federated sites').")
    if fed.min_sites is not None and fed.min_sites > len(config.sites):
        raise ConfigError(f"{where}: key 'federated.min_sites' is {fed.min_sites} but only {len(config.sites)} sites are configured. "
                          "Fix: lower federated.min_sites or add sites.")
    for name, site in config.sites.items():
        if need_data and not site.remote and not Path(site.data).is_file():  # a remote site's file is on its own machine
            raise ConfigError(f"{where}: key 'sites.{name}.data': file {site.data} does not exist. Fix: point it at the site's CSV or Parquet file.")
        if site.token_env and not os.environ.get(site.token_env):
            raise ConfigError(f"{where}: key 'sites.{name}.token_env': environment variable {site.token_env} is not set. "
                              f"Fix: export {site.token_env} with the site's secret, or remove token_env for a per-run secret.")
    if need_data and config.privacy is not None and config.privacy.features is not None:
        raise ConfigError(f"{where}: key 'privacy.features': private features are made from the reference file at central training "
                          "(`workbench run`); federated training does not apply them at the sites, so the model would train on "
                          "clean features while the config says private. Fix: remove privacy.features from this config, "
                          "or train centrally with `workbench run`.")
    if fed.tls is not None:
        for key in ("ca", "cert", "key"):
            if not Path(getattr(fed.tls, key)).is_file():
                raise ConfigError(f"{where}: key 'federated.tls.{key}': file {getattr(fed.tls, key)} does not exist. "
                                  "Fix: point it at a PEM file.")


def site_secrets(config: Config) -> dict[str, str]:
    """Each site's secret: its ``token_env`` variable, else a fresh per-run secret (known only to this run's processes)."""
    return {name: os.environ[site.token_env] if site.token_env else _protocol.new_secret() for name, site in config.sites.items()}


def jobs(config: Config, secrets: dict[str, str], *, rounds: int, outcome: Path, trees: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The server's job and each site's (secrets included: they travel on the processes' standard input only)."""
    fed, tls = config.federated, config.federated.tls
    server = {"config": str(config.source), "address": fed.address, "rounds": rounds, "round_timeout_s": fed.round_timeout_s,
              "min_sites": fed.min_sites or len(config.sites), "secrets": secrets, "outcome": str(outcome),
              "tls": {k: str(getattr(tls, k)) for k in ("ca", "cert", "key")} if tls else None, "task": config.model.task,
              "strategy": fed.strategy, "local_epochs": fed.local_epochs, "seed": config.model.seed, "trees": trees,
              "penalty": _model.penalty(config.model.task, config.model.estimator, config.model.params),
              "profile_bins": _profile_store.DP_BINS if fed.dp_epsilon is not None else _profile_store.DEFAULT_BINS}
    sites = {name: {"config": str(config.source), "site": name, "data": str(site.data), "secret": secrets[name], "address": fed.address,
                    "ca": str(tls.ca) if tls else None, "timeout": fed.round_timeout_s} for name, site in local_sites(config).items()}
    return server, sites


def local_sites(config: Config) -> dict[str, Any]:
    """The sites this command starts a process for (a ``remote`` site joins with ``workbench federated site`` on its machine)."""
    return {name: site for name, site in config.sites.items() if not site.remote}


def remote_sites(config: Config) -> list[str]:
    """The sites that join from their own machines."""
    return sorted(name for name, site in config.sites.items() if site.remote)


def _trees(config: Config) -> int:
    params = config.model.params if config.model.estimator == "random_forest" else {}
    return int(params.get("n_estimators", _model.DEFAULT_TREES))


def build(outcome: dict[str, Any], arrays: list[Any]) -> Any:
    """The registered model: the spec's preprocessor and the aggregated estimator, as a scikit-learn Pipeline."""
    spec = outcome["spec"]
    estimator = _model.load_forest(arrays[0]) if spec["strategy"] == "bagging" else _model.linear_model(spec, arrays)
    return _model.pipeline(spec, estimator)


def _result(config: Config, outcome: dict[str, Any], fleet: _processes.Fleet, run_id: str, rounds: int) -> dict[str, Any]:
    fed = config.federated
    ready = outcome.get("ready_at")
    history = outcome["rounds"]
    return {"run_id": run_id, "task": config.model.task, "strategy": fed.strategy, "rounds": len(history), "rounds_planned": rounds,
            "local_epochs": fed.local_epochs, "min_sites": fed.min_sites or len(config.sites), "address": fed.address, "tls": fed.tls is not None,
            "sites": {s: v | {"error": fleet.site_error(s)} if fleet.site_error(s) else v for s, v in outcome["sites"].items()},
            "history": history, "evaluation": history[-1]["evaluation"], "dropped": outcome["dropped"], "refused": outcome["refused"],
            "profile": outcome["profile"],  # the reference profile the sites computed (stored with the version)
            "spec": outcome["spec"],
            "timing": {"startup_s": round(ready - fleet.started, 3) if ready else None,  # spawn -> every site admitted
                       "federated_s": round(outcome["ended_at"] - fleet.started, 3),  # spawn -> the server finished its rounds
                       "processes_s": round(fleet.ended - fleet.started, 3)}}  # spawn -> every process exited


def train(config: Config, *, rounds: int | None = None, compare_pooled: bool = False, run_id: str | None = None,
          on_event: Callable[[dict[str, Any], _processes.Fleet], None] | None = None) -> dict[str, Any]:
    """Train across ``config.sites`` and register the aggregated model; return what ``result.json`` records.

    Parameters
    ----------
    config : Config
        The project; ``sites:`` and ``federated:`` drive the run.
    rounds : int, optional
        Overrides ``federated.rounds`` (bagging always runs one round).
    compare_pooled : bool
        Simulation only: also train on the pooled rows and record the gap (:mod:`~workbench.federated._compare`).
    run_id : str, optional
        Name of the run folder (default ``<UTC time>-federated-<hex>``).
    on_event : callable, optional
        Called with every event the processes report (``ready``, ``round``, ``dropped``, ``refused``…) and the running fleet.

    Raises
    ------
    ConfigError
        The config cannot run (no sites, a missing file or secret); nothing started.
    FederatedError
        The run failed (too few sites, a dead server, the deadline); nothing was registered.
    """
    check(config)
    roles.require(config, "train", f"{config.project} (federated training)")
    fed = config.federated
    rounds = 1 if fed.strategy == "bagging" else (rounds or fed.rounds)
    started = time.time()
    init_store(config)  # once, before any process writes to the store
    return _runs.recorded(config, KIND, run_id, lambda run_dir, rid: _run(config, run_dir, rid, rounds=rounds, compare_pooled=compare_pooled,
                                                                          on_event=on_event, started=started), sites=sorted(config.sites))


def _run(config: Config, run_dir: Path, run_id: str, *, rounds: int, compare_pooled: bool,
         on_event: Callable[[dict[str, Any], _processes.Fleet], None] | None, started: float) -> dict[str, Any]:
    import mlflow

    fed, trees = config.federated, _trees(config)
    with tempfile.TemporaryDirectory(prefix="workbench-federated-") as tmp:
        work = Path(tmp)
        server_job, site_jobs = jobs(config, site_secrets(config), rounds=rounds, outcome=work, trees=trees)
        deadline = fed.round_timeout_s * (2 * rounds + 3) + 60
        fleet = _processes.run(server_job, site_jobs, logs=run_dir / PHASE / "logs", min_sites=server_job["min_sites"],
                               deadline_s=deadline, on_event=on_event, remote=remote_sites(config))
        outcome, arrays = _runs.outcome(work, fleet)  # the work folder (the sites' profile) lives until registered
        result = _result(config, outcome, fleet, run_id, rounds)
        model = build(outcome, arrays)
        if compare_pooled:
            result["comparison"] = _compare.compare(config, model, outcome["spec"], sorted(outcome["sites"]), trees=trees)
        start = time.perf_counter()
        mlflow_run = _register.log_run(config, result, run_id)
        target = run_dir / PHASE / catalog.RESULT_FILE

        def publish(registered: dict[str, Any]) -> Path:
            timing = result["timing"] | {"register_s": round(time.perf_counter() - start, 3), "wall_s": round(time.time() - started, 3)}
            return write_json(target, {"schema_version": 1, "phase": PHASE, **result, "timing": timing, "registered": registered})

        try:
            _register.register(config, model, _encoding.example(outcome["spec"], 2), result, run_id, mlflow_run, publish,
                               store=lambda version: _profile_store.install(config, version, work / "profile"))
            mlflow.log_artifact(str(target), artifact_path=PHASE)
        except BaseException:
            mlflow.end_run("FAILED")
            raise
        mlflow.end_run("FINISHED")
        return read_json(target)

