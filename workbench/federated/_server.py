"""The server process (``python -m workbench.federated._server``): Flower's ``start_server`` with site admission.

The job arrives on standard input (config, address, rounds, every site's secret, TLS files, where
to write the outcome). The process runs the rounds (:class:`~workbench.federated._strategy.TrainStrategy`),
and the two passes of the reference profile, then writes its outcome atomically: ``profile/`` (the
federated reference profile), ``outcome.npz`` (the final parameters, no pickle) and ``outcome.json``
(spec, sites, rounds, drop-outs, refusals, timings, and on failure the error), the JSON last. On any
failure it tells the connected sites to leave and exits 1, so a dead site can never hang a run:
every request to a site is bounded by ``federated.round_timeout_s``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import flwr
import numpy as np

from workbench._io import apply_safe_env, atomic_path, write_json
from workbench.config import load_config
from workbench.federated import _profile, _protocol
from workbench.federated._strategy import Admission, Federation, TrainStrategy


def certificates(job: dict[str, Any]) -> tuple[bytes, bytes, bytes] | None:
    """(CA, certificate, key) PEM bytes for Flower's gRPC server, or None without TLS."""
    tls = job.get("tls")
    return tuple(Path(tls[k]).read_bytes() for k in ("ca", "cert", "key")) if tls else None  # type: ignore[return-value]


class Rounds(flwr.server.Server):
    """Flower's server, with the strategy's :meth:`~Federation.after_rounds` step once the rounds are done (the sites still connected)."""

    def fit(self, num_rounds: int, timeout: float | None) -> Any:
        history = super().fit(num_rounds, timeout)
        self.strategy.after_rounds()  # type: ignore[attr-defined]
        return history


def serve(job: dict[str, Any], strategy: Federation, admission: Admission) -> tuple[int, str | None]:
    """Run the rounds; return (exit code, error message)."""
    server = Rounds(client_manager=admission, strategy=strategy)
    _protocol.emit("server_starting", address=job["address"])
    try:
        flwr.server.start_server(server_address=job["address"], server=server, certificates=certificates(job),
                                 config=flwr.server.ServerConfig(num_rounds=int(job["rounds"]), round_timeout=float(job["round_timeout_s"])))
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure ends the run with its message (Flower exits on a busy port); the sites are sent away
        try:
            server.disconnect_all_clients(timeout=5)
        except Exception:  # noqa: BLE001, S110 - a site that is gone cannot be told to leave
            pass
        message = str(exc) if str(exc) else type(exc).__name__
        if "bind" in message.lower() or "in use" in message.lower():
            message = f"{message.rstrip('.')}. Fix: set federated.address to a free port (now {job['address']}), or stop what listens there."
        return 1, message
    return 0, None


def write_outcome(folder: Path, outcome: dict[str, Any], arrays: list[np.ndarray]) -> None:
    """``outcome.npz`` (parameters, no pickle) then ``outcome.json``: the JSON appears last, complete."""
    with atomic_path(folder / "outcome.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, *arrays)
    write_json(folder / "outcome.json", outcome)


def main() -> None:
    """Entry point (never returns); the exit code is 0 when every round finished with at least ``min_sites`` sites."""
    job = _protocol.read_job()
    apply_safe_env()
    started = time.time()
    config = load_config(job["config"])
    admission = Admission(job["secrets"], timeout=float(job["round_timeout_s"]), store=config.store)
    strategy = TrainStrategy(job, admission)
    code, error = serve(job, strategy, admission)
    outcome = strategy.outcome() | {"status": "succeeded" if code == 0 else "failed", "error": error,
                                    "started_at": started, "ended_at": time.time()}
    if code == 0 and strategy.profile is not None:
        _profile.save(strategy.profile, Path(job["outcome"]) / "profile")
    write_outcome(Path(job["outcome"]), outcome, strategy.final if code == 0 else [])
    _protocol.emit("done", status=outcome["status"], error=error)
    _protocol.exit_now(code)  # gRPC's worker threads must not keep a finished (or failed) server alive


if __name__ == "__main__":
    main()
