"""Domain errors, each with its HTTP status, rendered as problem details (RFC 9457)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


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
    400: "The request is malformed (a cursor, sort or filter)",
    401: "No credential, or one not accepted (WWW-Authenticate: Bearer)",
    403: "The principal's role may not do this",
    404: "No such object, or another tenant's",
    409: "The object's state does not allow this",
    412: "If-Match names a version that is no longer current",
    428: "If-Match is required",
    429: "Too many requests (Retry-After)",
    503: "A service the request needs is unavailable (Retry-After)",
}


class AppError(Exception):
    """A refusal the client can act on; ``headers`` go out with its problem details."""

    status: int = 500
    title: str = "Internal error"

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})


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
    status, title = 503, "Service unavailable"


async def render_problem(request: Request, exc: Exception) -> JSONResponse:
    """An AppError as problem details, with its headers."""
    assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
    return JSONResponse(
        status_code=exc.status,
        media_type="application/problem+json",
        headers=exc.headers,
        content={
            "type": "about:blank",
            "title": exc.title,
            "status": exc.status,
            "detail": exc.message,
            "instance": request.url.path,
        },
    )


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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, render_problem)
    app.add_exception_handler(RequestValidationError, _render_validation)
