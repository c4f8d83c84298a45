"""The API application: `create_app(settings)`; engines are made in the lifespan, not at import.

The composition root: the conventions every route follows (request ids, access log, metrics,
probes, rate limits, cursors), the error handlers, and each domain's router.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cloud_api.conventions import RateLimits, close_conventions, install_conventions
from cloud_api.enrollment.endpoints import router as enrollment_router
from cloud_api.errors import install_error_handlers
from cloud_api.settings import ApiSettings
from database.engine import make_engine

DESCRIPTION = """\
The insurer API of robocover: robots and their standing, tenants, users and service accounts,
the audit trail. Errors are problem details (RFC 9457); lists are keyset pages with opaque
cursors; every response carries an `X-Request-ID`.
"""


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.engine = engine
        try:
            yield
        finally:
            engine.dispose()
            close_conventions(app)

    app = FastAPI(title="robocover", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    install_error_handlers(app)
    install_conventions(
        app,
        redis_url=str(settings.redis_url),
        settings=settings,
        cursor_secret=settings.cursor_secret.get_secret_value().encode(),
        rate_limits=RateLimits(
            read=settings.rate_limit_read,
            write=settings.rate_limit_write,
            auth=settings.rate_limit_auth,
        ),
    )
    app.include_router(enrollment_router)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
