"""Domain errors, each with its HTTP status, rendered as problem details (RFC 9457)."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from loguru import logger
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path


class Problem(BaseModel):
    """Problem details (RFC 9457), the body of every error response."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Not found"])
    status: int = Field(ge=400, le=599, examples=[404])
    detail: str = Field(examples=["no robot 1b4e28ba-2fa1-11d2-883f-0016d3cca427"])
    instance: str = Field(examples=["/v1/robots/1b4e28ba-2fa1-11d2-883f-0016d3cca427"])


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses: problem details, in their media type."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "content": {"application/problem+json": {"schema": schema}},
            "description": _DESCRIPTIONS.get(status, "Problem details"),
        }
        for status in statuses
    }


_DESCRIPTIONS = {
    400: "The request is malformed (a cursor, sort or filter; a body that is not JSON)",
    401: "No credential, or one not accepted (WWW-Authenticate: Bearer)",
    403: "The principal's role may not do this",
    404: "No such object, or another tenant's",
    409: "The object's state does not allow this",
    412: "If-Match names a version that is no longer current",
    413: "The body is larger than the API reads (ROBOCOVER_MAX_BODY_BYTES)",
    428: "If-Match is required",
    429: "Too many requests (Retry-After)",
    503: "A service the request needs is unavailable (Retry-After)",
}


class AppError(Exception):
    """A refusal the client can act on; ``headers`` go out with its problem details."""

    status: int = 500
    title: str = "Internal error"
    default_headers: ClassVar[Mapping[str, str]] = {}
    """Headers every refusal of this kind carries unless the raiser says otherwise."""

    def __init__(
        self,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = {**self.default_headers, **(headers or {})}
        # RFC 9457 extension members, sent beside the standard ones (e.g. ``allowed``).
        self.extensions: dict[str, Any] = dict(extensions or {})


class NotAuthenticatedError(AppError):
    """401, with the challenge RFC 6750 asks for: ``WWW-Authenticate: Bearer``."""

    status, title = 401, "Not authenticated"

    def __init__(self, message: str, *, error: str = "invalid_token") -> None:
        super().__init__(
            message, headers={"WWW-Authenticate": f'Bearer realm="robocover", error="{error}"'}
        )


class ForbiddenError(AppError):
    """403: the caller's role may not do this at all. (Another tenant's object is a 404.)"""

    status, title = 403, "Forbidden"


class BadRequestError(AppError):
    """400: the request cannot be read as what it claims to be (a webhook whose signature does
    not match)."""

    status, title = 400, "Bad request"


class NotFoundError(AppError):
    status, title = 404, "Not found"


class ConflictError(AppError):
    status, title = 409, "Conflict"


class PreconditionFailedError(AppError):
    """412: If-Match names a version that is no longer the current one."""

    status, title = 412, "Precondition failed"


class PreconditionRequiredError(AppError):
    """428: a change to a versioned resource must say which version it changes (If-Match)."""

    status, title = 428, "Precondition required"


class UnprocessableError(AppError):
    """422: the request is well formed, but the rules refuse it."""

    status, title = 422, "Unprocessable request"


class GoneError(AppError):
    status, title = 410, "Gone"


class ServiceUnavailableError(AppError):
    """503 with Retry-After (2 s unless said otherwise): a service the request needs (the
    broker, a processor) is away or busy; nothing was committed, the same request may be sent
    again."""

    status, title = 503, "Service unavailable"
    default_headers: ClassVar[Mapping[str, str]] = {"Retry-After": "2"}


def problem_response(request: Request, error: AppError) -> JSONResponse:
    """An AppError as problem details, with its headers. (Returned rather than raised where a
    refusal must not roll back what the request did, e.g. the revocation of a token family.)"""
    return JSONResponse(
        status_code=error.status,
        media_type="application/problem+json",
        headers=error.headers,
        content={
            **error.extensions,
            "type": "about:blank",
            "title": error.title,
            "status": error.status,
            "detail": error.message,
            "instance": request.url.path,
        },
    )


async def render_problem(request: Request, exc: Exception) -> JSONResponse:
    """The handler of raised AppErrors."""
    assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
    return problem_response(request, exc)


async def _render_validation(request: Request, exc: Exception) -> JSONResponse:
    """Payload validation (422) as problem details too, each failing field listed in `errors`."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    errors = [
        {"location": list(error.get("loc", ())), "message": error.get("msg", "")}
        for error in exc.errors()
    ]
    return JSONResponse(
        status_code=422,
        media_type="application/problem+json",
        content=jsonable_encoder(
            {
                "type": "about:blank",
                "title": "Invalid request",
                "status": 422,
                "detail": "; ".join(
                    f"{'.'.join(str(p) for p in e['location'])}: {e['message']}" for e in errors
                ),
                "instance": request.url.path,
                "errors": errors,
            }
        ),
    )


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route serves at this path (a path may be served by several routers)."""
    methods: set[str] = set()
    for context in iter_route_contexts(app.routes):
        path_format = context.path_format
        if path_format is None or not context.methods:
            continue
        pattern, _, _ = compile_path(path_format)
        if pattern.match(path):
            methods |= set(context.methods)
    return sorted(methods)


async def _render_http(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route 404, method not allowed 405...) as problem
    details; a 405 lists in ``Allow`` every method the path is served with."""
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it only
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
    if exc.status_code < 400:  # pragma: no cover - not raised by the router
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse(
        status_code=exc.status_code,
        media_type="application/problem+json",
        headers=headers,
        content={
            "type": "about:blank",
            "title": HTTPStatus(exc.status_code).phrase,
            "status": exc.status_code,
            "detail": str(exc.detail),
            "instance": request.url.path,
        },
    )


async def _render_data_error(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot hold (a NUL character in text, a number out of its column's
    range...) is the request's fault, not the server's: 422, with PostgreSQL's reason (its first
    line: the value itself is not echoed)."""
    assert isinstance(exc, DataError)  # noqa: S101 - registered for it only
    reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
    problem = UnprocessableError(f"a value of the request cannot be stored: {reason}")
    return await render_problem(request, problem)


async def _render_database_away(request: Request, exc: Exception) -> JSONResponse:
    """The database unreachable, its connection cut mid-request (a failover, a restart, an
    administrator's termination) or the pool exhausted: not the request's fault and not a bug;
    503 with Retry-After, so that a client retries (with its Idempotency-Key: nothing of the
    request was committed). PostgreSQL's reason is logged, never sent."""
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    logger.bind(path=request.url.path).warning("database unavailable: {}", reason)
    problem = ServiceUnavailableError(
        "the database is unavailable; retry shortly", headers={"Retry-After": "1"}
    )
    return problem_response(request, problem)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, render_problem)
    app.add_exception_handler(RequestValidationError, _render_validation)
    app.add_exception_handler(StarletteHTTPException, _render_http)
    app.add_exception_handler(DataError, _render_data_error)
    app.add_exception_handler(OperationalError, _render_database_away)
    app.add_exception_handler(PoolTimeoutError, _render_database_away)
