"""``POST /feedback``: labels and ratings on served predictions, stored in the feedback store (:mod:`workbench.governance.feedback`).

The body is one item, a list, or ``{"feedback": [...]}``; each item has ``prediction_id``, ``label`` and/or ``rating``
(1..5), optional ``given_by`` (default ``api``), ``given_at`` (ISO time), ``mode`` (explicit|implicit). Every item is
checked before any is stored: 200 ``{"stored": n}``, or 422 naming each bad item and field — unknown prediction id,
duplicate, label of the wrong type — with nothing stored; 503 when the store or the audit trail takes nothing.

A prediction this service just served is accepted at once: the worker flushes its prediction log (which indexes the
predictions) before the ids are checked; an id another worker served is indexed by that worker's next flush, so
unknown ids are checked once more after two flush periods before the 422.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from workbench.exceptions import AuditError, FeedbackError
from workbench.governance import feedback

if TYPE_CHECKING:  # pragma: no cover
    from workbench.serving.app import Service

ROUTE = "/feedback"
GIVEN_BY = "api"  # who gave an item that names nobody: a client of the service, not the service's OS user


def add_route(app: FastAPI, service: Service) -> None:
    """Add ``POST /feedback`` to the service's app (its host and token guards apply, as to ``/predict``)."""
    limit = service.config.serving.max_body_bytes

    @app.post(ROUTE, openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}},
              responses={422: {"description": "an unknown prediction id, a duplicate, a bad label or rating (named); nothing stored"},
                         413: {"description": "body too large"}, 503: {"description": "the feedback store or audit trail took nothing"}})
    async def post_feedback(request: Request) -> Response:
        """Store feedback: one item, a list, or ``{"feedback": [...]}``; each with ``prediction_id``, ``label`` and/or ``rating``
        (1..5), optional ``given_by``, ``given_at`` (ISO), ``mode`` (explicit|implicit). All items or none are stored."""
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return _answer(service, 413, {"detail": [{"field": "body", "msg": f"over {limit} bytes (serving.max_body_bytes). Split the request."}]})
        try:
            items = json.loads(body)
        except ValueError:
            return _answer(service, 400, {"detail": [{"field": "body", "msg": "not JSON. Fix: send one item, a list or {\"feedback\": [...]}"}]})
        return _answer(service, *await asyncio.to_thread(store, service, items))


def store(service: Service, items: Any) -> tuple[int, dict[str, Any]]:
    """Store ``items``: ``(200, {"stored": n})``, 422 naming every bad item and field (nothing stored), or 503."""
    log = service.log
    for attempt in (1, 2):
        if log is not None:  # index what this worker just served before the ids are checked
            with contextlib.suppress(OSError):  # a failed log write is counted by the log; its ids stay unknown
                log.flush()
        try:
            return 200, {"stored": feedback.record(service.config, items, actor=GIVEN_BY, source="api")["stored"]}
        except FeedbackError as exc:
            if attempt == 1 and log is not None and any(p.code == "unknown" for p in exc.problems):
                time.sleep(2 * log.flush_s)  # another worker may have served them: its log indexes them within a flush period
                continue
            return 422, {"detail": [{"item": p.row, "field": p.column, "msg": f"{p.message}. Fix: {p.fix}"} for p in exc.problems[:50]]}
        except (AuditError, sqlite3.OperationalError) as exc:  # nothing stored: the client may send it again
            return 503, {"detail": f"feedback not stored: {exc}"}
    raise AssertionError("unreachable")  # pragma: no cover


def _answer(service: Service, status: int, payload: dict[str, Any]) -> Response:
    service.metrics.requests.labels(ROUTE, "none", str(status)).inc()
    return JSONResponse(payload, status_code=status)
