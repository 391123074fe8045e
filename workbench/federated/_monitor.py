"""The monitoring processes (``python -m workbench.federated._monitor``): the site task ``monitor`` and its server.

The server process builds the champion's drift profile (:func:`workbench.federated.monitoring.champion`)
and sends it **as arrays in the Flower message** (``champion_to_arrays``: the profile's bins,
values and levels, no file both sides must read) with the batch name; each admitted site
process rebuilds it, loads the champion from the skops file sent with it (hash-checked against
the version's recorded sha256, trusted types only: a site need not reach the registry) to score
its labelled rows, and answers with :func:`~workbench.federated.monitoring.site_payload` (arrays and scalars).
The server merges the payloads (``merge_payloads``), decides (``compare``) and writes the tables
(``save``) into the run's folder. Admission, drop-outs and ``federated.min_sites`` are the
training run's (:mod:`workbench.federated._strategy`). The job's ``role`` says which side a
process is.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.common import FitIns, Parameters, ndarrays_to_parameters, parameters_to_ndarrays

from workbench import registry
from workbench._io import apply_safe_env
from workbench.config import Config, load_config
from workbench.federated import _client, _protocol, _server, monitoring
from workbench.federated._strategy import Admission, Federation

BATCH = "wb.batch"
MODEL_TAGS = "wb.model_tags"  # the champion version's tags (lineage, schema, recorded sha256), beside its skops file


class MonitoringSite(_client.Site):
    """A site that answers the ``monitor`` task with its batch's statistics against the champion the server sent."""

    def task_monitor(self, parameters: list[np.ndarray], ask: dict[str, Any]) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        """This site's payload; a site that cannot make one (its batch missing or unreadable, its budget spent) answers why
        (:meth:`~workbench.federated._client.Site.failed`)."""
        meta = {k: v for k, v in ask.items() if k not in (_protocol.TASK, BATCH, MODEL_TAGS)}
        champ = monitoring.champion_from_arrays(list(parameters[:-1]), meta)
        # The champion's skops file came with the profile (a site on another machine need not reach the registry): it loads
        # only if it hashes to the version's recorded model_sha256, and only with the workbench's trusted types.
        model = registry.from_file(parameters[-1].tobytes(), champ.version, json.loads(str(ask[MODEL_TAGS])))
        arrays, scalars = monitoring.site_payload(self.config, self.name, str(ask[BATCH]), champ, model=model,
                                                  dp_epsilon=self.config.federated.dp_epsilon, batches_only=True)
        return arrays, max(0, int(round(float(scalars["rows"])))), scalars


class MonitorStrategy(Federation):
    """One round: the champion out, each site's payload back, merged and decided on the server."""

    NOTHING = "Nothing was written (no drift or fairness table)."

    def __init__(self, job: dict[str, Any], admission: Admission, config: Config) -> None:
        super().__init__(job, admission)
        self.config = config
        self.champ = monitoring.champion(config, mode=job["mode"])
        self.model_file, self.model_tags = registry.version_file(config, self.champ.version)  # hash-checked here, and again at each site
        self.summary: dict[str, Any] = {}
        self.final: list[np.ndarray] = []
        self._sent: dict[str, Any] = {}

    def initialize_parameters(self, client_manager: Any) -> Parameters:
        self.gather()
        return ndarrays_to_parameters([])

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> list[tuple[Any, FitIns]]:
        self._sent = self.participants(server_round, "monitor")
        arrays, meta = monitoring.champion_to_arrays(self.champ)
        arrays.append(np.frombuffer(self.model_file, dtype=np.uint8))  # last: the model the sites score with
        ask = meta | {_protocol.TASK: "monitor", BATCH: self.job["batch"], MODEL_TAGS: json.dumps(self.model_tags)}
        _protocol.emit("round", round=server_round, sites=sorted(self._sent))
        return [(proxy, FitIns(ndarrays_to_parameters(arrays), ask)) for proxy in self._sent.values()]

    def aggregate_fit(self, server_round: int, results: list[tuple[Any, Any]], failures: list[Any]) -> tuple[Parameters, dict[str, Any]]:
        got = self.collect(server_round, "monitor", self._sent, results)
        payloads = [(parameters_to_ndarrays(got[s].parameters), dict(got[s].metrics)) for s in sorted(got)]
        merged = monitoring.merge_payloads(payloads, self.champ)
        result = monitoring.compare(self.config, merged, self.champ)
        files = monitoring.save(result, Path(self.job["folder"]))
        self.summary = result.to_dict() | {"files": sorted(files), "version": self.champ.version}
        return ndarrays_to_parameters([]), {}

    def configure_evaluate(self, server_round: int, parameters: Parameters, client_manager: Any) -> list[Any]:
        return []

    def aggregate_evaluate(self, server_round: int, results: list[Any], failures: list[Any]) -> tuple[None, dict[str, Any]]:
        return None, {}

    def outcome(self) -> dict[str, Any]:
        return {"result": self.summary, "dropped": list(self.dropped.values()), "refused": self.admission.refused,
                "admitted_at": self.admission.admitted_at, "ready_at": self.ready_at}


def serve_monitoring(job: dict[str, Any]) -> None:
    """The server side: the champion's profile out, the merged decision written; exits 0 or 1 as the training server."""
    started = time.time()
    config = load_config(job["config"])
    admission = Admission(job["secrets"], timeout=float(job["round_timeout_s"]), store=config.store)
    try:
        strategy = MonitorStrategy(job, admission, config)
    except Exception as exc:  # noqa: BLE001 - no champion, a changed reference: the run ends with the message
        _server.write_outcome(Path(job["outcome"]), {"status": "failed", "error": str(exc)}, [])
        _protocol.exit_now(1)
    code, error = _server.serve(job, strategy, admission)
    outcome = strategy.outcome() | {"status": "succeeded" if code == 0 else "failed", "error": error,
                                    "started_at": started, "ended_at": time.time()}
    _server.write_outcome(Path(job["outcome"]), outcome, [])
    _protocol.emit("done", status=outcome["status"], error=error)
    _protocol.exit_now(code)


def _site(config: Config, job: dict[str, Any]) -> _client.Site:
    return MonitoringSite(config, job["site"], job["secret"])


def main() -> int:
    """Entry point: the job's ``role`` is ``server`` or ``site``."""
    job = _protocol.read_job()
    if job["role"] == "server":
        apply_safe_env()
        serve_monitoring(job)
    return _client.run_site(job, _site)


if __name__ == "__main__":
    _protocol.exit_now(main())
