"""Domain errors, each with its HTTP status, rendered as problem details (RFC 9457)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
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
    app.add_exception_handler(AppError, _render)
    app.add_exception_handler(RequestValidationError, _render_validation)
