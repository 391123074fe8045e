"""The server's side: site admission, and the Flower strategies that drive the rounds (imported only in the server process).

:class:`Admission` is Flower's client manager with a gate: a process that connects is asked to
prove it is a configured site (:mod:`workbench.federated._protocol`); until it has, it is never
sampled, and a process that fails (an unknown site, a wrong proof, a second process for a site
already connected, no answer) is told to disconnect and the refusal is recorded (the run's
result and an audit event ``federated.refuse``). Nothing it sends is used.

:class:`Federation` keeps the rounds honest: every task goes to the admitted sites that have not
dropped out; a site that does not answer (its process died, it disconnected, or it exceeded
``federated.round_timeout_s``) is recorded as dropped with the round and step, and the run goes on
while at least ``federated.min_sites`` sites answered, else it stops with a :class:`FederatedError`
naming the missing sites and the key. :class:`TrainStrategy` adds the summary step, FedAvg or
bagging, and federated evaluation.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.common import (
    EvaluateIns,
    FitIns,
    GetPropertiesIns,
    Parameters,
    ReconnectIns,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server.client_manager import ClientManager
from flwr.server.strategy import Strategy

from workbench.exceptions import FederatedError, WorkbenchError
from workbench.federated import _encoding, _model, _profile, _protocol
from workbench.governance import audit


class Admission(ClientManager):
    """Flower's client manager, admitting only processes that prove to be a configured site."""

    def __init__(self, secrets: dict[str, str], *, timeout: float, store: Path | None = None) -> None:
        self._secrets, self._timeout, self._store = secrets, timeout, store
        self._cv = threading.Condition()
        self._admitted: dict[str, Any] = {}  # cid -> proxy
        self._site: dict[str, str] = {}  # cid -> site
        self.refused: list[dict[str, Any]] = []
        self.admitted_at: dict[str, float] = {}

    def register(self, client: Any) -> bool:
        # Flower calls this before the client's stream runs: the challenge has to wait for its own thread.
        threading.Thread(target=self._admit, args=(client,), daemon=True, name=f"admit-{client.cid[:8]}").start()
        return True

    def _admit(self, client: Any) -> None:
        nonce = _protocol.new_nonce()
        try:
            res = client.get_properties(GetPropertiesIns({_protocol.TASK: _protocol.ADMIT, _protocol.NONCE: nonce}),
                                        timeout=self._timeout, group_id=0)
            site, answer = res.properties.get(_protocol.SITE), res.properties.get(_protocol.PROOF)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, this process is not admitted
            self._refuse(client, None, f"no answer to the admission challenge ({type(exc).__name__})")
            return
        site = str(site)[:100] if site is not None else None
        if site not in self._secrets:
            reason = "not a configured site (config key sites)"
        elif not _protocol.verify(self._secrets[site], site, nonce, answer):
            reason = "wrong proof: its secret is not the site's"
        else:
            with self._cv:
                if site in self._site.values():
                    reason = "a process of this site is already connected"
                else:
                    self._admitted[client.cid], self._site[client.cid] = client, site
                    self.admitted_at[site] = time.time()
                    self._cv.notify_all()
                    _protocol.emit("admitted", site=site)
                    return
        self._refuse(client, site, reason)

    def _refuse(self, client: Any, site: str | None, reason: str) -> None:
        entry = {"site": site, "reason": reason, "at": time.time()}
        self.refused.append(entry)
        _protocol.emit("refused", site=site, reason=reason)
        if self._store is not None:
            try:
                audit.record(self._store, "federated.refuse", str(site), reason=reason)
            except WorkbenchError:  # the refusal stands even when the audit log cannot take it; the result records it
                pass
        try:
            client.reconnect(ReconnectIns(seconds=None), timeout=5, group_id=None)  # "disconnect and do not come back"
        except Exception:  # noqa: BLE001, S110 - the process may be gone already; it is not admitted either way
            pass

    def unregister(self, client: Any) -> None:
        with self._cv:
            if self._admitted.pop(client.cid, None) is not None:
                _protocol.emit("disconnected", site=self._site.get(client.cid))
            self._cv.notify_all()

    def site_of(self, cid: str) -> str:
        """The site an admitted process proved to be."""
        return self._site[cid]

    def sites(self) -> dict[str, Any]:
        """Admitted, connected sites: name -> proxy."""
        with self._cv:
            return {self._site[cid]: proxy for cid, proxy in self._admitted.items()}

    def num_available(self) -> int:
        return len(self._admitted)

    def all(self) -> dict[str, Any]:
        return dict(self._admitted)

    def wait_for(self, num_clients: int, timeout: float = 86400) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: len(self._admitted) >= num_clients, timeout=timeout)

    def sample(self, num_clients: int, min_num_clients: int | None = None, criterion: Any = None) -> list[Any]:
        self.wait_for(min_num_clients or num_clients, timeout=self._timeout)
        return list(self.all().values())[:num_clients]


class Federation(Strategy):
    """Rounds over the admitted sites, with drop-outs recorded and ``federated.min_sites`` enforced."""

    NOTHING = "Nothing was registered."  # what a run that stops below min_sites leaves (a subclass that registers nothing says so)

    def __init__(self, job: dict[str, Any], admission: Admission) -> None:
        self.job, self.admission = job, admission
        self.expected: list[str] = sorted(job["secrets"])
        self.min_sites = int(job["min_sites"])
        self.dropped: dict[str, dict[str, Any]] = {}
        self._reported: set[str] = set()  # dropped sites that said why (_protocol.SITE_ERROR)
        self.ready_at: float | None = None

    def gather(self) -> None:
        """Wait (``round_timeout_s`` at most) for every site to be admitted; fail below ``min_sites``."""
        self.admission.wait_for(len(self.expected), timeout=float(self.job["round_timeout_s"]))
        self.ready_at = time.time()
        _protocol.emit("ready", sites=sorted(self.admission.sites()))
        self.participants(0, "admission")

    def participants(self, round_: int, step: str) -> dict[str, Any]:
        """The sites a task goes to: admitted, connected and not dropped (at least ``min_sites`` of them)."""
        live = {s: p for s, p in self.admission.sites().items() if s not in self.dropped}
        for site in self.expected:
            if site not in live and site not in self.dropped:
                why = "disconnected" if site in self.admission.admitted_at else "never connected or was refused"
                self._drop(site, round_, step, why)
        self.require(len(live), round_, step)
        return dict(sorted(live.items()))

    def _drop(self, site: str, round_: int, step: str, reason: str) -> None:
        self.dropped[site] = {"site": site, "round": round_, "step": step, "reason": reason}
        _protocol.emit("dropped", site=site, round=round_, step=step, reason=reason)

    def require(self, answered: int, round_: int, step: str) -> None:
        """Raise :class:`FederatedError` when fewer than ``min_sites`` sites are left."""
        if answered >= self.min_sites:
            return
        missing = "; ".join(f"{d['site']} ({d['reason']}, round {d['round']} {d['step']})" for d in self.dropped.values())
        reported = self.dropped and self._reported >= set(self.dropped)
        fix = ("correct what the missing site(s) report and run again" if reported else "restart the missing site(s) and run again")
        raise FederatedError(
            f"round {round_} ({step}): {answered} of {len(self.expected)} sites answered, but federated.min_sites is {self.min_sites}. "
            f"Missing: {missing or 'none recorded'}. {self.NOTHING} Fix: {fix}, "
            "or lower federated.min_sites to go on without them.")

    def collect(self, round_: int, step: str, sent: dict[str, Any], results: list[tuple[Any, Any]]) -> dict[str, Any]:
        """The answers by site; sites that were sent the task and did not answer, or answered with an error, are dropped."""
        got = {}
        for proxy, res in results:
            site = self.admission.site_of(proxy.cid)
            error = (getattr(res, "metrics", None) or getattr(res, "properties", None) or {}).get(_protocol.SITE_ERROR)
            if error:  # the site's own words (a missing batch, a spent budget): more use than "no answer"
                self._drop(site, round_, step, f"failed: {str(error)[:2000]}")
                self._reported.add(site)
            else:
                got[site] = res
        for site in sent:
            if site not in got and site not in self.dropped:
                self._drop(site, round_, step, "no answer: its process died, disconnected or exceeded federated.round_timeout_s")
        self.require(len(got), round_, step)
        return got

    def evaluate(self, server_round: int, parameters: Parameters) -> None:
        return None  # no central data: evaluation is federated

    def after_rounds(self) -> None:
        """Called once every round finished, while the sites are still connected (:class:`workbench.federated._server.Rounds`)."""

    def ask(self, round_: int, step: str, arrays: list[np.ndarray], config: dict[str, Any]) -> dict[str, tuple[list[np.ndarray], dict[str, Any]]]:
        """Send one task to every participant at once (a Flower fit message); their answers (arrays, scalars) by site."""
        sent = self.participants(round_, step)
        ins = FitIns(ndarrays_to_parameters(arrays), config)
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(sent)) as pool:
            futures = {s: pool.submit(p.fit, ins, float(self.job["round_timeout_s"]), 0) for s, p in sent.items()}
        answers = [(sent[s], f.result()) for s, f in futures.items() if f.exception() is None]
        got = self.collect(round_, step, sent, answers)
        return {s: (parameters_to_ndarrays(res.parameters), dict(res.metrics)) for s, res in got.items()}


class TrainStrategy(Federation):
    """The summary step, then FedAvg (or one bagging round), each round evaluated on the sites' holdouts."""

    def __init__(self, job: dict[str, Any], admission: Admission) -> None:
        super().__init__(job, admission)
        self.spec: dict[str, Any] = {}
        self.sites: dict[str, dict[str, Any]] = {}
        self.rounds: list[dict[str, Any]] = []
        self.final: list[np.ndarray] = []
        self._sent: dict[str, Any] = {}
        self._evaluated: list[np.ndarray] = []
        self._started = 0.0
        self.profile: _profile.FederatedProfile | None = None

    def after_rounds(self) -> None:
        """The reference profile, in two passes over the sites (:mod:`workbench.federated._profile`); no row travels."""
        started, round_ = time.time(), len(self.rounds) + 1
        cols, bins = _profile.columns(self.spec), int(self.job["profile_bins"])
        ask = {_protocol.TASK: "profile_quantiles", _profile.COLUMNS: json.dumps(cols), _profile.BINS: bins}
        edges, psi = _profile.merge_quantiles(self.ask(round_, "profile (quantiles)", [], ask), cols, bins)
        ask[_protocol.TASK] = "profile_counts"
        self.profile = _profile.merge_counts(self.ask(round_, "profile (counts)", edges, ask), cols, edges, psi, bins)
        _protocol.emit("profile", sites=self.profile.sites, bins=bins, seconds=round(time.time() - started, 4))

    def initialize_parameters(self, client_manager: Any) -> Parameters:
        self.gather()
        sent = self.participants(0, "summary")
        ask = GetPropertiesIns({_protocol.TASK: "summary"})
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(sent)) as pool:
            futures = {s: pool.submit(p.get_properties, ask, float(self.job["round_timeout_s"]), 0) for s, p in sent.items()}
        answers = [(sent[s], f.result()) for s, f in futures.items() if f.exception() is None]
        got = self.collect(0, "summary", sent, answers)
        summaries = {s: json.loads(res.properties[_protocol.SUMMARY]) for s, res in sorted(got.items())}
        self.sites = {s: {k: v[k] for k in ("sha256", "file_rows", "rows", "holdout_rows")} for s, v in summaries.items()}
        spec = _encoding.merge(summaries, self.job["task"])
        self.spec = spec | {"strategy": self.job["strategy"], "penalty": self.job["penalty"]}
        self._spec_json = json.dumps(self.spec, sort_keys=True)
        _protocol.emit("spec", sites=sorted(summaries), rows=spec["rows"])
        initial = _model.initial_parameters(self.spec) if self.job["strategy"] == "fedavg" else []
        self.final = initial
        return ndarrays_to_parameters(initial)

    def configure_fit(self, server_round: int, parameters: Parameters, client_manager: Any) -> list[tuple[Any, FitIns]]:
        self._sent = self.participants(server_round, "fit")
        self._started = time.time()
        _protocol.emit("round", round=server_round, sites=sorted(self._sent))
        base = {_protocol.TASK: "fit", _protocol.SPEC: self._spec_json, _protocol.EPOCHS: int(self.job["local_epochs"])}
        rows = {s: self.sites[s]["rows"] for s in self._sent}
        out = []
        for index, (site, proxy) in enumerate(self._sent.items()):
            ask = base | {"wb.seed": int(self.job["seed"]) + 1000 * server_round + index}
            if self.job["strategy"] == "bagging":
                ask[_protocol.TREES] = max(1, round(int(self.job["trees"]) * rows[site] / sum(rows.values())))
            out.append((proxy, FitIns(parameters, ask)))
        return out

    def aggregate_fit(self, server_round: int, results: list[tuple[Any, Any]], failures: list[Any]) -> tuple[Parameters, dict[str, Any]]:
        got = self.collect(server_round, "fit", self._sent, results)
        rows = {s: res.num_examples for s, res in got.items()}
        total = sum(rows.values())
        entry: dict[str, Any] = {"round": server_round, "sites": sorted(got), "rows": total}
        if self.job["strategy"] == "bagging":
            forests = [_model.load_forest(parameters_to_ndarrays(got[s].parameters)[0]) for s in sorted(got)]
            pooled = _model.assemble_forest(forests)
            entry["trees"] = {s: len(f.estimators_) for s, f in zip(sorted(got), forests, strict=True)}
            new = [_model.dump_forest(pooled)]  # back to the sites as skops bytes, as each site's forest came
        else:
            arrays = {s: parameters_to_ndarrays(res.parameters) for s, res in got.items()}
            new = [sum(rows[s] / total * arrays[s][i] for s in got) for i in range(2)]
            entry["train_loss"] = sum(rows[s] / total * float(got[s].metrics["loss"]) for s in got)  # the round's starting model, pooled
        self.rounds.append(entry)
        self.final = new
        return ndarrays_to_parameters(new), {}

    def configure_evaluate(self, server_round: int, parameters: Parameters, client_manager: Any) -> list[tuple[Any, EvaluateIns]]:
        self._sent = self.participants(server_round, "evaluate")
        self._evaluated = parameters_to_ndarrays(parameters)
        ask = {_protocol.TASK: "evaluate", _protocol.SPEC: self._spec_json}
        return [(proxy, EvaluateIns(parameters, ask)) for proxy in self._sent.values()]

    def aggregate_evaluate(self, server_round: int, results: list[tuple[Any, Any]], failures: list[Any]) -> tuple[float, dict[str, Any]]:
        got = self.collect(server_round, "evaluate", self._sent, results)
        merged = _model.merge_metrics(self.job["task"], {s: (res.num_examples, dict(res.metrics)) for s, res in got.items()})
        loss = sum(res.num_examples * res.loss for res in got.values()) / merged["rows"]
        self.rounds[-1] |= {"holdout_loss": loss, "evaluation": merged, "seconds": round(time.time() - self._started, 4)}
        _protocol.emit("evaluated", round=server_round, metrics=merged["metrics"])
        return loss, {k: float(v) for k, v in merged["metrics"].items()}

    def outcome(self) -> dict[str, Any]:
        """What the orchestrator needs: the spec, the sites' facts, every round, drop-outs and refusals."""
        profile = None if self.profile is None else {"sites": self.profile.sites, "bins": self.profile.profile.bins,
                                                     "profile_id": self.profile.profile.profile_id}
        return {"spec": self.spec, "sites": self.sites, "rounds": self.rounds, "dropped": list(self.dropped.values()), "profile": profile,
                "refused": self.admission.refused, "admitted_at": self.admission.admitted_at, "ready_at": self.ready_at}
