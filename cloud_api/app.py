"""The API application: `create_app(settings)`; engines are made in the lifespan, not at import.

The composition root: the conventions every route follows (request ids, access log, metrics,
probes, rate limits, cursors), the error handlers, and the routers of the domains the settings
name (``api_domains``: all by default; a gateway routes each to its own pool of processes, and
the domains still call each other's services in-process).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI
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
from cloud_api.domains import DOMAINS, Domain
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
from cloud_api.robots.risk_endpoints import router as risk_router
from cloud_api.settings import ApiSettings
from cloud_api.tenants.endpoints import router as tenants_router
from database.engine import make_engine

DESCRIPTION = """\
The insurer API of robocover: robots and their standing, tenants, users and service accounts,
the audit trail. Errors are problem details (RFC 9457); lists are keyset pages with opaque
cursors; every response carries an `X-Request-ID`.
"""

# Each router with its domain, in the order the app includes them.
ROUTERS: tuple[tuple[Domain, APIRouter], ...] = (
    ("robots", enrollment_router),
    ("robots", robots_router),
    ("risk", risk_router),
    ("identity", tenants_router),
    ("policy", products_router),
    ("policy", quotes_router),
    ("policy", policies_router),
    ("policy", proposals_router),
    ("billing", invoices_router),
    ("billing", webhooks_router),
    ("claims", claims_router),
    ("claims", evidence_router),
    ("notifications", notifications_router),
    ("reports", reports_router),
    ("identity", audit_router),
    ("identity", auth_router),
    ("identity", users_router),
    ("identity", service_accounts_router),
)


def _description(domains: tuple[Domain, ...]) -> str:
    if set(domains) == set(DOMAINS):
        return DESCRIPTION
    return (
        f"{DESCRIPTION}\nThis process serves the domains {', '.join(domains)} (docs/gateway.md).\n"
    )


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
        description=_description(settings.api_domains),
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
    for domain, router in ROUTERS:
        if domain in settings.api_domains:
            app.include_router(router)

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
