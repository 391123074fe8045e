"""``workbench api``: the FastAPI application serving the champion online.

Routes: ``POST /predict`` (records in, one prediction per record out), ``POST /feedback`` (labels and
ratings on served predictions, into the feedback store: :mod:`workbench.serving.feedback_api`), ``GET /health`` (the
process is alive), ``GET /ready`` (a model can serve: 503 before), ``GET /version`` (served versions,
breakers, load errors), ``GET /metrics`` (Prometheus), ``GET /docs`` (OpenAPI; the request schema
is the champion's, regenerated when it changes).

Guards: on a loopback bind only ``Host: 127.0.0.1|localhost`` is answered (a page elsewhere cannot
reach the service by DNS rebinding); with a token every route but ``/health``, ``/ready`` and
``/metrics`` needs ``Authorization: Bearer <token>``; bodies over ``serving.max_body_bytes`` get 413
before they are read in full; bad input gets 4xx naming the record and field, never a 500.

Models are refreshed every ``serving.alias_poll_s`` (an alias move is served without a restart) and
reloaded on ``SIGHUP``. Scoring runs on one micro-batching thread (:class:`~workbench.serving.batcher.MicroBatcher`); each pass
takes the snapshot of versions current when it starts, so a swap never fails a request in flight.

With a ``features:`` section a record may carry only the entity key: the features it lacks are read
from the feature store by the fallback rule of :mod:`workbench.serving.features`, and each prediction
says where its features came from (``feature_source``). The online store is opened by the thread that
first loads the models, its registry re-read on ``SIGHUP``; ``/ready`` and ``/version`` show its state.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import threading
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from workbench import config as config_module
from workbench.exceptions import ServingError
from workbench.governance import audit
from workbench.serving import CONFIG_ENV, LOOPBACK_ENV, TOKEN_ENV, feedback_api, requests, routing
from workbench.serving import metrics as metrics_module
from workbench.serving.answers import payload
from workbench.serving.batcher import MicroBatcher
from workbench.serving.features import FeatureReader, Filled
from workbench.serving.models import ModelSource
from workbench.serving.predlog import PredictionLog

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import AsyncIterator

    from workbench.config import Config

OPEN_ROUTES = ("/health", "/ready", "/metrics")
_VERSION_KEY = "\x00schema_version"  # set on a request's first record after validation; no column can have this name
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
BIND_ENV = "WORKBENCH_API_BIND"
STARTUP_WAIT_S = 60.0


class Service:
    """The state behind the routes: models, request schemas, prediction log, metrics."""

    def __init__(self, config: Config, *, token: str = "") -> None:
        self.config = config
        self.token = token
        self.metrics = metrics_module.Metrics()
        self.source = ModelSource(config, metrics=self.metrics, on_breaker=self._breaker_changed)
        # the feature metrics share the service's registry, so /metrics shows workbench_feature_* beside the rest
        self.features = FeatureReader(config, registry=self.metrics.registry, on_breaker=self._breaker_changed,
                                      on_retry=self.metrics.retry) if config.features is not None else None
        self.log = PredictionLog(config) if config.serving.log_predictions else None
        self._schemas: dict[str, requests.RequestSchema] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload_asked = threading.Event()
        self.first_load = threading.Event()  # set once the registry was read (or failed to be) the first time
        self.started = time.time()
        self.batcher = MicroBatcher(self.score, max_records=config.serving.max_records)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """First load (in the background: /health answers at once), the alias poller, the log writer, SIGHUP."""
        threading.Thread(target=self._poll, name="alias-poller", daemon=True).start()
        self.batcher.start()
        if self.log:
            self.log.start()
        if threading.current_thread() is threading.main_thread():  # a signal handler only sets flags: the poller reloads
            signal.signal(signal.SIGHUP, lambda *_: (self._reload_asked.set(), self._wake.set()))
        audit.record(self.config.store, "api_start", self.config.project, pid=os.getpid())

    def stop(self) -> None:
        """Stop polling and flush the prediction log."""
        self._stop.set()
        self._wake.set()
        self.batcher.stop()
        if self.log:
            self.log.close()
        if self.features is not None:
            self.features.close()
        audit.record(self.config.store, "api_stop", self.config.project, pid=os.getpid(),
                     logged=self.log.written if self.log else 0, log_failures=self.log.failed if self.log else 0,
                     index_failures=self.log.index_failed if self.log else 0)

    def _poll(self) -> None:
        while not self._stop.is_set():
            force = self._reload_asked.is_set()
            self._reload_asked.clear()
            if self.features is not None:  # first pass: opens the online store (seconds: Feast's import), before the first request
                self.features.poll(reload=force)
            try:
                moves = self.source.refresh(force=force)
                self.first_load.set()
                if moves:
                    audit.record(self.config.store, "api_switch", self.config.project, pid=os.getpid(),
                                 moves={r: {"from": a, "to": b} for r, (a, b) in moves.items()})
            except Exception:  # noqa: BLE001 - store unavailable: keep serving what is loaded; retried next poll
                self.metrics.loads.labels("aliases", "failed").inc()
                self.first_load.set()
            self._wake.wait(self.config.serving.alias_poll_s)
            self._wake.clear()

    def _breaker_changed(self, name: str, old: str, new: str, reason: str) -> None:
        self.metrics.breaker_state(name, new)

    # -- requests -------------------------------------------------------------------------
    def authorized(self, request: Request) -> bool:
        """Whether the request carries the token (always, when none is set)."""
        if not self.token:
            return True
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip() or request.query_params.get("token", "")
        return secrets.compare_digest(given.encode(), self.token.encode())

    def request_schema(self) -> requests.RequestSchema | None:
        """The request schema of the champion (else the baseline) version, built once per version."""
        found = self.source.schema_of("champion") or self.source.schema_of("baseline")
        if found is None:
            return None
        version, schema = found
        if version not in self._schemas:
            store = {"store_fields": self.features.fields, "key": self.features.key} if self.features is not None else {}
            self._schemas[version] = requests.build(schema, version, max_records=self.config.serving.max_records, **store)
        return self._schemas[version]

    def parse(self, body: bytes) -> tuple[int, Any]:
        """``(200, records)`` for a valid ``/predict`` body, else ``(status, error payload)``."""
        schema = self.request_schema()
        if schema is None:
            if not self.source.status()["checked"]:
                return 503, {"detail": "the models are still loading: try again in a moment (GET /ready says when)"}
            return 503, {"detail": f"model {self.config.project!r} has no champion or baseline yet. Fix: run `workbench run`."}
        try:
            records = schema.parse(body, max_records=self.config.serving.max_records)
            records[0][_VERSION_KEY] = schema.version  # which schema checked them (see score)
            return 200, records
        except requests.BadRequest as exc:
            return exc.status, {"detail": exc.errors}

    def score(self, batches: list[list[dict[str, Any]]]) -> list[tuple[int, dict[str, Any], str]]:
        """Score several requests' records in one pass of the routing rule (the micro-batcher calls it); one answer each."""
        import pandas as pd

        schema = self.request_schema()
        stale = [i for i, batch in enumerate(batches) if batch and batch[0].get(_VERSION_KEY, schema.version) != schema.version]
        if stale:  # validated against a version whose features differ from the one serving now (a swap in between)
            if any(_inputs(self._schemas[batches[i][0][_VERSION_KEY]]) != _inputs(schema) for i in stale):
                answers = self.score([b for i, b in enumerate(batches) if i not in stale]) if len(stale) < len(batches) else []
                it = iter(answers)
                return [(409, {"detail": [{"field": "body", "msg": "the champion changed to a version with other features while "
                                           "this request waited. Fix: send it again."}]}, "none") if i in stale else next(it)
                        for i in range(len(batches))]
        for batch in batches:
            batch[0].pop(_VERSION_KEY, None)
        records = [r for batch in batches for r in batch]
        frame = pd.DataFrame.from_records(records, columns=[*schema.features, *schema.optional])
        records, frame, filled, refusals = self._features(batches, records, frame, schema)
        if len(refusals) == len(batches):
            return [refusals[b] for b in range(len(batches))]
        sources, fetched, unavailable = filled.source, filled.fetched, filled.reason
        live = [batch for b, batch in enumerate(batches) if b not in refusals]
        base = uuid.uuid4().hex[:24]  # one random id per pass, the row's number after it: unique, and cheap per row
        ids = [f"{base}{i:08x}" for i in range(len(records))]
        id_col = self.config.data.id if self.config.data.id in schema.optional else None
        # keys from the records as sent: a column of ids turned float by a null elsewhere in the pass would hash differently
        keys = pd.Series([str(r[id_col]) if r.get(id_col) is not None else ids[i] for i, r in enumerate(records)]) if id_col \
            else pd.Series(ids)
        try:
            routed = self._route(frame, keys, id_col or "prediction_id", sources, unavailable)
        except ServingError as exc:
            return [refusals.get(b, (503, {"detail": str(exc)}, "none")) for b in range(len(batches))]
        annotated = routing.annotate(routed, self.source, self.config)
        counts = routed.counts()
        for (version, role), n in counts["predictions"].items():
            self.metrics.predictions.labels(version, role).inc(n)
        for reason, n in counts["fallbacks"].items():
            self.metrics.fallbacks.labels(reason).inc(n)
        for arm, n in counts["canary"].items():
            self.metrics.canary.labels(arm).inc(n)
        if self.log:
            self._log([{**r, **fetched[i]} if i in fetched else r for i, r in enumerate(records)], routed, ids, sources, annotated)
        answers, start = [], 0
        for batch in live:
            end = start + len(batch)
            role = "baseline" if set(routed.role[start:end].tolist()) == {"baseline"} else routed.model["role"]
            answers.append((200, payload(self.config, routed, ids, sources, start, end, annotated), role))
            start = end
        scored = iter(answers)
        return [refusals[b] if b in refusals else next(scored) for b in range(len(batches))]

    def _features(self, batches: list[list[dict[str, Any]]], records: list[dict[str, Any]], frame: Any, schema: requests.RequestSchema
                  ) -> tuple[list[dict[str, Any]], Any, Filled, dict[int, tuple[int, dict[str, Any], str]]]:
        """Fill what the records lack from the feature store (:mod:`workbench.serving.features`); a request holding a record the
        rule refuses gets 422 naming it (by its index in that request), and its rows leave the pass."""
        if self.features is None or not schema.fetchable:
            return records, frame, Filled(frame, ["request"] * len(records)), {}
        filled = self.features.fill(records, frame, schema.features)
        if not filled.refused:
            return records, filled.frame, filled, {}
        refusals: dict[int, tuple[int, dict[str, Any], str]] = {}
        keep: list[int] = []
        start = 0
        for b, batch in enumerate(batches):
            rows = range(start, start + len(batch))
            errors = [{"record": i - start, "field": self.features.key, "msg": filled.refused[i]} for i in rows if i in filled.refused]
            if errors:
                refusals[b] = (422, {"detail": errors[:50]}, "none")
            else:
                keep.extend(rows)
            start += len(batch)
        position = {old: new for new, old in enumerate(keep)}
        kept = Filled(filled.frame.iloc[keep].reset_index(drop=True), [filled.source[i] for i in keep],
                      {position[i]: v for i, v in filled.fetched.items() if i in position}, {}, filled.reason)
        return [records[i] for i in keep], kept.frame, kept, refusals

    def _route(self, frame: Any, keys: Any, routed_by: str, sources: list[str], unavailable: str | None) -> routing.Routed:
        """The routing rule; rows whose features are unavailable (source ``none``) go to the baseline with that reason."""
        none = [i for i, s in enumerate(sources) if s == "none"]
        if not none:
            return routing.route(frame, self.source, self.config, keys=keys, routed_by=routed_by)
        rest = [i for i, s in enumerate(sources) if s != "none"]
        parts = []
        if rest:
            parts.append((rest, routing.route(frame.iloc[rest].reset_index(drop=True), self.source, self.config,
                                              keys=keys.iloc[rest].reset_index(drop=True), routed_by=routed_by)))
        parts.append((none, routing.route(frame.iloc[none].reset_index(drop=True), self.source, self.config,
                                          keys=keys.iloc[none].reset_index(drop=True), routed_by=routed_by, skip_champion=unavailable)))
        return routing.combine(parts, len(frame))

    def _log(self, records: list[dict[str, Any]], routed: routing.Routed, ids: list[str], sources: list[str], annotated: dict[str, Any]) -> None:
        fallback = routed.reasons.tolist() if routed.reasons is not None else [routed.fallback["reason"]] * len(ids)
        extra = {k: annotated[k].tolist() for k in ("confidence", "set_size", "uncertainty", "low", "high") if k in annotated}
        self.log.append({"predicted_at": datetime.now(UTC).isoformat(timespec="milliseconds"), "prediction_id": ids, "record": records,
                         "score": routed.scores.tolist(), "champion_score": routed.champion_scores.tolist(),
                         "model_version": routed.version.tolist(), "model_semver": routed.semver.tolist(), "model_role": routed.role.tolist(),
                         "canary_arm": routed.arm.tolist(), "fallback": fallback, "feature_source": sources, **extra})

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Whether a model can serve now, and the status behind it."""
        status = self.source.status()
        return bool({"champion", "baseline"} & set(status["served"])), status


def _inputs(schema: requests.RequestSchema) -> tuple[frozenset[str], frozenset[str]]:
    """What a request is validated against: the feature names and which of them are numeric."""
    return frozenset(schema.features), frozenset(schema.numeric)


def create_app(config: Config, *, token: str = "", loopback: bool = True) -> FastAPI:
    """The FastAPI application for ``config`` (see the module docstring)."""
    service = Service(config, token=token)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        yield
        service.stop()

    app = FastAPI(title=f"{config.project} scoring service", lifespan=lifespan, redoc_url=None,
                  description="Scores records with the current champion (canary: the challenger; fallback: the baseline).")
    app.state.service = service
    if loopback:
        bind = os.environ.get(BIND_ENV, "")
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=[*LOOPBACK_HOSTS, *([f"[{bind}]" if ":" in bind else bind] if bind else [])])

    def denied(request: Request) -> Response | None:
        if service.authorized(request):
            return None
        return JSONResponse({"detail": "missing or wrong token. Fix: send 'Authorization: Bearer <token>'."}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    if token:  # no middleware at all without a token: it costs every request
        @app.middleware("http")
        async def guard(request: Request, call_next: Any) -> Response:
            if request.url.path not in OPEN_ROUTES and (refused := denied(request)) is not None:
                return refused
            return await call_next(request)

    @app.post("/predict", openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}},
              responses={422: {"description": "a record or field the schema refuses (named)"}, 413: {"description": "body too large"},
                         503: {"description": "neither the champion nor the baseline can serve"}})
    async def predict(request: Request) -> Response:
        """Score one record, a list of records, or ``{"records": [...]}``; one prediction per record."""
        started = time.perf_counter()
        limit = config.serving.max_body_bytes
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return _timed(service, started, 413, {"detail": [{"field": "body", "msg": f"{int(length)} bytes; at most {limit} "
                                                              "(serving.max_body_bytes). Split the request."}]}, "none")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _timed(service, started, 413, {"detail": [{"field": "body", "msg": f"over {limit} bytes (serving.max_body_bytes)"}]},
                              "none")
        if not service.first_load.is_set():  # a worker still loading: wait for it (another worker may have answered /ready)
            await asyncio.to_thread(service.first_load.wait, STARTUP_WAIT_S)
        status, parsed = service.parse(bytes(body))
        if status != 200:
            return _timed(service, started, status, parsed, "none")
        status, payload, role = await asyncio.wrap_future(service.batcher.submit(parsed))
        return _timed(service, started, status, payload, role)

    feedback_api.add_route(app, service)

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"status": "ok", "uptime_s": round(time.time() - service.started, 1)}

    @app.get("/ready")
    def ready() -> Response:
        """Readiness: the champion or the baseline is loaded (and, with a feature store, whether its online store is open)."""
        ok, status = service.ready()
        body = {"ready": ok, "served": status["served"], "errors": status["errors"]}
        if service.features is not None:  # not a condition of readiness: without the online store, features come from the offline one
            body["features"] = service.features.status()
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/version")
    def version() -> dict[str, Any]:
        """Served versions, aliases, breaker states, load errors, the feature store's state and the prediction log's counts."""
        status = service.source.status()
        if service.features is not None:
            status["features"] = service.features.status()
            status["breakers"] |= status["features"]["breakers"]
        if service.log:
            status["prediction_log"] = {"written": service.log.written, "failed": service.log.failed, "indexed": service.log.indexed,
                                        "index_failed": service.log.index_failed, "index_error": service.log.index_error}
        return status

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus exposition of the service's metrics."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        breakers = {**service.source.breakers, **(service.features.breakers if service.features is not None else {})}
        for name, breaker in breakers.items():
            service.metrics.breaker_state(name, breaker.state)
        registry = service.metrics.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        spec = get_openapi(title=app.title, version=_package_version(), description=app.description, routes=app.routes)
        schema = service.request_schema()
        if schema is not None:
            body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
            body["schema"] = schema.json_schema()
            spec["info"]["x-model-version"] = schema.version
        return spec

    app.openapi = openapi  # type: ignore[method-assign]  # rebuilt per call: the champion's schema may have changed
    return app


def _timed(service: Service, started: float, status: int, payload: dict[str, Any], role: str) -> Response:
    import json

    service.metrics.requests.labels("/predict", role, str(status)).inc()
    service.metrics.latency.labels("/predict", role).observe(time.perf_counter() - started)
    return Response(json.dumps(payload, default=str), status_code=status, media_type="application/json")


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("workbench")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def from_env() -> FastAPI:
    """uvicorn's factory (``workbench.serving.app:from_env``): the config and token from the environment ``workbench api`` sets."""
    config = config_module.load_config(os.environ[CONFIG_ENV])
    return create_app(config, token=os.environ.get(TOKEN_ENV, ""), loopback=os.environ.get(LOOPBACK_ENV, "1") == "1")
