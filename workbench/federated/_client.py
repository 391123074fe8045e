"""A site process (``python -m workbench.federated._client``): one per site, reading only its own data file.

The process gets its job on standard input (config, site name, data file, secret, server address,
CA file), reads and checks its file (hashed and recorded in the data-access log), splits it into
training and holdout rows as every phase does (:func:`workbench.data.frames.split`), then connects
to the Flower server and answers its tasks. No task returns a row: admission returns a proof,
``summary`` aggregate statistics, ``fit`` model parameters and a loss, ``evaluate`` metrics and
score histograms, ``profile_quantiles`` and ``profile_counts`` the two passes of the reference
profile (:mod:`workbench.federated._profile`).

:class:`Site` is the generic part (admission and dispatch by task name); a task is a method
``task_<name>(parameters, config) -> (arrays, rows, metrics)`` that subclasses add, which is how
the monitoring site (``workbench.federated._monitor``) adds ``monitor``. Imported only inside
site processes, so Flower is imported at module top.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import flwr
import numpy as np

from workbench import data
from workbench._io import apply_safe_env
from workbench.config import Config, load_config
from workbench.data import frames, sources
from workbench.exceptions import DataError, FederatedError, WorkbenchError
from workbench.federated import _encoding, _model, _profile, _protocol


class Site:
    """A site's side of the protocol: admission, then tasks dispatched by name."""

    def __init__(self, config: Config, name: str, secret: str) -> None:
        self.config, self.name, self._secret = config, name, secret
        self.tasks = 0  # tasks the server sent after admission (none: the site was refused, or the run failed before its first task)
        self.broken: WorkbenchError | None = None  # the site cannot work (a bad file): every task is answered with this reason

    def properties(self, ask: dict[str, Any]) -> dict[str, Any]:
        """Answer a property request: the admission challenge, or a subclass's summary."""
        if ask.get(_protocol.TASK) == _protocol.ADMIT:
            return {_protocol.SITE: self.name, _protocol.PROOF: _protocol.proof(self._secret, self.name, str(ask[_protocol.NONCE]))}
        self.started(str(ask.get(_protocol.TASK)))
        try:
            self.usable()
            return self.describe(ask)
        except WorkbenchError as exc:
            return self.failed(exc)

    def usable(self) -> None:
        """Raise the reason this site cannot work, if it has one."""
        if self.broken is not None:
            raise self.broken

    def failed(self, exc: WorkbenchError) -> dict[str, Any]:
        """The answer of a task this site cannot do: its reason, for the server to name (the process stays to hear the end).

        A site process that died would reach the server as "no answer", and the run would tell the
        user to restart a site whose file, batch or privacy budget is the problem. Nothing of the
        site's data is sent with the error.
        """
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return {_protocol.SITE: self.name, _protocol.SITE_ERROR: str(exc)[:2000]}

    def started(self, task: str) -> None:
        """Count a task and say so (the ``task`` event: ``workbench federated site`` shows it)."""
        self.tasks += 1
        _protocol.emit("task", site=self.name, task=task, n=self.tasks)

    def describe(self, ask: dict[str, Any]) -> dict[str, Any]:
        raise FederatedError(f"site {self.name!r}: unknown property request {ask.get(_protocol.TASK)!r}")

    def run(self, parameters: list[np.ndarray], ask: dict[str, Any]) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        """Run the task ``ask`` names (a ``task_<name>`` method)."""
        task = str(ask.get(_protocol.TASK, ""))
        self.started(task)
        handler = getattr(self, f"task_{task}", None)
        if handler is None:
            raise FederatedError(f"site {self.name!r} has no task {task!r}")
        try:
            self.usable()
            return handler(parameters, ask)
        except WorkbenchError as exc:
            return [], 0, self.failed(exc)


class TrainingSite(Site):
    """A site that trains: its file read once, split into training and holdout rows, encoded by the server's spec."""

    def __init__(self, config: Config, name: str, secret: str, path: Path) -> None:
        super().__init__(config, name, secret)
        self._encoded: tuple[str, Any, np.ndarray, np.ndarray] | None = None
        try:
            self._read(path)
        except WorkbenchError as exc:  # said at the first task: the server names the site and why (a remote site's only way to tell it)
            self.broken = exc

    def _read(self, path: Path) -> None:
        config, name = self.config, self.name
        table = sources.read(config, path, purpose=f"federated training at site {name}")
        source = f"site {name!r} ({table.path})"
        self.schema = sources.schema(config, table.frame, source=source)
        data.check_quality(table.frame, self.schema, source=source, require_target=True).raise_for_errors()
        _one_class(table.frame, self.schema.target, config.model.task, source=source)
        frames.check_target(table.frame, self.schema, config.model.task, source=source)
        self.train, self.holdout = frames.split(table.frame, self.schema, config, source=source)
        self.frame = table.frame  # the whole file: the reference a profile describes, as centrally
        self.facts = {"sha256": table.sha256, "file_rows": table.rows, "holdout_rows": len(self.holdout)}

    def describe(self, ask: dict[str, Any]) -> dict[str, Any]:
        if ask.get(_protocol.TASK) != "summary":
            return super().describe(ask)
        summary = _encoding.site_summary(self.train, self.schema, self.config.model.task) | self.facts
        return {_protocol.SUMMARY: json.dumps(summary)}

    def _xy(self, ask: dict[str, Any], part: str) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """The spec, and ``part`` (train or holdout) encoded with it (cached while the spec stays the same)."""
        text = str(ask[_protocol.SPEC])
        if self._encoded is None or self._encoded[0] != text:
            spec = json.loads(text)
            pre = _encoding.preprocessor(spec)
            self._encoded = (text, spec, *(pre.transform(frames.features(f, self.schema)) for f in (self.train, self.holdout)))
        _, spec, x_train, x_holdout = self._encoded
        frame = self.train if part == "train" else self.holdout
        return spec, (x_train if part == "train" else x_holdout), frames.target(frame, self.schema, self.config.model.task).to_numpy()

    def task_fit(self, parameters: list[np.ndarray], ask: dict[str, Any]) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        """A local FedAvg step from the global parameters, or (bagging) this site's forest."""
        spec, x, y = self._xy(ask, "train")
        seed = int(ask.get("wb.seed", 0))
        if spec["strategy"] == "bagging":
            return [_model.local_forest(spec, x, y, trees=int(ask[_protocol.TREES]), seed=seed)], len(y), {_protocol.SITE: self.name}
        params, start = _model.local_step(spec, parameters, x, y, epochs=int(ask[_protocol.EPOCHS]), seed=seed)
        return params, len(y), {_protocol.SITE: self.name, "loss": start}

    def task_profile_quantiles(self, parameters: list[np.ndarray], ask: dict[str, Any]) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        """Pass 1 of the reference profile: per numeric column a quantile summary of this site's file."""
        arrays, scalars = _profile.site_quantiles(self.frame, json.loads(str(ask[_profile.COLUMNS])), int(ask[_profile.BINS]), site=self.name)
        return arrays, len(self.frame), scalars | {_protocol.SITE: self.name}

    def task_profile_counts(self, parameters: list[np.ndarray], ask: dict[str, Any]) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        """Pass 2: exact counts over the edges the server sent, moments, level counts, the sensitive columns' levels."""
        arrays, scalars = _profile.site_counts(self.frame, json.loads(str(ask[_profile.COLUMNS])), list(parameters),
                                               list(self.config.data.sensitive), site=self.name)
        return arrays, len(self.frame), scalars | {_protocol.SITE: self.name}

    def evaluate(self, parameters: list[np.ndarray], ask: dict[str, Any]) -> tuple[float, int, dict[str, Any]]:
        """The global model's metrics on this site's holdout rows."""
        spec, x, y = self._xy(ask, "holdout")
        estimator = _model.load_forest(parameters[0]) if spec["strategy"] == "bagging" else _model.linear_model(spec, parameters)
        score = estimator.predict_proba(x)[:, 1] if spec["task"] == "binary" else estimator.predict(x)
        value, metrics = _model.site_metrics(spec["task"], y.astype(float), score)
        return value, len(y), metrics | {_protocol.SITE: self.name}


def _one_class(frame: Any, target: str, task: str, *, source: str) -> None:
    """A binary site with one class only: say so (the central check's "encode the positive class as 1" would mislead)."""
    levels = sorted(map(str, frame[target].dropna().unique()))
    if task == "binary" and len(levels) == 1 and levels[0] in ("0", "1", "True", "False"):
        raise DataError(f"{source}: column '{target}' (data.target) holds one class only ({levels[0]}): a site trains a local model "
                        "and keeps a stratified holdout, so it needs rows of both classes. Fix: leave the site out of sites: "
                        "(or merge its rows into another site's file), or lower federated.min_sites so the others train without it.")


def as_flower_client(site: Site) -> Any:
    """The Flower client that hands every message to ``site``."""

    class _Client(flwr.client.NumPyClient):
        def get_properties(self, config: dict[str, Any]) -> dict[str, Any]:
            return site.properties(config)

        def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[list[np.ndarray], int, dict[str, Any]]:
            return site.run(parameters, config)

        def evaluate(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[float, int, dict[str, Any]]:
            evaluate = getattr(site, "evaluate", None)
            site.started("evaluate")
            if evaluate is None:
                raise FederatedError(f"site {site.name!r} does not evaluate")
            try:
                site.usable()
                return evaluate(parameters, config)
            except WorkbenchError as exc:
                return 0.0, 0, site.failed(exc)

    return _Client().to_client()


def wait_for_server(address: str, timeout: float) -> None:
    """Wait until the server accepts TCP connections (Flower's legacy client gives up on a refused stream instead of retrying)."""
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise FederatedError(f"no Flower server answered at {address} within {timeout:g} s (federated.address, "
                                     "federated.round_timeout_s). Fix: start the server, or check the address and the firewall.") from None
            time.sleep(0.1)


def connect(site: Site, job: dict[str, Any]) -> None:
    """Serve the Flower server at ``job["address"]`` until it says the run is over."""
    tls = {"root_certificates": Path(job["ca"]).read_bytes()} if job.get("ca") else {"insecure": True}
    _protocol.emit("site_ready", site=site.name)
    wait_for_server(job["address"], float(job.get("wait") or job["timeout"]))
    flwr.client.start_client(server_address=job["address"], client=as_flower_client(site), max_wait_time=float(job["timeout"]), **tls)
    _protocol.emit("site_done", site=site.name, tasks=site.tasks)
    site.usable()  # a site that could not work told the server why; its process fails with the same reason
    if job.get("expect_task") and site.tasks == 0:  # Flower ends a refused site's session like a finished one: tell them apart
        raise FederatedError(f"site {site.name!r}: the server at {job['address']} closed the session without sending a task: it refused "
                             "this site (a wrong secret or site name, or another process of this site is connected) or its run failed "
                             "before the first task. Fix: check the site's secret (sites.<name>.token_env) and the server's result.json "
                             "('refused', 'error').")


def run_site(job: dict[str, Any], make: Any) -> int:
    """Open the site ``make(config, job)`` builds and serve; on any error ``error: ...`` on standard error and exit code 1."""
    apply_safe_env()
    try:
        config = load_config(job["config"])
        connect(make(config, job), job)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - a crash is reported on one line the orchestrator shows (the traceback is in the log)
        traceback.print_exc()
        print(f"error: site {job.get('site')!r}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def main() -> int:
    """Entry point of a training site."""
    return run_site(_protocol.read_job(), _training_site)


def _training_site(config: Config, job: dict[str, Any]) -> Site:
    return TrainingSite(config, job["site"], job["secret"], Path(job["data"]))


if __name__ == "__main__":
    _protocol.exit_now(main())
