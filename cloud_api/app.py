"""The API application: `create_app(settings)`; engines are made in the lifespan, not at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cloud_api.enrollment.endpoints import router as enrollment_router
from cloud_api.errors import install_error_handlers
from cloud_api.settings import ApiSettings
from database.engine import make_engine


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.engine = engine
        app.state.settings = settings
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(title="robocover", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(enrollment_router)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
