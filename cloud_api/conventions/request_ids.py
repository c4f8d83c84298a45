"""A request id on every request, in its response and in every log line written while serving it.

`asgi-correlation-id` reads ``X-Request-ID``, keeps it when it is a UUID (32 hex digits, with or
without dashes) and otherwise makes a new uuid4: a client cannot inject text into our logs
through it. The access log middleware below binds the id into loguru's context (a contextvar,
which Starlette copies into the threadpool of sync endpoints) and writes one JSON line per
request when the response is done.

The access line names the route template (``/v1/policies/{policy_id}``), never the raw path or
the query string, and no header, cookie or body: tokens and passwords cannot reach the logs
through it.
"""

from __future__ import annotations

import time
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI
from loguru import logger
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, or UNMATCHED_ROUTE (a 404): the raw
    path would put ids, and anything a scanner sends, into logs and metrics."""
    route: BaseRoute | None = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def _principal_id(scope: Scope) -> str | None:
    state: dict[str, Any] = scope.get("state") or {}
    principal_id = state.get("principal_id")
    if principal_id is None:
        principal_id = getattr(state.get("principal"), "id", None)
    return None if principal_id is None else str(principal_id)


class AccessLogMiddleware:
    """Binds the request id into loguru's context and logs one line per HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with logger.contextualize(request_id=correlation_id.get()):
            try:
                await self.app(scope, receive, send_and_note_status)
            finally:
                route = route_template(scope)
                logger.bind(
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1e3, 2),
                    principal_id=_principal_id(scope),
                ).info("{} {} {}", scope["method"], route, status)


def install_request_ids(app: FastAPI) -> None:
    """Access log inside, request ids outside (the id exists before the access log reads it)."""
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name=REQUEST_ID_HEADER,
        update_request_header=True,
    )
