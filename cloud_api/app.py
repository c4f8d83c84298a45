"""The API application: `create_app(settings)`; engines are made in the lifespan, not at import.

The composition root: the conventions every route follows (request ids, access log, metrics,
probes, rate limits, cursors), the error handlers, and each domain's router.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI
from psycopg.types.json import set_json_loads
from sqlalchemy import event

from cloud_api.access.dependencies import install_authenticator
from cloud_api.audit.endpoints import router as audit_router
from cloud_api.billing.endpoints import router as invoices_router
from cloud_api.billing.endpoints import webhooks_router
from cloud_api.claims.endpoints import claims_router
from cloud_api.claims.evidence_endpoints import evidence_router
from cloud_api.conventions import RateLimits, close_conventions, install_conventions
from cloud_api.conventions.body_limit import BodyLimit
from cloud_api.enrollment.endpoints import router as enrollment_router
from cloud_api.errors import install_error_handlers, problem_responses
from cloud_api.identity.authenticator import IdentityAuthenticator
from cloud_api.identity.config import build_identity
from cloud_api.identity.endpoints import auth_router, users_router
from cloud_api.identity.service_account_endpoints import router as service_accounts_router
from cloud_api.notifications.endpoints import router as notifications_router
from cloud_api.openapi import document_errors
from cloud_api.policies.endpoints import policies_router, quotes_router
from cloud_api.policies.proposal_endpoints import router as proposals_router
from cloud_api.products.endpoints import router as products_router
from cloud_api.reports.endpoints import router as reports_router
from cloud_api.robots.endpoints import router as robots_router
from cloud_api.settings import ApiSettings
from cloud_api.tenants.endpoints import router as tenants_router
from database.engine import make_engine

DESCRIPTION = """\
The insurer API of robocover: robots and their standing, tenants, users and service accounts,
the audit trail. Errors are problem details (RFC 9457); lists are keyset pages with opaque
cursors; every response carries an `X-Request-ID`.
"""


def decode_json_fast(connection: Any, _record: object) -> None:
    """JSON and JSONB columns (scores' features, contributions, reasons; audit before/after)
    decoded by orjson on the API's connections: the standard library's decoder was a fifth of
    the CPU of a page of risk scores."""
    set_json_loads(orjson.loads, connection)


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings, pool_size=settings.database_pool_size)
        event.listen(engine, "connect", decode_json_fast)
        app.state.engine = engine
        try:
            yield
        finally:
            engine.dispose()
            close_conventions(app)
            identity.store.close()

    app = FastAPI(
        title="robocover",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=problem_responses(429, 503),
    )
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
    identity = build_identity(settings)
    app.state.identity = identity
    install_authenticator(app, IdentityAuthenticator(identity))
    app.include_router(enrollment_router)
    app.include_router(robots_router)
    app.include_router(tenants_router)
    app.include_router(products_router)
    app.include_router(quotes_router)
    app.include_router(policies_router)
    app.include_router(proposals_router)
    app.include_router(invoices_router)
    app.include_router(webhooks_router)
    app.include_router(claims_router)
    app.include_router(evidence_router)
    app.include_router(notifications_router)
    app.include_router(reports_router)
    app.include_router(audit_router)
    app.include_router(auth_router)
    app.include_router(users_router)
    app.include_router(service_accounts_router)

    @app.get("/health", tags=["health"], summary="Liveness (the older path; see /healthz)")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    document_errors(app)
    # Outermost: a body over the limit is refused before anything holds it.
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    return app


def openapi_document(app: FastAPI) -> str:
    """The app's OpenAPI document as docs/openapi.json holds it (stable key order)."""
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
