"""Domain errors, each with its HTTP status, rendered as problem details (RFC 9457)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class AppError(Exception):
    status: int = 500
    title: str = "Internal error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticatedError(AppError):
    status, title = 401, "Not authenticated"


class NotFoundError(AppError):
    status, title = 404, "Not found"


class ConflictError(AppError):
    status, title = 409, "Conflict"


class GoneError(AppError):
    status, title = 410, "Gone"


class ServiceUnavailableError(AppError):
    status, title = 503, "Service unavailable"


async def _render(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)  # noqa: S101 - registered for AppError only
    return JSONResponse(
        status_code=exc.status,
        media_type="application/problem+json",
        content={
            "type": "about:blank",
            "title": exc.title,
            "status": exc.status,
            "detail": exc.message,
            "instance": request.url.path,
        },
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _render)
